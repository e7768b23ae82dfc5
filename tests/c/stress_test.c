/* Long-running-host checks through the C ABI: a thread storm on one client, miic_close racing
 * other threads, and open/close cycles with no thread or memory left behind (dlopen cycles are in
 * dlopen_test.c, which must not link libmiic). Usage: stress_test CASE (config in MIIC_TEST_CONFIG). */
#define _GNU_SOURCE
#include "miic.h"
#include "proc_check.h"

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static miic_params *json_params(const char *json) {
    miic_params *p = NULL;
    if (miic_params_from_json(json, &p) != MIIC_OK) { fprintf(stderr, "%s\n", miic_last_error()); exit(2); }
    return p;
}

#define DOCTOR "{\"hisUserId\":\"1001\",\"doctorName\":\"张医生\",\"department\":\"放射科\",\"departmentCode\":\"F1\"," \
               "\"doctorSex\":\"1\",\"doctorType\":\"1\",\"doctorCode\":\"D1\",\"doctorIdCardNo\":\"11010119800101123X\"}"
#define PATIENT "{\"idCardNo\":\"440101199001011234\",\"patientName\":\"李小明\",\"mobilePhone\":\"15395092817\"," \
                "\"patientType\":\"2\",\"accessNumber\":\"A%d\"}"

struct storm { miic_client *c; int id; int calls; int errors; int wrong; int tolerate_closed; };

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
    if (tolerate_closed && (rc == MIIC_E_ARGUMENT || rc == MIIC_E_STATE)) return 0;
    if (!tolerate_closed) fprintf(stderr, "thread %d call %d: %d %s\n", id, i, rc, miic_last_error());
    return 1;
}

static void *storm_thread(void *arg) {
    struct storm *s = arg;
    for (int i = 0; i < s->calls; i++) s->wrong += mixed_call(s->c, s->id, i, s->tolerate_closed);
    return NULL;
}

static void storm(void) {
    int threads = atoi(env("MIIC_TEST_THREADS")), calls = atoi(env("MIIC_TEST_CALLS"));
    miic_client *c = miic_open(env("MIIC_TEST_CONFIG"));
    miic_params *d = json_params(DOCTOR);
    CHECK(miic_login(c, d) == MIIC_OK, "login");
    miic_params_free(d);
    pthread_t t[64];
    struct storm s[64];
    for (int i = 0; i < threads; i++) {
        s[i] = (struct storm){c, i, calls, 0, 0, 0};
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
        miic_client *c = miic_open(env("MIIC_TEST_CONFIG"));
        miic_params *d = json_params(DOCTOR);
        miic_login(c, d);
        miic_params_free(d);
        pthread_t t[8];
        struct storm s[8];
        for (int i = 0; i < 8; i++) {
            s[i] = (struct storm){c, i, 50, 0, 0, 1};
            pthread_create(&t[i], NULL, storm_thread, &s[i]);
        }
        usleep(1000 * (round % 5));
        miic_close(c); /* while 8 threads are mid-call */
        int wrong = 0;
        for (int i = 0; i < 8; i++) { pthread_join(t[i], NULL); wrong += s[i].wrong; }
        if (wrong) CHECK(0, "round %d: %d answers neither right nor 'closed'", round, wrong);
    }
    CHECK(failures == 0, "20 rounds of miic_close racing 8 busy threads: no crash, no deadlock");
    CHECK(thread_count() == 1, "no thread left (%d)", thread_count());
}

static void lifecycle_open_close(void) {
    long rss_start = 0;
    for (int i = 0; i < 100; i++) {
        if (i == 10) rss_start = rss_kib();
        miic_client *c = miic_open(env("MIIC_TEST_CONFIG"));
        miic_params *d = json_params(DOCTOR);
        miic_login(c, d);
        char json[256];
        snprintf(json, sizeof json, PATIENT, i);
        miic_params *p = json_params(json);
        miic_patient_reminder_async(c, p); /* starts the worker */
        miic_params_free(p);
        miic_params_free(d);
        miic_close(c);
    }
    long growth = rss_kib() - rss_start;
    printf("RSS_GROWTH_KIB=%ld THREADS=%d\n", growth, thread_count());
    CHECK(thread_count() == 1, "100 open/use/close cycles leave no thread (%d)", thread_count());
    CHECK(growth < 4096, "RSS grew %ld KiB over 90 cycles", growth);
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
