// One MiicClient shared by several threads, each reading its own last error (also in a fixed
// order: one thread's error read after another thread failed differently), with the log callback
// called from miic's worker thread after a garbage collection. Run by tests/bindings.rs as: csharp_threads <config>.
// Prints "threads ok" when every check passed.
using System;
using System.Collections.Generic;
using System.Threading;
using Miic;

internal static class CsharpThreads
{
    private const int Threads = 4;
    private const int CallsPerThread = 5;

    private static int Main(string[] args)
    {
        int mainThread = Thread.CurrentThread.ManagedThreadId;
        string workerLine = null;
        object gate = new object();
        MiicLibrary.SetLogCallback((level, message) =>
        {
            if (Thread.CurrentThread.ManagedThreadId != mainThread && message.Contains("reminder sent"))
                lock (gate)
                    workerLine = message;
        });
        // Only Miic.cs holds the delegate now: a collection must not free it.
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();

        List<string> failures = new List<string>();
        using (MiicClient client = new MiicClient(args[0]))
        {
            client.Login(new Doctor
            {
                HisUserId = "T1",
                DoctorName = "赵医生",
                Department = "影像科",
                DepartmentCode = "0302",
                DoctorSex = "1",
                DoctorType = "2",
                DoctorCode = "JS0001",
                DoctorIdCardNo = "11010519491231002X",
            });

            Thread[] threads = new Thread[Threads];
            for (int t = 0; t < Threads; t++)
            {
                int id = t;
                threads[t] = new Thread(() =>
                {
                    try
                    {
                        for (int i = 0; i < CallsPerThread; i++)
                        {
                            string url = client.QrUrl(new Exam { AccessNumber = "T" + id + "-" + i, Modality = "MR" });
                            if (!url.StartsWith("http"))
                                throw new Exception("bad url " + url);
                            // Each thread's error is its own: the message names this thread's missing field.
                            string field = (id % 2 == 0) ? "modality" : "accessNumber";
                            Exam bad = new Exam { AccessNumber = "X", Modality = "CT" };
                            bad.Set(field, null);
                            try
                            {
                                client.QrUrl(bad);
                                throw new Exception("missing " + field + " was accepted");
                            }
                            catch (MiicException e)
                            {
                                if (e.Status != MiicStatus.Argument || !e.Message.Contains(field))
                                    throw new Exception("thread " + id + " got " + e);
                            }
                        }
                    }
                    catch (Exception e)
                    {
                        lock (failures)
                            failures.Add(e.Message);
                    }
                });
                threads[t].Start();
            }
            foreach (Thread th in threads)
                th.Join();

            // Deterministic: thread 0 fails (no modality), then thread 1 fails differently (no
            // accessNumber) while 0 waits; only then does each read miic_last_error itself.
            string[] fields = { "modality", "accessNumber" };
            string[] seen = new string[2];
            using (Barrier step = new Barrier(2))
            {
                Thread[] pair = new Thread[2];
                for (int t = 0; t < 2; t++)
                {
                    int id = t;
                    pair[t] = new Thread(() =>
                    {
                        try
                        {
                            if (id == 1)
                                step.SignalAndWait(); // until thread 0 has failed
                            Exam bad = new Exam { AccessNumber = "X", Modality = "CT" };
                            bad.Set(fields[id], null);
                            try
                            {
                                client.QrUrl(bad);
                                throw new Exception("missing " + fields[id] + " was accepted");
                            }
                            catch (MiicException e)
                            {
                                if (e.Status != MiicStatus.Argument)
                                    throw new Exception("thread " + id + " got " + e);
                            }
                            if (id == 0)
                                step.SignalAndWait(); // let thread 1 fail
                            step.SignalAndWait(); // both have failed
                            seen[id] = Native.FromUtf8(Native.miic_last_error());
                        }
                        catch (Exception e)
                        {
                            lock (failures)
                                failures.Add(e.Message);
                        }
                    });
                    pair[t].Start();
                }
                foreach (Thread th in pair)
                    th.Join();
            }
            for (int t = 0; t < 2; t++)
                if (seen[t] == null || !seen[t].Contains(fields[t]) || seen[t].Contains(fields[1 - t]))
                    failures.Add("thread " + t + " read '" + seen[t] + "' as its last error, not its own (" + fields[t] + ")");

            client.PatientReminderAsync(new Patient
            {
                IdCardNo = "440301199001011234",
                PatientName = "钱七",
                MobilePhone = "13900000000",
                PatientType = "4",
                AccessNumber = "ASYNC-1",
            });
            for (int i = 0; i < 100; i++)
            {
                lock (gate)
                    if (workerLine != null)
                        break;
                Thread.Sleep(50);
            }
            lock (gate)
            {
                if (workerLine == null)
                    failures.Add("no 'reminder sent' log line from a worker thread within 5 s");
                else if (!workerLine.Contains("钱"))
                    failures.Add("worker log line lost the masked name: " + workerLine);
            }
            client.Logout();
        }
        MiicLibrary.SetLogCallback(null);

        foreach (string f in failures)
            Console.WriteLine("FAIL " + f);
        if (failures.Count > 0)
            return 1;
        Console.WriteLine("threads ok");
        return 0;
    }
}
