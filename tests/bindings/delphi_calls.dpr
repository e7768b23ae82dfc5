{ Every export Miic.pas wraps beyond the doctor workflow, from Delphi / Free Pascal: DICOM (echo,
  find, retrieve with OnProgress, HTTP dcmPath download with a raw cdecl callback and its user
  pointer), QR PNGs, report validation, params from JSON, and the outbox of a client whose cloud
  is down; failures as EMiic / EMiicDicom with their statuses.

  Built by tests/bindings.rs in -Mdelphi (Delphi 7: AnsiString, here with code page 936 as on
  Chinese Windows, and GBK-named paths through both a GBK and a UTF-8 client) and -Mdelphiunicode.
  Run as: delphi_calls <utf8 config> <gbk config> <cloud-down config> <work dir> <study uid>
          <object count> <dcm path> <dcm path count>
  Prints "calls ok" when every check passed; the Rust test then checks the files and the outbox. }
program delphi_calls;

{$IFDEF FPC}
  {$IFDEF UNICODE}
    {$MODE DELPHIUNICODE}
  {$ELSE}
    {$MODE DELPHI}
  {$ENDIF}
{$ENDIF}

uses
  cthreads, cwstring, SysUtils, Miic;

const
{$IFDEF UNICODE}
  QrName = #$4E8C#$7EF4#$7801'.png'; { 二维码.png }
  ImageDir = #$5F71#$50CF;             { 影像 }
  LiSi = #$674E#$56DB;                 { 李四 }
  WangXiaoMing = #$738B#$5C0F#$660E;   { 王小明, the PACS's GB18030 patient name }
{$ELSE}
  { GBK bytes, as a Delphi 7 source saved in the ANSI code page holds them. }
  QrName = #$B6#$FE#$CE#$AC#$C2#$EB'.png';
  ImageDir = #$D3#$B0#$CF#$F1;
  LiSi = #$C0#$EE#$CB#$C4;
  WangXiaoMing = #$CD#$F5#$D0#$A1#$C3#$F7;
  { 淺: its GBK trail byte is $5C, a backslash in ASCII, so the GBK manifest's JSON reader must
    step over the character whole. }
  Qian = #$9C#$5C;
{$ENDIF}
  UnknownStudy = '1.2.3.4.5.6.7.8.9';

type
  TProgressProbe = class
  public
    Events: Integer;
    LastDone, LastTotal: Cardinal;
    LastBytes: Int64;
    procedure OnProgress(Sender: TObject; FilesDone, FilesTotal: Cardinal; BytesDone: Int64);
  end;

var
  Lock: TRTLCriticalSection;
  Failures: Integer = 0;
  RawEvents: Integer = 0;

procedure Expect(Ok: Boolean; const What: string);
begin
  if not Ok then
  begin
    WriteLn('FAIL ', What);
    Inc(Failures);
  end;
end;

procedure TProgressProbe.OnProgress(Sender: TObject; FilesDone, FilesTotal: Cardinal; BytesDone: Int64);
begin
  EnterCriticalSection(Lock);
  Inc(Events);
  LastDone := FilesDone;
  LastTotal := FilesTotal;
  LastBytes := BytesDone;
  LeaveCriticalSection(Lock);
end;

{ The raw cdecl callback: User is the counter it was registered with. }
procedure RawProgress(User: Pointer; FilesDone, FilesTotal: Cardinal; BytesDone: Int64); cdecl;
begin
  EnterCriticalSection(Lock);
  Inc(PInteger(User)^);
  LeaveCriticalSection(Lock);
end;

function EndsWith(const S, Tail: string): Boolean;
begin
  Result := (Length(S) >= Length(Tail)) and (Copy(S, Length(S) - Length(Tail) + 1, Length(Tail)) = Tail);
end;

procedure CheckRetrieved(const M: TMiicManifest; const Study, DestTail: string; Count: Integer);
var
  I: Integer;
