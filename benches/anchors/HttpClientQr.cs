// Anchor for miic_qr_url latency: .NET HttpClient (one instance, keep-alive) on mono, the same GET.
// usage: mono HttpClientQr.exe URL CALLS   prints "p50_ms p99_ms mean_ms"
using System;
using System.Diagnostics;
using System.Net.Http;

static class HttpClientQr
{
    static int Main(string[] args)
    {
        string url = args[0];
        int calls = int.Parse(args[1]);
        var client = new HttpClient();
        var ms = new double[calls];
        for (int i = -100; i < calls; i++)
        {
            var sw = Stopwatch.StartNew();
            string body = client.GetStringAsync(url).Result;
            sw.Stop();
            if (body.Length == 0) return 1;
            if (i >= 0) ms[i] = sw.Elapsed.TotalMilliseconds;
        }
        double sum = 0;
        foreach (var m in ms) sum += m;
        Array.Sort(ms);
        Console.WriteLine(string.Format(System.Globalization.CultureInfo.InvariantCulture,
            "{0:F3} {1:F3} {2:F3}", ms[calls / 2], ms[(int)((calls - 1) * 0.99)], sum / calls));
        return 0;
    }
}
