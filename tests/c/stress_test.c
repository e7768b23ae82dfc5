/* Long-running-host checks through the C ABI: a thread storm on one client, miic_close racing
 * other threads, and open/close cycles with no thread or memory left behind (dlopen cycles are in
 * dlopen_test.c, which must not link libmiic). Usage: stress_test CASE (config in MIIC_TEST_CONFIG). */
#define _GNU_SOURCE
#include "miic.h"
#include "proc_check.h"

#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A deadlock must fail the case, not hang CI: a watchdog ends the process with a message when
 * the step it guards has not finished within its bound. */
static char watchdog_what[128] = "?";

static void watchdog_fired(int sig) {
    (void)sig;
    static const char head[] = "FAIL watchdog: no progress within the bound (deadlock?) in ";
    if (write(1, head, sizeof head - 1) < 0 || write(1, watchdog_what, strlen(watchdog_what)) < 0 ||
        write(1, "\n", 1) < 0) _exit(3);
    _exit(3);
}

static void watchdog(unsigned seconds, const char *what) {
    alarm(0);
    snprintf(watchdog_what, sizeof watchdog_what, "%s", what);
    signal(SIGALRM, watchdog_fired);
    alarm(seconds);
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static miic_params *json_params(const char *json) {
    miic_params *p = NULL;
    if (miic_params_from_json(json, &p) != MIIC_OK) { fprintf(stderr, "%s\n", miic_last_error()); exit(2); }
    return p;
}

#define DOCTOR "{\"hisUserId\":\"1001\",\"doctorName\":\"张医生\",\"department\":\"放射科\",\"departmentCode\":\"F1\"," \
               "\"doctorSex\":\"1\",\"doctorType\":\"1\",\"doctorCode\":\"D1\",\"doctorIdCardNo\":\"11010119800101123X\"}"
#define PATIENT "{\"idCardNo\":\"440101199001011234\",\"patientName\":\"李小明\",\"mobilePhone\":\"15395092817\"," \
                "\"patientType\":\"2\",\"accessNumber\":\"A%d\"}"

struct storm { miic_client *c; int id; int calls; int errors; int wrong; int tolerate_closed; atomic_int *done; };

/* One of each kind of call, chosen by i; returns 0 when the answer is right. */
static int mixed_call(miic_client *c, int id, int i, int tolerate_closed) {
    char json[512];
    int32_t rc = MIIC_OK;
    char *out = NULL;
    switch (i % 6) {
    case 0: {
        snprintf(json, sizeof json, "{\"accessNumber\":\"T%d-%d\",\"modality\":\"CT\"}", id, i);
        miic_params *e = json_params(json);
        rc = miic_qr_url(c, e, &out);
        if (rc == MIIC_OK && (!out || strncmp(out, "http", 4) != 0)) rc = -1000;
        miic_params_free(e);
        break;
    }
    case 1: {
        miic_params *d = json_params(DOCTOR);
        rc = miic_plugin_url(c, d, &out);
        if (rc == MIIC_OK && (!out || strncmp(out, "WYHT://hisUserId=1001&type=1&", 29) != 0)) rc = -1000;
        miic_params_free(d);
        break;
    }
    case 2:
        rc = miic_sm2_encrypt(c, "11010119800101123X", &out);
        if (rc == MIIC_OK && (!out || strlen(out) != 2 * (65 + 32 + 18))) rc = -1000;
        break;
    case 3: {
        snprintf(json, sizeof json, PATIENT, i);
        miic_params *p = json_params(json);
        rc = miic_patient_reminder_async(c, p);
        miic_params_free(p);
        break;
    }
    case 4: {
        snprintf(json, sizeof json, "{\"patientName\":\"王五\",\"accessionNo\":\"D%d-%d\",\"operateDoctorName\":\"张医生\"}", id, i);
        miic_params *p = json_params(json);
        rc = miic_delete_notify(c, p);
        if (rc == MIIC_QUEUED) rc = MIIC_OK;
        miic_params_free(p);
        break;
    }
    case 5: {
        miic_params *p = miic_params_new();
        miic_params_set(p, "accessNumber", "X");
        rc = miic_qr_url(c, p, &out); /* modality missing: a local error, every time */
        if (rc == MIIC_E_ARGUMENT && strstr(miic_last_error(), "modality")) rc = MIIC_OK;
        else if (!(rc == MIIC_E_ARGUMENT && strstr(miic_last_error(), "client"))) rc = -1000;
        miic_params_free(p);
        break;
    }
    }
    miic_string_free(out);
    if (rc == MIIC_OK) return 0;
    /* Racing miic_close, a call may also learn that its client is gone: a stale handle
     * ("not a live miic_client handle (closed, …)") or a call cut short ("closing", "closed during
     * the call"). Any other error is a wrong answer. */
    if (tolerate_closed && ((rc == MIIC_E_ARGUMENT && strstr(miic_last_error(), "not a live miic_client handle")) ||
                            (rc == MIIC_E_STATE && strstr(miic_last_error(), "clos"))))
        return 0;
    fprintf(stderr, "thread %d call %d: %d %s\n", id, i, rc, miic_last_error());
    return 1;
}

static void *storm_thread(void *arg) {
    struct storm *s = arg;
    for (int i = 0; i < s->calls; i++) {
        s->wrong += mixed_call(s->c, s->id, i, s->tolerate_closed);
        if (s->done) atomic_fetch_add(s->done, 1);
    }
    return NULL;
}

static void storm(void) {
    watchdog(600, "storm");
    int threads = atoi(env("MIIC_TEST_THREADS")), calls = atoi(env("MIIC_TEST_CALLS"));
    miic_client *c = miic_open(env("MIIC_TEST_CONFIG"));
    miic_params *d = json_params(DOCTOR);
    CHECK(miic_login(c, d) == MIIC_OK, "login");
    miic_params_free(d);
    pthread_t t[64];
    struct storm s[64];
    for (int i = 0; i < threads; i++) {
        s[i] = (struct storm){c, i, calls, 0, 0, 0, NULL};
        pthread_create(&t[i], NULL, storm_thread, &s[i]);
    }
    int wrong = 0;
    for (int i = 0; i < threads; i++) { pthread_join(t[i], NULL); wrong += s[i].wrong; }
    CHECK(wrong == 0, "%d threads x %d mixed calls: %d wrong answers", threads, calls, wrong);
    miic_close(c);
    printf("THREADS_AFTER_CLOSE=%d\n", thread_count());
    CHECK(thread_count() == 1, "no miic thread left after close (%d)", thread_count());
}

static void close_race(void) {
    for (int round = 0; round < 20; round++) {
        char what[64];
        snprintf(what, sizeof what, "close_race round %d", round);
        /* A round takes well under a second; a minute without it ending is a deadlock. */
        watchdog(60, what);
        miic_client *c = miic_open(env("MIIC_TEST_CONFIG"));
        if (!c) { CHECK(0, "round %d: miic_open: %s", round, miic_last_error()); return; }
        miic_params *d = json_params(DOCTOR);
        int32_t login = miic_login(c, d);
        miic_params_free(d);
        if (login != MIIC_OK) {
            CHECK(0, "round %d: login -> %d %s", round, login, miic_last_error());
            miic_close(c);
            return;
        }
        pthread_t t[8];
        struct storm s[8];
        atomic_int done;
        atomic_init(&done, 0);
        for (int i = 0; i < 8; i++) {
            s[i] = (struct storm){c, i, 50, 0, 0, 1, &done};
            pthread_create(&t[i], NULL, storm_thread, &s[i]);
        }
        /* Close once the threads are busy: after 8 to 40 answers of their 400 calls. */
        while (atomic_load(&done) < 8 * (1 + round % 5)) usleep(100);
        double t0 = now_ms();
        miic_close(c); /* while 8 threads are mid-call */
        double close_ms = now_ms() - t0;
        int wrong = 0;
        for (int i = 0; i < 8; i++) { pthread_join(t[i], NULL); wrong += s[i].wrong; }
        printf("round %d: close took %.1f ms\n", round, close_ms);
        if (wrong) CHECK(0, "round %d: %d answers neither right nor 'closed'", round, wrong);
    }
    alarm(0);
    CHECK(failures == 0, "20 rounds of miic_close racing 8 busy threads: no crash, no deadlock");
    CHECK(thread_count() == 1, "no thread left (%d)", thread_count());
}

/* One open / login / async reminder / close cycle; 0 when every call succeeded. */
static int lifecycle_cycle(int i) {
    miic_client *c = miic_open(env("MIIC_TEST_CONFIG"));
    if (!c) { CHECK(0, "cycle %d: miic_open: %s", i, miic_last_error()); return 1; }
    int bad = 0;
    miic_params *d = json_params(DOCTOR);
    int32_t rc = miic_login(c, d);
    if (rc != MIIC_OK) { CHECK(0, "cycle %d: login -> %d %s", i, rc, miic_last_error()); bad = 1; }
    char json[256];
    snprintf(json, sizeof json, PATIENT, i);
    miic_params *p = json_params(json);
    rc = miic_patient_reminder_async(c, p); /* starts the worker */
    if (rc != MIIC_OK) { CHECK(0, "cycle %d: async reminder -> %d %s", i, rc, miic_last_error()); bad = 1; }
    miic_params_free(p);
    miic_params_free(d);
    miic_close(c);
    return bad;
}

/* Open/use/close cycles: no thread left and no memory growing with the cycles. The first
 * WARMUP cycles fill the allocator's arenas and caches; a leak shows as RSS growing over the
 * MEASURED cycles after them. A 40 KiB-per-cycle leak grows it by ~4 MiB, far above the bound;
 * without a leak it stays within allocator noise. */
static void lifecycle_open_close(void) {
    enum { WARMUP = 50, MEASURED = 100 };
    int bad = 0;
    long rss_warm = 0;
    for (int i = 0; i < WARMUP + MEASURED; i++) {
        char what[64];
        snprintf(what, sizeof what, "open/use/close cycle %d", i);
        watchdog(60, what);
        if (i == WARMUP) rss_warm = rss_kib();
        bad += lifecycle_cycle(i);
        if (i % 25 == 24) printf("cycle %d: RSS %ld KiB, %d threads\n", i + 1, rss_kib(), thread_count());
    }
    alarm(0);
    long growth = rss_kib() - rss_warm;
    printf("RSS_GROWTH_KIB=%ld THREADS=%d\n", growth, thread_count());
    CHECK(bad == 0, "%d cycles: open, login and async reminder succeeded every time (%d failed)",
          WARMUP + MEASURED, bad);
    CHECK(thread_count() == 1, "%d open/use/close cycles leave no thread (%d)", WARMUP + MEASURED, thread_count());
    CHECK(growth < 1536, "RSS grew %ld KiB over the %d cycles after the warm-up (bound 1536 KiB, ~15 KiB a cycle)",
          growth, MEASURED);
}

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    if (!strcmp(argv[1], "storm")) storm();
    else if (!strcmp(argv[1], "close_race")) close_race();
    else if (!strcmp(argv[1], "lifecycle_open_close")) lifecycle_open_close();
    else return 2;
    printf("%s: %d failed\n", argv[1], failures);
    return failures ? 1 : 0;
}
