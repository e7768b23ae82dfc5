// The doctor workflow from C#: login, patient reminder, QR URL and QR picture, delete notification
// and the outbox, a report record checked, the study's images from the PACS, logout.
//
// Build (Windows, .NET Framework csc or mono mcs):
//   csc Example.cs ..\..\bindings\csharp\Miic.cs          (csc.rsp references System.Runtime.Serialization)
//   mcs -r:System.Runtime.Serialization Example.cs ../../bindings/csharp/Miic.cs
// Run next to miic.dll:  Example.exe miic.toml [output folder] [study instance UID]
// Try it without a front-end machine: start `miic-cli sim` and point base_url at it. The images are
// fetched when the config has a [dicom] section and a study UID is given.
using System;
using System.IO;
using Miic;

internal static class Example
{
    private static int Main(string[] args)
    {
        string config = args.Length > 0 ? args[0] : "miic.toml";
        string output = args.Length > 1 ? args[1] : ".";
        string studyUid = args.Length > 2 ? args[2] : null;
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

                Exam exam = new Exam { AccessNumber = "ACC20240001", Modality = "CT" };
                string url = client.QrUrl(exam);
                Console.WriteLine("qr url " + url);

                // The same code as a picture for the printed report: 30 mm wide at 300 dpi.
                string png = Path.Combine(output, "qr-ACC20240001.png");
                client.QrImage(exam, png, new QrOptions { SizeMm = 30, Dpi = 300 });
                Console.WriteLine("qr png " + png);

                int status = client.DeleteNotify(new Deletion
                {
                    PatientName = "李四",
                    AccessionNo = "ACC20240001",
                    OperateDateTime = "2024-05-06 07:08:09",
                });
                Console.WriteLine("delete " + MiicLibrary.StatusName(status));
                // MIIC_QUEUED: stored in the outbox, miic keeps sending it (also after a restart).
                Console.WriteLine("outbox pending " + client.OutboxPending() + ", rejected " + client.OutboxDeadCount());

                // A report record as the PACS would serve it to the cloud (spec 4.1), checked locally.
                ReportValidation report = MiicLibrary.ValidateReport(
                    "{\"psnName\": \"李四\", \"gend\": \"1\", \"accessionNo\": \"ACC20240001\", \"examDate\": \"2024-05-06 25:00:00\"}");
                long missing;
                report.Rules.TryGetValue("required", out missing);
                Console.WriteLine("report conformant " + report.Conformant + ", " + report.Errors + " errors (" + missing +
                    " required fields missing), " + report.Warnings + " warnings");
                foreach (ReportProblem p in report.Problems)
                    if (p.Rule != "required")
                        Console.WriteLine("  " + p.Severity + " " + p.Field + ": " + p.Message);

                RetrieveStudy(client, studyUid, Path.Combine(output, "study"));

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

    /// <summary>The study's images from the PACS of [dicom], with a progress line per file.</summary>
    private static void RetrieveStudy(MiicClient client, string studyUid, string dest)
    {
        try
        {
            client.DicomEcho();
        }
        catch (MiicException e)
        {
            if (e.Status != MiicStatus.Config)
                throw;
            Console.WriteLine("dicom not configured: " + e.Message);
            return;
        }
        Console.WriteLine("dicom echo ok");
        if (studyUid == null)
            return;

        long shown = -1;
        EventHandler<MiicProgressEventArgs> onProgress = (sender, e) =>
        {
            // miic's thread: a UI would post this to its own thread (Control.BeginInvoke).
            if (e.FilesDone == shown)
                return;
            shown = e.FilesDone;
            Console.WriteLine("progress " + e.FilesDone + "/" + (e.FilesTotal > 0 ? e.FilesTotal.ToString() : "?") +
                " files, " + e.BytesDone + " bytes");
        };
        client.Progress += onProgress;
        try
        {
            DicomManifest m = client.DicomRetrieve(studyUid, dest);
            Console.WriteLine("retrieved " + m.Completed + " files into " + m.DestDir + " in " + m.ElapsedMs + " ms");
        }
        catch (MiicDicomException e)
        {
            // Partial success: the manifest says what landed and what did not.
            Console.WriteLine("retrieve " + e.StatusName + ": " + e.Manifest.Completed + " landed, " + e.Manifest.Failures.Count + " failed");
            foreach (DicomFailure f in e.Manifest.Failures)
                Console.WriteLine("  " + f.SopInstanceUid + ": " + f.Reason);
            throw;
        }
        finally
        {
            client.Progress -= onProgress;
        }
    }
}
