// Miic.cs: C# binding of miic (医保影像云 client library). One file: copy it into your project and put
// miic.dll (Windows) / libmiic.so (Linux, mono) next to your executable, matching its bitness
// (x86 host -> 32-bit miic.dll, x64/AnyCPU-64 host -> 64-bit miic.dll).
//
// Works on .NET Framework 4.0+, mono and .NET 6+: written in C# 5 (no Span, no
// Marshal.PtrToStringUTF8, which .NET Framework lacks). References: System.Runtime.Serialization
// (its JSON reader, for manifests and report checks) and System.Xml; no NuGet package.
// All text crosses the boundary as UTF-8, so a client used from C# must keep the default
// text_encoding ("utf-8").
//
// Threads: one MiicClient may be used from many threads at once. The log callback and the
// Progress event are called from miic's worker threads too.

using System;
using System.Collections.Generic;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Runtime.Serialization.Json;
using System.Text;
using System.Xml;
using Microsoft.Win32.SafeHandles;

namespace Miic
{
    /// <summary>Status codes of the C ABI (include/miic.h). Integers, never renumbered.</summary>
    public static class MiicStatus
    {
        public const int Ok = 0;
        public const int Queued = 1;
        public const int Argument = -1;
        public const int Encoding = -2;
        public const int Config = -3;
        public const int State = -4;
        public const int Network = -5;
        public const int Timeout = -6;
        public const int Server = -7;
        public const int Protocol = -8;
        public const int Crypto = -9;
        public const int Dicom = -10;
        public const int Io = -11;
        public const int Internal = -99;
    }

    /// <summary>A failed miic call: <see cref="Status"/> is the negative MIIC_E_* code.</summary>
    public class MiicException : Exception
    {
        public int Status { get; private set; }

        /// <summary>"MIIC_E_NETWORK" etc.</summary>
        public string StatusName { get; private set; }

        public MiicException(int status, string message)
            : base(message)
        {
            Status = status;
            StatusName = MiicLibrary.StatusName(status);
        }

        public override string ToString()
        {
            return StatusName + " (" + Status + "): " + Message;
        }
    }

    /// <summary>
    /// A failed image fetch (DicomRetrieve, DicomFetchHttp) that reached the PACS or server:
    /// <see cref="Manifest"/> lists what landed and what failed (partial success is
    /// MiicStatus.Dicom; a lost connection MiicStatus.Network, with the files that landed before).
    /// </summary>
    public class MiicDicomException : MiicException
    {
        public DicomManifest Manifest { get; private set; }

        public MiicDicomException(int status, string message, DicomManifest manifest)
            : base(status, message)
        {
            Manifest = manifest;
        }
    }

    /// <summary>An open client handle; closed (workers joined) by miic_close when released.</summary>
    public sealed class MiicClientHandle : SafeHandleZeroOrMinusOneIsInvalid
    {
        // The native progress delegate, rooted from its first registration until miic_close: a
        // fetch that started before the callback was removed still calls it until it ends.
        private GCHandle progressThunk;

        public MiicClientHandle() : base(true) { }

        internal void RootProgressThunk(Delegate thunk)
        {
            if (!progressThunk.IsAllocated)
                progressThunk = GCHandle.Alloc(thunk);
        }

        protected override bool ReleaseHandle()
        {
            Native.miic_close(handle);
            // miic_close has joined every fetch: nothing calls the delegate any more.
            if (progressThunk.IsAllocated)
                progressThunk.Free();
            return true;
        }
    }

    /// <summary>A params bag, freed by miic_params_free when released.</summary>
    public sealed class MiicParamsHandle : SafeHandleZeroOrMinusOneIsInvalid
    {
        public MiicParamsHandle() : base(true) { }

        protected override bool ReleaseHandle()
        {
            Native.miic_params_free(handle);
            return true;
        }
    }

    /// <summary>The raw exports, cdecl, exactly as include/miic.h declares them.</summary>
    internal static class Native
    {
        internal const string Lib = "miic";

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate void LogFn(IntPtr user, int level, IntPtr message);

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate void ProgressFn(IntPtr user, uint filesDone, uint filesTotal, long bytesDone);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr miic_last_error();

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int miic_last_status();

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern MiicClientHandle miic_open(byte[] config);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern void miic_close(IntPtr c);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int miic_sm2_encrypt(MiicClientHandle c, byte[] plain, out IntPtr cipherOut);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern void miic_set_log_callback(LogFn logFn, IntPtr user);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int miic_login(MiicClientHandle c, MiicParamsHandle doctor);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int miic_logout(MiicClientHandle c);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int miic_plugin_url(MiicClientHandle c, MiicParamsHandle doctor, out IntPtr urlOut);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int miic_patient_reminder(MiicClientHandle c, MiicParamsHandle patient);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int miic_patient_reminder_async(MiicClientHandle c, MiicParamsHandle patient);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int miic_qr_url(MiicClientHandle c, MiicParamsHandle exam, out IntPtr urlOut);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int miic_delete_notify(MiicClientHandle c, MiicParamsHandle deletion);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int miic_dicom_echo(MiicClientHandle c);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int miic_dicom_find(MiicClientHandle c, byte[] studyUid, out IntPtr matchesOut);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int miic_dicom_retrieve(MiicClientHandle c, byte[] studyUid, byte[] destDir, out IntPtr manifestOut);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int miic_dicom_fetch_http(MiicClientHandle c, byte[] dcmPath, byte[] destDir, out IntPtr manifestOut);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int miic_set_progress_callback(MiicClientHandle c, ProgressFn progressFn, IntPtr user);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int miic_outbox_pending(MiicClientHandle c, out uint countOut);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int miic_outbox_dead_count(MiicClientHandle c, out uint countOut);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int miic_outbox_flush(MiicClientHandle c, uint timeoutMs);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int miic_qr_image(MiicClientHandle c, MiicParamsHandle exam, byte[] pngPath);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int miic_qr_render(byte[] text, byte[] pngPath, MiicParamsHandle options);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int miic_report_validate(byte[] reportJson, out IntPtr problemsOut);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int miic_diagnose(byte[] config, out IntPtr reportOut);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern MiicParamsHandle miic_params_new();

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int miic_params_set(MiicParamsHandle p, byte[] key, byte[] value);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int miic_params_from_json(byte[] json, out MiicParamsHandle paramsOut);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern void miic_params_free(IntPtr p);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr miic_version();

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern uint miic_abi_version();

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr miic_status_name(int status);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern void miic_string_free(IntPtr s);

