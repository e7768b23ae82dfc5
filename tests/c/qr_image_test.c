/* QR code PNGs from C, as a report designer's host calls miic (run by tests/qr_image.rs).
 *
 *   qr_image_test image PNG_PATH [PARAMS_JSON]   miic_qr_url + miic_qr_image, client from
 *                                                $MIIC_TEST_CONFIG, exam from PARAMS_JSON
 *   qr_image_test render PNG_PATH [OPTIONS_JSON] miic_qr_render of $MIIC_TEST_TEXT
 *
 * Prints "url=<url>" (image mode, when qrurl answered) and "status=<name> error=<last error>"
 * for the PNG call; exits 0 when every call could be made, whatever their status.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "miic.h"

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s image|render PNG_PATH [JSON]\n", argv[0]);
        return 2;
    }
    const char *png_path = argv[2];
    miic_params *params = NULL;
    if (argc > 3) {
        int32_t s = miic_params_from_json(argv[3], &params);
        if (s != MIIC_OK) {
            fprintf(stderr, "miic_params_from_json: %s\n", miic_last_error());
            return 1;
        }
    }

    int32_t status;
    char error[2048];
    if (strcmp(argv[1], "render") == 0) {
        /* options may be NULL: the defaults. */
        status = miic_qr_render(getenv("MIIC_TEST_TEXT"), png_path, params);
        /* Copy the message before any other miic call on this thread replaces it. */
        snprintf(error, sizeof error, "%s", miic_last_error());
    } else {
        miic_client *c = miic_open(getenv("MIIC_TEST_CONFIG"));
        if (c == NULL) {
            fprintf(stderr, "miic_open: %s\n", miic_last_error());
            miic_params_free(params);
            return 1;
        }
        char *url = NULL;
        if (miic_qr_url(c, params, &url) == MIIC_OK) {
            printf("url=%s\n", url);
            miic_string_free(url);
        }
        status = miic_qr_image(c, params, png_path);
        snprintf(error, sizeof error, "%s", miic_last_error());
        miic_close(c);
    }
    printf("status=%s error=%s\n", miic_status_name(status), error);
    miic_params_free(params);
    return 0;
}
