/* Anchor for miic_qr_url latency: libcurl with one reused easy handle (keep-alive), the same GET.
 * usage: curl_qr URL CALLS   prints "p50_ms p99_ms mean_ms" */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static size_t sink(char *p, size_t s, size_t n, void *u) { (void)p; (void)u; return s * n; }
static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }

int main(int argc, char **argv) {
    if (argc != 3) return 2;
    int calls = atoi(argv[2]);
    double *ms = malloc(sizeof(double) * calls);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURL *h = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_URL, argv[1]);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 3000L);
    for (int i = -100; i < calls; i++) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        if (curl_easy_perform(h) != CURLE_OK) { fprintf(stderr, "curl failed\n"); return 1; }
        clock_gettime(CLOCK_MONOTONIC, &b);
        if (i >= 0) ms[i] = (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6;
    }
    double sum = 0;
    for (int i = 0; i < calls; i++) sum += ms[i];
    qsort(ms, calls, sizeof(double), cmp);
    printf("%.3f %.3f %.3f\n", ms[calls / 2], ms[(int)((calls - 1) * 0.99)], sum / calls);
    curl_easy_cleanup(h);
    return 0;
}