        /// <summary>NUL-terminated UTF-8 bytes of a .NET string (null stays null: miic rejects it).</summary>
        internal static byte[] Utf8(string s)
        {
            if (s == null)
                return null;
            int n = Encoding.UTF8.GetByteCount(s);
            byte[] b = new byte[n + 1];
            Encoding.UTF8.GetBytes(s, 0, s.Length, b, 0);
            return b;
        }

        /// <summary>Decode a NUL-terminated UTF-8 string miic owns (does not free it).</summary>
        internal static string FromUtf8(IntPtr p)
        {
            if (p == IntPtr.Zero)
                return null;
            int len = 0;
            while (Marshal.ReadByte(p, len) != 0)
                len++;
            byte[] b = new byte[len];
            Marshal.Copy(p, b, 0, len);
            return Encoding.UTF8.GetString(b);
        }

        /// <summary>Decode a string miic returned through char ** and free it.</summary>
        internal static string TakeString(IntPtr p)
        {
            try
            {
                return FromUtf8(p);
            }
            finally
            {
                miic_string_free(p);
            }
        }

        /// <summary>Turn a status into MiicException, reading miic_last_error on this thread.</summary>
        internal static int Check(int status)
        {
            if (status < 0)
                throw new MiicException(status, FromUtf8(miic_last_error()));
            return status;
        }

        /// <summary>
        /// The string an export returned through char ** (freed here), or MiicException for a
        /// negative status (the message read before anything else is called on this thread).
        /// </summary>
        internal static string TakeResult(int status, IntPtr s)
        {
            string message = status < 0 ? FromUtf8(miic_last_error()) : null;
            string text = TakeString(s);
            if (status < 0)
                throw new MiicException(status, message);
            return text;
        }

        /// <summary>
        /// The manifest of a fetch: returned on success; on failure carried by MiicDicomException
        /// when miic produced one (the call reached the PACS), else a plain MiicException.
        /// </summary>
        internal static DicomManifest TakeManifest(int status, IntPtr s)
        {
            string message = status < 0 ? FromUtf8(miic_last_error()) : null;
            string json = TakeString(s);
            DicomManifest manifest = json == null ? null : new DicomManifest(json);
            if (status < 0)
            {
                if (manifest != null)
                    throw new MiicDicomException(status, message, manifest);
                throw new MiicException(status, message);
            }
            if (manifest == null)
                throw new MiicException(MiicStatus.Internal, "miic returned no manifest");
            return manifest;
        }

        /// <summary>A params bag with these fields (none: an empty bag, i.e. the defaults).</summary>
        internal static MiicParamsHandle Bag(MiicRequest fields)
        {
            return fields == null ? new MiicRequest().ToParams() : fields.ToParams();
        }
    }

    /// <summary>Library-wide functions: versions, status names, the log callback.</summary>
    public static class MiicLibrary
    {
        /// <summary>The C ABI this file was written for; must equal miic_abi_version().</summary>
        public const uint AbiVersion = 1;

        private static readonly object Gate = new object();
        private static bool checkedAbi;
        // Held here so the GC never collects a delegate native code still calls.
        private static Native.LogFn logThunk;
        private static Action<int, string> logHandler;

        /// <summary>Load the library and check its ABI version; every entry point calls it first.</summary>
        public static void EnsureLoaded()
        {
            if (checkedAbi)
                return;
            lock (Gate)
            {
                if (checkedAbi)
                    return;
                uint abi = Native.miic_abi_version();
                if (abi != AbiVersion)
                    throw new MiicException(MiicStatus.Internal, string.Format(
                        "miic library ABI version {0} does not match Miic.cs ABI version {1}: use the Miic.cs shipped with this DLL",
                        abi, AbiVersion));
                checkedAbi = true;
            }
        }

        /// <summary>The library version, e.g. "0.1.0".</summary>
        public static string Version
        {
            get
            {
                EnsureLoaded();
                return Native.FromUtf8(Native.miic_version());
            }
        }

        /// <summary>The ABI version of the loaded library.</summary>
        public static uint LoadedAbiVersion
        {
            get { return Native.miic_abi_version(); }
        }

        /// <summary>"MIIC_E_TIMEOUT" for -6, "MIIC_UNKNOWN" for codes miic does not define.</summary>
        public static string StatusName(int status)
        {
            return Native.FromUtf8(Native.miic_status_name(status));
        }

        /// <summary>
        /// Draw any text (a URL, an accession number…) as a QR code PNG at pngPath, exactly as
        /// MiicClient.QrImage draws it, with the caption 扫描查看数字影像 unless options turn it off.
        /// No client, no network. The file is written whole or not at all.
        /// </summary>
        public static void QrRender(string text, string pngPath, QrOptions options = null)
        {
            EnsureLoaded();
            using (MiicParamsHandle p = Native.Bag(options))
                Native.Check(Native.miic_qr_render(Native.Utf8(text), Native.Utf8(pngPath), p));
        }

        /// <summary>
        /// Check report data (spec 4.1: one record object, an array of records, or a 4.1.2 reply
        /// {"data": [...], "code", "message"}) against the table and the section 5 dictionaries.
        /// Returns the verdict whether conformant or not; throws MiicException (Argument, Encoding)
        /// only for input that is not report data at all (not JSON, not an object or array).
        /// </summary>
        public static ReportValidation ValidateReport(string reportJson)
        {
            EnsureLoaded();
            IntPtr s;
            int status = Native.miic_report_validate(Native.Utf8(reportJson), out s);
            return new ReportValidation(Native.TakeResult(status, s));
        }

        /// <summary>
        /// Check this workstation's whole set-up for config (as for MiicClient: a .toml/.json path
        /// or inline JSON) without opening a client: config, front-end machine, clock, SM2 key,
        /// outbox, log folder, PACS, C-MOVE port, image server. Works on a config MiicClient
        /// refuses, and says why. Returns the report whatever the checks found, each failed check
        /// with a fix sentence in Chinese and English; throws MiicException (Argument) only when no
        /// report could be made. Takes about timeout_ms: call it off the UI thread.
        /// </summary>
        public static Diagnosis Diagnose(string config)
        {
            EnsureLoaded();
            IntPtr s;
            int status = Native.miic_diagnose(Native.Utf8(config), out s);
            return new Diagnosis(Native.TakeResult(status, s));
        }

        /// <summary>
        /// Receive miic's log lines (level 1 = error … 5 = trace; ID and phone numbers masked).
        /// Called from miic's worker threads as well; must not call miic. null removes it.
        /// Exceptions the handler throws are swallowed: they must not unwind into native code.
        /// </summary>
        public static void SetLogCallback(Action<int, string> handler)
        {
            EnsureLoaded();
            lock (Gate)
            {
                if (handler == null)
                {
                    Native.miic_set_log_callback(null, IntPtr.Zero);
                    logHandler = null;
                    logThunk = null;
                    return;
                }
                logHandler = handler;
                if (logThunk == null)
                    logThunk = OnLog;
                Native.miic_set_log_callback(logThunk, IntPtr.Zero);
            }
        }

