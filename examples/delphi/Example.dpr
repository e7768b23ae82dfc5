{ The doctor workflow from Delphi / Free Pascal: login, patient reminder, QR URL, delete
  notification, logout.

  Delphi:      dcc32 -U..\..\bindings\delphi Example.dpr   (then run next to the 32-bit miic.dll)
  Free Pascal: fpc -Mdelphi -Fu../../bindings/delphi -Fl<dir of libmiic.so> Example.dpr
  Run:         Example miic.toml   (start `miic-cli sim` to try it without a front-end machine)

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

var
  Config, Url: string;
  Client: TMiicClient;
  Status: Integer;
begin
  if ParamCount > 0 then
    Config := ParamStr(1)
  else
    Config := 'miic.toml';
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

      Status := Client.DeleteNotify([
        'patientName', '李四',
        'accessionNo', 'ACC20240001',
        'operateDateTime', '2024-05-06 07:08:09']);
      WriteLn('delete ', MiicStatusName(Status));

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
