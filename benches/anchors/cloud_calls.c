/* miic's cloud calls through the C ABI next to libcurl doing the same exchange, against the same
 * nginx in the same run, in alternating blocks (miic, libcurl, miic, ...) so that the shared
 * machine's noise hits both sides alike:
 *   qr        miic_qr_url                      vs  GET, one reused easy handle
 *   reminder  miic_patient_reminder            vs  the same two encryptions (miic_sm2_encrypt),
 *             (two SM2 fields: idCardNo and        then a POST of a body with the same fields
 *             doctorIdCardNo)                      and ciphertexts of the same length
 *   post      two miic_sm2_encrypt calls        vs  that POST alone: the SM2 time in a tight
 *             (as a reminder makes them)           loop, and the bare POST
 *   DIFF      miic_patient_reminder minus its anchor, call by call (see diff()): added to the
 *             bare POST, the reminder's POST without its SM2
 *   delete    miic_delete_notify, stored       vs  SQLite INSERT (WAL, synchronous=FULL: one
 *             in the outbox and sent               fsync, as miic's), POST, DELETE (NORMAL, no
 *                                                  fsync): what any durable sender pays
 * usage: cloud_calls BASE_URL CONFIG_JSON ANCHOR_DB ROUNDS CALLS_PER_BLOCK
 * prints "ROW name miic_p50 miic_p99 anchor_p50 anchor_p99" and "DIFF name p25 p50 p75" (ms). */
#include "miic.h"
#include <curl/curl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static size_t sink(char *p, size_t s, size_t n, void *u) { (void)p; (void)u; return s * n; }
static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}
static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}
static void die(const char *what, const char *why) {
    fprintf(stderr, "cloud_calls: %s: %s\n", what, why);
    exit(1);
}

typedef struct { double *ms; int n; } samples;
static void add(samples *s, double ms) { s->ms[s->n++] = ms; }
static void report(const char *name, samples *m, samples *a) {
    qsort(m->ms, m->n, sizeof(double), cmp);
    qsort(a->ms, a->n, sizeof(double), cmp);
    printf("ROW %s %.4f %.4f %.4f %.4f\n", name, m->ms[m->n / 2], m->ms[(int)((m->n - 1) * 0.99)],
           a->ms[a->n / 2], a->ms[(int)((a->n - 1) * 0.99)]);
}

static miic_client *client;
static miic_params *exam, *patient;
static CURL *h;
static sqlite3 *db, *db_sent;
static sqlite3_stmt *insert, *delete_row;
static char base[256], reminder_body[2048];
static const char *DELETE_BODY_FMT =
    "{\"patientName\":\"李小明\",\"accessionNo\":\"%s\",\"hospitalId\":\"H4401\","
    "\"operateDoctorName\":\"张医生\",\"operateDateTime\":\"2023-05-08 15:00:01\","
    "\"deleteDateTime\":\"2023-05-08 15:00:01\"}";
static int serial = 0;

static void check(int32_t rc, const char *what) {
    if (rc != MIIC_OK) die(what, miic_last_error());
}

static void miic_qr(void) {
    char *url = NULL;
    check(miic_qr_url(client, exam, &url), "miic_qr_url");
    miic_string_free(url);
}
static void miic_reminder(void) { check(miic_patient_reminder(client, patient), "miic_patient_reminder"); }
static void miic_delete(void) {
    char accession[32];
    snprintf(accession, sizeof accession, "B%08d", serial++);
    miic_params *p = miic_params_new();
    miic_params_set(p, "patientName", "李小明");
    miic_params_set(p, "accessionNo", accession);
    miic_params_set(p, "operateDoctorName", "张医生");
    miic_params_set(p, "operateDateTime", "2023-05-08 15:00:01");
    check(miic_delete_notify(client, p), "miic_delete_notify");
    miic_params_free(p);
}

