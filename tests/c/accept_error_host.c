/* A host that runs out of file descriptors while a C-MOVE retrieve waits for the PACS's
 * connection (a busy PACS workstation near its handle limit): the storage SCP's accept fails
 * with EMFILE. That must be passing trouble: once descriptors are free again the receiver
 * accepts the PACS and the retrieve completes; it must not end the receiver (and the retrieve).
 *
 * The log callback runs on miic's thread, so the timing is exact: when miic logs that it
 * listens (before it connects to send the C-MOVE request), the callback takes every free
 * descriptor but one (that connection's); when miic logs the first failed accept, it gives
 * them back.
 *
 * Usage: accept_error_host STUDY_UID DEST_DIR   (config JSON in MIIC_TEST_CONFIG; with
 *        MIIC_TEST_VERBOSE set, every log line goes to stderr)
 * Prints: filled=N accept_errors=N retrieve=STATUS completed=N
 */
#include "miic.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define MAX_DUMMIES 1024

static int dummies[MAX_DUMMIES];
static int n_dummies;
static int filled;
static int freed;
static int accept_errors;

static void take_every_descriptor(void) {
    while (n_dummies < MAX_DUMMIES) {
        int fd = open("/dev/null", O_RDONLY);
        if (fd < 0) {
            break;
        }
        dummies[n_dummies++] = fd;
    }
    /* One stays free: the association on which miic sends the C-MOVE request. */
    if (n_dummies > 0) {
        close(dummies[--n_dummies]);
    }
    filled = n_dummies;
}

static void give_them_back(void) {
    while (n_dummies > 0) {
        close(dummies[--n_dummies]);
    }
}

static void on_log(void *user, int32_t level, const char *message) {
    (void)user;
    (void)level;
    if (getenv("MIIC_TEST_VERBOSE") != NULL) {
        fprintf(stderr, "log: %s\n", message);
    }
    if (!filled && strstr(message, "C-MOVE storage SCP: listening") != NULL) {
        take_every_descriptor();
    } else if (strstr(message, "accepting a connection failed") != NULL) {
        accept_errors++;
        if (!freed) {
            freed = 1;
            give_them_back();
        }
    }
}

int main(int argc, char **argv) {
    if (argc != 3 || getenv("MIIC_TEST_CONFIG") == NULL) {
        fprintf(stderr, "usage: MIIC_TEST_CONFIG=json %s STUDY_UID DEST_DIR\n", argv[0]);
        return 2;
    }
    /* A small descriptor table, so taking all of it is quick and bounded. */
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
        perror("getrlimit");
        return 2;
    }
    limit.rlim_cur = limit.rlim_max < 256 ? limit.rlim_max : 256;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
        perror("setrlimit");
        return 2;
    }
    struct miic_client *c = miic_open(getenv("MIIC_TEST_CONFIG"));
    if (c == NULL) {
        fprintf(stderr, "miic_open: %s\n", miic_last_error());
        return 2;
    }
    miic_set_log_callback(on_log, NULL);
    char *manifest = NULL;
    MiicStatus status = miic_dicom_retrieve(c, argv[1], argv[2], &manifest);
    miic_set_log_callback(NULL, NULL);
    give_them_back();
    int completed = -1;
    if (manifest != NULL) {
        const char *at = strstr(manifest, "\"completed\":");
        if (at != NULL) {
            completed = atoi(at + strlen("\"completed\":"));
        }
    }
    printf("filled=%d accept_errors=%d retrieve=%s completed=%d\n", filled, accept_errors,
           miic_status_name(status), completed);
    if (status != MIIC_OK) {
        printf("error: %s\n", miic_last_error());
    }
    miic_string_free(manifest);
    miic_close(c);
    return 0;
}
