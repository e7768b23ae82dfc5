/* A host unloads libmiic right after miic_close while a name lookup still hangs inside it: the
 * lookup thread must not return into unmapped code. Not linked against libmiic (dlopen), with
 * getaddrinfo interposed (interpose.h): hung.test answers after HUNG_LOOKUP_MS.
 * Usage: unload_hung_test (config naming hung.test in MIIC_TEST_CONFIG, MIIC_TEST_LIB). */
#define _GNU_SOURCE
#include "interpose.h"
#include "miic.h"
#include "proc_check.h"

#include <dlfcn.h>
#include <stdio.h>
#include <unistd.h>

int main(void) {
    const char *path = env("MIIC_TEST_LIB");
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib) { CHECK(0, "dlopen: %s", dlerror()); return 1; }
    miic_client *(*open_)(const char *) = (miic_client * (*)(const char *)) dlsym(lib, "miic_open");
    void (*close_)(miic_client *) = (void (*)(miic_client *))dlsym(lib, "miic_close");
    miic_params *(*pnew)(void) = (miic_params * (*)(void)) dlsym(lib, "miic_params_new");
    void (*pfree)(miic_params *) = (void (*)(miic_params *))dlsym(lib, "miic_params_free");
    int32_t (*pset)(miic_params *, const char *, const char *) =
        (int32_t(*)(miic_params *, const char *, const char *))dlsym(lib, "miic_params_set");
    int32_t (*qr)(miic_client *, const miic_params *, char **) =
        (int32_t(*)(miic_client *, const miic_params *, char **))dlsym(lib, "miic_qr_url");
    miic_client *c = open_(env("MIIC_TEST_CONFIG"));
    CHECK(c != NULL, "miic_open");
    miic_params *e = pnew();
    pset(e, "accessNumber", "A1");
    pset(e, "modality", "CT");
    char *url = NULL;
    int32_t rc = qr(c, e, &url);
    CHECK(rc == MIIC_E_TIMEOUT, "qr_url with the DNS hung -> %d", rc);
    pfree(e);
    double t0 = now_ms();
    close_(c);
    CHECK(now_ms() - t0 < 500.0, "miic_close returned in %.1f ms", now_ms() - t0);
    dlclose(lib);
    void *still = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
    CHECK(still != NULL, "the library stays loaded while its lookup thread runs");
    if (still) dlclose(still);
    /* The lookup answers now and its thread returns into the library and ends. */
    usleep((HUNG_LOOKUP_MS + 500) * 1000);
    CHECK(atomic_load(&lookups_hung) == 1, "the lookup ran once and the process is still alive");
    printf("ALIVE threads=%d rss=%ld KiB\n", thread_count(), rss_kib());
    printf("unload_hung: %d failed\n", failures);
    return failures == 0 ? 0 : 1;
}