static void curl_perform(void) {
    CURLcode rc = curl_easy_perform(h);
    if (rc != CURLE_OK) die("curl", curl_easy_strerror(rc));
}
static char url_buf[512];
static struct curl_slist *json_header;
static void curl_get(const char *path) {
    snprintf(url_buf, sizeof url_buf, "%s%s", base, path);
    curl_easy_setopt(h, CURLOPT_URL, url_buf);
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_perform();
}
static void curl_post(const char *path, const char *body) {
    snprintf(url_buf, sizeof url_buf, "%s%s", base, path);
    curl_easy_setopt(h, CURLOPT_URL, url_buf);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, json_header);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_perform();
}
static void curl_qr(void) {
    curl_get("/getway/reportAndFilm/api/qrurl?accessNumber=202305010001&modality=CT&hospitalId=H4401");
}
static void curl_reminder(void) { curl_post("/iuWorkStation/swipingIdCardNo", reminder_body); }
static void curl_delete(void) {
    char accession[32], body[512];
    snprintf(accession, sizeof accession, "C%08d", serial++);
    snprintf(body, sizeof body, DELETE_BODY_FMT, accession);
    sqlite3_bind_text(insert, 1, accession, -1, SQLITE_STATIC);
    sqlite3_bind_text(insert, 2, body, -1, SQLITE_STATIC);
    if (sqlite3_step(insert) != SQLITE_DONE) die("sqlite insert", sqlite3_errmsg(db));
    sqlite3_reset(insert);
    curl_post("/standardInterface/standardHttp/deleteDicom", body);
    sqlite3_bind_text(delete_row, 1, accession, -1, SQLITE_STATIC);
    if (sqlite3_step(delete_row) != SQLITE_DONE) die("sqlite delete", sqlite3_errmsg(db_sent));
    sqlite3_reset(delete_row);
}

/* What a host doing the reminder itself with miic's SM2 pays before its POST. */
static void sm2_twice(void) {
    char *out = NULL;
    check(miic_sm2_encrypt(client, "440101199001011234", &out), "miic_sm2_encrypt");
    miic_string_free(out);
    check(miic_sm2_encrypt(client, "11010119800101123X", &out), "miic_sm2_encrypt");
    miic_string_free(out);
}
static void curl_reminder_with_sm2(void) {
    sm2_twice();
    curl_reminder();
}

/* Alternate blocks of miic and anchor calls; the first block of each side is a warm-up. */
static void pair(const char *name, void (*m)(void), void (*a)(void), int rounds, int per_block,
                 samples *ms, samples *as) {
    for (int r = -1; r < rounds; r++) {
        for (int side = 0; side < 2; side++) {
            void (*call)(void) = side == 0 ? m : a;
            samples *into = side == 0 ? ms : as;
            for (int i = 0; i < per_block; i++) {
                double t0 = now_ms();
                call();
                double took = now_ms() - t0;
                if (r >= 0) add(into, took);
            }
        }
    }
    if (name) report(name, ms, as);
}

/* The same two calls alternating one by one (the order swapped every time), and the median of
 * their per-pair difference: what `m` costs more than `a` with the machine's drift (CPU clock,
 * the other core's load) cancelled pair by pair. Two ~2 ms medians taken apart differ by more
 * than the 0.2 ms POST this is about. */
static void diff(const char *name, void (*m)(void), void (*a)(void), int pairs, samples *ds) {
    for (int i = -pairs / 10; i < pairs; i++) {
        double t0 = now_ms();
        if (i & 1) a(); else m();
        double t1 = now_ms();
        if (i & 1) m(); else a();
        double t2 = now_ms();
        double m_ms = (i & 1) ? t2 - t1 : t1 - t0, a_ms = (i & 1) ? t1 - t0 : t2 - t1;
        if (i >= 0) add(ds, m_ms - a_ms);
    }
    qsort(ds->ms, ds->n, sizeof(double), cmp);
    printf("DIFF %s %.4f %.4f %.4f\n", name, ds->ms[ds->n / 4], ds->ms[ds->n / 2], ds->ms[(3 * ds->n) / 4]);
}

