/* Interposers for the thread tests: the executable (linked with -rdynamic) defines
 * pthread_create and getaddrinfo, so libmiic's calls land here first. pthread_create counts
 * every thread started in the process; getaddrinfo answers two test names itself and passes
 * every other name to the system:
 *   front-end.test  -> 127.0.0.1 (counted)
 *   hung.test       -> hangs HUNG_LOOKUP_MS, then fails (a DNS server that does not answer) */
#ifndef MIIC_TEST_INTERPOSE_H
#define MIIC_TEST_INTERPOSE_H

#include <dlfcn.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#define HUNG_LOOKUP_MS 1500

static atomic_int threads_created = 0;
static atomic_int lookups_front_end = 0;
static atomic_int lookups_hung = 0;

typedef int (*pthread_create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
typedef int (*getaddrinfo_fn)(const char *, const char *, const struct addrinfo *,
                              struct addrinfo **);

int pthread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*start)(void *),
                   void *arg) {
    static pthread_create_fn real = NULL;
    if (!real) real = (pthread_create_fn)dlsym(RTLD_NEXT, "pthread_create");
    atomic_fetch_add(&threads_created, 1);
    return real(thread, attr, start, arg);
}

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res) {
    static getaddrinfo_fn real = NULL;
    if (!real) real = (getaddrinfo_fn)dlsym(RTLD_NEXT, "getaddrinfo");
    if (node && strcmp(node, "front-end.test") == 0) {
        atomic_fetch_add(&lookups_front_end, 1);
        return real("127.0.0.1", service, hints, res);
    }
    if (node && strcmp(node, "hung.test") == 0) {
        atomic_fetch_add(&lookups_hung, 1);
        struct timespec t = {HUNG_LOOKUP_MS / 1000, (HUNG_LOOKUP_MS % 1000) * 1000000L};
        nanosleep(&t, NULL);
        return EAI_AGAIN;
    }
    return real(node, service, hints, res);
}

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

#endif