begin
  Expect(M.ParseError = '', 'manifest unreadable: ' + M.ParseError);
  Expect((M.Completed = Count) and (M.Failed = 0), Format('manifest counts %d/%d', [M.Completed, M.Failed]));
  Expect(Length(M.Files) = Count, Format('manifest lists %d files', [Length(M.Files)]));
  Expect(Length(M.Failures) = 0, 'manifest lists failures');
  Expect(M.StudyInstanceUid = Study, 'manifest study ' + M.StudyInstanceUid);
  Expect(EndsWith(M.DestDir, DestTail), 'manifest dest_dir ' + M.DestDir);
  Expect((M.PacsCompleted = Count) or (M.PacsCompleted = -1), Format('PACS completed %d', [M.PacsCompleted]));
  Expect(Pos(Study, M.Raw) > 0, 'raw manifest lacks the study uid');
  for I := 0 to Length(M.Files) - 1 do
    Expect((M.Files[I].Status = 'completed') and (M.Files[I].Size > 0) and (M.Files[I].SopInstanceUid <> ''),
      'file ' + M.Files[I].Path + ' ' + M.Files[I].Status);
end;

procedure ImageCalls(C: TMiicClient; const Work, Study: string; Count: Integer; const DcmPath: string;
  HttpCount: Integer);
var
  Probe: TProgressProbe;
  Matches: TMiicStudyMatches;
  M: TMiicManifest;
begin
  Probe := TProgressProbe.Create;
  try
    C.OnProgress := Probe.OnProgress;
    C.DicomEcho;
    Matches := C.DicomFind(Study);
    Expect(Length(Matches) = 1, Format('find: %d matches', [Length(Matches)]));
    if Length(Matches) = 1 then
    begin
      Expect(Matches[0].StudyInstanceUid = Study, 'find: study ' + Matches[0].StudyInstanceUid);
      Expect(Matches[0].PatientName = WangXiaoMing, 'find: patient name ' + Matches[0].PatientName);
    end;

    M := C.DicomRetrieve(Study, Work + '/' + ImageDir);
    CheckRetrieved(M, Study, ImageDir, Count);
    Expect((Probe.Events >= Count) and (Probe.LastDone = Cardinal(Count)) and (Probe.LastTotal = Cardinal(Count))
      and (Probe.LastBytes > 0), Format('OnProgress: %d events, last %d/%d', [Probe.Events, Probe.LastDone, Probe.LastTotal]));
    WriteLn('retrieved ', M.Completed, ' files, ', Probe.Events, ' progress events');

    try
      C.DicomRetrieve(UnknownStudy, Work + '/unknown');
      Expect(False, 'an unknown study was retrieved');
    except
      on E: EMiicDicom do
      begin
        Expect((E.Status = MIIC_E_DICOM) and (E.StatusName = 'MIIC_E_DICOM'), Format('unknown study: status %d', [E.Status]));
        Expect((Length(E.Manifest.Files) = 0) and (E.Manifest.Raw <> ''), 'unknown study: manifest');
        WriteLn('unknown study ', E.StatusName, ': ', E.Message);
      end;
    end;

    C.SetProgressCallback(RawProgress, @RawEvents);
    M := C.DicomFetchHttp(DcmPath, Work + '/http');
    Expect((M.Method = 'http') and (M.Completed = HttpCount) and (Length(M.Files) = HttpCount), 'http fetch ' + M.Raw);
    if Length(M.Files) > 0 then
      Expect(M.Files[0].Source <> '', 'http file without its dcmPath entry');
    EnterCriticalSection(Lock);
    Expect(RawEvents > 0, 'the raw progress callback was not called');
    LeaveCriticalSection(Lock);
    C.SetProgressCallback(nil, nil);
  finally
    Probe.Free;
  end;
end;

{ The doctor's checks on the set-up the other calls use (cloud and PACS answer), and on a config
  TMiicClient refuses: a report naming the unknown key, with its fix. }
procedure DiagnoseCalls(const Config: string);
var
  D: TMiicDiagnosis;
  I: Integer;
  Fix: string;
