/* CALLS cloud calls on one client, for `strace -f -c` (scripts/bench.sh runs it twice, with
 * two call counts, and divides the difference: the per-call system calls without open/close).
 * usage: qr_loop CONFIG_JSON CALLS [qr|reminder|delete]   (default qr: miic_qr_url) */
#include "miic.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fail(void) {
    fprintf(stderr, "qr_loop: %s\n", miic_last_error());
    exit(1);
}

int main(int argc, char **argv) {
    if (argc != 3 && argc != 4) return 2;
    const char *op = argc == 4 ? argv[3] : "qr";
    miic_client *c = miic_open(argv[1]);
    if (!c) fail();
    miic_params *p = NULL;
    const char *json = strcmp(op, "qr") == 0
        ? "{\"accessNumber\":\"202305010001\",\"modality\":\"CT\"}"
        : strcmp(op, "reminder") == 0
        ? "{\"idCardNo\":\"440101199001011234\",\"patientName\":\"李小明\",\"mobilePhone\":\"15395092817\","
          "\"patientType\":\"1\",\"accessNumber\":\"202305010001\",\"clientIp\":\"127.0.0.1\","
          "\"mac\":\"F4:EE:08:0B:9A:54\",\"hisUserId\":\"1001\",\"hisUserName\":\"张医生\","
          "\"doctorType\":\"1\",\"doctorCode\":\"D440100001\",\"doctorIdCardNo\":\"11010119800101123X\"}"
        : "{\"patientName\":\"李小明\",\"operateDoctorName\":\"张医生\",\"operateDateTime\":\"2023-05-08 15:00:01\"}";
    if (miic_params_from_json(json, &p) != MIIC_OK) fail();
    for (int i = 0, n = atoi(argv[2]); i < n; i++) {
        char *url = NULL, accession[32];
        int32_t rc;
        if (strcmp(op, "qr") == 0) {
            rc = miic_qr_url(c, p, &url);
            miic_string_free(url);
        } else if (strcmp(op, "reminder") == 0) {
            rc = miic_patient_reminder(c, p);
        } else {
            snprintf(accession, sizeof accession, "L%08d", i);
            miic_params_set(p, "accessionNo", accession);
            rc = miic_delete_notify(c, p);
        }
        if (rc != MIIC_OK) fail();
    }
    miic_params_free(p);
    miic_close(c);
    return 0;
}
