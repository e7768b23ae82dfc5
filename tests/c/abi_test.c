/* C-side tests of miic's ABI: each case is run by tests/c_abi.rs against the cloud simulator.
 * Usage: abi_test CASE  (config and expectations come from MIIC_TEST_* environment variables).
 * Prints one line per check and exits 0 only when every check passed. */
#include "miic.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <pthread.h>
#include <unistd.h>

static int failures = 0;

#define CHECK(cond, ...)                                                   \
    do {                                                                   \
        if (cond) {                                                        \
            printf("ok   %s:%d ", __func__, __LINE__);                      \
        } else {                                                           \
            printf("FAIL %s:%d ", __func__, __LINE__);                      \
            failures++;                                                    \
        }                                                                  \
        printf(__VA_ARGS__);                                               \
        printf("  [last_error: %s]\n", miic_last_error());                 \
    } while (0)

/* The text a macro expands to. */
#define STR_(x) #x
#define STR(x) STR_(x)

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

/* Folder for scratch files: %TEMP% on Windows, /tmp elsewhere. */
static const char *scratch_dir(void) {
#ifdef _WIN32
    const char *t = getenv("TEMP");
    return t ? t : ".";
#else
    return "/tmp";
#endif
}

static const char *env(const char *name) {
    const char *v = getenv(name);
    if (!v) {
        fprintf(stderr, "missing environment variable %s\n", name);
        exit(2);
    }
    return v;
}

static miic_client *open_client(void) {
    miic_client *c = miic_open(env("MIIC_TEST_CONFIG"));
    if (!c) {
        fprintf(stderr, "miic_open failed: %s\n", miic_last_error());
        exit(2);
    }
    return c;
}

static miic_params *doctor_params(void) {
    miic_params *p = NULL;
    int32_t rc = miic_params_from_json(
        "{\"hisUserId\":\"1001\",\"doctorName\":\"张医生\",\"department\":\"放射科\","
        "\"departmentCode\":\"FSK01\",\"doctorSex\":\"1\",\"doctorType\":\"1\","
        "\"doctorCode\":\"D440100001\",\"doctorIdCardNo\":\"11010119800101123X\","
        "\"phoneNumber\":\"13800138000\"}",
        &p);
    if (rc != MIIC_OK) {
        fprintf(stderr, "doctor params: %s\n", miic_last_error());
        exit(2);
    }
    return p;
}

static miic_params *patient_params(void) {
    miic_params *p = miic_params_new();
    miic_params_set(p, "idCardNo", "440101199001011234");
    miic_params_set(p, "patientName", "李小明");
    miic_params_set(p, "mobilePhone", "15395092817");
    miic_params_set(p, "patientType", "1");
    miic_params_set(p, "accessNumber", "202305010001");
    miic_params_set(p, "outpatientId", "MZ0001");
    return p;
}

static miic_params *exam_params(void) {
    miic_params *p = miic_params_new();
    miic_params_set(p, "accessNumber", "202305010001");
    miic_params_set(p, "modality", "CT");
    return p;
}

static miic_params *deletion_params(void) {
    miic_params *p = miic_params_new();
    miic_params_set(p, "patientName", "李小明");
    miic_params_set(p, "accessionNo", "202305010001");
    miic_params_set(p, "operateDoctorName", "张医生");
    miic_params_set(p, "operateDateTime", "2023-05-08 15:00:01");
    return p;
}

/* ---- cases ---- */

static void workflow(void) {
    miic_client *c = open_client();
    miic_params *doctor = doctor_params();
    CHECK(miic_login(c, doctor) == MIIC_OK, "login with a Chinese doctor name");
    miic_params *patient = patient_params();
    CHECK(miic_patient_reminder(c, patient) == MIIC_OK, "reminder filled from the session");
    char *url = NULL;
    miic_params *exam = exam_params();
    CHECK(miic_qr_url(c, exam, &url) == MIIC_OK && url && strncmp(url, "http", 4) == 0,
          "qr url returned: %s", url ? url : "(null)");
    if (url) printf("QR_URL=%s\n", url);
    miic_string_free(url);
    miic_params *del = deletion_params();
    CHECK(miic_delete_notify(c, del) == MIIC_OK, "delete notification delivered");
    CHECK(miic_logout(c) == MIIC_OK, "logout");
    CHECK(miic_logout(c) == MIIC_E_STATE, "second logout has no doctor");
    miic_params_free(doctor);
    miic_params_free(patient);
    miic_params_free(exam);
    miic_params_free(del);
    miic_close(c);
}

