/* A host's threads around one client, as a PACS workstation runs them (run by tests/dicom_hostile.rs
 * and tests/c_abi.rs). The client comes from $MIIC_TEST_CONFIG.
 *
 *   host_test fetch DCM_PATH DEST      miic_dicom_fetch_http, prints status and manifest
 *   host_test callbacks STUDY DEST     a retrieve, a C-ECHO loop and the outbox worker run while
 *                                      the progress and log callbacks are removed (and, in a
 *                                      second round, the client closed) mid-call; counts every
 *                                      callback call that starts or is still running after the
 *                                      removal returned
 *
 * Prints "key=value" lines; exits 0 when every call could be made, whatever their status.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "miic.h"

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

/* One callback registration: how often it ran, how many calls are inside it now, and how many
 * ran (started, or were still inside) after the call that removed it had returned. */
struct tally {
    atomic_int calls;
    atomic_int inside;
    atomic_int removed;
    atomic_int late;
};

static void enter(struct tally *t) {
    atomic_fetch_add(&t->calls, 1);
    atomic_fetch_add(&t->inside, 1);
    if (atomic_load(&t->removed)) atomic_fetch_add(&t->late, 1);
    /* A host's callback takes a while (it updates a UI, writes a file). */
    sleep_ms(20);
    if (atomic_load(&t->removed)) atomic_fetch_add(&t->late, 1);
    atomic_fetch_sub(&t->inside, 1);
}

static void on_progress(void *user, uint32_t done, uint32_t total, int64_t bytes) {
    (void)done;
    (void)total;
    (void)bytes;
    enter((struct tally *)user);
}

static void on_log(void *user, int32_t level, const char *message) {
    (void)level;
    (void)message;
    enter((struct tally *)user);
}

/* Wait until a call is inside the callback (so the removal races a running call). */
static int wait_inside(struct tally *t, const char *what) {
    double until = now_ms() + 30000;
    while (atomic_load(&t->inside) == 0) {
        if (now_ms() > until) {
            printf("error=no %s callback call within 30 s (calls=%d)\n", what, atomic_load(&t->calls));
            return 0;
        }
        sleep_ms(1);
    }
    return 1;
}

struct job {
    miic_client *c;
    const char *study;
    const char *dest;
    int32_t status;
    atomic_int stop;
};

static void *retrieve_thread(void *arg) {
    struct job *job = arg;
    char *manifest = NULL;
    job->status = miic_dicom_retrieve(job->c, job->study, job->dest, &manifest);
    miic_string_free(manifest);
    return NULL;
}

static void *echo_thread(void *arg) {
    struct job *job = arg;
    while (!atomic_load(&job->stop)) miic_dicom_echo(job->c);
    return NULL;
}

static int callbacks(const char *study, const char *dest) {
    static struct tally progress, log, closed;
    miic_client *c = miic_open(getenv("MIIC_TEST_CONFIG"));
    if (c == NULL) {
        printf("error=miic_open: %s\n", miic_last_error());
        return 1;
    }
    miic_set_log_callback(on_log, &log);
    miic_set_progress_callback(c, on_progress, &progress);
    /* The cloud is unreachable: the notification is queued and the outbox worker retries it. */
    miic_params *deletion = NULL;
    miic_params_from_json("{\"patientName\":\"张三\",\"accessionNo\":\"ACC1\","
                          "\"operateDoctorName\":\"李医生\"}",
                          &deletion);
    printf("delete=%s\n", miic_status_name(miic_delete_notify(c, deletion)));
    miic_params_free(deletion);

    struct job job = {c, study, dest, 0, 0};
    pthread_t retrieve, echo;
    pthread_create(&retrieve, NULL, retrieve_thread, &job);
    pthread_create(&echo, NULL, echo_thread, &job);
    int ok = wait_inside(&progress, "progress");
    miic_set_progress_callback(c, NULL, NULL);
    atomic_store(&progress.removed, 1);
    ok = ok && wait_inside(&log, "log");
    miic_set_log_callback(NULL, NULL);
    atomic_store(&log.removed, 1);
    pthread_join(retrieve, NULL);
    atomic_store(&job.stop, 1);
    pthread_join(echo, NULL);
    printf("retrieve=%s\n", miic_status_name(job.status));
    printf("progress_calls=%d progress_late=%d\n", atomic_load(&progress.calls),
           atomic_load(&progress.late));
    printf("log_calls=%d log_late=%d\n", atomic_load(&log.calls), atomic_load(&log.late));

    /* Round two: the client is closed while its retrieve reports progress. */
    miic_set_progress_callback(c, on_progress, &closed);
    char second_dest[4096];
    snprintf(second_dest, sizeof second_dest, "%s/second", dest);
    struct job second = {c, study, second_dest, 0, 0};
    pthread_create(&retrieve, NULL, retrieve_thread, &second);
    ok = ok && wait_inside(&closed, "progress (close)");
    miic_close(c);
    atomic_store(&closed.removed, 1);
    pthread_join(retrieve, NULL);
    printf("close_calls=%d close_late=%d\n", atomic_load(&closed.calls), atomic_load(&closed.late));
    return ok ? 0 : 1;
}

static int fetch(const char *dcm_path, const char *dest) {
    miic_client *c = miic_open(getenv("MIIC_TEST_CONFIG"));
    if (c == NULL) {
        printf("error=miic_open: %s\n", miic_last_error());
        return 1;
    }
    char *manifest = NULL;
    int32_t status = miic_dicom_fetch_http(c, dcm_path, dest, &manifest);
    printf("status=%s error=%s\n", miic_status_name(status), miic_last_error());
    printf("manifest=%s\n", manifest ? manifest : "");
    miic_string_free(manifest);
    miic_close(c);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 4 && strcmp(argv[1], "callbacks") == 0) return callbacks(argv[2], argv[3]);
    if (argc == 4 && strcmp(argv[1], "fetch") == 0) return fetch(argv[2], argv[3]);
    fprintf(stderr, "usage: %s callbacks STUDY DEST | fetch DCM_PATH DEST\n", argv[0]);
    return 2;
}
