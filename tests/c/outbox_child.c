/* A PACS host process for the outbox tests (tests/outbox.rs), using only the C ABI.
 * Config in MIIC_TEST_CONFIG. Every line it prints is flushed at once, so a parent that kills it
 * with SIGKILL knows exactly which calls had returned.
 *
 *   outbox_child enqueue PREFIX N PER_ACC [FLUSH_MS]
 *       N delete notifications: accessionNo PREFIX-(i/PER_ACC), operateDateTime 2023-05-08 plus
 *       i seconds (so each one is identifiable); prints "R <accession> <datetime> <rc>" per call;
 *       then, if FLUSH_MS is given, miic_outbox_flush and "F <rc> <pending> <ms>".
 *   outbox_child drain FLUSH_MS
 *       open (which resumes the outbox), flush; prints "F <rc> <pending> <ms>" and "D <dead>".
 *   outbox_child fsize BYTES N          (not on Windows)
 *       open, then limit the size of any file this process writes to BYTES (as a full disk
 *       would) and enqueue until a call fails; prints "R ..." lines and "E <rc> <last error>".
 *   outbox_child race N                 (not on Windows)
 *       N times: open, one thread sends a notification while the main thread closes the client;
 *       then prints "T <threads named miic-outbox still in the process>". */
#define _GNU_SOURCE
#include "miic.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifndef _WIN32 /* fsize mode: Unix file-size limits; race mode: POSIX threads, /proc */
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#endif

static const char *env(const char *name) {
    const char *v = getenv(name);
    if (!v) { fprintf(stderr, "missing %s\n", name); exit(2); }
    return v;
}

static long now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000L + t.tv_nsec / 1000000L;
}

static miic_client *open_client(void) {
    miic_client *c = miic_open(env("MIIC_TEST_CONFIG"));
    if (!c) {
        printf("O %s\n", miic_last_error());
        fflush(stdout);
        exit(3);
    }
    return c;
}

/* Notification i of PREFIX; returns the call's status. */
static int notify(miic_client *c, const char *prefix, int i, int per_acc) {
    char accession[64], datetime[32], json[512];
    snprintf(accession, sizeof accession, "%s-%d", prefix, i / per_acc);
    snprintf(datetime, sizeof datetime, "2023-05-08 %02d:%02d:%02d", (i / 3600) % 24, (i / 60) % 60, i % 60);
    snprintf(json, sizeof json,
             "{\"patientName\":\"王五\",\"accessionNo\":\"%s\",\"operateDoctorName\":\"张医生\","
             "\"operateDateTime\":\"%s\"}",
             accession, datetime);
    miic_params *p = NULL;
    if (miic_params_from_json(json, &p) != MIIC_OK) { fprintf(stderr, "%s\n", miic_last_error()); exit(2); }
    int rc = miic_delete_notify(c, p);
    miic_params_free(p);
    printf("R %s %s %d\n", accession, datetime, rc);
    fflush(stdout);
    return rc;
}

static void flush_and_report(miic_client *c, unsigned flush_ms) {
    long t0 = now_ms();
    int rc = miic_outbox_flush(c, flush_ms);
    long elapsed = now_ms() - t0;
    if (rc != MIIC_OK) fprintf(stderr, "flush: %s\n", miic_last_error());
    uint32_t pending = 0, dead = 0;
    if (miic_outbox_pending(c, &pending) != MIIC_OK) fprintf(stderr, "pending: %s\n", miic_last_error());
    if (miic_outbox_dead_count(c, &dead) != MIIC_OK) fprintf(stderr, "dead: %s\n", miic_last_error());
    printf("F %d %u %ld\nD %u\n", rc, pending, elapsed, dead);
    fflush(stdout);
}

#ifndef _WIN32
static void *notify_thread(void *c) {
    notify((miic_client *)c, "RACE", 0, 1);
    return NULL;
}

/* Threads of this process whose name starts with `prefix` (Linux: /proc/self/task/<tid>/comm). */
static int threads_named(const char *prefix) {
    int n = 0;
    DIR *tasks = opendir("/proc/self/task");
    struct dirent *e;
    while (tasks && (e = readdir(tasks)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char path[300], name[64] = "";
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (f && fgets(name, sizeof name, f) && strncmp(name, prefix, strlen(prefix)) == 0) n++;
        if (f) fclose(f);
    }
    if (tasks) closedir(tasks);
    return n;
}
#endif

int main(int argc, char **argv) {
#ifndef _WIN32
    if (argc == 3 && strcmp(argv[1], "race") == 0) {
        int left = 0;
        for (int i = 0; i < atoi(argv[2]); i++) {
            miic_client *c = open_client();
            pthread_t t;
            pthread_create(&t, NULL, notify_thread, c);
            /* Close at some point of the notification's way: validation, storing, sending. */
            struct timespec pause = {0, (i % 8) * 250000L};
            nanosleep(&pause, NULL);
            miic_close(c);
            pthread_join(t, NULL);
            left += threads_named("miic-outbox");
        }
        printf("T %d\n", left);
        return 0;
    }
#endif
    if (argc >= 5 && strcmp(argv[1], "enqueue") == 0) {
        miic_client *c = open_client();
        int n = atoi(argv[3]), per_acc = atoi(argv[4]);
        for (int i = 0; i < n; i++) notify(c, argv[2], i, per_acc);
        if (argc >= 6) flush_and_report(c, (unsigned)atoi(argv[5]));
        miic_close(c);
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "drain") == 0) {
        miic_client *c = open_client();
        flush_and_report(c, (unsigned)atoi(argv[2]));
        miic_close(c);
        return 0;
    }
#ifndef _WIN32
    if (argc == 4 && strcmp(argv[1], "fsize") == 0) {
        miic_client *c = open_client();
        struct rlimit limit = {(rlim_t)atol(argv[2]), (rlim_t)atol(argv[2])};
        signal(SIGXFSZ, SIG_IGN); /* a write past the limit then fails with EFBIG, like ENOSPC */
        if (setrlimit(RLIMIT_FSIZE, &limit) != 0) { perror("setrlimit"); return 2; }
        int n = atoi(argv[3]);
        for (int i = 0; i < n; i++) {
            int rc = notify(c, "FULL", i, 1);
            if (rc < 0) {
                printf("E %d %s\n", rc, miic_last_error());
                fflush(stdout);
                break;
            }
        }
        miic_close(c);
        return 0;
    }
#endif
    fprintf(stderr, "usage: outbox_child enqueue PREFIX N PER_ACC [FLUSH_MS] | drain FLUSH_MS | fsize BYTES N | race N\n");
    return 2;
}
