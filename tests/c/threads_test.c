/* No thread per call: pthread_create and getaddrinfo are interposed (interpose.h) and counted
 * while one client makes every cloud call many times.
 * Usage: threads_test CASE (config in MIIC_TEST_CONFIG; MIIC_TEST_SIM_PORT for `steady`)
 *   steady     warm-up, then 1,000 miic_qr_url and 100 of each other cloud call, half the
 *              deletions refused by the cloud and then sent by miic_outbox_flush: 0 threads
 *   names      base_url names a host: 252 calls, one lookup on one thread
 *   hung_dns   base_url's name hangs: each call times out in bound, one lookup thread for all,
 *              miic_close stays prompt */
#define _GNU_SOURCE
#include "interpose.h"
#include "miic.h"
#include "proc_check.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define DELETE_PATH "/standardInterface/standardHttp/deleteDicom"

static miic_client *open_client(void) {
    miic_client *c = miic_open(env("MIIC_TEST_CONFIG"));
    if (!c) {
        fprintf(stderr, "miic_open failed: %s\n", miic_last_error());
        exit(2);
    }
    return c;
}

static miic_params *from_json(const char *json) {
    miic_params *p = NULL;
    if (miic_params_from_json(json, &p) != MIIC_OK) {
        fprintf(stderr, "params: %s\n", miic_last_error());
        exit(2);
    }
    return p;
}

static miic_params *doctor(void) {
    return from_json("{\"hisUserId\":\"1001\",\"doctorName\":\"张医生\",\"department\":\"放射科\","
                     "\"departmentCode\":\"FSK01\",\"doctorSex\":\"1\",\"doctorType\":\"1\","
                     "\"doctorCode\":\"D440100001\",\"doctorIdCardNo\":\"11010119800101123X\"}");
}

/* Two SM2 fields (idCardNo, mobilePhone); the workstation's address given, as hosts do. */
static miic_params *patient(void) {
    return from_json("{\"idCardNo\":\"440101199001011234\",\"patientName\":\"李小明\","
                     "\"mobilePhone\":\"15395092817\",\"patientType\":\"1\","
                     "\"accessNumber\":\"202305010001\",\"clientIp\":\"127.0.0.1\","
                     "\"mac\":\"F4:EE:08:0B:9A:54\"}");
}

static miic_params *exam(void) {
    return from_json("{\"accessNumber\":\"202305010001\",\"modality\":\"CT\"}");
}

static int32_t delete_notify(miic_client *c, int n) {
    char accession[32];
    snprintf(accession, sizeof accession, "DEL%06d", n);
    miic_params *p = from_json("{\"patientName\":\"李小明\",\"operateDoctorName\":\"张医生\","
                               "\"operateDateTime\":\"2023-05-08 15:00:01\"}");
    miic_params_set(p, "accessionNo", accession);
    int32_t rc = miic_delete_notify(c, p);
    miic_params_free(p);
    return rc;
}

static int32_t qr_url(miic_client *c, const miic_params *e) {
    char *url = NULL;
    int32_t rc = miic_qr_url(c, e, &url);
    miic_string_free(url);
    return rc;
}

/* POST a fault to the simulator with a bare socket (no thread, nothing of miic's). */
static void sim_fault(const char *json) {
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)atoi(env("MIIC_TEST_SIM_PORT")));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof a) != 0) {
        fprintf(stderr, "cannot reach the simulator\n");
        exit(2);
    }
    char request[512];
    int n = snprintf(request, sizeof request,
                     "POST /__sim/fault HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                     strlen(json), json);
    if (write(s, request, (size_t)n) != n) exit(2);
    char reply[512];
    ssize_t got = read(s, reply, sizeof reply - 1);
    reply[got > 0 ? got : 0] = 0;
    close(s);
    if (!strstr(reply, " 200 ")) {
        fprintf(stderr, "simulator refused the fault: %s\n", reply);
        exit(2);
    }
}