static void null_pointers(void) {
    miic_client *c = open_client();
    miic_params *p = miic_params_new();
    char *out = NULL;
    miic_params *pout = NULL;
#define NULL_ARG(call, what)                                                    \
    do {                                                                         \
        int32_t rc_ = (call);                                                    \
        CHECK(rc_ == MIIC_E_ARGUMENT && strstr(miic_last_error(), what) != NULL, \
              #call " -> %d", rc_);                                              \
    } while (0)
    NULL_ARG(miic_params_set(NULL, "k", "v"), "params");
    NULL_ARG(miic_params_set(p, NULL, "v"), "key");
    NULL_ARG(miic_params_set(p, "k", NULL), "value");
    NULL_ARG(miic_params_from_json(NULL, &pout), "json");
    NULL_ARG(miic_params_from_json("{}", NULL), "out");
    NULL_ARG(miic_login(NULL, p), "client");
    NULL_ARG(miic_login(c, NULL), "doctor");
    NULL_ARG(miic_logout(NULL), "client");
    NULL_ARG(miic_plugin_url(NULL, p, &out), "client");
    NULL_ARG(miic_plugin_url(c, NULL, &out), "doctor");
    NULL_ARG(miic_plugin_url(c, p, NULL), "url_out");
    NULL_ARG(miic_patient_reminder(NULL, p), "client");
    NULL_ARG(miic_patient_reminder(c, NULL), "patient");
    NULL_ARG(miic_patient_reminder_async(NULL, p), "client");
    NULL_ARG(miic_patient_reminder_async(c, NULL), "patient");
    NULL_ARG(miic_qr_url(NULL, p, &out), "client");
    NULL_ARG(miic_qr_url(c, NULL, &out), "exam");
    NULL_ARG(miic_qr_url(c, p, NULL), "url_out");
    NULL_ARG(miic_delete_notify(NULL, p), "client");
    NULL_ARG(miic_delete_notify(c, NULL), "deletion");
    NULL_ARG(miic_sm2_encrypt(NULL, "x", &out), "client");
    NULL_ARG(miic_sm2_encrypt(c, NULL, &out), "plain");
    NULL_ARG(miic_sm2_encrypt(c, "x", NULL), "cipher_out");
    NULL_ARG(miic_diagnose(NULL, &out), "config");
    NULL_ARG(miic_diagnose("{}", NULL), "report_out");
    CHECK(miic_open(NULL) == NULL && strstr(miic_last_error(), "config"), "miic_open(NULL) is NULL");
    /* NULL-safe frees and closes: no failure recorded (the last error stays miic_open's), and
     * the open client is untouched. (A crash here ends the case by a signal: the test fails.) */
    char before[256];
    snprintf(before, sizeof before, "%s", miic_last_error());
    miic_close(NULL);
    miic_params_free(NULL);
    miic_string_free(NULL);
    miic_set_log_callback(NULL, NULL);
    CHECK(strcmp(miic_last_error(), before) == 0, "NULL frees and closes record no error");
    CHECK(miic_sm2_encrypt(c, "x", &out) == MIIC_OK && out != NULL, "the open client still works after them");
    miic_string_free(out);
    out = NULL;
    /* stale handles are reported, not dereferenced */
    miic_params_free(p);
    NULL_ARG(miic_params_set(p, "k", "v"), "params");
    miic_params_free(p); /* double free is harmless */
    miic_close(c);
    miic_params *q = miic_params_new();
    NULL_ARG(miic_login(c, q), "client");
    miic_close(c); /* double close is harmless */
    miic_params_free(q);
}

static void missing_fields(void) {
    miic_client *c = open_client();
    static const char *doctor_fields[] = {"hisUserId", "doctorName", "department", "departmentCode",
                                          "doctorSex", "doctorType", "doctorCode", "doctorIdCardNo"};
    for (size_t i = 0; i < sizeof doctor_fields / sizeof *doctor_fields; i++) {
        miic_params *d = doctor_params();
        miic_params_set(d, doctor_fields[i], "");
        int32_t rc = miic_login(c, d);
        CHECK(rc == MIIC_E_ARGUMENT && strstr(miic_last_error(), doctor_fields[i]),
              "login without %s -> %d", doctor_fields[i], rc);
        miic_params_free(d);
    }
    miic_params *d = doctor_params();
    miic_params_set(d, "doctorSex", "3");
    CHECK(miic_login(c, d) == MIIC_E_ARGUMENT && strstr(miic_last_error(), "doctorSex"),
          "doctorSex outside its dictionary");
    miic_params_free(d);

    d = doctor_params();
    miic_login(c, d);
    miic_params_free(d);
    static const char *patient_fields[] = {"idCardNo", "patientName", "mobilePhone", "patientType",
                                           "accessNumber"};
    for (size_t i = 0; i < sizeof patient_fields / sizeof *patient_fields; i++) {
        miic_params *p = patient_params();
        miic_params_set(p, patient_fields[i], " ");
        int32_t rc = miic_patient_reminder(c, p);
        CHECK(rc == MIIC_E_ARGUMENT && strstr(miic_last_error(), patient_fields[i]),
              "reminder without %s -> %d", patient_fields[i], rc);
        rc = miic_patient_reminder_async(c, p);
        CHECK(rc == MIIC_E_ARGUMENT && strstr(miic_last_error(), patient_fields[i]),
              "async reminder without %s -> %d", patient_fields[i], rc);
        miic_params_free(p);
    }
    miic_params *p = patient_params();
    miic_params_set(p, "patientType", "0");
    CHECK(miic_patient_reminder(c, p) == MIIC_E_ARGUMENT && strstr(miic_last_error(), "patientType"),
          "patientType 0 is not in the dictionary");
    miic_params_free(p);

    char *url = NULL;
    miic_params *e = exam_params();
    miic_params_set(e, "modality", "");
    CHECK(miic_qr_url(c, e, &url) == MIIC_E_ARGUMENT && url == NULL && strstr(miic_last_error(), "modality"),
          "qr without modality");
    miic_params_free(e);

    miic_params *del = deletion_params();
    miic_params_set(del, "accessionNo", "");
    CHECK(miic_delete_notify(c, del) == MIIC_E_ARGUMENT && strstr(miic_last_error(), "accessionNo"),
          "delete without accessionNo");
    miic_params_set(del, "accessionNo", "A1");
    miic_params_set(del, "operateDateTime", "2023-02-30 10:00:00");
    CHECK(miic_delete_notify(c, del) == MIIC_E_ARGUMENT && strstr(miic_last_error(), "operateDateTime"),
          "delete with an impossible date");
    miic_params_free(del);
    miic_close(c);
}

static void invalid_utf8(void) {
    miic_client *c = open_client();
    miic_params *d = doctor_params();
    miic_login(c, d);
    miic_params_free(d);
    miic_params *p = patient_params();
    miic_params_set(p, "patientName", "\xff\xfe bad");
    int32_t rc = miic_patient_reminder(c, p);
    CHECK(rc == MIIC_E_ENCODING && strstr(miic_last_error(), "patientName"), "invalid UTF-8 -> %d", rc);
    char *out = NULL;
    rc = miic_sm2_encrypt(c, "\xc3\x28", &out);
    CHECK(rc == MIIC_E_ENCODING && out == NULL, "invalid UTF-8 plaintext -> %d", rc);
    miic_params *bad = NULL;
    rc = miic_params_from_json("{\"a\":\"\xff\"}", &bad);
    CHECK(rc == MIIC_E_ENCODING && bad == NULL, "params JSON must be UTF-8 -> %d", rc);
    miic_params_free(p);
    miic_close(c);
}

/* Open with text_encoding = gbk (MIIC_TEST_CONFIG says so); all text in and out is GBK. */
static void gbk_client(void) {
    miic_client *c = open_client();
    miic_params *d = miic_params_new();
    miic_params_set(d, "hisUserId", "1002");
    miic_params_set(d, "doctorName", "\xd5\xc5\xd2\xbd\xc9\xfa"); /* 张医生 in GBK */
    miic_params_set(d, "department", "\xb7\xc5\xc9\xe4\xbf\xc6");  /* 放射科 */
    miic_params_set(d, "departmentCode", "FSK01");
    miic_params_set(d, "doctorSex", "2");
    miic_params_set(d, "doctorType", "2");
    miic_params_set(d, "doctorCode", "T001");
    miic_params_set(d, "doctorIdCardNo", "110101198001011234");
    CHECK(miic_login(c, d) == MIIC_OK, "GBK login");
    char *url = NULL;
    CHECK(miic_plugin_url(c, d, &url) == MIIC_OK && url &&
              strstr(url, "doctorName=$E5$BC$A0$E5$8C$BB$E7$94$9F") != NULL,
          "plugin URL carries the UTF-8 $-encoded name: %s", url ? url : "(null)");
    miic_string_free(url);
    /* UTF-8 bytes of 张 are not valid GBK text here: 0xE5 0xBC 0xA0 -> E5BC is GBK, A0 alone is not */
    miic_params_set(d, "doctorName", "\xe5\xbc\xa0");
    CHECK(miic_login(c, d) == MIIC_E_ENCODING && strstr(miic_last_error(), "doctorName"),
          "invalid GBK is an encoding error");
    miic_params_free(d);
    /* An error message from the cloud in Chinese reaches the host in GBK. */
    miic_params *e = exam_params();
    int32_t rc = miic_qr_url(c, e, &url);
    const char *msg = miic_last_error();
    CHECK(rc == MIIC_E_SERVER && strstr(msg, "\xb4\xab\xb2\xce") != NULL, /* 传参 in GBK */
          "cloud message in GBK -> %d", rc);
    miic_params_free(e);
    miic_close(c);
}

static void expect_status(void) {
    /* MIIC_TEST_EXPECT: the status the qr call must return; MIIC_TEST_MAX_MS: its time bound. */
    int32_t expected = atoi(env("MIIC_TEST_EXPECT"));
    double max_ms = atof(env("MIIC_TEST_MAX_MS"));
    miic_client *c = open_client();
    miic_params *e = exam_params();
    char *url = NULL;
    double t0 = now_ms();
    int32_t rc = miic_qr_url(c, e, &url);
    double took = now_ms() - t0;
    printf("STATUS=%d TOOK_MS=%.1f\n", rc, took);
    CHECK(rc == expected, "qr_url -> %s (expected %s)", miic_status_name(rc), miic_status_name(expected));
    CHECK(url == NULL, "no URL on failure");
    CHECK(took <= max_ms, "returned in %.1f ms (bound %.0f ms)", took, max_ms);
    CHECK(strlen(miic_last_error()) > 0, "error message present");
    /* MIIC_TEST_EXPECT_MESSAGE (optional): what the message must quote of the reply. */
    const char *said = getenv("MIIC_TEST_EXPECT_MESSAGE");
    if (said) CHECK(strstr(miic_last_error(), said) != NULL, "message quotes '%s': %s", said, miic_last_error());
    miic_params_free(e);
    miic_close(c);
}

/* Every cloud call under one fault (MIIC_TEST_EXPECT: the status of the calls that wait for the
 * cloud; delete notifications are stored and so return MIIC_QUEUED). Each call must return
 * within MIIC_TEST_MAX_MS. */
static void fault_matrix(void) {
    int32_t expected = atoi(env("MIIC_TEST_EXPECT"));
    double max_ms = atof(env("MIIC_TEST_MAX_MS"));
    miic_client *c = open_client();
    miic_params *doctor = doctor_params(), *patient = patient_params(), *exam = exam_params();
    miic_params *del = deletion_params();
    char *url = NULL;
    struct { const char *name; int32_t want; } calls[] = {
        {"miic_login", expected}, {"miic_patient_reminder", expected}, {"miic_qr_url", expected},
        {"miic_delete_notify", MIIC_QUEUED}, {"miic_patient_reminder_async", MIIC_OK},
        {"miic_logout", expected},
    };
    for (int i = 0; i < 6; i++) {
        double t0 = now_ms();
        int32_t rc = 0;
        switch (i) {
        case 0: rc = miic_login(c, doctor); break;
        case 1: rc = miic_patient_reminder(c, patient); break;
        case 2: rc = miic_qr_url(c, exam, &url); break;
        case 3: rc = miic_delete_notify(c, del); break;
        case 4: rc = miic_patient_reminder_async(c, patient); break;
        case 5: rc = miic_logout(c); break;
        }
        double took = now_ms() - t0;
        printf("CALL %s %s %.1f ms\n", calls[i].name, miic_status_name(rc), took);
        CHECK(rc == calls[i].want && took <= max_ms, "%s -> %s in %.1f ms (want %s within %.0f ms)",
              calls[i].name, miic_status_name(rc), took, miic_status_name(calls[i].want), max_ms);
        if (rc < 0) CHECK(strlen(miic_last_error()) > 0, "%s explains itself", calls[i].name);
    }
    CHECK(url == NULL, "no URL on failure");
    uint32_t pending = 0;
    CHECK(miic_outbox_pending(c, &pending) == MIIC_OK && pending == 1, "the notification waits in the outbox (%u)", pending);
    double t0 = now_ms();
    miic_close(c);
    CHECK(now_ms() - t0 < 1000.0, "close is prompt (%.1f ms)", now_ms() - t0);
    miic_params_free(doctor);
    miic_params_free(patient);
    miic_params_free(exam);
    miic_params_free(del);
}

static void async_reminder(void) {
    /* The simulator hangs: the async call must still return at once, and close promptly. */
    miic_client *c = open_client();
    miic_params *d = doctor_params();
    miic_login(c, d); /* fails with timeout: the cloud hangs; the doctor is kept */
    miic_params_free(d);
    miic_params *p = patient_params();
    double worst = 0;
    for (int i = 0; i < 20; i++) {
        double t0 = now_ms();
        int32_t rc = miic_patient_reminder_async(c, p);
        double took = now_ms() - t0;
        if (took > worst) worst = took;
        if (rc != MIIC_OK) CHECK(0, "async reminder %d -> %d", i, rc);
    }
    printf("ASYNC_WORST_MS=%.3f\n", worst);
    /* A call that waited for the hung cloud would take timeout_ms (1000 ms in the tests' config);
     * half of it is "at once" with room for a loaded machine. How fast it is: benches/. */
    CHECK(worst < 500.0, "20 async reminders each returned without waiting for the cloud (worst %.3f ms)", worst);
    miic_params_free(p);
    /* With MIIC_TEST_AWAIT_GO set, the test first confirms (a line on stdin) that the simulator
     * holds a reminder, so the close below happens with one in flight. */
    if (getenv("MIIC_TEST_AWAIT_GO")) {
        char line[16];
        printf("REMINDERS_QUEUED\n");
        fflush(stdout);
        CHECK(fgets(line, sizeof line, stdin) != NULL, "the test saw a reminder reach the cloud");
    }
    double t0 = now_ms();
    miic_close(c);
    double took = now_ms() - t0;
    printf("CLOSE_MS=%.1f\n", took);
    CHECK(took < 500.0, "miic_close returned in %.1f ms with a reminder in flight", took);
}

static void no_session(void) {
    miic_client *c = open_client();
    miic_params *p = patient_params();
    int32_t rc = miic_patient_reminder(c, p);
    CHECK(rc == MIIC_E_STATE && strstr(miic_last_error(), "hisUserId"), "reminder before login -> %d", rc);
    rc = miic_patient_reminder_async(c, p);
    CHECK(rc == MIIC_E_STATE, "async reminder before login -> %d", rc);
    /* With the doctor's fields given explicitly, no session is needed. */
    miic_params_set(p, "hisUserId", "1001");
    miic_params_set(p, "hisUserName", "张医生");
    miic_params_set(p, "doctorType", "1");
    miic_params_set(p, "doctorCode", "D440100001");
    miic_params_set(p, "doctorIdCardNo", "11010119800101123X");
    CHECK(miic_patient_reminder(c, p) == MIIC_OK, "reminder with explicit doctor fields");
    CHECK(miic_logout(c) == MIIC_E_STATE, "logout before login");
    miic_params_free(p);
    miic_close(c);
}

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char log_text[1 << 16];

static void capture_log(void *user, int32_t level, const char *message) {
    (void)user;
    pthread_mutex_lock(&log_lock);
    size_t used = strlen(log_text);
    snprintf(log_text + used, sizeof log_text - used, "%d %s\n", level, message);
    pthread_mutex_unlock(&log_lock);
}

static void logs_mask_personal_data(void) {
    int marker = 42;
    miic_set_log_callback(capture_log, &marker);
    miic_client *c = open_client(); /* config has [log] dir = MIIC_TEST_LOG_DIR */
    miic_params *d = doctor_params();
    miic_login(c, d);
    miic_params *p = patient_params();
    miic_patient_reminder(c, p);
    miic_patient_reminder_async(c, p);
    miic_params *del = deletion_params();
    miic_delete_notify(c, del);
    miic_params_set(p, "mobilePhone", "");
    miic_patient_reminder(c, p); /* an error path too */
    miic_close(c); /* joins the async worker, so its lines are in */
    miic_set_log_callback(NULL, NULL);
    printf("---- captured log ----\n%s----\n", log_text);
    CHECK(strlen(log_text) > 0, "the callback received lines");
    CHECK(strstr(log_text, "11010119800101123X") == NULL, "no plaintext doctor ID number");
    CHECK(strstr(log_text, "440101199001011234") == NULL, "no plaintext patient ID number");
    CHECK(strstr(log_text, "15395092817") == NULL && strstr(log_text, "13800138000") == NULL,
          "no plaintext phone number");
    CHECK(strstr(log_text, "李小明") == NULL && strstr(log_text, "张医生") == NULL, "no full names");
    miic_params_free(d);
    miic_params_free(p);
    miic_params_free(del);
}

static void plugin_url_and_exe(void) {
    miic_client *c = open_client(); /* login_via = exe, exe = a recorder script */
    miic_params *d = doctor_params();
    char *url = NULL;
    CHECK(miic_plugin_url(c, d, &url) == MIIC_OK && url, "plugin url");
    if (url) printf("PLUGIN_URL=%s\n", url);
    static const char spec_example[] = "WYHT://hisUserId=1001&type=1&doctorName=$E5$BC$A0$E5$8C$BB$E7$94$9F&";
    CHECK(url && strncmp(url, spec_example, strlen(spec_example)) == 0, "WYHT URL starts as the spec's example");
    CHECK(url && strchr(url, ' ') == NULL && strchr(url, '%') == NULL, "no spaces, no %%");
    miic_string_free(url);
    miic_params_set(d, "type", "3");
    CHECK(miic_plugin_url(c, d, &url) == MIIC_E_ARGUMENT && strstr(miic_last_error(), "type"), "type 3 rejected");
    miic_params_set(d, "type", "1");
    CHECK(miic_login(c, d) == MIIC_OK, "login launches the plugin exe");
    CHECK(miic_logout(c) == MIIC_OK, "logout launches the plugin exe again");
    miic_params_free(d);
    miic_close(c);
}

static void sm2_encrypt_lines(void) {
    /* Print ciphertexts for the Rust side to decrypt with gmssl. */
    miic_client *c = open_client();
    const char *plains[] = {"11010119800101123X", "440101199001011234", "张医生 ID"};
    for (int i = 0; i < 3; i++) {
        char *cipher = NULL;
        int32_t rc = miic_sm2_encrypt(c, plains[i], &cipher);
        CHECK(rc == MIIC_OK && cipher, "encrypt %d", i);
        if (cipher) printf("CIPHER=%s\n", cipher);
        miic_string_free(cipher);
    }
    char *cipher = NULL;
    CHECK(miic_sm2_encrypt(c, "", &cipher) == MIIC_E_ARGUMENT && cipher == NULL, "empty plaintext rejected");
    miic_close(c);
}

static void bad_configs(void) {
    static const struct { const char *config; const char *names; } cases[] = {
        {"{\"base_url\":\"http://127.0.0.1:1\",\"hospital_id\":\"H\",\"timeout\":1}", "timeout"},
        {"{\"base_url\":\"htp://x\",\"hospital_id\":\"H\"}", "base_url"},
        {"{\"base_url\":\"http://127.0.0.1:1\",\"hospital_id\":\"H\",\"sm2\":{\"public_key\":\"04zz\"}}", "sm2.public_key"},
        {"{\"base_url\":\"http://127.0.0.1:1\",\"hospital_id\":\"H\",\"sm2\":{\"mode\":\"c3c2c1\"}}", "sm2.mode"},
        {"{\"base_url\":\"http://127.0.0.1:1\",\"hospital_id\":\"H\",\"text_encoding\":\"big5\"}", "text_encoding"},
        {"/nonexistent/miic.toml", "/nonexistent/miic.toml"},
        {"{not json", "config"},
        /* A key given twice: which one was meant is the host's to say, not miic's to guess. */
        {"{\"base_url\":\"http://127.0.0.1:1\",\"hospital_id\":\"H\",\"timeout_ms\":500,\"timeout_ms\":5000}",
         "key 'timeout_ms' is given twice"},
    };
    CHECK(miic_last_status() == MIIC_OK, "no failure yet: last status MIIC_OK");
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        miic_client *c = miic_open(cases[i].config);
        CHECK(c == NULL && strstr(miic_last_error(), cases[i].names), "bad config names '%s'", cases[i].names);
        CHECK(miic_last_status() == MIIC_E_CONFIG, "bad config '%s': last status %d is MIIC_E_CONFIG",
              cases[i].names, miic_last_status());
    }
    /* An outbox the disk cannot hold is not the config's fault: the host learns MIIC_E_IO. */
    char blocker[512], config[1200];
    snprintf(blocker, sizeof blocker, "%s/miic-abi-blocker-%d", scratch_dir(), (int)getpid());
    FILE *f = fopen(blocker, "w");
    CHECK(f != NULL, "blocker file created");
    if (f) fclose(f);
    /* The path goes into JSON: Windows' backslashes are escaped. */
    char blocker_json[1024];
    size_t j = 0;
    for (const char *b = blocker; *b && j + 2 < sizeof blocker_json; b++) {
        if (*b == '\\' || *b == '"') blocker_json[j++] = '\\';
        blocker_json[j++] = *b;
    }
    blocker_json[j] = 0;
    snprintf(config, sizeof config,
             "{\"base_url\":\"http://127.0.0.1:1\",\"hospital_id\":\"H\",\"outbox\":{\"path\":\"%s/outbox.db\"}}",
             blocker_json);
    miic_client *c = miic_open(config);
    CHECK(c == NULL && miic_last_status() == MIIC_E_IO && strstr(miic_last_error(), "outbox"),
          "unusable outbox: last status %d is MIIC_E_IO (%s)", miic_last_status(), miic_last_error());
    miic_close(c);
    remove(blocker);
    /* A call that succeeds leaves the last failure readable, like miic_last_error. */
    miic_params *p = miic_params_new();
    CHECK(p && miic_params_set(p, "k", "v") == MIIC_OK && miic_last_status() == MIIC_E_IO,
          "a success keeps the last failure");
    miic_params_free(p);
}

