/* 100 cycles of dlopen / open / call / close / dlclose of libmiic: no thread left behind, memory
 * stable. Not linked against libmiic: every function comes from dlsym.
 * Usage: dlopen_test (config in MIIC_TEST_CONFIG, library path in MIIC_TEST_LIB). */
#define _GNU_SOURCE
#include "miic.h"
#include "proc_check.h"

#include <dirent.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void) {
    long rss_start = 0;
    for (int i = 0; i < 100; i++) {
        if (i == 10) rss_start = rss_kib();
        void *lib = dlopen(env("MIIC_TEST_LIB"), RTLD_NOW | RTLD_LOCAL);
        if (!lib) { CHECK(0, "dlopen: %s", dlerror()); return 1; }
        miic_client *(*open_)(const char *) = (miic_client * (*)(const char *)) dlsym(lib, "miic_open");
        void (*close_)(miic_client *) = (void (*)(miic_client *))dlsym(lib, "miic_close");
        miic_params *(*pnew)(void) = (miic_params * (*)(void)) dlsym(lib, "miic_params_new");
        int32_t (*pset)(miic_params *, const char *, const char *) =
            (int32_t(*)(miic_params *, const char *, const char *))dlsym(lib, "miic_params_set");
        void (*pfree)(miic_params *) = (void (*)(miic_params *))dlsym(lib, "miic_params_free");
        int32_t (*qr)(miic_client *, const miic_params *, char **) =
            (int32_t(*)(miic_client *, const miic_params *, char **))dlsym(lib, "miic_qr_url");
        void (*sfree)(char *) = (void (*)(char *))dlsym(lib, "miic_string_free");
        miic_client *c = open_(env("MIIC_TEST_CONFIG"));
        miic_params *e = pnew();
        pset(e, "accessNumber", "L1");
        pset(e, "modality", "MR");
        char *url = NULL;
        int32_t rc = qr(c, e, &url);
        if (rc != MIIC_OK) CHECK(0, "cycle %d: qr_url %d", i, rc);
        sfree(url);
        pfree(e);
        close_(c);
        dlclose(lib);
    }
    long growth = rss_kib() - rss_start;
    printf("RSS_GROWTH_KIB=%ld THREADS=%d\n", growth, thread_count());
    CHECK(thread_count() == 1, "100 dlopen/use/close/dlclose cycles leave no thread (%d)", thread_count());
    CHECK(growth < 4096, "RSS grew %ld KiB over 90 cycles", growth);
    printf("dlopen: %d failed\n", failures);
    return failures ? 1 : 0;
}