        private static void OnLog(IntPtr user, int level, IntPtr message)
        {
            Action<int, string> h = logHandler;
            if (h == null)
                return;
            try
            {
                h(level, Native.FromUtf8(message));
            }
            catch (Exception)
            {
                // A host logging bug must not take the workstation down.
            }
        }
    }

    /// <summary>
    /// A request's fields under the spec's own names. The typed classes below name the fields of
    /// each call; Set() reaches any other field (new spec fields need no binding change).
    /// </summary>
    public class MiicRequest
    {
        private readonly Dictionary<string, string> fields = new Dictionary<string, string>();
        // Fields of FromJson, handed to miic_params_from_json as they are; Set() overrides them.
        private string json;

        /// <summary>
        /// A request whose fields come from a flat JSON object (strings, numbers, booleans;
        /// null means absent), checked by miic now: malformed JSON throws MiicException
        /// (MiicStatus.Argument) naming the problem. Set() adds or overrides fields; Get() and
        /// Fields see only those set with Set().
        /// </summary>
        public static T FromJson<T>(string json) where T : MiicRequest, new()
        {
            if (json == null)
                throw new ArgumentNullException("json");
            T r = new T();
            r.json = json;
            r.ToParams().Dispose();
            return r;
        }

        /// <summary>A plain request from a flat JSON object; see FromJson&lt;T&gt;.</summary>
        public static MiicRequest FromJson(string json)
        {
            return FromJson<MiicRequest>(json);
        }

        /// <summary>Set a field by its spec name; null removes it.</summary>
        public MiicRequest Set(string key, string value)
        {
            if (key == null)
                throw new ArgumentNullException("key");
            if (value == null)
                fields.Remove(key);
            else
                fields[key] = value;
            return this;
        }

        public string Get(string key)
        {
            string v;
            return fields.TryGetValue(key, out v) ? v : null;
        }

        public IDictionary<string, string> Fields
        {
            get { return fields; }
        }

        /// <summary>A params bag holding these fields as UTF-8; caller disposes it.</summary>
        public MiicParamsHandle ToParams()
        {
            MiicLibrary.EnsureLoaded();
            MiicParamsHandle p;
            if (json != null)
            {
                int status = Native.miic_params_from_json(Native.Utf8(json), out p);
                if (status < 0)
                {
                    string message = Native.FromUtf8(Native.miic_last_error());
                    p.Dispose();
                    throw new MiicException(status, message);
                }
            }
            else
            {
                p = Native.miic_params_new();
                if (p.IsInvalid)
                    throw new MiicException(MiicStatus.Internal, "miic_params_new failed (out of memory)");
            }
            try
            {
                AddTo(p);
            }
            catch
            {
                p.Dispose();
                throw;
            }
            return p;
        }

        /// <summary>Set these fields in an existing bag (over what it holds).</summary>
        public void AddTo(MiicParamsHandle p)
        {
            foreach (KeyValuePair<string, string> kv in fields)
                Native.Check(Native.miic_params_set(p, Native.Utf8(kv.Key), Native.Utf8(kv.Value)));
        }
    }

    /// <summary>4.4.3.1 the logged-in doctor (also the doctor of the WYHT:// plugin URL).</summary>
    public sealed class Doctor : MiicRequest
    {
        public string HisUserId { get { return Get("hisUserId"); } set { Set("hisUserId", value); } }
        public string DoctorName { get { return Get("doctorName"); } set { Set("doctorName", value); } }
        public string Department { get { return Get("department"); } set { Set("department", value); } }
        public string DepartmentCode { get { return Get("departmentCode"); } set { Set("departmentCode", value); } }
        /// <summary>5.2: 0 unknown, 1 male, 2 female, 9 unspecified.</summary>
        public string DoctorSex { get { return Get("doctorSex"); } set { Set("doctorSex", value); } }
        /// <summary>5.7: 1 physician, 2 technician, 3 nurse.</summary>
        public string DoctorType { get { return Get("doctorType"); } set { Set("doctorType", value); } }
        public string DoctorCode { get { return Get("doctorCode"); } set { Set("doctorCode", value); } }
        /// <summary>Plain text: miic SM2-encrypts it.</summary>
        public string DoctorIdCardNo { get { return Get("doctorIdCardNo"); } set { Set("doctorIdCardNo", value); } }
        public string PhoneNumber { get { return Get("phoneNumber"); } set { Set("phoneNumber", value); } }
    }

    /// <summary>4.4.3.2 the patient of a reminder; the doctor comes from the login session.</summary>
    public sealed class Patient : MiicRequest
    {
        /// <summary>Plain text: miic SM2-encrypts it.</summary>
        public string IdCardNo { get { return Get("idCardNo"); } set { Set("idCardNo", value); } }
        public string PatientName { get { return Get("patientName"); } set { Set("patientName", value); } }
        public string MobilePhone { get { return Get("mobilePhone"); } set { Set("mobilePhone", value); } }
        /// <summary>5.2: 1 outpatient, 2 inpatient, 3 check-up, 4 emergency, 9 unspecified.</summary>
        public string PatientType { get { return Get("patientType"); } set { Set("patientType", value); } }
        public string AccessNumber { get { return Get("accessNumber"); } set { Set("accessNumber", value); } }
        public string OutpatientId { get { return Get("outpatientId"); } set { Set("outpatientId", value); } }
        public string InsuranceId { get { return Get("insuranceId"); } set { Set("insuranceId", value); } }
        public string HospitalizationId { get { return Get("hospitalizationId"); } set { Set("hospitalizationId", value); } }
        public string MedicareNo { get { return Get("medicareNo"); } set { Set("medicareNo", value); } }
        public string HealthNo { get { return Get("healthNo"); } set { Set("healthNo", value); } }
        /// <summary>Defaults to this workstation's address.</summary>
        public string ClientIp { get { return Get("clientIp"); } set { Set("clientIp", value); } }
        public string Mac { get { return Get("mac"); } set { Set("mac", value); } }
        /// <summary>Defaults to hospital_id from the config.</summary>
        public string HospitalId { get { return Get("hospitalId"); } set { Set("hospitalId", value); } }
    }