static void on_progress(void *user, uint32_t done, uint32_t total, int64_t bytes) {
    (void)user; (void)done; (void)total; (void)bytes;
}

/* The exports of the later capabilities (outbox, report, DICOM, QR) on their success and error
 * paths, so valgrind sees every export. The config has no [dicom] section. */
static void other_exports(void) {
    miic_client *c = open_client();
    uint32_t n = 99;
    CHECK(miic_outbox_pending(c, &n) == MIIC_OK && n == 0, "outbox empty");
    CHECK(miic_outbox_dead_count(c, &n) == MIIC_OK && n == 0, "no dead notifications");
    CHECK(miic_outbox_pending(c, NULL) == MIIC_E_ARGUMENT, "pending with NULL out");
    CHECK(miic_outbox_flush(c, 100) == MIIC_OK, "flush of an empty outbox");
    char *out = NULL;
    CHECK(miic_report_validate("{\"patientName\":\"x\"}", &out) == MIIC_OK && out && strstr(out, "conformant"),
          "report validated");
    miic_string_free(out);
    out = NULL;
    CHECK(miic_report_validate("[[[", &out) == MIIC_E_ARGUMENT && out == NULL, "broken report JSON");
    CHECK(miic_report_validate(NULL, &out) == MIIC_E_ARGUMENT, "report NULL");
    CHECK(miic_set_progress_callback(c, on_progress, NULL) == MIIC_OK, "progress callback set");
    CHECK(miic_dicom_echo(c) == MIIC_E_CONFIG && strstr(miic_last_error(), "dicom"), "echo without [dicom]");
    CHECK(miic_dicom_find(c, "1.2.3", &out) == MIIC_E_CONFIG && out == NULL, "find without [dicom]");
    CHECK(miic_dicom_retrieve(c, "1.2.3", "/tmp", &out) < 0, "retrieve without [dicom]");
    miic_string_free(out);
    out = NULL;
    CHECK(miic_dicom_fetch_http(c, "\\a\\b", "/tmp", &out) == MIIC_E_CONFIG && strstr(miic_last_error(), "dicom_http"),
          "fetch without [dicom_http]");
    miic_string_free(out);
    out = NULL;
    CHECK(miic_dicom_fetch_http(c, NULL, "/tmp", &out) == MIIC_E_ARGUMENT, "fetch with NULL list");
    CHECK(miic_set_progress_callback(c, NULL, NULL) == MIIC_OK, "progress callback removed");
    char png[512];
    snprintf(png, sizeof png, "%s/miic-abi-test-%d.png", scratch_dir(), (int)getpid());
    CHECK(miic_qr_render("http://example.invalid/film", png, NULL) == MIIC_OK, "qr render");
    remove(png);
    CHECK(miic_qr_render("x", "/nonexistent-dir/x.png", NULL) == MIIC_E_IO, "qr render to a missing folder");
    miic_params *e = exam_params();
    CHECK(miic_qr_image(c, e, png) == MIIC_OK, "qr image from the cloud's URL");
    remove(png);
    CHECK(miic_qr_image(c, NULL, png) == MIIC_E_ARGUMENT, "qr image without exam");
    miic_params_free(e);
    miic_close(c);
}