static void count_calls(const char *what, int n, int32_t (*call)(miic_client *, int), miic_client *c,
                        int32_t want, int32_t also) {
    int before = atomic_load(&threads_created), wrong = 0, second = 0;
    int32_t last = 0;
    for (int i = 0; i < n; i++) {
        int32_t rc = call(c, i);
        if (rc != want && rc != also) wrong++, last = rc;
        if (rc == also && also != want) second++;
    }
    int created = atomic_load(&threads_created) - before;
    printf("THREADS %s x%d: %d", what, n, created);
    if (also != want) printf(" (%d answered %s)", second, miic_status_name(also));
    printf("\n");
    if (also != want) CHECK(second > 0, "some %s calls answered %s", what, miic_status_name(also));
    CHECK(wrong == 0, "%d %s calls answered as expected (%d did not, last %s: %s)", n, what, wrong,
          miic_status_name(last), wrong ? miic_last_error() : "");
    CHECK(created == 0, "%d %s calls created %d threads", n, what, created);
}

static miic_params *the_doctor, *the_patient, *the_exam;
static int32_t call_qr(miic_client *c, int i) { (void)i; return qr_url(c, the_exam); }
static int32_t call_login(miic_client *c, int i) { (void)i; return miic_login(c, the_doctor); }
static int32_t call_logout(miic_client *c, int i) {
    (void)i;
    int32_t rc = miic_logout(c);
    miic_login(c, the_doctor); /* the next logout needs a session */
    return rc;
}
static int32_t call_reminder(miic_client *c, int i) { (void)i; return miic_patient_reminder(c, the_patient); }
static int32_t call_reminder_async(miic_client *c, int i) {
    (void)i;
    return miic_patient_reminder_async(c, the_patient);
}
static int32_t call_delete(miic_client *c, int i) { return delete_notify(c, 1000 + i); }
static int32_t call_flush(miic_client *c, int i) { (void)i; return miic_outbox_flush(c, 5000); }

static void steady(void) {
    the_doctor = doctor(), the_patient = patient(), the_exam = exam();
    int at_start = atomic_load(&threads_created);
    miic_client *c = open_client();
    /* Warm-up: one of each call (a client's workers start with it or at their first task). */
    CHECK(miic_login(c, the_doctor) == MIIC_OK, "warm-up login");
    CHECK(miic_patient_reminder(c, the_patient) == MIIC_OK, "warm-up reminder");
    CHECK(miic_patient_reminder_async(c, the_patient) == MIIC_OK, "warm-up async reminder");
    CHECK(qr_url(c, the_exam) == MIIC_OK, "warm-up qr_url");
    CHECK(delete_notify(c, 0) == MIIC_OK, "warm-up delete");
    CHECK(miic_outbox_flush(c, 5000) == MIIC_OK, "warm-up flush");
    int warm = atomic_load(&threads_created) - at_start;
    printf("THREADS open + warm-up: %d\n", warm);
    int before = atomic_load(&threads_created);

    count_calls("miic_patient_reminder_async", 100, call_reminder_async, c, MIIC_OK, MIIC_OK);
    count_calls("miic_qr_url", 1000, call_qr, c, MIIC_OK, MIIC_OK);
    count_calls("miic_login", 100, call_login, c, MIIC_OK, MIIC_OK);
    count_calls("miic_logout", 100, call_logout, c, MIIC_OK, MIIC_OK);
    count_calls("miic_patient_reminder", 100, call_reminder, c, MIIC_OK, MIIC_OK);
    /* The cloud refuses the first 50 deletions (code 500): they are stored, then the retry
     * worker and miic_outbox_flush send them. */
    sim_fault("{\"mode\":\"code500\",\"count\":50,\"path\":\"" DELETE_PATH "\"}");
    count_calls("miic_delete_notify", 100, call_delete, c, MIIC_OK, MIIC_QUEUED);
    count_calls("miic_outbox_flush", 1, call_flush, c, MIIC_OK, MIIC_OK);
    uint32_t pending = 1;
    CHECK(miic_outbox_pending(c, &pending) == MIIC_OK && pending == 0,
          "every deletion was sent (%u pending)", pending);
    printf("ALIVE threads=%d rss=%ld KiB\n", thread_count(), rss_kib());
    miic_close(c);
    int total = atomic_load(&threads_created) - before;
    printf("THREADS steady state, all calls and close: %d\n", total);
    CHECK(total == 0, "no thread created after the warm-up (%d)", total);
    miic_params_free(the_doctor);
    miic_params_free(the_patient);
    miic_params_free(the_exam);
}

