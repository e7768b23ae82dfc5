// Miic.cs: C# binding of miic (医保影像云 client library). One file: copy it into your project and put
// miic.dll (Windows) / libmiic.so (Linux, mono) next to your executable, matching its bitness
// (x86 host -> 32-bit miic.dll, x64/AnyCPU-64 host -> 64-bit miic.dll).
//
// Works on .NET Framework 4.x, mono and .NET 6+: written in C# 7.3 (no Span, no
// Marshal.PtrToStringUTF8, which .NET Framework lacks). All text crosses the boundary as UTF-8, so
// a client used from C# must keep the default text_encoding ("utf-8").
//
// Threads: one MiicClient may be used from many threads at once. The log callback is called from
// miic's worker threads too.

using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Text;
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

    /// <summary>An open client handle; closed (workers joined) by miic_close when released.</summary>
    public sealed class MiicClientHandle : SafeHandleZeroOrMinusOneIsInvalid
    {
        public MiicClientHandle() : base(true) { }

        protected override bool ReleaseHandle()
        {
            Native.miic_close(handle);
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

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr miic_last_error();

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
            MiicParamsHandle p = Native.miic_params_new();
            if (p.IsInvalid)
                throw new MiicException(MiicStatus.Internal, "miic_params_new failed (out of memory)");
            try
            {
                foreach (KeyValuePair<string, string> kv in fields)
                    Native.Check(Native.miic_params_set(p, Native.Utf8(kv.Key), Native.Utf8(kv.Value)));
            }
            catch
            {
                p.Dispose();
                throw;
            }
            return p;
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

        /// <summary>Open with a .toml/.json config path or inline JSON text ("{…}").</summary>
        public MiicClient(string config)
        {
            if (config == null)
                throw new ArgumentNullException("config");
            MiicLibrary.EnsureLoaded();
            handle = Native.miic_open(Native.Utf8(config));
            if (handle.IsInvalid)
                throw new MiicException(MiicStatus.Config, Native.FromUtf8(Native.miic_last_error()));
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
    }
}