/* An ANSI host on Chinese Windows: every path is GBK bytes (here from the environment, which a
 * Windows program reads in the ANSI code page). MIIC_TEST_CONFIG_PATH names a config file whose
 * own text says text_encoding = "gbk"; MIIC_TEST_PNG is where the QR picture goes. */
static void gbk_file_names(void) {
    const char *config_path = env("MIIC_TEST_CONFIG_PATH");
    miic_client *c = miic_open(config_path);
    CHECK(c != NULL, "open the config at a GBK path");
    if (!c) return;
    miic_params *e = exam_params();
    CHECK(miic_qr_image(c, e, env("MIIC_TEST_PNG")) == MIIC_OK, "QR picture written to a GBK path");
    miic_params_free(e);
    miic_params *del = miic_params_new();
    miic_params_set(del, "patientName", "\xc0\xee\xd0\xa1\xc3\xf7"); /* 李小明 in GBK */
    miic_params_set(del, "accessionNo", "202305010001");
    miic_params_set(del, "operateDoctorName", "\xd5\xc5\xd2\xbd\xc9\xfa"); /* 张医生 */
    miic_params_set(del, "operateDateTime", "2023-05-08 15:00:01");
    CHECK(miic_delete_notify(c, del) == MIIC_OK, "delete delivered through an outbox in a GBK-named folder");
    miic_params_free(del);
    miic_close(c);
}