begin
  D := MiicDiagnose(Config);
  Expect((D.ParseError = '') and (Length(D.Checks) = 10), 'diagnosis unreadable: ' + D.Raw);
  for I := 0 to Length(D.Checks) - 1 do
    if (D.Checks[I].Id = 'config') or (D.Checks[I].Id = 'front_end') or (D.Checks[I].Id = 'dicom_echo') then
      Expect(D.Checks[I].Outcome = 'ok', 'diagnosis ' + D.Checks[I].Id + ': ' + D.Checks[I].SummaryEn);
  D := MiicDiagnose('{"base_url":"http://127.0.0.1:9","hospital_id":"H","retries":3}');
  Fix := '';
  for I := 0 to Length(D.Checks) - 1 do
    if (D.Checks[I].Id = 'config') and (D.Checks[I].Outcome = 'failed') then
      Fix := D.Checks[I].FixEn;
  Expect((D.Outcome = 'failed') and (Pos(QuotedStr('retries'), Fix) > 0), 'diagnosis of an unknown key: ' + D.Raw);
  WriteLn('diagnose config fix: ', Fix);
end;

{ A failed open says why: a bad key is the config's fault, an outbox under a plain file the disk's. }
procedure OpenFailureCalls(const Work: string);
var
  Blocker: TextFile;
  C: TMiicClient;
begin
  try
    C := TMiicClient.Create('{"base_url":"http://127.0.0.1:9","hospital_id":"H","retries":3}');
    C.Free;
    Expect(False, 'open with an unknown key succeeded');
  except
    on E: EMiic do
      Expect((E.Status = MIIC_E_CONFIG) and (Pos('retries', E.Message) > 0), 'open with an unknown key: ' + E.Message);
  end;
  AssignFile(Blocker, Work + '/open-blocker');
  Rewrite(Blocker);
  CloseFile(Blocker);
  try
    C := TMiicClient.Create('{"base_url":"http://127.0.0.1:9","hospital_id":"H","outbox":{"path":"'
      + Work + '/open-blocker/outbox.db"}}');
    C.Free;
    Expect(False, 'open with an unusable outbox succeeded');
  except
    on E: EMiic do
    begin
      Expect(E.Status = MIIC_E_IO, 'open with an unusable outbox: ' + E.StatusName + ' ' + E.Message);
      WriteLn('open with an unusable outbox: ', E.StatusName);
    end;
  end;
end;

procedure OtherCalls(C: TMiicClient; const Work: string);
var
  Report: TMiicReportCheck;
  P: PMiicParams;
  I: Integer;
  Named: Boolean;
begin
  C.QrImage(['accessNumber', 'ACC-PAS-1', 'modality', 'CT', 'modulePx', '4'], Work + '/' + QrName);
  WriteLn('qr url ', C.QrUrl(['accessNumber', 'ACC-PAS-1', 'modality', 'CT']));
  MiicQrRender('https://example.org/pas', Work + '/render-' + QrName, ['caption', '0']);
  try
    MiicQrRender('x', Work + '/bad.png', ['modulePx', '500']);
    Expect(False, 'modulePx 500 was accepted');
  except
    on E: EMiic do
      Expect((E.Status = MIIC_E_ARGUMENT) and (Pos('modulePx', E.Message) > 0), 'modulePx 500: ' + E.Message);
  end;

  Report := MiicValidateReport('{"examDate": "2024-13-45 25:00:00", "gend": "7"}');
  Expect(not Report.Conformant and (Report.Errors > 0) and (Report.Records = 1), 'report ' + Report.Raw);
  Named := False;
  for I := 0 to Length(Report.Problems) - 1 do
    if (Report.Problems[I].Field = 'examDate') and (Report.Problems[I].Rule = 'datetime_format') and
      (Report.Problems[I].Severity = 'error') and (Report.Problems[I].RecordIndex = 0) then
      Named := True;
  Expect(Named, 'report: no datetime_format error on examDate');
  Expect(Length(Report.Rules) > 0, 'report: no counts per rule');
  try
    MiicValidateReport('not json');
    Expect(False, 'non-JSON report accepted');
  except
    on E: EMiic do
      Expect(E.Status = MIIC_E_ARGUMENT, Format('non-JSON report: status %d', [E.Status]));
  end;

  P := MiicParamsFromJson('{"accessNumber": "ACC-JSON-1", "modality": "MR"}');
  try
    Expect(Pos('http', C.QrUrl(P)) = 1, 'QR URL of a JSON exam');
  finally
    miic_params_free(P);
  end;
  try
    MiicParamsFromJson('{"accessNumber": [1]}');
    Expect(False, 'nested params JSON accepted');
  except
    on E: EMiic do
      Expect((E.Status = MIIC_E_ARGUMENT) and (Pos('accessNumber', E.Message) > 0), 'nested params JSON: ' + E.Message);
  end;
