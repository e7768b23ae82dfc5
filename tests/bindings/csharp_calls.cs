// Every export Miic.cs wraps beyond the doctor workflow, from C#: DICOM (echo, find, retrieve
// with progress events across forced garbage collections, HTTP dcmPath download), QR PNGs, the
// outbox, report validation and requests from JSON; each failure as MiicException with its status.
// Run by tests/bindings.rs as:
//   csharp_calls <config> <work dir> <study uid> <object count> <dcm path> <dcm path count>
// Prints "calls ok" when every check passed; the Rust test then checks the files it wrote.
using System;
using System.Collections.Generic;
using System.IO;
using System.Threading;
using Miic;

internal static class CsharpCalls
{
    private static readonly List<string> Failures = new List<string>();

    private static void Expect(bool ok, string what)
    {
        if (!ok)
            Failures.Add(what);
    }

    private static void ForceGc()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }

    private static MiicException Throws(Action call)
    {
        try
        {
            call();
        }
        catch (MiicException e)
        {
            return e;
        }
        return null;
    }

    private static int Main(string[] args)
    {
        string config = args[0], work = args[1], study = args[2], dcmPath = args[4];
        int count = int.Parse(args[3]), httpCount = int.Parse(args[5]);

        object gate = new object();
        int events = 0, eventsAfterGc = 0, otherThreads = 0;
        bool collected = false;
        MiicProgressEventArgs last = null;
        int mainThread = Thread.CurrentThread.ManagedThreadId;

        // A failed open says why: a bad key is the config's fault, an outbox under a plain file the disk's.
        MiicException badKey = Throws(() => new MiicClient("{\"base_url\":\"http://127.0.0.1:9\",\"hospital_id\":\"H\",\"retries\":3}"));
        Expect(badKey != null && badKey.Status == MiicStatus.Config && badKey.Message.Contains("retries"),
            "open with an unknown key: " + badKey);
        string blocker = Path.Combine(work, "open-blocker");
        File.WriteAllText(blocker, "");
        MiicException outbox = Throws(() => new MiicClient("{\"base_url\":\"http://127.0.0.1:9\",\"hospital_id\":\"H\",\"outbox\":{\"path\":\""
            + blocker + "/outbox.db\"}}"));
        Expect(outbox != null && outbox.Status == MiicStatus.Io, "open with an unusable outbox: " + outbox);
        Console.WriteLine("open with an unusable outbox: " + (outbox == null ? "opened" : MiicLibrary.StatusName(outbox.Status)));

        using (MiicClient client = new MiicClient(config))
        {
            // Only Miic.cs holds the native delegate: collections before and during the fetch must not free it.
            client.Progress += (sender, e) =>
            {
                bool collectNow;
                lock (gate)
                {
                    events++;
                    if (collected)
                        eventsAfterGc++;
                    if (Thread.CurrentThread.ManagedThreadId != mainThread)
                        otherThreads++;
                    last = e;
                    collectNow = !collected;
                    collected = true;
                    if (!(sender is MiicClient))
                        Failures.Add("progress sender is not the client");
                }
                if (collectNow)
                    ForceGc();
            };
            ForceGc();

            client.DicomEcho();
            Console.WriteLine("echo ok");

            IList<StudyMatch> matches = client.DicomFind(study);
            Expect(matches.Count == 1, "find: " + matches.Count + " matches");
            if (matches.Count == 1)
            {
                Expect(matches[0].StudyInstanceUid == study, "find: study uid " + matches[0].StudyInstanceUid);
                Expect(matches[0].PatientName == "王小明", "find: patient name " + matches[0].PatientName);
            }
            Expect(client.DicomFind("1.2.3.4.5.6.7.8.9").Count == 0, "find of an unknown study matched");

            DicomManifest m = client.DicomRetrieve(study, Path.Combine(work, "study"));
            Console.WriteLine("retrieved " + m.Completed + " files in " + m.ElapsedMs + " ms, " + events + " progress events");
            Expect(m.ParseError == null, "manifest unreadable: " + m.ParseError);
            Expect(m.Completed == count && m.Failed == 0, "manifest counts " + m.Completed + "/" + m.Failed);
            Expect(m.Files.Count == count, "manifest lists " + m.Files.Count + " files");
            Expect(m.Failures.Count == 0, "manifest lists failures");
            Expect(m.StudyInstanceUid == study, "manifest study " + m.StudyInstanceUid);
            Expect(m.Method == "c-get" || m.Method == "c-move", "manifest method " + m.Method);
            Expect(m.Raw.Contains(study), "raw manifest lacks the study uid");
            foreach (DicomFile f in m.Files)
            {
                Expect(f.Status == "completed", f.Path + " status " + f.Status);
                Expect(f.Size > 0 && File.Exists(Path.Combine(Path.Combine(work, "study"), f.Path)), f.Path + " missing on disk");
                Expect(!string.IsNullOrEmpty(f.SopInstanceUid) && !string.IsNullOrEmpty(f.TransferSyntax), f.Path + " lacks uids");
            }
            lock (gate)
            {
                Expect(collected && eventsAfterGc >= count - 1, "progress: " + events + " events, " + eventsAfterGc + " after the forced GC");
                Expect(last != null && last.FilesDone == count && last.FilesTotal == count && last.BytesDone > 0,
                    "last progress event " + (last == null ? "none" : last.FilesDone + "/" + last.FilesTotal + " " + last.BytesDone));
            }

            MiicException unknown = Throws(() => client.DicomRetrieve("1.2.3.4.5.6.7.8.9", Path.Combine(work, "unknown")));
            MiicDicomException dicom = unknown as MiicDicomException;
            Expect(dicom != null && dicom.Status == MiicStatus.Dicom && dicom.StatusName == "MIIC_E_DICOM",
                "unknown study: " + (unknown == null ? "no exception" : unknown.ToString()));
            if (dicom != null)
            {
                Expect(dicom.Manifest != null && dicom.Manifest.Files.Count == 0 && dicom.Manifest.Raw.Length > 0, "unknown study: manifest");
                Console.WriteLine("unknown study " + dicom.StatusName + ": " + dicom.Message);
            }

            int before;
            lock (gate)
                before = events;
            DicomManifest http = client.DicomFetchHttp(dcmPath, Path.Combine(work, "http"));
            Expect(http.Method == "http" && http.Completed == httpCount && http.Files.Count == httpCount, "http fetch " + http.Raw);
            foreach (DicomFile f in http.Files)
                Expect(!string.IsNullOrEmpty(f.Source) && File.Exists(Path.Combine(Path.Combine(work, "http"), f.Path)), "http file " + f.Path);
            lock (gate)
                Expect(events > before, "no progress events during the HTTP fetch");
            Console.WriteLine("http fetched " + http.Completed + " files");

            MiicException noServer = Throws(() => client.DicomFetchHttp("\\no\\such.dcm", Path.Combine(work, "missing")));
            Expect(noServer is MiicDicomException && ((MiicDicomException)noServer).Manifest.Failures.Count == 1,
                "404 download: " + noServer);

            Exam exam = new Exam { AccessNumber = "ACC-CS-1", Modality = "CT" };
            client.QrImage(exam, Path.Combine(work, "exam.png"), new QrOptions { ModulePx = 4 });
            Console.WriteLine("exam url " + client.QrUrl(exam));
            MiicLibrary.QrRender("https://example.org/film?id=1", Path.Combine(work, "render.png"), new QrOptions { Caption = false });
            MiicException badOption = Throws(() => MiicLibrary.QrRender("x", Path.Combine(work, "bad.png"), new QrOptions { ModulePx = 500 }));
            Expect(badOption != null && badOption.Status == MiicStatus.Argument && badOption.Message.Contains("modulePx"),
                "modulePx 500: " + badOption);
            Console.WriteLine("qr ok");

            Expect(client.OutboxPending() == 0 && client.OutboxDeadCount() == 0, "outbox not empty");
            client.OutboxFlush(TimeSpan.FromSeconds(2));

            ReportValidation report = MiicLibrary.ValidateReport("{\"examDate\": \"2024-13-45 25:00:00\", \"gend\": \"7\"}");
            Expect(!report.Conformant && report.Errors > 0 && report.Records == 1, "report verdict " + report.Raw);
            bool namedDate = false;
            foreach (ReportProblem p in report.Problems)
                if (p.Field == "examDate" && p.Rule == "datetime_format" && p.IsError)
                    namedDate = true;
            Expect(namedDate, "report: no datetime_format error on examDate");
            Expect(report.Rules.ContainsKey("required"), "report: no count of the required rule");
            MiicException notJson = Throws(() => MiicLibrary.ValidateReport("not json"));
            Expect(notJson != null && notJson.Status == MiicStatus.Argument, "report of non-JSON: " + notJson);

            Diagnosis diagnosis = MiicLibrary.Diagnose(config);
            Expect(diagnosis.ParseError == null && diagnosis.Checks.Count == 10, "diagnosis unreadable: " + diagnosis.Raw);
            foreach (string id in new[] { "config", "front_end", "sm2", "dicom_echo" })
            {
                DiagnosisCheck c = diagnosis.Check(id);
                Expect(c != null && c.Result == "ok", "diagnosis " + id + ": " + (c == null ? "missing" : c.SummaryEn));
            }
            Diagnosis bad = MiicLibrary.Diagnose("{\"base_url\":\"http://127.0.0.1:9\",\"hospital_id\":\"H\",\"retries\":3}");
            DiagnosisCheck badConfig = bad.Check("config");
            Expect(bad.Failed && badConfig != null && badConfig.Failed && badConfig.FixEn.Contains("'retries'"),
                "diagnosis of an unknown key: " + bad.Raw);
            if (badConfig != null)
                Console.WriteLine("diagnose config fix: " + badConfig.FixZh);
            MiicException noConfig = Throws(() => MiicLibrary.Diagnose(null));
            Expect(noConfig != null && noConfig.Status == MiicStatus.Argument, "diagnosis of null: " + noConfig);

            Exam fromJson = MiicRequest.FromJson<Exam>("{\"accessNumber\": \"ACC-JSON-1\", \"modality\": \"MR\"}");
            Expect(client.QrUrl(fromJson).StartsWith("http"), "QR URL of a JSON exam");
            MiicException notFlat = Throws(() => MiicRequest.FromJson("{\"accessNumber\": [1]}"));
            Expect(notFlat != null && notFlat.Status == MiicStatus.Argument && notFlat.Message.Contains("accessNumber"),
                "nested JSON request: " + notFlat);
        }
        ForceGc();

        foreach (string f in Failures)
            Console.WriteLine("FAIL " + f);
        if (Failures.Count > 0)
            return 1;
        Console.WriteLine("calls ok");
        return 0;
    }
}