/* miic_diagnose on MIIC_TEST_CONFIG: the report is made (MIIC_OK) whatever the checks find, and
 * printed on one line "REPORT <json>" for tests/diagnose.rs; NULL arguments make no report. */
static void diagnose(void) {
    char *report = NULL;
    double started = now_ms();
    int32_t rc = miic_diagnose(env("MIIC_TEST_CONFIG"), &report);
    double took = now_ms() - started;
    CHECK(rc == MIIC_OK && report != NULL && strstr(report, "\"checks\"") != NULL,
          "miic_diagnose -> %d in %.0f ms", rc, took);
    if (report) printf("REPORT %s\n", report);
    miic_string_free(report);
    report = (char *)"untouched";
    rc = miic_diagnose(NULL, &report);
    CHECK(rc == MIIC_E_ARGUMENT && report == NULL && strstr(miic_last_error(), "config"),
          "NULL config -> %d, no report", rc);
    CHECK(miic_diagnose("{}", NULL) == MIIC_E_ARGUMENT && strstr(miic_last_error(), "report_out"),
          "NULL report_out");
    /* A config miic_open refuses still gets a report saying why. */
    report = NULL;
    CHECK(miic_open("{\"base_url\":\"http://127.0.0.1:9\",\"hospital_id\":\"H\",\"retries\":3}") == NULL,
          "miic_open refuses an unknown key");
    rc = miic_diagnose("{\"base_url\":\"http://127.0.0.1:9\",\"hospital_id\":\"H\",\"retries\":3}", &report);
    CHECK(rc == MIIC_OK && report && strstr(report, "retries"), "the diagnosis names the unknown key");
    miic_string_free(report);
}