int main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: cloud_calls BASE_URL CONFIG_JSON ANCHOR_DB ROUNDS CALLS_PER_BLOCK\n");
        return 2;
    }
    snprintf(base, sizeof base, "%s", argv[1]);
    int rounds = atoi(argv[4]), per_block = atoi(argv[5]);
    client = miic_open(argv[2]);
    if (!client) die("miic_open", miic_last_error());
    if (miic_params_from_json("{\"accessNumber\":\"202305010001\",\"modality\":\"CT\"}", &exam) != MIIC_OK)
        die("params", miic_last_error());
    /* The doctor's fields given with the patient (no session): both ID numbers are encrypted
     * by every call. */
    if (miic_params_from_json(
            "{\"idCardNo\":\"440101199001011234\",\"patientName\":\"李小明\",\"mobilePhone\":\"15395092817\","
            "\"patientType\":\"1\",\"accessNumber\":\"202305010001\",\"clientIp\":\"127.0.0.1\","
            "\"mac\":\"F4:EE:08:0B:9A:54\",\"hisUserId\":\"1001\",\"hisUserName\":\"张医生\","
            "\"doctorType\":\"1\",\"doctorCode\":\"D440100001\",\"doctorIdCardNo\":\"11010119800101123X\"}",
            &patient) != MIIC_OK)
        die("params", miic_last_error());
    char *c1 = NULL, *c2 = NULL;
    check(miic_sm2_encrypt(client, "440101199001011234", &c1), "sm2");
    check(miic_sm2_encrypt(client, "11010119800101123X", &c2), "sm2");
    snprintf(reminder_body, sizeof reminder_body,
             "{\"clientIp\":\"127.0.0.1\",\"mac\":\"F4:EE:08:0B:9A:54\",\"idCardNo\":\"%s\","
             "\"patientName\":\"李小明\",\"mobilePhone\":\"15395092817\",\"patientType\":\"1\","
             "\"accessNumber\":\"202305010001\",\"hisUserId\":\"1001\",\"hisUserName\":\"张医生\","
             "\"doctorType\":\"1\",\"doctorCode\":\"D440100001\",\"doctorIdCardNo\":\"%s\"}",
             c1, c2);
    miic_string_free(c1);
    miic_string_free(c2);

    curl_global_init(CURL_GLOBAL_DEFAULT);
    h = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 3000L);
    json_header = curl_slist_append(NULL, "Content-Type: application/json;charset=UTF-8");

    if (sqlite3_open(argv[3], &db) != SQLITE_OK) die("sqlite open", sqlite3_errmsg(db));
    if (sqlite3_exec(db,
                     "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                     "CREATE TABLE IF NOT EXISTS pending (accession TEXT PRIMARY KEY, body TEXT);",
                     NULL, NULL, NULL) != SQLITE_OK)
        die("sqlite setup", sqlite3_errmsg(db));
    sqlite3_prepare_v2(db, "INSERT INTO pending VALUES (?1, ?2)", -1, &insert, NULL);
    /* Forgetting a sent item needs no fsync (at worst it is sent again): a second connection. */
    if (sqlite3_open(argv[3], &db_sent) != SQLITE_OK ||
        sqlite3_exec(db_sent, "PRAGMA synchronous=NORMAL;", NULL, NULL, NULL) != SQLITE_OK)
        die("sqlite open", sqlite3_errmsg(db_sent));
    sqlite3_prepare_v2(db_sent, "DELETE FROM pending WHERE accession = ?1", -1, &delete_row, NULL);

    int n = rounds * per_block;
    samples m = {malloc(sizeof(double) * n), 0}, a = {malloc(sizeof(double) * n), 0};
    pair("qr", miic_qr, curl_qr, rounds, per_block, &m, &a);
    m.n = a.n = 0;
    pair("reminder", miic_reminder, curl_reminder_with_sm2, rounds, per_block, &m, &a);
    m.n = a.n = 0;
    pair("post", sm2_twice, curl_reminder, rounds, per_block, &m, &a);
    m.n = 0;
    diff("reminder", miic_reminder, curl_reminder_with_sm2, n, &m);
    m.n = a.n = 0;
    pair("delete", miic_delete, curl_delete, rounds, per_block, &m, &a);
    uint32_t pending = 0;
    miic_outbox_pending(client, &pending);
    if (pending != 0) die("outbox", "notifications left pending: the cloud did not take them all");
    miic_close(client);
    curl_easy_cleanup(h);
    sqlite3_finalize(insert);
    sqlite3_finalize(delete_row);
    sqlite3_close(db_sent);
    sqlite3_close(db);
    return 0;
}