end;

{ Paths handed over as GBK AnsiStrings by a text_encoding = "gbk" client land under their
  Chinese names, and the manifest comes back in GBK (Delphi 7 only: later Delphis use UTF-8). }
{$IFNDEF UNICODE}
procedure GbkClientCalls(const Config, Work, Study: string; Count: Integer);
var
  C: TMiicClient;
  M: TMiicManifest;
begin
  C := TMiicClient.Create(Config, True);
  try
    C.QrImage(['accessNumber', 'ACC-PAS-1', 'modality', 'CT', 'modulePx', '4'], Work + '/gbk-' + QrName);
    M := C.DicomRetrieve(Study, Work + '/gbk-' + ImageDir + Qian);
    CheckRetrieved(M, Study, 'gbk-' + ImageDir + Qian, Count);
  finally
    C.Free;
  end;
end;
{$ENDIF}

{ The cloud is down: the delete is stored (MIIC_QUEUED), the outbox counts it, a flush times out. }
procedure CloudDownCalls(const Config: string);
var
  C: TMiicClient;
  Status: Integer;
begin
  C := TMiicClient.Create(Config);
  try
    Status := C.DeleteNotify(['patientName', LiSi, 'accessionNo', 'ACC-DOWN-1',
      'operateDoctorName', 'Dr', 'operateDateTime', '2024-05-06 07:08:09']);
    Expect(Status = MIIC_QUEUED, 'delete with the cloud down: ' + MiicStatusName(Status));
    WriteLn('outbox pending ', C.OutboxPending, ', rejected ', C.OutboxDeadCount);
    Expect((C.OutboxPending = 1) and (C.OutboxDeadCount = 0), 'outbox counts');
    try
      C.OutboxFlush(300);
      Expect(False, 'flush with the cloud down succeeded');
    except
      on E: EMiic do
      begin
        Expect(E.Status = MIIC_E_TIMEOUT, Format('flush with the cloud down: status %d %s', [E.Status, E.Message]));
        WriteLn('flush ', E.StatusName, ': ', E.Message);
      end;
    end;
    Expect(C.OutboxPending = 1, 'the notification left the outbox');
  finally
    C.Free;
  end;
end;

var
  C: TMiicClient;
  Work, Study, DcmPath: string;
  Count, HttpCount: Integer;
begin
  InitCriticalSection(Lock);
{$IFNDEF UNICODE}
  { The ANSI code page of a Chinese Windows host: AnsiString <-> Unicode goes through GBK. }
  SetMultiByteConversionCodePage(936);
{$ENDIF}
  Work := ParamStr(4);
  Study := ParamStr(5);
  Count := StrToInt(ParamStr(6));
  DcmPath := ParamStr(7);
  HttpCount := StrToInt(ParamStr(8));
  try
    DiagnoseCalls(ParamStr(1));
    OpenFailureCalls(Work);
    C := TMiicClient.Create(ParamStr(1));
    try
      ImageCalls(C, Work, Study, Count, DcmPath, HttpCount);
      OtherCalls(C, Work);
    finally
      C.Free;
    end;
{$IFNDEF UNICODE}
    GbkClientCalls(ParamStr(2), Work, Study, Count);
{$ENDIF}
    CloudDownCalls(ParamStr(3));
  except
    on E: EMiic do
    begin
      WriteLn('FAIL miic error status=', E.Status, ' ', E.StatusName, ': ', E.Message);
      Halt(1);
    end;
  end;
  DoneCriticalSection(Lock);
  if Failures > 0 then
    Halt(1);
  WriteLn('calls ok');
end.