static void versions(void) {
    CHECK(miic_abi_version() == MIIC_ABI_VERSION, "ABI version matches the header");
    CHECK(strcmp(miic_version(), MIIC_VERSION_STRING) == 0, "version %s", miic_version());
    CHECK(MIIC_VERSION_NUMBER == MIIC_VERSION_MAJOR * 10000 + MIIC_VERSION_MINOR * 100 + MIIC_VERSION_PATCH,
          "version number packs MAJOR, MINOR and PATCH once each");
    CHECK(strcmp(miic_status_name(MIIC_E_TIMEOUT), "MIIC_E_TIMEOUT") == 0, "status name");
    CHECK(strcmp(miic_status_name(12345), "MIIC_UNKNOWN") == 0, "unknown status name");
    /* Unparenthesised, a negative macro changes meaning beside an operator (x MIIC_E_IO would
     * subtract): each expands to "(-N)", and its name is what miic_status_name says. */
    static const struct { const char *name, *expansion; int32_t value; } negatives[] = {
        {"MIIC_E_ARGUMENT", STR(MIIC_E_ARGUMENT), MIIC_E_ARGUMENT},
        {"MIIC_E_ENCODING", STR(MIIC_E_ENCODING), MIIC_E_ENCODING},
        {"MIIC_E_CONFIG", STR(MIIC_E_CONFIG), MIIC_E_CONFIG},
        {"MIIC_E_STATE", STR(MIIC_E_STATE), MIIC_E_STATE},
        {"MIIC_E_NETWORK", STR(MIIC_E_NETWORK), MIIC_E_NETWORK},
        {"MIIC_E_TIMEOUT", STR(MIIC_E_TIMEOUT), MIIC_E_TIMEOUT},
        {"MIIC_E_SERVER", STR(MIIC_E_SERVER), MIIC_E_SERVER},
        {"MIIC_E_PROTOCOL", STR(MIIC_E_PROTOCOL), MIIC_E_PROTOCOL},
        {"MIIC_E_CRYPTO", STR(MIIC_E_CRYPTO), MIIC_E_CRYPTO},
        {"MIIC_E_DICOM", STR(MIIC_E_DICOM), MIIC_E_DICOM},
        {"MIIC_E_IO", STR(MIIC_E_IO), MIIC_E_IO},
        {"MIIC_E_INTERNAL", STR(MIIC_E_INTERNAL), MIIC_E_INTERNAL},
    };
    for (size_t i = 0; i < sizeof negatives / sizeof *negatives; i++) {
        char want[16];
        snprintf(want, sizeof want, "(%d)", (int)negatives[i].value);
        CHECK(negatives[i].value < 0 && strcmp(negatives[i].expansion, want) == 0 &&
                  strcmp(miic_status_name(negatives[i].value), negatives[i].name) == 0,
              "%s expands to %s", negatives[i].name, negatives[i].expansion);
    }
}

int main(int argc, char **argv) {
    static const struct { const char *name; void (*run)(void); } cases[] = {
        {"workflow", workflow},
        {"null_pointers", null_pointers},
        {"missing_fields", missing_fields},
        {"invalid_utf8", invalid_utf8},
        {"gbk_client", gbk_client},
        {"expect_status", expect_status},
        {"async_reminder", async_reminder},
        {"fault_matrix", fault_matrix},
        {"no_session", no_session},
        {"logs_mask_personal_data", logs_mask_personal_data},
        {"plugin_url_and_exe", plugin_url_and_exe},
        {"sm2_encrypt_lines", sm2_encrypt_lines},
        {"bad_configs", bad_configs},
        {"versions", versions},
        {"gbk_file_names", gbk_file_names},
        {"other_exports", other_exports},
        {"diagnose", diagnose},
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
