{ The doctor workflow from Delphi / Free Pascal: login, patient reminder, QR URL and QR picture,
  delete notification and the outbox, a report record checked, logout.

  Delphi:      dcc32 -U..\..\bindings\delphi Example.dpr   (then run next to the 32-bit miic.dll)
  Free Pascal: fpc -Mdelphi -Fu../../bindings/delphi -Fl<dir of libmiic.so> Example.dpr
  Run:         Example miic.toml [output folder]
               (start `miic-cli sim` to try it without a front-end machine)

  This file is saved as UTF-8. On Delphi 7 save it as GBK (ANSI) instead: the string literals are
  then GBK AnsiStrings, which Miic.pas converts to UTF-8 for a default (utf-8) client. }
program Example;

{$IFDEF FPC}
  {$IFDEF UNICODE}
    {$MODE DELPHIUNICODE}
  {$ELSE}
    {$MODE DELPHI}
  {$ENDIF}
  {$CODEPAGE UTF8}
{$ENDIF}
{$APPTYPE CONSOLE}

uses
{$IFDEF UNIX}
  cthreads, cwstring, { FPC on Unix: threads for the log callback, code page conversions }
{$ENDIF}
  SysUtils, Miic;

procedure LogLine(Level: Integer; const Msg: string);
begin
  WriteLn(ErrOutput, '[miic ', Level, '] ', Msg);
end;

{ A report record as the PACS would serve it to the cloud (spec 4.1), checked locally: the value
  errors are listed; missing required fields are counted. }
procedure CheckReport;
var
  Report: TMiicReportCheck;
  I: Integer;
  Missing: Int64;
begin
  Report := MiicValidateReport('{"psnName": "李四", "gend": "1", "accessionNo": "ACC20240001", ' +
    '"examDate": "2024-05-06 25:00:00"}');
  Missing := 0;
  for I := 0 to Length(Report.Rules) - 1 do
    if Report.Rules[I].Name = 'required' then
      Missing := Report.Rules[I].Count;
  WriteLn('report conformant ', Report.Conformant, ', ', Report.Errors, ' errors (', Missing,
    ' required fields missing), ', Report.Warnings, ' warnings');
  for I := 0 to Length(Report.Problems) - 1 do
    if Report.Problems[I].Rule <> 'required' then
      WriteLn('  ', Report.Problems[I].Severity, ' ', Report.Problems[I].Field, ': ', Report.Problems[I].Message);
end;

var
  Config, Output, Url, Png: string;
  Client: TMiicClient;
  Status: Integer;
begin
  if ParamCount > 0 then
    Config := ParamStr(1)
  else
    Config := 'miic.toml';
  if ParamCount > 1 then
    Output := ParamStr(2)
  else
    Output := '.';
  try
    MiicSetLogCallback(LogLine);
    WriteLn('miic ', MiicVersion);

    Client := TMiicClient.Create(Config);
    try
      Client.Login([
        'hisUserId', 'D1001',
        'doctorName', '张医生',
        'department', '放射科',
        'departmentCode', '0301',
        'doctorSex', '1',
        'doctorType', '1',
        'doctorCode', 'YS1001',
        'doctorIdCardNo', '11010519491231002X',
        'phoneNumber', '13800000000']);
      WriteLn('login ok');

      Client.PatientReminder([
        'idCardNo', '440301199001011234',
        'patientName', '李四',
        'mobilePhone', '13900000000',
        'patientType', '1',
        'accessNumber', 'ACC20240001']);
      WriteLn('reminder ok');

      Url := Client.QrUrl(['accessNumber', 'ACC20240001', 'modality', 'CT']);
      WriteLn('qr url ', Url);

      { The same code as a picture for the printed report: 30 mm wide at 300 dpi. }
      Png := IncludeTrailingPathDelimiter(Output) + 'qr-ACC20240001.png';
      Client.QrImage(['accessNumber', 'ACC20240001', 'modality', 'CT', 'sizeMm', '30', 'dpi', '300'], Png);
      WriteLn('qr png ', Png);

      Status := Client.DeleteNotify([
        'patientName', '李四',
        'accessionNo', 'ACC20240001',
        'operateDateTime', '2024-05-06 07:08:09']);
      WriteLn('delete ', MiicStatusName(Status));
      { MIIC_QUEUED: stored in the outbox, miic keeps sending it (also after a restart). }
      WriteLn('outbox pending ', Client.OutboxPending, ', rejected ', Client.OutboxDeadCount);

      CheckReport;

      Client.Logout;
      WriteLn('logout ok');
    finally
      Client.Free;
    end;
  except
    on E: EMiic do
    begin
      { Status is the MIIC_E_* code; Message is miic's text naming the field or cause. }
      WriteLn('miic error status=', E.Status, ' ', E.StatusName, ': ', E.Message);
      Halt(2);
    end;
  end;
  MiicSetLogCallback(nil);
end.