    /// <summary>4.3 the exam whose film/report QR code is wanted.</summary>
    public sealed class Exam : MiicRequest
    {
        public string AccessNumber { get { return Get("accessNumber"); } set { Set("accessNumber", value); } }
        /// <summary>CT, MR, DX, …</summary>
        public string Modality { get { return Get("modality"); } set { Set("modality", value); } }
        /// <summary>Defaults to hospital_id from the config.</summary>
        public string HospitalId { get { return Get("hospitalId"); } set { Set("hospitalId", value); } }
    }

    /// <summary>
    /// How a QR picture is drawn (MiicClient.QrImage, MiicLibrary.QrRender); unset = miic's
    /// default (8 px per module, caption on, error correction M). Give one of ModulePx, SizePx
    /// or SizeMm.
    /// </summary>
    public sealed class QrOptions : MiicRequest
    {
        /// <summary>Pixels per module, 1-100.</summary>
        public int? ModulePx { get { return Int("modulePx"); } set { SetNumber("modulePx", value); } }
        /// <summary>Exact image width in pixels (the code and its quiet zone; the caption adds height).</summary>
        public int? SizePx { get { return Int("sizePx"); } set { SetNumber("sizePx", value); } }
        /// <summary>Width in millimetres for print, at Dpi (default 300).</summary>
        public double? SizeMm
        {
            get
            {
                double v;
                string s = Get("sizeMm");
                return s != null && double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out v) ? v : (double?)null;
            }
            set { Set("sizeMm", value.HasValue ? value.Value.ToString("R", CultureInfo.InvariantCulture) : null); }
        }
        /// <summary>Dots per inch written to the PNG (36-4800), so report tools print it at its size.</summary>
        public int? Dpi { get { return Int("dpi"); } set { SetNumber("dpi", value); } }
        /// <summary>The caption 扫描查看数字影像 under the code (default true).</summary>
        public bool? Caption
        {
            get { string s = Get("caption"); return s == null ? (bool?)null : s != "0"; }
            set { Set("caption", value.HasValue ? (value.Value ? "1" : "0") : null); }
        }
        /// <summary>Error correction: "M" (default), "Q" or "H".</summary>
        public string EcLevel { get { return Get("ecLevel"); } set { Set("ecLevel", value); } }

