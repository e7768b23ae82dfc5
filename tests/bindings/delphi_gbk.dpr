{ A Delphi 7-style host on Chinese Windows: string = AnsiString holding GBK (code page 936),
  FPU exceptions unmasked as Delphi leaves them.
  Run by tests/bindings.rs as: delphi_gbk <gbk-client-config> <utf8-client-config>.
  Prints "gbk ok" when every check passed; the Rust test then checks what the simulator saw. }
program delphi_gbk;

{$MODE DELPHI}

uses
  cthreads, cwstring, SysUtils, Math, Miic;

const
  { GBK bytes, as a Delphi 7 source saved in the ANSI code page would hold them. }
  DoctorGbk = #$D5#$C5#$D2#$BD#$C9#$FA; { 张医生 }
  DeptGbk = #$B7#$C5#$C9#$E4#$BF#$C6;   { 放射科 }
  LiSiGbk = #$C0#$EE#$CB#$C4;           { 李四 }
  WangWuGbk = #$CD#$F5#$CE#$E5;         { 王五 }
  WangGbk = #$CD#$F5;                   { 王 }
  MenZhenGbk = #$C3#$C5#$D5#$EF;        { 门诊, in the patientType dictionary error }

const
  { Delphi's default FPU setting: invalid operation, zero divide and overflow raise exceptions. }
  HostMask: TFPUExceptionMask = [exDenormalized, exUnderflow, exPrecision];
  AllMasked: TFPUExceptionMask = [exInvalidOp, exDenormalized, exZeroDivide, exOverflow, exUnderflow, exPrecision];

var
  Lock: TRTLCriticalSection;
  MaskInCall: TFPUExceptionMask;
  SawMainThreadLog: Boolean = False;
  WorkerLine: string = '';
  MainThread: TThreadID;

procedure OnLog(Level: Integer; const Msg: string);
begin
  { A log line of a synchronous call runs inside that call: the FPU mask miic runs with. }
  if (GetCurrentThreadId = MainThread) and not SawMainThreadLog then
  begin
    MaskInCall := GetExceptionMask;
    SawMainThreadLog := True;
  end;
  if (GetCurrentThreadId <> MainThread) and (Pos('reminder sent', Msg) > 0) then
  begin
    EnterCriticalSection(Lock);
    WorkerLine := Msg;
    LeaveCriticalSection(Lock);
  end;
end;

procedure Fail(const Why: string);
begin
  WriteLn('FAIL ', Why);
  Halt(1);
end;

procedure Login(C: TMiicClient; const HisUserId: string);
begin
  C.Login(['hisUserId', HisUserId, 'doctorName', DoctorGbk, 'department', DeptGbk,
    'departmentCode', '0301', 'doctorSex', '2', 'doctorType', '2', 'doctorCode', 'JS' + HisUserId,
    'doctorIdCardNo', '11010519491231002X']);
end;

{ A local validation error whose message lists the dictionary in Chinese: it must come back as GBK. }
procedure CheckGbkErrorMessage(C: TMiicClient);
begin
  try
    C.PatientReminder(['idCardNo', '440301199001011234', 'patientName', LiSiGbk,
      'mobilePhone', '13900000000', 'patientType', '7', 'accessNumber', 'BAD']);
    Fail('patientType 7 was accepted');
  except
    on E: EMiic do
    begin
      if E.Status <> MIIC_E_ARGUMENT then
        Fail(Format('patientType 7 gave status %d, not MIIC_E_ARGUMENT', [E.Status]));
      if Pos(MenZhenGbk, E.Message) = 0 then
        Fail('the error message lost its Chinese: ' + E.Message);
    end;
  end;
end;

function WorkerLogLine: string;
begin
  EnterCriticalSection(Lock);
  Result := WorkerLine;
  LeaveCriticalSection(Lock);
end;

var
  C: TMiicClient;
  I: Integer;
begin
  InitCriticalSection(Lock);
  MainThread := GetCurrentThreadId;
  { The ANSI code page of a Chinese Windows host: AnsiString <-> Unicode goes through GBK. }
  SetMultiByteConversionCodePage(936);
  if DefaultSystemCodePage <> 936 then
    Fail('could not switch the ANSI code page to 936');
  SetExceptionMask(HostMask);
  MiicSetLogCallback(OnLog);
  if not IsMultiThread then
    Fail('MiicSetLogCallback did not set IsMultiThread');

  { 1. text_encoding = "gbk": AnsiStrings pass through unchanged, both ways. }
  C := TMiicClient.Create(ParamStr(1), True);
  try
    Login(C, 'G1');
    if not SawMainThreadLog then
      Fail('no log line during login');
    if MaskInCall <> AllMasked then
      Fail('FPU exceptions were not all masked while miic ran');
    if GetExceptionMask <> HostMask then
      Fail('the host''s FPU exception mask was not restored after the call');
    C.PatientReminder(['idCardNo', '440301199001011234', 'patientName', LiSiGbk,
      'mobilePhone', '13900000000', 'patientType', '2', 'accessNumber', 'GBK-1']);
    CheckGbkErrorMessage(C);
    C.DeleteNotify(['patientName', LiSiGbk, 'accessionNo', 'GBK-1',
      'operateDateTime', '2024-05-06 07:08:09']);
    C.Logout;
  finally
    C.Free;
  end;

  { 2. A default (UTF-8) client fed the same GBK AnsiStrings: Miic.pas converts via code page 936. }
  C := TMiicClient.Create(ParamStr(2));
  try
    Login(C, 'U1');
    CheckGbkErrorMessage(C);
    { The async reminder's outcome is logged from miic's worker thread, in UTF-8, decoded to GBK. }
    C.PatientReminderAsync(['idCardNo', '440301199001011234', 'patientName', WangWuGbk,
      'mobilePhone', '13900000000', 'patientType', '1', 'accessNumber', 'UTF-1']);
    I := 0;
    while (WorkerLogLine = '') and (I < 100) do
    begin
      Sleep(50);
      Inc(I);
    end;
    if WorkerLogLine = '' then
      Fail('no "reminder sent" log line from a worker thread within 5 s');
    if Pos(WangGbk, WorkerLogLine) = 0 then
      Fail('the worker log line lost the masked name: ' + WorkerLogLine);
    C.DeleteNotify(['patientName', WangWuGbk, 'accessionNo', 'UTF-1',
      'operateDateTime', '2024-05-06 07:08:09']);
    C.Logout;
  finally
    C.Free;
  end;
  MiicSetLogCallback(nil);
  DoneCriticalSection(Lock);
  WriteLn('gbk ok');
end.
