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

  Threads: a TMiicClient may be used from several threads at once. The log callback and the
  progress callback are called from miic's worker threads: installing either sets IsMultiThread
  so the memory manager locks.

  Results with structure (a fetch's manifest, C-FIND matches, a report check) come back as
  records of strings and dynamic arrays: nothing to free. They are read from miic's JSON by a
  small reader in this unit (Delphi 7 has none), forgivingly: unknown fields are ignored, and the
  JSON itself is kept in Raw. }
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
  PMiicCount = ^Cardinal;
  TMiicLogFn = procedure(User: Pointer; Level: Integer; Msg: PAnsiChar); cdecl;
  { A host log handler: Msg is already decoded. Must not call miic; must be thread-safe. }
  TMiicLogProc = procedure(Level: Integer; const Msg: string);
  { Progress of a fetch, as miic calls it: FilesDone of FilesTotal (0 while not known yet),
    BytesDone so far. Called on the fetching thread or miic's worker threads, one at a time. }
  TMiicProgressFn = procedure(User: Pointer; FilesDone, FilesTotal: Cardinal; BytesDone: Int64); cdecl;
  { The same as an event of TMiicClient (Sender is the client). Must return quickly and must not
    call the client; to update the UI, post a message (PostMessage, TThread.Queue). }
  TMiicProgressEvent = procedure(Sender: TObject; FilesDone, FilesTotal: Cardinal; BytesDone: Int64) of object;

  TMiicStrings = array of string;

  { One object of a fetch (docs/dicom.md). Path is relative to the destination folder. }
  TMiicDicomFile = record
    Path, Source, SopInstanceUid, SopClassUid, Modality, StudyInstanceUid, TransferSyntax: string;
    Size: Int64;
    Status: string; { completed | warning | failed }
    Error, Warning: string;
    Resumed: Boolean;
  end;
  TMiicDicomFiles = array of TMiicDicomFile;

  { An object that did not arrive whole, and why. }
  TMiicDicomFailure = record
    SopInstanceUid, SopClassUid, Reason, Path: string;
  end;
  TMiicDicomFailures = array of TMiicDicomFailure;

  { What a fetch brought. Raw is miic's JSON; ParseError is set (and only Raw) when it could not
    be read. Pacs* are the PACS's own final status and counts (-1: not said; DIMSE only).
    Failures: the manifest's list of failed objects when it has one, else its failed files. }
  TMiicManifest = record
    Raw, ParseError: string;
    Method, StudyInstanceUid, DestDir, Error: string;
    Completed, Failed, Warning: Integer;
    StudyUidMismatch: Boolean;
    Studies: TMiicStrings;
    PacsStatus: string;
    PacsCompleted, PacsFailed, PacsWarning: Integer;
    ElapsedMs: Int64;
    Files: TMiicDicomFiles;
    Failures: TMiicDicomFailures;
  end;

  { A study the PACS found (C-FIND); NumberOfStudyRelatedInstances -1: not said. }
  TMiicStudyMatch = record
    StudyInstanceUid, PatientId, PatientName, StudyDate, AccessionNumber, ModalitiesInStudy: string;
    NumberOfStudyRelatedInstances: Integer;
  end;
  TMiicStudyMatches = array of TMiicStudyMatch;

  TMiicCount = record
    Name: string;
    Count: Int64;
  end;
  TMiicCounts = array of TMiicCount;

  { A sample-reply name (or misspelling) accepted for a table field. }
  TMiicReportAlias = record
    Alias, Field, Kind: string;
    Records: Integer;
  end;
  TMiicReportAliases = array of TMiicReportAlias;

  { One finding: RecordIndex is the record's index in the input (-1: the reply envelope). }
  TMiicReportProblem = record
    RecordIndex: Integer;
    Field, Rule, Severity, Message: string; { Severity: error | warning }
  end;
  TMiicReportProblems = array of TMiicReportProblem;

  { The verdict of MiicValidateReport. Rules counts every problem per rule (Problems lists at
    most 10000: Truncated). HasEnvelope: the input was a 4.1.2 reply with code and message. }
  TMiicReportCheck = record
    Raw, ParseError: string;
    Conformant: Boolean;
    Records, Errors, Warnings: Integer;
    Rules, ExtraFields: TMiicCounts;
    Aliases: TMiicReportAliases;
    HasEnvelope: Boolean;
    EnvelopeCode, EnvelopeMessage: string;
    Problems: TMiicReportProblems;
    Truncated: Boolean;
  end;

  { One check of MiicDiagnose. Outcome is the JSON's "result": ok | warning | failed | skipped
    (the check does not apply); FixZh/FixEn say how to fix a failed or warning check ('' for the
    others). What was measured, value by value, is in TMiicDiagnosis.Raw. }
  TMiicDiagnosisCheck = record
    Id, Outcome, TitleZh, TitleEn, SummaryZh, SummaryEn, FixZh, FixEn: string;
    ElapsedMs: Integer;
  end;
  TMiicDiagnosisChecks = array of TMiicDiagnosisCheck;

  { The report of MiicDiagnose: Outcome is the worst check's (ok | warning | failed); Config is
    the file diagnosed or 'inline JSON'. }
  TMiicDiagnosis = record
    Raw, ParseError, Outcome, Config: string;
    ElapsedMs, TimeoutMs: Integer;
    Checks: TMiicDiagnosisChecks;
  end;

  { A failed miic call: Status is the negative MIIC_E_* code, Message is miic's text. }
  EMiic = class(Exception)
  private
    FStatus: Integer;
  public
    constructor CreateStatus(AStatus: Integer; const AMessage: string);
    function StatusName: string;
    property Status: Integer read FStatus;
  end;

  { A failed fetch that reached the PACS or server: Manifest says what landed and what failed
    (partial success is MIIC_E_DICOM; a lost connection MIIC_E_NETWORK, with what came before). }
  EMiicDicom = class(EMiic)
  private
    FManifest: TMiicManifest;
  public
    constructor CreateManifest(AStatus: Integer; const AMessage: string; const AManifest: TMiicManifest);
    property Manifest: TMiicManifest read FManifest;
  end;

  { A client of the front-end machine. Request fields are name/value pairs under the spec's
    names, either as an open array ['doctorName', '张医生', ...] or as a TStrings of Name=Value. }
  TMiicClient = class
  private
    FHandle: PMiicClient;
    FAnsiText: Boolean;
    FOnProgress: TMiicProgressEvent;
    procedure SetOnProgress(const Value: TMiicProgressEvent);
    function TakeManifest(Status: Integer; Json: PAnsiChar): TMiicManifest;
  public
    { Config: a .toml/.json path or inline JSON text. AnsiText: True for text_encoding = "gbk". }
    constructor Create(const Config: string; AnsiText: Boolean = False);
    destructor Destroy; override;

    { Every call taking request fields also takes a params bag (PMiicParams, e.g. from
      MiicParamsFromJson), still owned by the caller. }
    procedure Login(const Doctor: array of string); overload;
    procedure Login(Doctor: TStrings); overload;
    procedure Login(Doctor: PMiicParams); overload;
    procedure Logout;
    { WYHT:// login URL for browser-based hosts (field 'type': 1 login, 2 logout). No network. }
    function PluginUrl(const Doctor: array of string): string; overload;
    function PluginUrl(Doctor: PMiicParams): string; overload;
    procedure PatientReminder(const Patient: array of string); overload;
    procedure PatientReminder(Patient: TStrings); overload;
    procedure PatientReminder(Patient: PMiicParams); overload;
    procedure PatientReminderAsync(const Patient: array of string); overload;
    procedure PatientReminderAsync(Patient: PMiicParams); overload;
    function QrUrl(const Exam: array of string): string; overload;
    function QrUrl(Exam: PMiicParams): string; overload;
    { 4.3 the exam's QR code as a PNG for the printed report (caption 扫描查看数字影像), written
      whole or not at all. Exam may add rendering options: 'modulePx', 'sizePx', 'sizeMm', 'dpi',
      'caption' ('0' = none), 'ecLevel'. PngPath is in the client's text encoding. }
    procedure QrImage(const Exam: array of string; const PngPath: string); overload;
    procedure QrImage(Exam: PMiicParams; const PngPath: string); overload;
    { Returns MIIC_OK (delivered) or MIIC_QUEUED (stored, retried in the background). }
    function DeleteNotify(const Deletion: array of string): Integer; overload;
    function DeleteNotify(Deletion: PMiicParams): Integer; overload;
    { Delete notifications waiting in the outbox (from every process sharing it), and those the
      cloud rejected (code 400, kept for hospital IT). }
    function OutboxPending: Cardinal;
    function OutboxDeadCount: Cardinal;
    { Send every pending notification now; EMiic with MIIC_E_TIMEOUT when some remain after
      TimeoutMs (the message says how many and why). Blocks the calling thread. }
    procedure OutboxFlush(TimeoutMs: Cardinal);
    function Sm2Encrypt(const Plain: string): string;

    { Images (spec 4.2). Paths are in the client's text encoding. A fetch that fails after
      reaching the PACS raises EMiicDicom carrying the manifest. }
    procedure DicomEcho;
    function DicomFind(const StudyUid: string): TMiicStudyMatches;
    function DicomRetrieve(const StudyUid, DestDir: string): TMiicManifest;
    function DicomFetchHttp(const DcmPath, DestDir: string): TMiicManifest;
    { Progress of the fetches, as an event. Set it before a fetch, not during one. }
    property OnProgress: TMiicProgressEvent read FOnProgress write SetOnProgress;
    { Or as a plain cdecl callback with its user pointer (nil removes it); replaces OnProgress.
      It must stay callable until the client is freed: a fetch already running keeps calling it. }
    procedure SetProgressCallback(Fn: TMiicProgressFn; User: Pointer);

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
function miic_last_status: Integer; cdecl; external MiicLib;
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
function miic_qr_image(C: PMiicClient; Exam: PMiicParams; PngPath: PAnsiChar): Integer; cdecl; external MiicLib;
function miic_qr_render(Text, PngPath: PAnsiChar; Options: PMiicParams): Integer; cdecl; external MiicLib;
function miic_outbox_pending(C: PMiicClient; CountOut: PMiicCount): Integer; cdecl; external MiicLib;
function miic_outbox_dead_count(C: PMiicClient; CountOut: PMiicCount): Integer; cdecl; external MiicLib;
function miic_outbox_flush(C: PMiicClient; TimeoutMs: Cardinal): Integer; cdecl; external MiicLib;
function miic_dicom_echo(C: PMiicClient): Integer; cdecl; external MiicLib;
function miic_dicom_find(C: PMiicClient; StudyUid: PAnsiChar; MatchesOut: PPAnsiChar): Integer; cdecl; external MiicLib;
function miic_dicom_retrieve(C: PMiicClient; StudyUid, DestDir: PAnsiChar; ManifestOut: PPAnsiChar): Integer; cdecl; external MiicLib;
function miic_dicom_fetch_http(C: PMiicClient; DcmPath, DestDir: PAnsiChar; ManifestOut: PPAnsiChar): Integer; cdecl; external MiicLib;
function miic_set_progress_callback(C: PMiicClient; ProgressFn: TMiicProgressFn; User: Pointer): Integer; cdecl; external MiicLib;
function miic_report_validate(ReportJson: PAnsiChar; ProblemsOut: PPAnsiChar): Integer; cdecl; external MiicLib;
function miic_diagnose(Config: PAnsiChar; ReportOut: PPAnsiChar): Integer; cdecl; external MiicLib;
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
{ Check a call made without a client (its message is UTF-8): raises EMiic for a negative status. }
function MiicCheck(Status: Integer): Integer;
{ A params bag of name/value pairs, values UTF-8 (or as AnsiStrings with AnsiText); free it with
  miic_params_free. }
function MiicNewParams(const Fields: array of string; AnsiText: Boolean = False): PMiicParams;
{ A params bag from a flat JSON object (strings, numbers, booleans); free it with miic_params_free. }
function MiicParamsFromJson(const Json: string): PMiicParams;
{ Draw any text as a QR code PNG exactly as TMiicClient.QrImage does; no client, no network.
  Options: the rendering options of QrImage as name/value pairs (none: the defaults). }
procedure MiicQrRender(const Text, PngPath: string; const Options: array of string);
{ Check report data (spec 4.1: a record object, an array of records, or a 4.1.2 reply) against
  the table and section 5. Returns the verdict, conformant or not; EMiic (MIIC_E_ARGUMENT) only
  for input that is not report data at all. }
function MiicValidateReport(const ReportJson: string): TMiicReportCheck;
{ Check this workstation's whole set-up for Config (as for TMiicClient.Create: a .toml/.json path
  or inline JSON) without opening a client: config, front-end machine, clock, SM2 key, outbox,
  log folder, PACS, C-MOVE port, image server. Works on a config TMiicClient refuses, and says
  why. Returns the report whatever the checks found, each failed check with a fix sentence in
  Chinese and English; EMiic (MIIC_E_ARGUMENT) only when no report could be made. Takes about
  timeout_ms: call it from a worker thread in a UI. }
function MiicDiagnose(const Config: string): TMiicDiagnosis;

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

constructor EMiicDicom.CreateManifest(AStatus: Integer; const AMessage: string;
  const AManifest: TMiicManifest);
begin
  inherited CreateStatus(AStatus, AMessage);
  FManifest := AManifest;
end;

{ Text of the client's encoding: UTF-8, or the AnsiString bytes as they are (text_encoding gbk). }
function DecodeText(P: PAnsiChar; AnsiText: Boolean): string;
begin
  if AnsiText then
    Result := string(AnsiString(P))
  else
    Result := MiicFromUtf8(P);
end;

function EncodeText(const S: string; AnsiText: Boolean): RawByteString;
begin
  if AnsiText then
{$IFDEF UNICODE}
    Result := AnsiString(S) { the system ANSI code page: GBK on Chinese Windows }
{$ELSE}
    Result := S
{$ENDIF}
  else
    Result := MiicUtf8(S);
end;

function MiicCheck(Status: Integer): Integer;
begin
  if Status < 0 then
    raise EMiic.CreateStatus(Status, MiicFromUtf8(miic_last_error));
  Result := Status;
end;

function MiicNewParams(const Fields: array of string; AnsiText: Boolean): PMiicParams;
var
  I, Status: Integer;
  Key, Value: RawByteString;
begin
  MiicCheckAbi;
  if Odd(Length(Fields)) then
    raise EMiic.CreateStatus(MIIC_E_ARGUMENT, 'fields must be name/value pairs (odd count)');
  Result := miic_params_new;
  if Result = nil then
    raise EMiic.CreateStatus(MIIC_E_INTERNAL, 'miic_params_new failed (out of memory)');
  I := 0;
  while I < Length(Fields) do
  begin
    Key := MiicUtf8(Fields[I]);
    Value := EncodeText(Fields[I + 1], AnsiText);
    Status := miic_params_set(Result, PAnsiChar(Key), PAnsiChar(Value));
    if Status < 0 then
    begin
      Key := miic_last_error; { read before the next miic call }
      miic_params_free(Result);
      raise EMiic.CreateStatus(Status, MiicFromUtf8(PAnsiChar(Key)));
    end;
    Inc(I, 2);
  end;
end;

function MiicParamsFromJson(const Json: string): PMiicParams;
var
  Text: RawByteString;
  Saved: TFPUExceptionMask;
begin
  MiicCheckAbi;
  Text := MiicUtf8(Json); { miic reads params JSON as UTF-8 whatever the client's encoding }
  Result := nil;
  Saved := MiicMaskFpu;
  try
    MiicCheck(miic_params_from_json(PAnsiChar(Text), @Result));
  finally
    MiicRestoreFpu(Saved);
  end;
end;

{ ---- a forgiving JSON reader for miic's own replies (Delphi 7 has none) ---- }

type
  TJsonKind = (jkNull, jkBool, jkNumber, jkString, jkArray, jkObject);

  { A JSON value. Text: a string's bytes (in the source's encoding), a number's or a boolean's
    literal text. Arrays and objects hold Count children (objects also their names). }
  TJson = class
  public
    Kind: TJsonKind;
    Text: RawByteString;
    Count: Integer;
    Names: array of RawByteString;
    Items: array of TJson;
    destructor Destroy; override;
    procedure Add(const Name: RawByteString; Child: TJson);
    function Member(Name: PAnsiChar): TJson;
    function TextIs(Literal: PAnsiChar): Boolean;
  end;

  EJson = class(Exception);

  { Reads NUL-terminated JSON bytes; Gbk: multi-byte characters whose second byte may look like
    ASCII ('\' is a valid GBK trail byte) are stepped over whole inside strings. }
  TJsonParser = class
  private
    Src: PAnsiChar;
    Pos, Len: Integer;
    Gbk: Boolean;
    procedure Fail(const Why: string);
    procedure SkipSpace;
    function Peek: AnsiChar;
    procedure Expect(C: AnsiChar);
    function ReadString: RawByteString;
    function ReadHex4: Cardinal;
    function ReadValue(Depth: Integer): TJson;
  end;

destructor TJson.Destroy;
var
  I: Integer;
begin
  for I := 0 to Count - 1 do
    Items[I].Free;
  inherited Destroy;
end;

procedure TJson.Add(const Name: RawByteString; Child: TJson);
begin
  if Count = Length(Items) then
  begin
    SetLength(Items, 2 * Count + 4);
    if Kind = jkObject then
      SetLength(Names, 2 * Count + 4);
  end;
  Items[Count] := Child;
  if Kind = jkObject then
    Names[Count] := Name;
  Inc(Count);
end;

{ Bytes equal to a NUL-terminated ASCII literal (no string conversion). }
function SameBytes(const Bytes: RawByteString; Literal: PAnsiChar): Boolean;
var
  I: Integer;
begin
  Result := False;
  for I := 1 to Length(Bytes) do
    if (Literal[I - 1] = #0) or (Bytes[I] <> Literal[I - 1]) then
      Exit;
  Result := Literal[Length(Bytes)] = #0;
end;

function TJson.Member(Name: PAnsiChar): TJson;
var
  I: Integer;
begin
  Result := nil;
  if Kind <> jkObject then
    Exit;
  for I := 0 to Count - 1 do
    if SameBytes(Names[I], Name) then
    begin
      Result := Items[I];
      Exit;
    end;
end;

function TJson.TextIs(Literal: PAnsiChar): Boolean;
begin
  Result := SameBytes(Text, Literal);
end;

{ Append Count bytes at P to Buf (bytes only: no code page conversion). }
procedure AppendBytes(var Buf: RawByteString; P: PAnsiChar; Count: Integer);
var
  Old: Integer;
begin
  if Count <= 0 then
    Exit;
  Old := Length(Buf);
  SetLength(Buf, Old + Count);
  Move(P^, Buf[Old + 1], Count);
end;

procedure AppendByte(var Buf: RawByteString; B: Byte);
var
  C: AnsiChar;
begin
  C := AnsiChar(B);
  AppendBytes(Buf, @C, 1);
end;

procedure TJsonParser.Fail(const Why: string);
begin
  raise EJson.CreateFmt('miic''s JSON at byte %d: %s', [Pos, Why]);
end;

function TJsonParser.Peek: AnsiChar;
begin
  if Pos >= Len then
    Fail('unexpected end');
  Result := Src[Pos];
end;

procedure TJsonParser.SkipSpace;
begin
  while (Pos < Len) and (Src[Pos] in [' ', #9, #10, #13]) do
    Inc(Pos);
end;

procedure TJsonParser.Expect(C: AnsiChar);
begin
  SkipSpace;
  if Peek <> C then
    Fail('expected ' + string(AnsiString(C)));
  Inc(Pos);
end;

function TJsonParser.ReadHex4: Cardinal;
var
  I: Integer;
  C: AnsiChar;
begin
  Result := 0;
  for I := 1 to 4 do
  begin
    C := Peek;
    case C of
      '0'..'9': Result := Result * 16 + Cardinal(Ord(C) - Ord('0'));
      'a'..'f': Result := Result * 16 + Cardinal(Ord(C) - Ord('a') + 10);
      'A'..'F': Result := Result * 16 + Cardinal(Ord(C) - Ord('A') + 10);
    else
      Fail('bad \u escape');
    end;
    Inc(Pos);
  end;
end;

{ A \u escape: UTF-8 bytes, or for GBK text the character in the ANSI code page (miic escapes
  only control characters, which are ASCII either way). }
procedure AppendCodePoint(var Buf: RawByteString; Code: Cardinal; Gbk: Boolean);
var
  Ansi: AnsiString;
begin
  if Code < $80 then
    AppendByte(Buf, Code)
  else if Gbk then
  begin
    if Code > $FFFF then
      Code := Ord('?');
    Ansi := AnsiString(WideString(WideChar(Code)));
    AppendBytes(Buf, PAnsiChar(Ansi), Length(Ansi));
  end
  else if Code < $800 then
  begin
    AppendByte(Buf, Byte($C0 or (Code shr 6)));
    AppendByte(Buf, Byte($80 or (Code and $3F)));
  end
  else if Code < $10000 then
  begin
    AppendByte(Buf, Byte($E0 or (Code shr 12)));
    AppendByte(Buf, Byte($80 or ((Code shr 6) and $3F)));
    AppendByte(Buf, Byte($80 or (Code and $3F)));
  end
  else
  begin
    AppendByte(Buf, Byte($F0 or (Code shr 18)));
    AppendByte(Buf, Byte($80 or ((Code shr 12) and $3F)));
    AppendByte(Buf, Byte($80 or ((Code shr 6) and $3F)));
    AppendByte(Buf, Byte($80 or (Code and $3F)));
  end;
end;

function TJsonParser.ReadString: RawByteString;
var
  Start: Integer;
  C: AnsiChar;
  Code, Low: Cardinal;
begin
  Result := '';
  Expect('"');
  Start := Pos;
  while True do
  begin
    C := Peek;
    if C = '"' then
    begin
      AppendBytes(Result, Src + Start, Pos - Start);
      Inc(Pos);
      Exit;
    end;
    if C = '\' then
    begin
      AppendBytes(Result, Src + Start, Pos - Start);
      Inc(Pos);
      C := Peek;
      Inc(Pos);
      case C of
        '"', '\', '/': AppendByte(Result, Ord(C));
        'b': AppendByte(Result, 8);
        'f': AppendByte(Result, 12);
        'n': AppendByte(Result, 10);
        'r': AppendByte(Result, 13);
        't': AppendByte(Result, 9);
        'u':
          begin
            Code := ReadHex4;
            if (Code >= $D800) and (Code <= $DBFF) and (Pos + 1 < Len) and (Src[Pos] = '\') and
              (Src[Pos + 1] = 'u') then
            begin
              Inc(Pos, 2);
              Low := ReadHex4;
              if (Low >= $DC00) and (Low <= $DFFF) then
                Code := $10000 + ((Code - $D800) shl 10) + (Low - $DC00);
            end;
            AppendCodePoint(Result, Code, Gbk);
          end;
      else
        Fail('bad escape');
      end;
      Start := Pos;
    end
    else if Gbk and (Ord(C) >= $81) and (Pos + 1 < Len) then
      Inc(Pos, 2)
    else
      Inc(Pos);
  end;
end;

function TJsonParser.ReadValue(Depth: Integer): TJson;
var
  Name: RawByteString;
  Start: Integer;
begin
  if Depth > 128 then
    Fail('nested too deep');
  SkipSpace;
  Result := TJson.Create;
  try
    case Peek of
      '{':
        begin
          Result.Kind := jkObject;
          Inc(Pos);
          SkipSpace;
          if Peek = '}' then
            Inc(Pos)
          else
          begin
            repeat
              Name := ReadString;
              Expect(':');
              Result.Add(Name, ReadValue(Depth + 1));
              SkipSpace;
              if Peek <> ',' then
                Break;
              Inc(Pos);
            until False;
            Expect('}');
          end;
        end;
      '[':
        begin
          Result.Kind := jkArray;
          Inc(Pos);
          SkipSpace;
          if Peek = ']' then
            Inc(Pos)
          else
          begin
            repeat
              Result.Add('', ReadValue(Depth + 1));
              SkipSpace;
              if Peek <> ',' then
                Break;
              Inc(Pos);
            until False;
            Expect(']');
          end;
        end;
      '"':
        begin
          Result.Kind := jkString;
          Result.Text := ReadString;
        end;
      't', 'f', 'n', '-', '0'..'9':
        begin
          Start := Pos;
          while (Pos < Len) and (Src[Pos] in ['a'..'z', '0'..'9', '-', '+', '.', 'E']) do
            Inc(Pos);
          AppendBytes(Result.Text, Src + Start, Pos - Start);
          if Result.TextIs('null') then
            Result.Kind := jkNull
          else if Result.TextIs('true') or Result.TextIs('false') then
            Result.Kind := jkBool
          else if Src[Start] in ['-', '0'..'9'] then
            Result.Kind := jkNumber
          else
            Fail('unknown literal');
        end;
    else
      Fail('unexpected character');
    end;
  except
    Result.Free;
    raise;
  end;
end;

function ParseJson(Text: PAnsiChar; Gbk: Boolean): TJson;
var
  Parser: TJsonParser;
begin
  Parser := TJsonParser.Create;
  try
    Parser.Src := Text;
    Parser.Pos := 0;
    Parser.Len := 0;
    if Text <> nil then
      while Text[Parser.Len] <> #0 do
        Inc(Parser.Len);
    Parser.Gbk := Gbk;
    Result := Parser.ReadValue(0);
    Parser.SkipSpace;
    if Parser.Pos < Parser.Len then
    begin
      Result.Free;
      Parser.Fail('text after the value');
    end;
  finally
    Parser.Free;
  end;
end;

{ Typed reads that forgive: absent or differently typed values give the default. }

function JText(O: TJson; Name: PAnsiChar; AnsiText: Boolean): string;
var
  V: TJson;
begin
  Result := '';
  if O = nil then
    Exit;
  V := O.Member(Name);
  if V = nil then
    Exit;
  case V.Kind of
    jkString: Result := DecodeText(PAnsiChar(V.Text), AnsiText);
    jkNumber, jkBool: Result := MiicFromUtf8(PAnsiChar(V.Text));
  end;
end;

{ The integer of a number (its integral part) or of a numeric string; Default otherwise. }
function JsonInt(V: TJson; Default: Int64): Int64;
var
  I: Integer;
  Negative: Boolean;
begin
  Result := Default;
  if (V = nil) or not (V.Kind in [jkNumber, jkString]) or (Length(V.Text) = 0) then
    Exit;
  I := 1;
  Negative := V.Text[1] = '-';
  if Negative then
    Inc(I);
  if (I > Length(V.Text)) or not (V.Text[I] in ['0'..'9']) then
    Exit;
  Result := 0;
  while (I <= Length(V.Text)) and (V.Text[I] in ['0'..'9']) do
  begin
    Result := Result * 10 + (Ord(V.Text[I]) - Ord('0'));
    Inc(I);
  end;
  if Negative then
    Result := -Result;
end;

function JInt(O: TJson; Name: PAnsiChar; Default: Int64): Int64;
begin
  Result := Default;
  if O <> nil then
    Result := JsonInt(O.Member(Name), Default);
end;

function JBool(O: TJson; Name: PAnsiChar): Boolean;
var
  V: TJson;
begin
  Result := False;
  if O = nil then
    Exit;
  V := O.Member(Name);
  Result := (V <> nil) and (V.Kind = jkBool) and V.TextIs('true');
end;

{ The member if it has that kind, else nil. }
function JKind(O: TJson; Name: PAnsiChar; Kind: TJsonKind): TJson;
begin
  Result := nil;
  if O <> nil then
    Result := O.Member(Name);
  if (Result <> nil) and (Result.Kind <> Kind) then
    Result := nil;
end;

function ReadCounts(O: TJson): TMiicCounts;
var
  I, N: Integer;
begin
  Result := nil;
  if (O = nil) or (O.Kind <> jkObject) then
    Exit;
  SetLength(Result, O.Count);
  N := 0;
  for I := 0 to O.Count - 1 do
    if O.Items[I].Kind = jkNumber then
    begin
      Result[N].Name := MiicFromUtf8(PAnsiChar(O.Names[I]));
      Result[N].Count := JsonInt(O.Items[I], 0);
      Inc(N);
    end;
  SetLength(Result, N);
end;

function EmptyManifest: TMiicManifest;
var
  M: TMiicManifest;
begin
  M.Raw := '';
  M.ParseError := '';
  M.Method := '';
  M.StudyInstanceUid := '';
  M.DestDir := '';
  M.Error := '';
  M.Completed := 0;
  M.Failed := 0;
  M.Warning := 0;
  M.StudyUidMismatch := False;
  M.Studies := nil;
  M.PacsStatus := '';
  M.PacsCompleted := -1;
  M.PacsFailed := -1;
  M.PacsWarning := -1;
  M.ElapsedMs := 0;
  M.Files := nil;
  M.Failures := nil;
  Result := M;
end;

function ReadManifest(Json: PAnsiChar; AnsiText: Boolean): TMiicManifest;
var
  Root, List, Item, Pacs: TJson;
  I, N: Integer;
begin
  Result := EmptyManifest;
  Result.Raw := DecodeText(Json, AnsiText);
  try
    Root := ParseJson(Json, AnsiText);
  except
    on E: Exception do
    begin
      Result.ParseError := E.Message;
      Exit;
    end;
  end;
  try
    if Root.Kind <> jkObject then
    begin
      Result.ParseError := 'the manifest is not a JSON object';
      Exit;
    end;
    Result.Method := JText(Root, 'method', AnsiText);
    Result.StudyInstanceUid := JText(Root, 'study_instance_uid', AnsiText);
    Result.DestDir := JText(Root, 'dest_dir', AnsiText);
    Result.Error := JText(Root, 'error', AnsiText);
    Result.Completed := JInt(Root, 'completed', 0);
    Result.Failed := JInt(Root, 'failed', 0);
    Result.Warning := JInt(Root, 'warning', 0);
    Result.StudyUidMismatch := JBool(Root, 'study_uid_mismatch');
    Result.ElapsedMs := JInt(Root, 'elapsed_ms', 0);
    List := JKind(Root, 'studies', jkArray);
    if List <> nil then
    begin
      SetLength(Result.Studies, List.Count);
      N := 0;
      for I := 0 to List.Count - 1 do
        if List.Items[I].Kind = jkString then
        begin
          Result.Studies[N] := DecodeText(PAnsiChar(List.Items[I].Text), AnsiText);
          Inc(N);
        end;
      SetLength(Result.Studies, N);
    end;
    Pacs := JKind(Root, 'pacs', jkObject);
    if Pacs <> nil then
    begin
      Result.PacsStatus := JText(Pacs, 'status', AnsiText);
      Result.PacsCompleted := JInt(Pacs, 'completed', -1);
      Result.PacsFailed := JInt(Pacs, 'failed', -1);
      Result.PacsWarning := JInt(Pacs, 'warning', -1);
    end;
    List := JKind(Root, 'files', jkArray);
    if List <> nil then
    begin
      SetLength(Result.Files, List.Count);
      N := 0;
      for I := 0 to List.Count - 1 do
      begin
        Item := List.Items[I];
        if Item.Kind <> jkObject then
          Continue;
        Result.Files[N].Path := JText(Item, 'path', AnsiText);
        Result.Files[N].Source := JText(Item, 'source', AnsiText);
        Result.Files[N].SopInstanceUid := JText(Item, 'sop_instance_uid', AnsiText);
        Result.Files[N].SopClassUid := JText(Item, 'sop_class_uid', AnsiText);
        Result.Files[N].Modality := JText(Item, 'modality', AnsiText);
        Result.Files[N].StudyInstanceUid := JText(Item, 'study_instance_uid', AnsiText);
        Result.Files[N].TransferSyntax := JText(Item, 'transfer_syntax', AnsiText);
        Result.Files[N].Size := JInt(Item, 'size', 0);
        Result.Files[N].Status := JText(Item, 'status', AnsiText);
        Result.Files[N].Error := JText(Item, 'error', AnsiText);
        Result.Files[N].Warning := JText(Item, 'warning', AnsiText);
        Result.Files[N].Resumed := JBool(Item, 'resumed');
        Inc(N);
      end;
      SetLength(Result.Files, N);
    end;
    List := JKind(Root, 'failures', jkArray);
    N := 0;
    if List <> nil then
    begin
      SetLength(Result.Failures, List.Count);
      for I := 0 to List.Count - 1 do
      begin
        Item := List.Items[I];
        if Item.Kind <> jkObject then
          Continue;
        Result.Failures[N].SopInstanceUid := JText(Item, 'sop_instance_uid', AnsiText);
        Result.Failures[N].SopClassUid := JText(Item, 'sop_class_uid', AnsiText);
        Result.Failures[N].Reason := JText(Item, 'reason', AnsiText);
        if Result.Failures[N].Reason = '' then
          Result.Failures[N].Reason := JText(Item, 'error', AnsiText);
        Result.Failures[N].Path := JText(Item, 'path', AnsiText);
        if Result.Failures[N].Path = '' then
          Result.Failures[N].Path := JText(Item, 'source', AnsiText);
        Inc(N);
      end;
    end
    else
    begin
      SetLength(Result.Failures, Length(Result.Files));
      for I := 0 to Length(Result.Files) - 1 do
        if Result.Files[I].Status = 'failed' then
        begin
          Result.Failures[N].SopInstanceUid := Result.Files[I].SopInstanceUid;
          Result.Failures[N].SopClassUid := Result.Files[I].SopClassUid;
          Result.Failures[N].Reason := Result.Files[I].Error;
          Result.Failures[N].Path := Result.Files[I].Path;
          if Result.Failures[N].Path = '' then
            Result.Failures[N].Path := Result.Files[I].Source;
          Inc(N);
        end;
    end;
    SetLength(Result.Failures, N);
  finally
    Root.Free;
  end;
end;

function ReadMatches(Json: PAnsiChar; AnsiText: Boolean): TMiicStudyMatches;
var
  Root, Item: TJson;
  I, N: Integer;
begin
  Result := nil;
  try
    Root := ParseJson(Json, AnsiText);
  except
    on E: Exception do
      raise EMiic.CreateStatus(MIIC_E_INTERNAL, 'cannot read miic''s C-FIND matches: ' + E.Message);
  end;
  try
    if Root.Kind <> jkArray then
      Exit;
    SetLength(Result, Root.Count);
    N := 0;
    for I := 0 to Root.Count - 1 do
    begin
      Item := Root.Items[I];
      if Item.Kind <> jkObject then
        Continue;
      Result[N].StudyInstanceUid := JText(Item, 'study_instance_uid', AnsiText);
      Result[N].PatientId := JText(Item, 'patient_id', AnsiText);
      Result[N].PatientName := JText(Item, 'patient_name', AnsiText);
      Result[N].StudyDate := JText(Item, 'study_date', AnsiText);
      Result[N].AccessionNumber := JText(Item, 'accession_number', AnsiText);
      Result[N].ModalitiesInStudy := JText(Item, 'modalities_in_study', AnsiText);
      Result[N].NumberOfStudyRelatedInstances := JInt(Item, 'number_of_study_related_instances', -1);
      Inc(N);
    end;
    SetLength(Result, N);
  finally
    Root.Free;
  end;
end;

function ReadReportCheck(Json: PAnsiChar): TMiicReportCheck;
var
  Root, List, Item, Envelope: TJson;
  I, N: Integer;
begin
  Result.Raw := MiicFromUtf8(Json);
  Result.ParseError := '';
  Result.Conformant := False;
  Result.Records := 0;
  Result.Errors := 0;
  Result.Warnings := 0;
  Result.Rules := nil;
  Result.ExtraFields := nil;
  Result.Aliases := nil;
  Result.HasEnvelope := False;
  Result.EnvelopeCode := '';
  Result.EnvelopeMessage := '';
  Result.Problems := nil;
  Result.Truncated := False;
  try
    Root := ParseJson(Json, False);
  except
    on E: Exception do
    begin
      Result.ParseError := E.Message;
      Exit;
    end;
  end;
  try
    Result.Conformant := JBool(Root, 'conformant');
    Result.Records := JInt(Root, 'records', 0);
    Result.Errors := JInt(Root, 'errors', 0);
    Result.Warnings := JInt(Root, 'warnings', 0);
    Result.Rules := ReadCounts(JKind(Root, 'rules', jkObject));
    Result.ExtraFields := ReadCounts(JKind(Root, 'extra_fields', jkObject));
    Result.Truncated := JBool(Root, 'truncated');
    Envelope := JKind(Root, 'envelope', jkObject);
    if Envelope <> nil then
    begin
      Result.HasEnvelope := True;
      Result.EnvelopeCode := JText(Envelope, 'code', False);
      Result.EnvelopeMessage := JText(Envelope, 'message', False);
    end;
    List := JKind(Root, 'aliases', jkArray);
    if List <> nil then
    begin
      SetLength(Result.Aliases, List.Count);
      N := 0;
      for I := 0 to List.Count - 1 do
      begin
        Item := List.Items[I];
        if Item.Kind <> jkObject then
          Continue;
        Result.Aliases[N].Alias := JText(Item, 'alias', False);
        Result.Aliases[N].Field := JText(Item, 'field', False);
        Result.Aliases[N].Kind := JText(Item, 'kind', False);
        Result.Aliases[N].Records := JInt(Item, 'records', 0);
        Inc(N);
      end;
      SetLength(Result.Aliases, N);
    end;
    List := JKind(Root, 'problems', jkArray);
    if List <> nil then
    begin
      SetLength(Result.Problems, List.Count);
      N := 0;
      for I := 0 to List.Count - 1 do
      begin
        Item := List.Items[I];
        if Item.Kind <> jkObject then
          Continue;
        Result.Problems[N].RecordIndex := JInt(Item, 'record', -1);
        Result.Problems[N].Field := JText(Item, 'field', False);
        Result.Problems[N].Rule := JText(Item, 'rule', False);
        Result.Problems[N].Severity := JText(Item, 'severity', False);
        Result.Problems[N].Message := JText(Item, 'message', False);
        Inc(N);
      end;
      SetLength(Result.Problems, N);
    end;
  finally
    Root.Free;
  end;
end;

type
  { A client-less export that takes UTF-8 text and returns JSON through char **. }
  TMiicTextToJson = function(Text: PAnsiChar; JsonOut: PPAnsiChar): Integer; cdecl;

{ Call it on Input (sent as UTF-8): a copy of its JSON bytes (miic's string is freed), or EMiic
  for a negative status. }
function CallForJson(Call: TMiicTextToJson; const Input: string): RawByteString;
var
  Text: RawByteString;
  Json: PAnsiChar;
  Status: Integer;
  Msg: string;
  Saved: TFPUExceptionMask;
begin
  MiicCheckAbi;
  Text := MiicUtf8(Input);
  Json := nil;
  Saved := MiicMaskFpu;
  try
    Status := Call(PAnsiChar(Text), @Json);
    if Status < 0 then
    begin
      Msg := MiicFromUtf8(miic_last_error);
      miic_string_free(Json);
      raise EMiic.CreateStatus(Status, Msg);
    end;
    try
      Result := Json;
    finally
      miic_string_free(Json);
    end;
  finally
    MiicRestoreFpu(Saved);
  end;
end;

procedure ReadBoth(O: TJson; Name: PAnsiChar; var Zh, En: string);
var
  T: TJson;
begin
  T := JKind(O, Name, jkObject);
  Zh := JText(T, 'zh', False);
  En := JText(T, 'en', False);
end;

function ReadDiagnosis(Json: PAnsiChar): TMiicDiagnosis;
var
  Root, List, Item: TJson;
  I, N: Integer;
begin
  Result.Raw := MiicFromUtf8(Json);
  Result.ParseError := '';
  Result.Outcome := '';
  Result.Config := '';
  Result.ElapsedMs := 0;
  Result.TimeoutMs := 0;
  Result.Checks := nil;
  try
    Root := ParseJson(Json, False);
  except
    on E: Exception do
    begin
      Result.ParseError := E.Message;
      Exit;
    end;
  end;
  try
    Result.Outcome := JText(Root, 'result', False);
    Result.Config := JText(Root, 'config', False);
    Result.ElapsedMs := JInt(Root, 'elapsed_ms', 0);
    Result.TimeoutMs := JInt(Root, 'timeout_ms', 0);
    List := JKind(Root, 'checks', jkArray);
    if List <> nil then
    begin
      SetLength(Result.Checks, List.Count);
      N := 0;
      for I := 0 to List.Count - 1 do
      begin
        Item := List.Items[I];
        if Item.Kind <> jkObject then
          Continue;
        Result.Checks[N].Id := JText(Item, 'id', False);
        Result.Checks[N].Outcome := JText(Item, 'result', False);
        Result.Checks[N].ElapsedMs := JInt(Item, 'elapsed_ms', 0);
        ReadBoth(Item, 'title', Result.Checks[N].TitleZh, Result.Checks[N].TitleEn);
        ReadBoth(Item, 'summary', Result.Checks[N].SummaryZh, Result.Checks[N].SummaryEn);
        ReadBoth(Item, 'fix', Result.Checks[N].FixZh, Result.Checks[N].FixEn);
        Inc(N);
      end;
      SetLength(Result.Checks, N);
    end;
  finally
    Root.Free;
  end;
end;

function MiicDiagnose(const Config: string): TMiicDiagnosis;
var
  Json: RawByteString;
begin
  { Paths and inline JSON go as UTF-8, as for TMiicClient.Create. }
  Json := CallForJson(miic_diagnose, Config);
  Result := ReadDiagnosis(PAnsiChar(Json));
end;

procedure MiicQrRender(const Text, PngPath: string; const Options: array of string);
var
  TextUtf8, Path: RawByteString;
  P: PMiicParams;
  Saved: TFPUExceptionMask;
begin
  TextUtf8 := MiicUtf8(Text);
  Path := MiicUtf8(PngPath);
  P := MiicNewParams(Options);
  Saved := MiicMaskFpu;
  try
    MiicCheck(miic_qr_render(PAnsiChar(TextUtf8), PAnsiChar(Path), P));
  finally
    MiicRestoreFpu(Saved);
    miic_params_free(P);
  end;
end;

function MiicValidateReport(const ReportJson: string): TMiicReportCheck;
var
  Json: RawByteString;
begin
  Json := CallForJson(miic_report_validate, ReportJson);
  Result := ReadReportCheck(PAnsiChar(Json));
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

procedure ProgressThunk(User: Pointer; FilesDone, FilesTotal: Cardinal; BytesDone: Int64); cdecl;
var
  Client: TMiicClient;
  H: TMiicProgressEvent;
  Saved: TFPUExceptionMask;
begin
  Client := TMiicClient(User);
  H := Client.FOnProgress;
  if not Assigned(H) then
    Exit;
  Saved := GetExceptionMask;
  try
    try
      H(Client, FilesDone, FilesTotal, BytesDone);
    except
      { A host bug must not unwind into miic's fetch. }
    end;
  finally
    SetExceptionMask(Saved);
  end;
end;

constructor TMiicClient.Create(const Config: string; AnsiText: Boolean);
var
  Saved: TFPUExceptionMask;
  Msg: string;
  Status: Integer;
begin
  inherited Create;
  MiicCheckAbi;
  FAnsiText := AnsiText;
  Saved := MiicMaskFpu;
  try
    { Paths and inline JSON go as UTF-8 whatever the client's text encoding. }
    FHandle := miic_open(PAnsiChar(MiicUtf8(Config)));
    if FHandle = nil then
    begin
      { Why it failed (config, unusable outbox folder, ...), read on this thread at once. }
      Status := miic_last_status;
      Msg := MiicFromUtf8(miic_last_error);
    end;
  finally
    MiicRestoreFpu(Saved);
  end;
  if FHandle = nil then
  begin
    if Status >= 0 then
      Status := MIIC_E_INTERNAL;
    raise EMiic.CreateStatus(Status, Msg);
  end;
end;

destructor TMiicClient.Destroy;
var
  Saved: TFPUExceptionMask;
begin
  if FHandle <> nil then
  begin
    Saved := MiicMaskFpu;
    try
      { Joins every fetch: no progress callback runs after this. }
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
  Result := EncodeText(S, FAnsiText);
end;

function TMiicClient.FromNative(P: PAnsiChar): string;
begin
  Result := DecodeText(P, FAnsiText);
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

function TMiicClient.TakeManifest(Status: Integer; Json: PAnsiChar): TMiicManifest;
var
  Msg: string;
begin
  Result := EmptyManifest;
  if Status < 0 then
    Msg := FromNative(miic_last_error);
  if Json <> nil then
    try
      Result := ReadManifest(Json, FAnsiText);
    finally
      miic_string_free(Json);
    end;
  if Status < 0 then
  begin
    if Json <> nil then
      raise EMiicDicom.CreateManifest(Status, Msg, Result);
    raise EMiic.CreateStatus(Status, Msg);
  end;
  if Json = nil then
    raise EMiic.CreateStatus(MIIC_E_INTERNAL, 'miic returned no manifest');
end;

function TMiicClient.NewParams(const Fields: array of string): PMiicParams;
begin
  Result := MiicNewParams(Fields, FAnsiText);
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

procedure TMiicClient.Login(Doctor: PMiicParams);
var
  Saved: TFPUExceptionMask;
begin
  Saved := MiicMaskFpu;
  try
    Check(miic_login(FHandle, Doctor));
  finally
    MiicRestoreFpu(Saved);
  end;
end;

procedure TMiicClient.Login(const Doctor: array of string);
var
  P: PMiicParams;
begin
  P := NewParams(Doctor);
  try
    Login(P);
  finally
    miic_params_free(P);
  end;
end;

procedure TMiicClient.Login(Doctor: TStrings);
var
  P: PMiicParams;
begin
  P := NewParams(Doctor);
  try
    Login(P);
  finally
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

function TMiicClient.PluginUrl(Doctor: PMiicParams): string;
var
  Url: PAnsiChar;
  Saved: TFPUExceptionMask;
begin
  Url := nil;
  Saved := MiicMaskFpu;
  try
    Check(miic_plugin_url(FHandle, Doctor, @Url));
    Result := TakeString(Url);
  finally
    MiicRestoreFpu(Saved);
  end;
end;

function TMiicClient.PluginUrl(const Doctor: array of string): string;
var
  P: PMiicParams;
begin
  P := NewParams(Doctor);
  try
    Result := PluginUrl(P);
  finally
    miic_params_free(P);
  end;
end;

procedure TMiicClient.PatientReminder(Patient: PMiicParams);
var
  Saved: TFPUExceptionMask;
begin
  Saved := MiicMaskFpu;
  try
    Check(miic_patient_reminder(FHandle, Patient));
  finally
    MiicRestoreFpu(Saved);
  end;
end;

procedure TMiicClient.PatientReminder(const Patient: array of string);
var
  P: PMiicParams;
begin
  P := NewParams(Patient);
  try
    PatientReminder(P);
  finally
    miic_params_free(P);
  end;
end;

procedure TMiicClient.PatientReminder(Patient: TStrings);
var
  P: PMiicParams;
begin
  P := NewParams(Patient);
  try
    PatientReminder(P);
  finally
    miic_params_free(P);
  end;
end;

procedure TMiicClient.PatientReminderAsync(Patient: PMiicParams);
var
  Saved: TFPUExceptionMask;
begin
  Saved := MiicMaskFpu;
  try
    Check(miic_patient_reminder_async(FHandle, Patient));
  finally
    MiicRestoreFpu(Saved);
  end;
end;

procedure TMiicClient.PatientReminderAsync(const Patient: array of string);
var
  P: PMiicParams;
begin
  P := NewParams(Patient);
  try
    PatientReminderAsync(P);
  finally
    miic_params_free(P);
  end;
end;

function TMiicClient.QrUrl(Exam: PMiicParams): string;
var
  Url: PAnsiChar;
  Saved: TFPUExceptionMask;
begin
  Url := nil;
  Saved := MiicMaskFpu;
  try
    Check(miic_qr_url(FHandle, Exam, @Url));
    Result := TakeString(Url);
  finally
    MiicRestoreFpu(Saved);
  end;
end;

function TMiicClient.QrUrl(const Exam: array of string): string;
var
  P: PMiicParams;
begin
  P := NewParams(Exam);
  try
    Result := QrUrl(P);
  finally
    miic_params_free(P);
  end;
end;

procedure TMiicClient.QrImage(Exam: PMiicParams; const PngPath: string);
var
  Path: RawByteString;
  Saved: TFPUExceptionMask;
begin
  Path := ToNative(PngPath);
  Saved := MiicMaskFpu;
  try
    Check(miic_qr_image(FHandle, Exam, PAnsiChar(Path)));
  finally
    MiicRestoreFpu(Saved);
  end;
end;

procedure TMiicClient.QrImage(const Exam: array of string; const PngPath: string);
var
  P: PMiicParams;
begin
  P := NewParams(Exam);
  try
    QrImage(P, PngPath);
  finally
    miic_params_free(P);
  end;
end;

function TMiicClient.DeleteNotify(Deletion: PMiicParams): Integer;
var
  Saved: TFPUExceptionMask;
begin
  Saved := MiicMaskFpu;
  try
    Result := Check(miic_delete_notify(FHandle, Deletion));
  finally
    MiicRestoreFpu(Saved);
  end;
end;

function TMiicClient.DeleteNotify(const Deletion: array of string): Integer;
var
  P: PMiicParams;
begin
  P := NewParams(Deletion);
  try
    Result := DeleteNotify(P);
  finally
    miic_params_free(P);
  end;
end;

function TMiicClient.OutboxPending: Cardinal;
var
  N: Cardinal;
  Saved: TFPUExceptionMask;
begin
  N := 0;
  Saved := MiicMaskFpu;
  try
    Check(miic_outbox_pending(FHandle, @N));
  finally
    MiicRestoreFpu(Saved);
  end;
  Result := N;
end;

function TMiicClient.OutboxDeadCount: Cardinal;
var
  N: Cardinal;
  Saved: TFPUExceptionMask;
begin
  N := 0;
  Saved := MiicMaskFpu;
  try
    Check(miic_outbox_dead_count(FHandle, @N));
  finally
    MiicRestoreFpu(Saved);
  end;
  Result := N;
end;

procedure TMiicClient.OutboxFlush(TimeoutMs: Cardinal);
var
  Saved: TFPUExceptionMask;
begin
  Saved := MiicMaskFpu;
  try
    Check(miic_outbox_flush(FHandle, TimeoutMs));
  finally
    MiicRestoreFpu(Saved);
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

procedure TMiicClient.DicomEcho;
var
  Saved: TFPUExceptionMask;
begin
  Saved := MiicMaskFpu;
  try
    Check(miic_dicom_echo(FHandle));
  finally
    MiicRestoreFpu(Saved);
  end;
end;

function TMiicClient.DicomFind(const StudyUid: string): TMiicStudyMatches;
var
  Uid: RawByteString;
  Matches: PAnsiChar;
  Saved: TFPUExceptionMask;
begin
  Uid := ToNative(StudyUid);
  Matches := nil;
  Saved := MiicMaskFpu;
  try
    Check(miic_dicom_find(FHandle, PAnsiChar(Uid), @Matches));
    try
      Result := ReadMatches(Matches, FAnsiText);
    finally
      miic_string_free(Matches);
    end;
  finally
    MiicRestoreFpu(Saved);
  end;
end;

function TMiicClient.DicomRetrieve(const StudyUid, DestDir: string): TMiicManifest;
var
  Uid, Dest: RawByteString;
  Manifest: PAnsiChar;
  Saved: TFPUExceptionMask;
begin
  Uid := ToNative(StudyUid);
  Dest := ToNative(DestDir);
  Manifest := nil;
  Saved := MiicMaskFpu;
  try
    Result := TakeManifest(miic_dicom_retrieve(FHandle, PAnsiChar(Uid), PAnsiChar(Dest), @Manifest), Manifest);
  finally
    MiicRestoreFpu(Saved);
  end;
end;

function TMiicClient.DicomFetchHttp(const DcmPath, DestDir: string): TMiicManifest;
var
  Paths, Dest: RawByteString;
  Manifest: PAnsiChar;
  Status: Integer;
  Saved: TFPUExceptionMask;
begin
  Paths := ToNative(DcmPath);
  Dest := ToNative(DestDir);
  Manifest := nil;
  Saved := MiicMaskFpu;
  try
    Status := miic_dicom_fetch_http(FHandle, PAnsiChar(Paths), PAnsiChar(Dest), @Manifest);
    Result := TakeManifest(Status, Manifest);
  finally
    MiicRestoreFpu(Saved);
  end;
end;

procedure TMiicClient.SetOnProgress(const Value: TMiicProgressEvent);
var
  Saved: TFPUExceptionMask;
begin
  FOnProgress := Value;
  Saved := MiicMaskFpu;
  try
    if Assigned(Value) then
    begin
      IsMultiThread := True; { HTTP downloads report from miic's worker threads }
      Check(miic_set_progress_callback(FHandle, ProgressThunk, Pointer(Self)));
    end
    else
      Check(miic_set_progress_callback(FHandle, nil, nil));
  finally
    MiicRestoreFpu(Saved);
  end;
end;

procedure TMiicClient.SetProgressCallback(Fn: TMiicProgressFn; User: Pointer);
var
  Saved: TFPUExceptionMask;
begin
  FOnProgress := nil;
  if Assigned(Fn) then
    IsMultiThread := True;
  Saved := MiicMaskFpu;
  try
    Check(miic_set_progress_callback(FHandle, Fn, User));
  finally
    MiicRestoreFpu(Saved);
  end;
end;

end.
