/* CALLS miic_qr_url on one client, for `strace -f -c` (scripts/bench.sh runs it twice, with
 * two call counts, and divides the difference: the per-call system calls without open/close).
 * usage: qr_loop CONFIG_JSON CALLS */
#include "miic.h"
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    if (argc != 3) return 2;
    miic_client *c = miic_open(argv[1]);
    if (!c) { fprintf(stderr, "qr_loop: %s\n", miic_last_error()); return 1; }
    miic_params *exam = NULL;
    if (miic_params_from_json("{\"accessNumber\":\"202305010001\",\"modality\":\"CT\"}", &exam) != MIIC_OK)
        return 1;
    for (int i = 0, n = atoi(argv[2]); i < n; i++) {
        char *url = NULL;
        if (miic_qr_url(c, exam, &url) != MIIC_OK) { fprintf(stderr, "qr_loop: %s\n", miic_last_error()); return 1; }
        miic_string_free(url);
    }
    miic_params_free(exam);
    miic_close(c);
    return 0;
}
