/* Helpers shared by the C stress programs: a CHECK that counts failures, required environment
 * variables, and this process's thread count and resident memory (Linux /proc). */
#ifndef MIIC_TEST_PROC_CHECK_H
#define MIIC_TEST_PROC_CHECK_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>

static int failures = 0;
#define CHECK(cond, ...)                                              \
    do {                                                              \
        printf((cond) ? "ok   " : "FAIL ");                           \
        if (!(cond)) failures++;                                      \
        printf(__VA_ARGS__);                                          \
        printf("\n");                                                 \
    } while (0)

static const char *env(const char *name) {
    const char *v = getenv(name);
    if (!v) { fprintf(stderr, "missing %s\n", name); exit(2); }
    return v;
}

static int thread_count(void) {
    int n = 0;
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    while (d && (e = readdir(d))) if (e->d_name[0] != '.') n++;
    if (d) closedir(d);
    return n;
}

static long rss_kib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (f && fgets(line, sizeof line, f)) if (sscanf(line, "VmRSS: %ld", &kib) == 1) break;
    if (f) fclose(f);
    return kib;
}

#endif
