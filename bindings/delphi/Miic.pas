{ Miic.pas: Delphi / Free Pascal binding of miic (医保影像云 client library).

  One unit for Delphi 7 (string = AnsiString, GBK on Chinese Windows), Delphi 2009+ (string =
  UnicodeString) and Free Pascal (mode Delphi). Put miic.dll next to the .exe, same bitness as
  the host (Delphi 7 and every 32-bit Delphi build need the 32-bit miic.dll).

  Text: by default strings are converted to UTF-8 on the way in and back on the way out (on
  Delphi 7 through the system ANSI code page, so GBK text arrives as proper UTF-8). A host whose
  config says text_encoding = "gbk" creates its client with AnsiText = True: AnsiStrings then pass
  through unchanged, with no conversion at all.

  Every call masks floating-point exceptions while miic runs (Delphi unmasks them; Rust code
  expects them masked) and restores the host's mask afterwards.

  Threads: a TMiicClient may be used from several threads at once. The log callback is called
  from miic's worker threads: MiicSetLogCallback sets IsMultiThread so the memory manager locks. }
unit Miic;

{$IFDEF FPC}
  {$IFDEF UNICODE}
    {$MODE DELPHIUNICODE} { fpc -Mdelphiunicode: string = UnicodeString, as in Delphi 2009+ }
  {$ELSE}
    {$MODE DELPHI}
  {$ENDIF}
{$ENDIF}

interface

uses
  SysUtils, Classes, Math;

const
{$IFDEF MSWINDOWS}
  MiicLib = 'miic.dll';
{$ELSE}
  MiicLib = 'miic';
{$ENDIF}

  { The C ABI this unit was written for; checked against the library's at first use. }
  MIIC_ABI_VERSION = 1;

  { Status codes (include/miic.h): integers, never renumbered. }
  MIIC_OK = 0;
  MIIC_QUEUED = 1;
  MIIC_E_ARGUMENT = -1;
  MIIC_E_ENCODING = -2;
  MIIC_E_CONFIG = -3;
  MIIC_E_STATE = -4;
  MIIC_E_NETWORK = -5;
  MIIC_E_TIMEOUT = -6;
  MIIC_E_SERVER = -7;
  MIIC_E_PROTOCOL = -8;
  MIIC_E_CRYPTO = -9;
  MIIC_E_DICOM = -10;
  MIIC_E_IO = -11;
  MIIC_E_INTERNAL = -99;

  { Log levels passed to the log callback. }
  MIIC_LOG_ERROR = 1;
  MIIC_LOG_WARN = 2;
  MIIC_LOG_INFO = 3;
  MIIC_LOG_DEBUG = 4;
  MIIC_LOG_TRACE = 5;

type
{$IFNDEF FPC}
  {$IF CompilerVersion < 20}
  RawByteString = AnsiString; { Delphi 7-2007: AnsiString carries no code page }
  {$IFEND}
{$ENDIF}
  PMiicClient = Pointer;
  PMiicParams = Pointer;
  PPMiicParams = ^PMiicParams;
  PPAnsiChar = ^PAnsiChar;
  TMiicLogFn = procedure(User: Pointer; Level: Integer; Msg: PAnsiChar); cdecl;
  { A host log handler: Msg is already decoded. Must not call miic; must be thread-safe. }
  TMiicLogProc = procedure(Level: Integer; const Msg: string);

  { A failed miic call: Status is the negative MIIC_E_* code, Message is miic's text. }
  EMiic = class(Exception)
  private
    FStatus: Integer;
  public
    constructor CreateStatus(AStatus: Integer; const AMessage: string);
    function StatusName: string;
    property Status: Integer read FStatus;
  end;

  { A client of the front-end machine. Request fields are name/value pairs under the spec's
    names, either as an open array ['doctorName', '张医生', ...] or as a TStrings of Name=Value. }
  TMiicClient = class
  private
    FHandle: PMiicClient;
    FAnsiText: Boolean;
  public
    { Config: a .toml/.json path or inline JSON text. AnsiText: True for text_encoding = "gbk". }
    constructor Create(const Config: string; AnsiText: Boolean = False);
    destructor Destroy; override;

    procedure Login(const Doctor: array of string); overload;
    procedure Login(Doctor: TStrings); overload;
    procedure Logout;
    { WYHT:// login URL for browser-based hosts (field 'type': 1 login, 2 logout). No network. }
    function PluginUrl(const Doctor: array of string): string;
    procedure PatientReminder(const Patient: array of string); overload;
    procedure PatientReminder(Patient: TStrings); overload;
    procedure PatientReminderAsync(const Patient: array of string);
    function QrUrl(const Exam: array of string): string;
    { Returns MIIC_OK (delivered) or MIIC_QUEUED (stored, retried in the background). }
    function DeleteNotify(const Deletion: array of string): Integer;
    function Sm2Encrypt(const Plain: string): string;

    { Building blocks for exports this unit does not wrap yet. }
    function NewParams(const Fields: array of string): PMiicParams; overload;
    function NewParams(Fields: TStrings): PMiicParams; overload;
    function Check(Status: Integer): Integer;
    function ToNative(const S: string): RawByteString;
    function FromNative(P: PAnsiChar): string;
    { Decode a string miic returned through char ** and free it with miic_string_free. }
    function TakeString(P: PAnsiChar): string;

    property Handle: PMiicClient read FHandle;
    property AnsiText: Boolean read FAnsiText;
  end;

{ The raw exports, cdecl, exactly as include/miic.h declares them. }
function miic_last_error: PAnsiChar; cdecl; external MiicLib;
function miic_open(Config: PAnsiChar): PMiicClient; cdecl; external MiicLib;
procedure miic_close(C: PMiicClient); cdecl; external MiicLib;
function miic_sm2_encrypt(C: PMiicClient; Plain: PAnsiChar; CipherOut: PPAnsiChar): Integer; cdecl; external MiicLib;
procedure miic_set_log_callback(LogFn: TMiicLogFn; User: Pointer); cdecl; external MiicLib;
function miic_login(C: PMiicClient; Doctor: PMiicParams): Integer; cdecl; external MiicLib;
function miic_logout(C: PMiicClient): Integer; cdecl; external MiicLib;
function miic_plugin_url(C: PMiicClient; Doctor: PMiicParams; UrlOut: PPAnsiChar): Integer; cdecl; external MiicLib;
function miic_patient_reminder(C: PMiicClient; Patient: PMiicParams): Integer; cdecl; external MiicLib;
function miic_patient_reminder_async(C: PMiicClient; Patient: PMiicParams): Integer; cdecl; external MiicLib;
function miic_qr_url(C: PMiicClient; Exam: PMiicParams; UrlOut: PPAnsiChar): Integer; cdecl; external MiicLib;
function miic_delete_notify(C: PMiicClient; Deletion: PMiicParams): Integer; cdecl; external MiicLib;
function miic_params_new: PMiicParams; cdecl; external MiicLib;
function miic_params_set(P: PMiicParams; Key, Value: PAnsiChar): Integer; cdecl; external MiicLib;
function miic_params_from_json(Json: PAnsiChar; ParamsOut: PPMiicParams): Integer; cdecl; external MiicLib;
procedure miic_params_free(P: PMiicParams); cdecl; external MiicLib;
function miic_version: PAnsiChar; cdecl; external MiicLib;
{ miic_abi_version, renamed: Pascal names are case-insensitive and MIIC_ABI_VERSION is the constant. }
function MiicLoadedAbiVersion: Cardinal; cdecl; external MiicLib name 'miic_abi_version';
function miic_status_name(Status: Integer): PAnsiChar; cdecl; external MiicLib;
procedure miic_string_free(S: PAnsiChar); cdecl; external MiicLib;

{ Library-wide helpers. }
procedure MiicCheckAbi;
function MiicVersion: string;
function MiicStatusName(Status: Integer): string;
{ Install (or with nil, remove) the log handler; sets IsMultiThread. }
procedure MiicSetLogCallback(Handler: TMiicLogProc);
{ Mask FPU exceptions before a miic call, and restore the host's mask after it. }
function MiicMaskFpu: TFPUExceptionMask;
procedure MiicRestoreFpu(const Saved: TFPUExceptionMask);
{ UTF-8 text of a string (via the ANSI code page on non-Unicode compilers), and back. }
function MiicUtf8(const S: string): RawByteString;
function MiicFromUtf8(P: PAnsiChar): string;

implementation

var
  AbiChecked: Boolean = False;
  LogHandler: TMiicLogProc = nil;

const
  AllFpuExceptions: TFPUExceptionMask =
    [exInvalidOp, exDenormalized, exZeroDivide, exOverflow, exUnderflow, exPrecision];

function MiicMaskFpu: TFPUExceptionMask;
begin
  Result := SetExceptionMask(AllFpuExceptions);
end;

procedure MiicRestoreFpu(const Saved: TFPUExceptionMask);
begin
  { Clear the x87 flags miic's code may have raised while masked: an x87 flag left pending fires
    at the host's next FPU instruction once unmasked. (SSE flags do not: they only record.) }
{$IFDEF FPC}
  ClearExceptions(False);
{$ELSE}
  {$IFNDEF CPUX64}
  asm
    FNCLEX
  end;
  {$ENDIF}
{$ENDIF}
  SetExceptionMask(Saved);
end;

function MiicUtf8(const S: string): RawByteString;
begin
  Result := UTF8Encode(S);
end;

function MiicFromUtf8(P: PAnsiChar): string;
var
  Raw: RawByteString;
begin
  if P = nil then
  begin
    Result := '';
    Exit;
  end;
  Raw := P;
{$IFDEF UNICODE}
  {$IFDEF FPC}
  Result := UTF8Decode(Raw);
  {$ELSE}
  Result := UTF8ToString(Raw);
  {$ENDIF}
{$ELSE}
  Result := AnsiString(UTF8Decode(Raw)); { -> AnsiString through the ANSI code page }
{$ENDIF}
end;

constructor EMiic.CreateStatus(AStatus: Integer; const AMessage: string);
begin
  inherited Create(AMessage);
  FStatus := AStatus;
end;

function EMiic.StatusName: string;
begin
  Result := MiicStatusName(FStatus);
end;

procedure MiicCheckAbi;
var
  Loaded: Cardinal;
begin
  if AbiChecked then
    Exit;
  Loaded := MiicLoadedAbiVersion;
  if Loaded <> MIIC_ABI_VERSION then
    raise EMiic.CreateStatus(MIIC_E_INTERNAL, Format(
      'miic library ABI version %d does not match Miic.pas ABI version %d: use the Miic.pas shipped with this DLL',
      [Integer(Loaded), MIIC_ABI_VERSION]));
  AbiChecked := True;
end;

function MiicVersion: string;
begin
  MiicCheckAbi;
  Result := string(AnsiString(miic_version));
end;

function MiicStatusName(Status: Integer): string;
begin
  Result := string(AnsiString(miic_status_name(Status)));
end;

procedure LogThunk(User: Pointer; Level: Integer; Msg: PAnsiChar); cdecl;
var
  H: TMiicLogProc;
  Saved: TFPUExceptionMask;
begin
  H := LogHandler;
  if not Assigned(H) then
    Exit;
  Saved := GetExceptionMask;
  try
    try
      H(Level, MiicFromUtf8(Msg));
    except
      { A host logging bug must not unwind into miic. }
    end;
  finally
    SetExceptionMask(Saved);
  end;
end;

procedure MiicSetLogCallback(Handler: TMiicLogProc);
var
  Saved: TFPUExceptionMask;
begin
  MiicCheckAbi;
  Saved := MiicMaskFpu;
  try
    if Assigned(Handler) then
    begin
      IsMultiThread := True; { miic calls the handler from its own threads }
      LogHandler := Handler;
      miic_set_log_callback(LogThunk, nil);
    end
    else
    begin
      miic_set_log_callback(nil, nil);
      LogHandler := nil;
    end;
  finally
    MiicRestoreFpu(Saved);
  end;
end;

{ TMiicClient }

constructor TMiicClient.Create(const Config: string; AnsiText: Boolean);
var
  Saved: TFPUExceptionMask;
  Msg: string;
begin
  inherited Create;
  MiicCheckAbi;
  FAnsiText := AnsiText;
  Saved := MiicMaskFpu;
  try
    { Paths and inline JSON go as UTF-8 whatever the client's text encoding. }
    FHandle := miic_open(PAnsiChar(MiicUtf8(Config)));
    if FHandle = nil then
      Msg := MiicFromUtf8(miic_last_error);
  finally
    MiicRestoreFpu(Saved);
  end;
  if FHandle = nil then
    raise EMiic.CreateStatus(MIIC_E_CONFIG, Msg);
end;

destructor TMiicClient.Destroy;
var
  Saved: TFPUExceptionMask;
begin
  if FHandle <> nil then
  begin
    Saved := MiicMaskFpu;
    try
      miic_close(FHandle);
    finally
      MiicRestoreFpu(Saved);
    end;
    FHandle := nil;
  end;
  inherited Destroy;
end;

function TMiicClient.ToNative(const S: string): RawByteString;
begin
  if FAnsiText then
{$IFDEF UNICODE}
    Result := AnsiString(S) { the system ANSI code page: GBK on Chinese Windows }
{$ELSE}
    Result := S
{$ENDIF}
  else
    Result := MiicUtf8(S);
end;

function TMiicClient.FromNative(P: PAnsiChar): string;
begin
  if FAnsiText then
    Result := string(AnsiString(P))
  else
    Result := MiicFromUtf8(P);
end;

function TMiicClient.Check(Status: Integer): Integer;
begin
  { Call right after the miic call, on the same thread: miic_last_error is per thread. }
  if Status < 0 then
    raise EMiic.CreateStatus(Status, FromNative(miic_last_error));
  Result := Status;
end;

function TMiicClient.TakeString(P: PAnsiChar): string;
begin
  try
    Result := FromNative(P);
  finally
    miic_string_free(P);
  end;
end;

function TMiicClient.NewParams(const Fields: array of string): PMiicParams;
var
  I, Status: Integer;
  Key, Value: RawByteString;
begin
  if Odd(Length(Fields)) then
    raise EMiic.CreateStatus(MIIC_E_ARGUMENT, 'fields must be name/value pairs (odd count)');
  Result := miic_params_new;
  if Result = nil then
    raise EMiic.CreateStatus(MIIC_E_INTERNAL, 'miic_params_new failed (out of memory)');
  I := 0;
  while I < Length(Fields) do
  begin
    Key := MiicUtf8(Fields[I]);
    Value := ToNative(Fields[I + 1]);
    Status := miic_params_set(Result, PAnsiChar(Key), PAnsiChar(Value));
    if Status < 0 then
    begin
      miic_params_free(Result);
      Check(Status);
    end;
    Inc(I, 2);
  end;
end;

function TMiicClient.NewParams(Fields: TStrings): PMiicParams;
var
  Pairs: array of string;
  I: Integer;
begin
  SetLength(Pairs, Fields.Count * 2);
  for I := 0 to Fields.Count - 1 do
  begin
    Pairs[2 * I] := Fields.Names[I];
    Pairs[2 * I + 1] := Fields.ValueFromIndex[I];
  end;
  Result := NewParams(Pairs);
end;

procedure TMiicClient.Login(const Doctor: array of string);
var
  P: PMiicParams;
  Saved: TFPUExceptionMask;
begin
  P := NewParams(Doctor);
  Saved := MiicMaskFpu;
  try
    Check(miic_login(FHandle, P));
  finally
    MiicRestoreFpu(Saved);
    miic_params_free(P);
  end;
end;

procedure TMiicClient.Login(Doctor: TStrings);
var
  P: PMiicParams;
  Saved: TFPUExceptionMask;
begin
  P := NewParams(Doctor);
  Saved := MiicMaskFpu;
  try
    Check(miic_login(FHandle, P));
  finally
    MiicRestoreFpu(Saved);
    miic_params_free(P);
  end;
end;

procedure TMiicClient.Logout;
var
  Saved: TFPUExceptionMask;
begin
  Saved := MiicMaskFpu;
  try
    Check(miic_logout(FHandle));
  finally
    MiicRestoreFpu(Saved);
  end;
end;

function TMiicClient.PluginUrl(const Doctor: array of string): string;
var
  P: PMiicParams;
  Url: PAnsiChar;
  Saved: TFPUExceptionMask;
begin
  P := NewParams(Doctor);
  Url := nil;
  Saved := MiicMaskFpu;
  try
    Check(miic_plugin_url(FHandle, P, @Url));
    Result := TakeString(Url);
  finally
    MiicRestoreFpu(Saved);
    miic_params_free(P);
  end;
end;

procedure TMiicClient.PatientReminder(const Patient: array of string);
var
  P: PMiicParams;
  Saved: TFPUExceptionMask;
begin
  P := NewParams(Patient);
  Saved := MiicMaskFpu;
  try
    Check(miic_patient_reminder(FHandle, P));
  finally
    MiicRestoreFpu(Saved);
    miic_params_free(P);
  end;
end;

procedure TMiicClient.PatientReminder(Patient: TStrings);
var
  P: PMiicParams;
  Saved: TFPUExceptionMask;
begin
  P := NewParams(Patient);
  Saved := MiicMaskFpu;
  try
    Check(miic_patient_reminder(FHandle, P));
  finally
    MiicRestoreFpu(Saved);
    miic_params_free(P);
  end;
end;

procedure TMiicClient.PatientReminderAsync(const Patient: array of string);
var
  P: PMiicParams;
  Saved: TFPUExceptionMask;
begin
  P := NewParams(Patient);
  Saved := MiicMaskFpu;
  try
    Check(miic_patient_reminder_async(FHandle, P));
  finally
    MiicRestoreFpu(Saved);
    miic_params_free(P);
  end;
end;

function TMiicClient.QrUrl(const Exam: array of string): string;
var
  P: PMiicParams;
  Url: PAnsiChar;
  Saved: TFPUExceptionMask;
begin
  P := NewParams(Exam);
  Url := nil;
  Saved := MiicMaskFpu;
  try
    Check(miic_qr_url(FHandle, P, @Url));
    Result := TakeString(Url);
  finally
    MiicRestoreFpu(Saved);
    miic_params_free(P);
  end;
end;

function TMiicClient.DeleteNotify(const Deletion: array of string): Integer;
var
  P: PMiicParams;
  Saved: TFPUExceptionMask;
begin
  P := NewParams(Deletion);
  Saved := MiicMaskFpu;
  try
    Result := Check(miic_delete_notify(FHandle, P));
  finally
    MiicRestoreFpu(Saved);
    miic_params_free(P);
  end;
end;

function TMiicClient.Sm2Encrypt(const Plain: string): string;
var
  Native: RawByteString;
  Cipher: PAnsiChar;
  Saved: TFPUExceptionMask;
begin
  Native := ToNative(Plain);
  Cipher := nil;
  Saved := MiicMaskFpu;
  try
    Check(miic_sm2_encrypt(FHandle, PAnsiChar(Native), @Cipher));
    Result := TakeString(Cipher);
  finally
    MiicRestoreFpu(Saved);
  end;
end;

end.