static void names(void) {
    miic_params *e = exam(), *p = patient(), *d = doctor();
    /* Without clientIp and mac the workstation's route to the name's address is looked up. */
    miic_params *bare = from_json("{\"idCardNo\":\"440101199001011234\",\"patientName\":\"李小明\","
                                  "\"mobilePhone\":\"15395092817\",\"patientType\":\"1\",\"accessNumber\":\"202305010001\"}");
    miic_client *c = open_client();
    int before = atomic_load(&threads_created), wrong = 0;
    if (miic_login(c, d) != MIIC_OK) wrong++;
    if (miic_patient_reminder(c, bare) != MIIC_OK) wrong++;
    for (int i = 0; i < 200; i++) {
        if (qr_url(c, e) != MIIC_OK) wrong++;
        if (i % 4 == 0 && miic_patient_reminder(c, p) != MIIC_OK) wrong++;
    }
    int created = atomic_load(&threads_created) - before;
    miic_close(c);
    printf("THREADS 252 calls by host name: %d, lookups %d\n", created,
           atomic_load(&lookups_front_end));
    CHECK(wrong == 0, "every call through the name answered (%d did not: %s)", wrong,
          miic_last_error());
    CHECK(atomic_load(&lookups_front_end) == 1, "the name was looked up once (%d)",
          atomic_load(&lookups_front_end));
    CHECK(created == 1, "one lookup thread for 252 calls (%d threads)", created);
    miic_params_free(e);
    miic_params_free(p);
    miic_params_free(d);
    miic_params_free(bare);
}

static void hung_dns(void) {
    double max_ms = atof(env("MIIC_TEST_MAX_MS"));
    miic_params *e = exam();
    miic_client *c = open_client();
    int before = atomic_load(&threads_created);
    for (int i = 0; i < 3; i++) {
        double t0 = now_ms();
        int32_t rc = qr_url(c, e);
        double took = now_ms() - t0;
        CHECK(rc == MIIC_E_TIMEOUT && took <= max_ms, "call %d with the DNS hung -> %s in %.1f ms",
              i, miic_status_name(rc), took);
        CHECK(strstr(miic_last_error(), "hung.test") != NULL, "the error names the host: %s",
              miic_last_error());
    }
    double t0 = now_ms();
    miic_close(c);
    double took = now_ms() - t0;
    int created = atomic_load(&threads_created) - before;
    printf("CLOSE_MS=%.1f THREADS=%d LOOKUPS=%d\n", took, created, atomic_load(&lookups_hung));
    CHECK(took < 500.0, "miic_close with a lookup hung returned in %.1f ms", took);
    CHECK(created == 1 && atomic_load(&lookups_hung) == 1,
          "three calls waited for one lookup on one thread (%d threads, %d lookups)", created,
          atomic_load(&lookups_hung));
    miic_params_free(e);
}

int main(int argc, char **argv) {
    static const struct { const char *name; void (*run)(void); } cases[] = {
        {"steady", steady}, {"names", names}, {"hung_dns", hung_dns},
    };
    if (argc != 2) {
        fprintf(stderr, "usage: %s CASE\n", argv[0]);
        return 2;
    }
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        if (strcmp(argv[1], cases[i].name) == 0) {
            cases[i].run();
            printf("%s: %d failed\n", argv[1], failures);
            return failures == 0 ? 0 : 1;
        }
    }
    fprintf(stderr, "unknown case %s\n", argv[1]);
    return 2;
}
