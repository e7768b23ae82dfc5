// The doctor workflow from C#: login, patient reminder, QR URL, delete notification, logout.
//
// Build (Windows, .NET Framework csc or mono mcs):  csc Example.cs ..\..\bindings\csharp\Miic.cs
// Run next to miic.dll:                              Example.exe miic.toml
// Try it without a front-end machine: start `miic-cli sim` and point base_url at it.
using System;
using Miic;

internal static class Example
{
    private static int Main(string[] args)
    {
        string config = args.Length > 0 ? args[0] : "miic.toml";
        try
        {
            MiicLibrary.SetLogCallback((level, message) => Console.Error.WriteLine("[miic " + level + "] " + message));
            Console.WriteLine("miic " + MiicLibrary.Version);

            using (MiicClient client = new MiicClient(config))
            {
                Doctor doctor = new Doctor
                {
                    HisUserId = "D1001",
                    DoctorName = "张医生",
                    Department = "放射科",
                    DepartmentCode = "0301",
                    DoctorSex = "1",
                    DoctorType = "1",
                    DoctorCode = "YS1001",
                    DoctorIdCardNo = "11010519491231002X",
                    PhoneNumber = "13800000000",
                };
                client.Login(doctor);
                Console.WriteLine("login ok");

                client.PatientReminder(new Patient
                {
                    IdCardNo = "440301199001011234",
                    PatientName = "李四",
                    MobilePhone = "13900000000",
                    PatientType = "1",
                    AccessNumber = "ACC20240001",
                });
                Console.WriteLine("reminder ok");

                string url = client.QrUrl(new Exam { AccessNumber = "ACC20240001", Modality = "CT" });
                Console.WriteLine("qr url " + url);

                int status = client.DeleteNotify(new Deletion
                {
                    PatientName = "李四",
                    AccessionNo = "ACC20240001",
                    OperateDateTime = "2024-05-06 07:08:09",
                });
                Console.WriteLine("delete " + MiicLibrary.StatusName(status));

                client.Logout();
                Console.WriteLine("logout ok");
            }
            return 0;
        }
        catch (MiicException e)
        {
            // Status is the MIIC_E_* code; Message is miic's text naming the field or cause.
            Console.WriteLine("miic error status=" + e.Status + " " + e.StatusName + ": " + e.Message);
            return 2;
        }
    }
}