        private int? Int(string key)
        {
            int v;
            string s = Get(key);
            return s != null && int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out v) ? v : (int?)null;
        }

        private void SetNumber(string key, int? value)
        {
            Set(key, value.HasValue ? value.Value.ToString(CultureInfo.InvariantCulture) : null);
        }
    }

    /// <summary>4.5 a deleted exam to notify the cloud of.</summary>
    public sealed class Deletion : MiicRequest
    {
        public string PatientName { get { return Get("patientName"); } set { Set("patientName", value); } }
        public string AccessionNo { get { return Get("accessionNo"); } set { Set("accessionNo", value); } }
        /// <summary>Defaults to the logged-in doctor's name.</summary>
        public string OperateDoctorName { get { return Get("operateDoctorName"); } set { Set("operateDoctorName", value); } }
        /// <summary>yyyy-MM-dd HH:mm:ss; defaults to now.</summary>
        public string OperateDateTime { get { return Get("operateDateTime"); } set { Set("operateDateTime", value); } }
        /// <summary>Defaults to hospital_id from the config.</summary>
        public string HospitalId { get { return Get("hospitalId"); } set { Set("hospitalId", value); } }
    }

    /// <summary>
    /// A client of the front-end machine. Dispose() (or using) closes it and joins its workers.
    /// Every failure throws MiicException with the status and miic's message.
    /// </summary>
    public sealed class MiicClient : IDisposable
    {
        private readonly MiicClientHandle handle;
        private readonly object progressGate = new object();
        private ProgressSink progress;

        /// <summary>Open with a .toml/.json config path or inline JSON text ("{…}").</summary>
        public MiicClient(string config)
        {
            if (config == null)
                throw new ArgumentNullException("config");
            MiicLibrary.EnsureLoaded();
            handle = Native.miic_open(Native.Utf8(config));
            if (handle.IsInvalid)
            {
                // Why it failed (config, unusable outbox folder, ...), read on this thread at once.
                int status = Native.miic_last_status();
                throw new MiicException(status < 0 ? status : MiicStatus.Internal,
                    Native.FromUtf8(Native.miic_last_error()));
            }
        }

        /// <summary>The raw handle, for exports this file does not wrap yet.</summary>
        public MiicClientHandle Handle
        {
            get { return handle; }
        }

        public void Login(Doctor doctor)
        {
            using (MiicParamsHandle p = Fields(doctor, "doctor"))
                Native.Check(Native.miic_login(handle, p));
        }

        public void Logout()
        {
            Native.Check(Native.miic_logout(handle));
        }

        /// <summary>The WYHT:// login URL for browser-based hosts (type 1 login, 2 logout). No network.</summary>
        public string PluginUrl(Doctor doctor, int type = 1)
        {
            MiicRequest r = new MiicRequest();
            foreach (KeyValuePair<string, string> kv in doctor.Fields)
                r.Set(kv.Key, kv.Value);
            r.Set("type", type.ToString());
            using (MiicParamsHandle p = r.ToParams())
                return CallString((out IntPtr s) => Native.miic_plugin_url(handle, p, out s));
        }

        /// <summary>Remind the doctor of this patient's exams elsewhere; waits for the cloud.</summary>
        public void PatientReminder(Patient patient)
        {
            using (MiicParamsHandle p = Fields(patient, "patient"))
                Native.Check(Native.miic_patient_reminder(handle, p));
        }

        /// <summary>Queue the reminder and return at once; a miic worker sends it.</summary>
        public void PatientReminderAsync(Patient patient)
        {
            using (MiicParamsHandle p = Fields(patient, "patient"))
                Native.Check(Native.miic_patient_reminder_async(handle, p));
        }

        /// <summary>The film/report URL to show as a QR code.</summary>
        public string QrUrl(Exam exam)
        {
            using (MiicParamsHandle p = Fields(exam, "exam"))
                return CallString((out IntPtr s) => Native.miic_qr_url(handle, p, out s));
        }

        /// <summary>Notify a deletion. Returns MiicStatus.Ok (delivered) or MiicStatus.Queued (stored, retried).</summary>
        public int DeleteNotify(Deletion deletion)
        {
            using (MiicParamsHandle p = Fields(deletion, "deletion"))
                return Native.Check(Native.miic_delete_notify(handle, p));
        }

        /// <summary>SM2-encrypt text with the client's configured key and format.</summary>
        public string Sm2Encrypt(string plain)
        {
            byte[] b = Native.Utf8(plain);
            return CallString((out IntPtr s) => Native.miic_sm2_encrypt(handle, b, out s));
        }

        /// <summary>
        /// 4.3 the exam's QR code as a PNG file for the printed report, with the caption
        /// 扫描查看数字影像. Written whole or not at all; options as for MiicLibrary.QrRender.
        /// </summary>
        public void QrImage(Exam exam, string pngPath, QrOptions options = null)
        {
            using (MiicParamsHandle p = Fields(exam, "exam"))
            {
                if (options != null)
                    options.AddTo(p);
                Native.Check(Native.miic_qr_image(handle, p, Native.Utf8(pngPath)));
            }
        }

        /// <summary>Delete notifications waiting in the outbox (from every process sharing it).</summary>
        public long OutboxPending()
        {
            uint n;
            Native.Check(Native.miic_outbox_pending(handle, out n));
            return n;
        }

        /// <summary>Delete notifications the cloud rejected (code 400), kept for hospital IT.</summary>
        public long OutboxDeadCount()
        {
            uint n;
            Native.Check(Native.miic_outbox_dead_count(handle, out n));
            return n;
        }

        /// <summary>
        /// Send every pending delete notification now; returns when the outbox is empty.
        /// Blocks this thread for at most timeout; MiicException with MiicStatus.Timeout when
        /// notifications remain (the message says how many and why).
        /// </summary>
        public void OutboxFlush(TimeSpan timeout)
        {
            if (timeout < TimeSpan.Zero)
                throw new ArgumentOutOfRangeException("timeout", "must not be negative");
            double ms = Math.Ceiling(timeout.TotalMilliseconds);
            Native.Check(Native.miic_outbox_flush(handle, ms >= uint.MaxValue ? uint.MaxValue : (uint)ms));
        }

        /// <summary>C-ECHO the PACS of [dicom]: the health check of spec 4.2.</summary>
        public void DicomEcho()
        {
            Native.Check(Native.miic_dicom_echo(handle));
        }

        /// <summary>C-FIND a study on the PACS: its matches (empty when the PACS does not know it).</summary>
        public IList<StudyMatch> DicomFind(string studyUid)
        {
            IntPtr s;
            int status = Native.miic_dicom_find(handle, Native.Utf8(studyUid), out s);
            return StudyMatch.ListFrom(Native.TakeResult(status, s));
        }

        /// <summary>
        /// Retrieve a whole study from the PACS of [dicom] into destDir (C-GET or C-MOVE), one
        /// &lt;SOP Instance UID&gt;.dcm per object. Progress events report it. On failure after the
        /// PACS was reached, MiicDicomException carries the manifest (what landed, what failed).
        /// </summary>
        public DicomManifest DicomRetrieve(string studyUid, string destDir)
        {
            IntPtr s;
            int status = Native.miic_dicom_retrieve(handle, Native.Utf8(studyUid), Native.Utf8(destDir), out s);
            return Native.TakeManifest(status, s);
        }

        /// <summary>
        /// Download the images of a dcmPath (comma-separated paths) from [dicom_http] base_url into
        /// destDir, keeping their folders. Failures as for DicomRetrieve.
        /// </summary>
        public DicomManifest DicomFetchHttp(string dcmPath, string destDir)
        {
            IntPtr s;
            int status = Native.miic_dicom_fetch_http(handle, Native.Utf8(dcmPath), Native.Utf8(destDir), out s);
            return Native.TakeManifest(status, s);
        }

        /// <summary>
        /// Progress of DicomRetrieve / DicomFetchHttp, raised on the fetching thread or on miic's
        /// worker threads, one at a time. Handlers must return quickly and must not call this
        /// client; to update a UI, post to it (Control.BeginInvoke). Exceptions they throw are
        /// swallowed (they must not unwind into native code).
        /// </summary>
        public event EventHandler<MiicProgressEventArgs> Progress
        {
            add
            {
                lock (progressGate)
                {
                    if (handle.IsClosed)
                        throw new ObjectDisposedException("MiicClient");
                    if (progress == null)
                        progress = new ProgressSink(this);
                    bool wasEmpty = progress.Handlers == null;
                    progress.Handlers += value;
                    if (!wasEmpty || progress.Handlers == null)
                        return;
                    handle.RootProgressThunk(progress.Thunk);
                    try
                    {
                        Native.Check(Native.miic_set_progress_callback(handle, progress.Thunk, IntPtr.Zero));
                    }
                    catch
                    {
                        progress.Handlers = null;
                        throw;
                    }
                }
            }
            remove
            {
                lock (progressGate)
                {
                    if (progress == null || progress.Handlers == null)
                        return;
                    progress.Handlers -= value;
                    if (progress.Handlers == null && !handle.IsClosed)
                        Native.Check(Native.miic_set_progress_callback(handle, null, IntPtr.Zero));
                }
            }
        }

        public void Dispose()
        {
            handle.Dispose();
        }

        /// <summary>Shape of every export returning a string through char **.</summary>
        public delegate int StringCall(out IntPtr result);

        /// <summary>
        /// Run an export that returns a string through char **: throws on a negative status,
        /// otherwise decodes the UTF-8 result and frees it with miic_string_free.
        /// </summary>
        public static string CallString(StringCall call)
        {
            IntPtr s;
            int status = call(out s);
            if (status < 0)
            {
                if (s != IntPtr.Zero)
                    Native.miic_string_free(s);
                Native.Check(status);
            }
            return Native.TakeString(s);
        }

        private static MiicParamsHandle Fields(MiicRequest r, string what)
        {
            if (r == null)
                throw new ArgumentNullException(what);
            return r.ToParams();
        }

        /// <summary>
        /// What miic calls back: the native delegate and the event's handlers. It holds the client
        /// weakly, so a client nobody disposed can still be finalized (and closed).
        /// </summary>
        private sealed class ProgressSink
        {
            internal readonly Native.ProgressFn Thunk;
            internal volatile EventHandler<MiicProgressEventArgs> Handlers;
            private readonly WeakReference owner;

            internal ProgressSink(MiicClient client)
            {
                owner = new WeakReference(client);
                Thunk = OnProgress;
            }

            private void OnProgress(IntPtr user, uint filesDone, uint filesTotal, long bytesDone)
            {
                EventHandler<MiicProgressEventArgs> h = Handlers;
                if (h == null)
                    return;
                try
                {
                    h(owner.Target, new MiicProgressEventArgs(filesDone, filesTotal, bytesDone));
                }
                catch (Exception)
                {
                    // A host bug must not unwind into miic's fetch.
                }
            }
        }
    }

    /// <summary>Progress of a fetch: FilesDone of FilesTotal (0 while not known yet), BytesDone so far.</summary>
    public sealed class MiicProgressEventArgs : EventArgs
    {
        public long FilesDone { get; private set; }
        public long FilesTotal { get; private set; }
        public long BytesDone { get; private set; }

        public MiicProgressEventArgs(long filesDone, long filesTotal, long bytesDone)
        {
            FilesDone = filesDone;
            FilesTotal = filesTotal;
            BytesDone = bytesDone;
        }
    }

    /// <summary>One object of a fetch, as the manifest lists it.</summary>
    public sealed class DicomFile
    {
        /// <summary>Where it landed, relative to the destination folder (null when nothing was written).</summary>
        public string Path { get; private set; }
        /// <summary>DicomFetchHttp: its dcmPath entry.</summary>
        public string Source { get; private set; }
        public string SopInstanceUid { get; private set; }
        public string SopClassUid { get; private set; }
        public string Modality { get; private set; }
        public string StudyInstanceUid { get; private set; }
        public string TransferSyntax { get; private set; }
        public long Size { get; private set; }
        /// <summary>"completed", "warning" or "failed".</summary>
        public string Status { get; private set; }
        public string Error { get; private set; }
        public string Warning { get; private set; }
        /// <summary>DicomFetchHttp: already complete in the folder, kept.</summary>
        public bool Resumed { get; private set; }

        public bool IsFailed
        {
            get { return Status == "failed"; }
        }

        internal DicomFile(JsonObject o)
        {
            Path = o.Text("path");
            Source = o.Text("source");
            SopInstanceUid = o.Text("sop_instance_uid");
            SopClassUid = o.Text("sop_class_uid");
            Modality = o.Text("modality");
            StudyInstanceUid = o.Text("study_instance_uid");
            TransferSyntax = o.Text("transfer_syntax");
            Size = o.Long("size") ?? 0;
            Status = o.Text("status");
            Error = o.Text("error");
            Warning = o.Text("warning");
            Resumed = o.Bool("resumed");
        }
    }

    /// <summary>An object that did not arrive whole, and why.</summary>
    public sealed class DicomFailure
    {
        public string SopInstanceUid { get; private set; }
        public string SopClassUid { get; private set; }
        public string Reason { get; private set; }
        /// <summary>Its file or dcmPath entry, when there is one.</summary>
        public string Path { get; private set; }

        internal DicomFailure(string sopInstanceUid, string sopClassUid, string reason, string path)
        {
            SopInstanceUid = sopInstanceUid;
            SopClassUid = sopClassUid;
            Reason = reason;
            Path = path;
        }
    }

    /// <summary>The PACS's own final status of a C-GET / C-MOVE and its sub-operation counts.</summary>
    public sealed class PacsStatus
    {
        /// <summary>e.g. "0x0000 (success)", "0xB000 (…)".</summary>
        public string Status { get; private set; }
        public long? Completed { get; private set; }
        public long? Failed { get; private set; }
        public long? Warning { get; private set; }
        public string ErrorComment { get; private set; }

        internal PacsStatus(JsonObject o)
        {
            Status = o.Text("status");
            Completed = o.Long("completed");
            Failed = o.Long("failed");
            Warning = o.Long("warning");
            ErrorComment = o.Text("error_comment");
        }
    }

    /// <summary>
    /// What a fetch brought (docs/dicom.md): counts, files and failures, read forgivingly (fields
    /// this binding does not know are ignored, missing ones are null or 0); Raw is miic's JSON.
    /// </summary>
    public sealed class DicomManifest
    {
        /// <summary>miic's manifest JSON, unchanged.</summary>
        public string Raw { get; private set; }
        /// <summary>Why Raw could not be read (then only Raw is set), or null.</summary>
        public string ParseError { get; private set; }
        /// <summary>"c-get", "c-move" or "http".</summary>
        public string Method { get; private set; }
        public string StudyInstanceUid { get; private set; }
        public string DestDir { get; private set; }
        public long Completed { get; private set; }
        public long Failed { get; private set; }
        public long Warning { get; private set; }
        /// <summary>The PACS sent objects of another study too (listed with a warning).</summary>
        public bool StudyUidMismatch { get; private set; }
        public IList<string> Studies { get; private set; }
        /// <summary>The PACS's final status (DIMSE fetches), or null.</summary>
        public PacsStatus Pacs { get; private set; }
        /// <summary>Why the transfer stopped early, or null.</summary>
        public string Error { get; private set; }
        public long ElapsedMs { get; private set; }
        public IList<DicomFile> Files { get; private set; }
        /// <summary>
        /// What did not arrive: the manifest's own list of failed objects when it has one (objects
        /// the PACS could not send have no file), else its files with status "failed".
        /// </summary>
        public IList<DicomFailure> Failures { get; private set; }

        internal DicomManifest(string json)
        {
            Raw = json;
            Studies = new List<string>();
            Files = new List<DicomFile>();
            Failures = new List<DicomFailure>();
            JsonObject o;
            try
            {
                o = JsonObject.Parse(json);
            }
            catch (Exception e)
            {
                ParseError = e.Message;
                return;
            }
            Method = o.Text("method");
            StudyInstanceUid = o.Text("study_instance_uid");
            DestDir = o.Text("dest_dir");
            Completed = o.Long("completed") ?? 0;
            Failed = o.Long("failed") ?? 0;
            Warning = o.Long("warning") ?? 0;
            StudyUidMismatch = o.Bool("study_uid_mismatch");
            foreach (object uid in o.Array("studies"))
                if (uid is string)
                    Studies.Add((string)uid);
            JsonObject pacs = o.Object("pacs");
            if (pacs != null)
                Pacs = new PacsStatus(pacs);
            Error = o.Text("error");
            ElapsedMs = o.Long("elapsed_ms") ?? 0;
            foreach (JsonObject f in o.Objects("files"))
                Files.Add(new DicomFile(f));
            if (o.Has("failures"))
            {
                foreach (JsonObject f in o.Objects("failures"))
                    Failures.Add(new DicomFailure(f.Text("sop_instance_uid"), f.Text("sop_class_uid"),
                        f.Text("reason") ?? f.Text("error"), f.Text("path") ?? f.Text("source")));
            }
            else
            {
                foreach (DicomFile f in Files)
                    if (f.IsFailed)
                        Failures.Add(new DicomFailure(f.SopInstanceUid, f.SopClassUid, f.Error, f.Path ?? f.Source));
            }
        }

        public override string ToString()
        {
            return Raw;
        }
    }

    /// <summary>A study the PACS found (C-FIND); null fields: the PACS did not say.</summary>
    public sealed class StudyMatch
    {
        public string StudyInstanceUid { get; private set; }
        public string PatientId { get; private set; }
        public string PatientName { get; private set; }
        public string StudyDate { get; private set; }
        public string AccessionNumber { get; private set; }
        public string ModalitiesInStudy { get; private set; }
        public long? NumberOfStudyRelatedInstances { get; private set; }

        private StudyMatch(JsonObject o)
        {
            StudyInstanceUid = o.Text("study_instance_uid");
            PatientId = o.Text("patient_id");
            PatientName = o.Text("patient_name");
            StudyDate = o.Text("study_date");
            AccessionNumber = o.Text("accession_number");
            ModalitiesInStudy = o.Text("modalities_in_study");
            NumberOfStudyRelatedInstances = o.Long("number_of_study_related_instances");
        }

        internal static IList<StudyMatch> ListFrom(string json)
        {
            List<StudyMatch> matches = new List<StudyMatch>();
            object root;
            try
            {
                root = JsonObject.ParseValue(json);
            }
            catch (Exception e)
            {
                throw new MiicException(MiicStatus.Internal, "cannot read miic's C-FIND matches (" + e.Message + "): " + json);
            }
            if (root is List<object>)
                foreach (object m in (List<object>)root)
                    if (m is Dictionary<string, object>)
                        matches.Add(new StudyMatch(new JsonObject((Dictionary<string, object>)m)));
            return matches;
        }
    }

    /// <summary>One finding of ValidateReport.</summary>
    public sealed class ReportProblem
    {
        /// <summary>Index of the record in the input; null for the reply envelope.</summary>
        public long? Record { get; private set; }
        /// <summary>The table's field name (or the unknown name as sent).</summary>
        public string Field { get; private set; }
        /// <summary>The rule, e.g. "required", "datetime_format", "dictionary" (docs/report.md).</summary>
        public string Rule { get; private set; }
        /// <summary>"error" or "warning".</summary>
        public string Severity { get; private set; }
        /// <summary>Names the field and shows the value (masked when personal).</summary>
        public string Message { get; private set; }

        public bool IsError
        {
            get { return Severity == "error"; }
        }

        internal ReportProblem(JsonObject o)
        {
            Record = o.Long("record");
            Field = o.Text("field");
            Rule = o.Text("rule");
            Severity = o.Text("severity");
            Message = o.Text("message");
        }
    }

    /// <summary>A name of the 4.1.2.4 sample (or a misspelling) accepted for a table field.</summary>
    public sealed class ReportAlias
    {
        public string Alias { get; private set; }
        public string Field { get; private set; }
        /// <summary>"sample", "corrected_spelling", "letter_case" or "whitespace".</summary>
        public string Kind { get; private set; }
        public long Records { get; private set; }

        internal ReportAlias(JsonObject o)
        {
            Alias = o.Text("alias");
            Field = o.Text("field");
            Kind = o.Text("kind");
            Records = o.Long("records") ?? 0;
        }
    }

    /// <summary>The verdict of MiicLibrary.ValidateReport; Raw is miic's JSON.</summary>
    public sealed class ReportValidation
    {
        /// <summary>miic's JSON, unchanged.</summary>
        public string Raw { get; private set; }
        /// <summary>Why Raw could not be read (then only Raw is set), or null.</summary>
        public string ParseError { get; private set; }
        /// <summary>True when no problem has severity "error".</summary>
        public bool Conformant { get; private set; }
        public long Records { get; private set; }
        public long Errors { get; private set; }
        public long Warnings { get; private set; }
        /// <summary>Problems per rule, complete even when Problems is truncated.</summary>
        public IDictionary<string, long> Rules { get; private set; }
        public IList<ReportAlias> Aliases { get; private set; }
        /// <summary>Names that are not table fields, with the number of records carrying them.</summary>
        public IDictionary<string, long> ExtraFields { get; private set; }
        /// <summary>A 4.1.2 reply's code (as text) and message; both null for bare records.</summary>
        public string EnvelopeCode { get; private set; }
        public string EnvelopeMessage { get; private set; }
        public IList<ReportProblem> Problems { get; private set; }
        /// <summary>More problems than miic lists (10000); Rules still counts them all.</summary>
        public bool Truncated { get; private set; }

        internal ReportValidation(string json)
        {
            Raw = json;
            Rules = new Dictionary<string, long>();
            ExtraFields = new Dictionary<string, long>();
            Aliases = new List<ReportAlias>();
            Problems = new List<ReportProblem>();
            JsonObject o;
            try
            {
                o = JsonObject.Parse(json);
            }
            catch (Exception e)
            {
                ParseError = e.Message;
                return;
            }
            Conformant = o.Bool("conformant");
            Records = o.Long("records") ?? 0;
            Errors = o.Long("errors") ?? 0;
            Warnings = o.Long("warnings") ?? 0;
            Rules = o.Counts("rules");
            ExtraFields = o.Counts("extra_fields");
            foreach (JsonObject a in o.Objects("aliases"))
                Aliases.Add(new ReportAlias(a));
            JsonObject envelope = o.Object("envelope");
            if (envelope != null)
            {
                EnvelopeCode = envelope.Text("code");
                EnvelopeMessage = envelope.Text("message");
            }
            foreach (JsonObject p in o.Objects("problems"))
                Problems.Add(new ReportProblem(p));
            Truncated = o.Bool("truncated");
        }

        public override string ToString()
        {
            return Raw;
        }
    }

    /// <summary>One check of MiicLibrary.Diagnose.</summary>
    public sealed class DiagnosisCheck
    {
        /// <summary>library, config, front_end, clock, sm2, outbox, log, dicom_echo, dicom_move_port or dicom_http.</summary>
        public string Id { get; private set; }
        /// <summary>"ok", "warning", "failed" or "skipped" (the check does not apply).</summary>
        public string Result { get; private set; }
        public string TitleZh { get; private set; }
        public string TitleEn { get; private set; }
        /// <summary>What was measured, in one line (the values themselves are in Diagnosis.Raw).</summary>
        public string SummaryZh { get; private set; }
        public string SummaryEn { get; private set; }
        /// <summary>How to fix a failed or warning check, one sentence; null otherwise.</summary>
        public string FixZh { get; private set; }
        public string FixEn { get; private set; }
        public long ElapsedMs { get; private set; }

        public bool Failed
        {
            get { return Result == "failed"; }
        }

        internal DiagnosisCheck(JsonObject o)
        {
            Id = o.Text("id");
            Result = o.Text("result");
            ElapsedMs = o.Long("elapsed_ms") ?? 0;
            TitleZh = InLanguage(o, "title", "zh");
            TitleEn = InLanguage(o, "title", "en");
            SummaryZh = InLanguage(o, "summary", "zh");
            SummaryEn = InLanguage(o, "summary", "en");
            FixZh = InLanguage(o, "fix", "zh");
            FixEn = InLanguage(o, "fix", "en");
        }

        /// <summary>One language of a {"zh", "en"} text, or null.</summary>
        private static string InLanguage(JsonObject o, string name, string lang)
        {
            JsonObject t = o.Object(name);
            return t == null ? null : t.Text(lang);
        }
    }

    /// <summary>The report of MiicLibrary.Diagnose; Raw is miic's JSON (with every measured value).</summary>
    public sealed class Diagnosis
    {
        public string Raw { get; private set; }
        /// <summary>Why Raw could not be read (then only Raw is set), or null.</summary>
        public string ParseError { get; private set; }
        /// <summary>The worst check's result: "ok", "warning" or "failed".</summary>
        public string Result { get; private set; }
        /// <summary>The config file diagnosed, or "inline JSON".</summary>
        public string Config { get; private set; }
        public long ElapsedMs { get; private set; }
        public long TimeoutMs { get; private set; }
        public IList<DiagnosisCheck> Checks { get; private set; }

        public bool Failed
        {
            get { return Result == "failed"; }
        }

        /// <summary>The check with this id, or null.</summary>
        public DiagnosisCheck Check(string id)
        {
            foreach (DiagnosisCheck c in Checks)
                if (c.Id == id)
                    return c;
            return null;
        }

        internal Diagnosis(string json)
        {
            Raw = json;
            Checks = new List<DiagnosisCheck>();
            JsonObject o;
            try
            {
                o = JsonObject.Parse(json);
            }
            catch (Exception e)
            {
                ParseError = e.Message;
                return;
            }
            Result = o.Text("result");
            Config = o.Text("config");
            ElapsedMs = o.Long("elapsed_ms") ?? 0;
            TimeoutMs = o.Long("timeout_ms") ?? 0;
            foreach (JsonObject c in o.Objects("checks"))
                Checks.Add(new DiagnosisCheck(c));
        }

        public override string ToString()
        {
            return Raw;
        }
    }

    /// <summary>
    /// A JSON object read with .NET Framework's own JSON reader (JsonReaderWriterFactory, the
    /// reader of DataContractJsonSerializer). Values: Dictionary, List, string, decimal/double,
    /// bool, null. The accessors forgive: a missing or differently typed field reads as null.
    /// </summary>
    internal sealed class JsonObject
    {
        private readonly Dictionary<string, object> members;

        internal JsonObject(Dictionary<string, object> members)
        {
            this.members = members;
        }

        internal static JsonObject Parse(string json)
        {
            Dictionary<string, object> o = ParseValue(json) as Dictionary<string, object>;
            if (o == null)
                throw new FormatException("miic's JSON is not an object");
            return new JsonObject(o);
        }

        internal static object ParseValue(string json)
        {
            byte[] bytes = Encoding.UTF8.GetBytes(json);
            using (XmlDictionaryReader r = JsonReaderWriterFactory.CreateJsonReader(bytes, XmlDictionaryReaderQuotas.Max))
            {
                r.MoveToContent();
                return Read(r, 0);
            }
        }

        private static object Read(XmlDictionaryReader r, int depth)
        {
            if (depth > 128)
                throw new FormatException("JSON nested too deep");
            string type = r.GetAttribute("type");
            if (type == "object" || type == "array")
            {
                Dictionary<string, object> o = type == "object" ? new Dictionary<string, object>(StringComparer.Ordinal) : null;
                List<object> a = type == "array" ? new List<object>() : null;
                if (r.IsEmptyElement)
                {
                    r.Read();
                    return (object)o ?? a;
                }
                r.ReadStartElement();
                while (r.MoveToContent() == XmlNodeType.Element)
                {
                    // Names that are not XML names arrive as <item item="name">.
                    string name = r.NamespaceURI == "item" ? r.GetAttribute("item") : r.LocalName;
                    object v = Read(r, depth + 1);
                    if (o != null)
                        o[name] = v;
                    else
                        a.Add(v);
                }
                r.ReadEndElement();
                return (object)o ?? a;
            }
            if (type == "null")
            {
                r.Skip();
                return null;
            }
            string text = r.ReadElementContentAsString();
            if (type == "boolean")
                return text == "true";
            if (type == "number")
            {
                decimal d;
                if (decimal.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out d))
                    return d;
                return double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);
            }
            return text;
        }

        internal bool Has(string key)
        {
            return members.ContainsKey(key);
        }

        private object Value(string key)
        {
            object v;
            return members.TryGetValue(key, out v) ? v : null;
        }

        /// <summary>A string, or a number or boolean as its text; else null.</summary>
        internal string Text(string key)
        {
            object v = Value(key);
            if (v is string)
                return (string)v;
            if (v is decimal)
                return ((decimal)v).ToString(CultureInfo.InvariantCulture);
            if (v is double)
                return ((double)v).ToString("R", CultureInfo.InvariantCulture);
            if (v is bool)
                return (bool)v ? "true" : "false";
            return null;
        }

        internal long? Long(string key)
        {
            object v = Value(key);
            long n;
            if (v is decimal && (decimal)v == decimal.Truncate((decimal)v) && (decimal)v >= long.MinValue && (decimal)v <= long.MaxValue)
                return (long)(decimal)v;
            if (v is string && long.TryParse((string)v, NumberStyles.Integer, CultureInfo.InvariantCulture, out n))
                return n;
            return null;
        }

        internal bool Bool(string key)
        {
            object v = Value(key);
            return (v is bool && (bool)v) || (v is string && (string)v == "true");
        }

        internal JsonObject Object(string key)
        {
            Dictionary<string, object> o = Value(key) as Dictionary<string, object>;
            return o == null ? null : new JsonObject(o);
        }

        internal IList<object> Array(string key)
        {
            return (Value(key) as List<object>) ?? new List<object>();
        }

        internal IEnumerable<JsonObject> Objects(string key)
        {
            foreach (object v in Array(key))
                if (v is Dictionary<string, object>)
                    yield return new JsonObject((Dictionary<string, object>)v);
        }

        /// <summary>An object of name: count pairs (entries that are not integers are skipped).</summary>
        internal IDictionary<string, long> Counts(string key)
        {
            Dictionary<string, long> counts = new Dictionary<string, long>(StringComparer.Ordinal);
            JsonObject o = Object(key);
            if (o != null)
                foreach (string name in o.members.Keys)
                {
                    long? n = o.Long(name);
                    if (n.HasValue)
                        counts[name] = n.Value;
                }
            return counts;
        }
    }
}
