/* Windows counterpart of dlopen_test.c (run under Wine by tests/windows.rs): 40 cycles of
 * LoadLibrary / open / calls that start miic's workers / close / FreeLibrary. Each cycle must
 * really unload miic.dll (nothing pins it); the calls that wait for the cloud start no thread
 * (a thread still inside miic's code at FreeLibrary crashes the host); the cycles leave no
 * thread and no memory behind. Not linked against miic: every function comes from
 * GetProcAddress. Config in MIIC_TEST_CONFIG (base_url an IP address). */
#include <windows.h>
#include <psapi.h>
#include <tlhelp32.h>
#include <stdio.h>
#include <stdlib.h>

#include "miic.h"

static int failures = 0;
#define CHECK(cond, ...)                                          \
    do {                                                          \
        printf((cond) ? "ok   " : "FAIL ");                       \
        if (!(cond)) failures++;                                  \
        printf(__VA_ARGS__);                                      \
        printf("\n");                                             \
    } while (0)

/* Every thread started in this process passes here (TLS callback, DLL_THREAD_ATTACH). */
static volatile LONG threads_started = 0;
static void NTAPI on_thread_event(PVOID module, DWORD reason, PVOID reserved) {
    (void)module;
    (void)reserved;
    if (reason == DLL_THREAD_ATTACH) InterlockedIncrement(&threads_started);
}
__attribute__((section(".CRT$XLB"), used)) PIMAGE_TLS_CALLBACK thread_event_entry = on_thread_event;

static int thread_count(void) {
    HANDLE snap = CreateToolhelp32Snapshot(TH32CS_SNAPTHREAD, 0);
    THREADENTRY32 t = {.dwSize = sizeof t};
    int n = 0;
    for (BOOL more = Thread32First(snap, &t); more; more = Thread32Next(snap, &t))
        if (t.th32OwnerProcessID == GetCurrentProcessId()) n++;
    CloseHandle(snap);
    return n;
}

static long private_kib(void) {
    PROCESS_MEMORY_COUNTERS c = {.cb = sizeof c};
    GetProcessMemoryInfo(GetCurrentProcess(), &c, sizeof c);
    return (long)(c.PagefileUsage / 1024);
}

/* `ret (*var)(params) = GetProcAddress(lib, "name")`, through a plain function pointer type. */
#define LOAD(var, ret, params, name) ret(*var) params = (ret(*) params)(void (*)(void))GetProcAddress(lib, name)

int main(void) {
    const char *config = getenv("MIIC_TEST_CONFIG");
    if (!config) return 2;
    /* Wine 8 cannot unload and reload ws2_32.dll in one process (a plain C DLL using sockets
     * gets WSAENOTSOCK after its second LoadLibrary too), so keep it loaded, as hosts that
     * use the network do anyway. */
    LoadLibraryA("ws2_32.dll");
    int threads_after_first = 0, sync_call_threads = 0;
    long memory_at_10 = 0;
    for (int i = 0; i < 40; i++) {
        if (i == 10) memory_at_10 = private_kib();
        HMODULE lib = LoadLibraryA("miic.dll");
        if (!lib) { CHECK(0, "LoadLibrary: %lu", GetLastError()); return 1; }
        LOAD(open_, miic_client *, (const char *), "miic_open");
        LOAD(close_, void, (miic_client *), "miic_close");
        LOAD(from_json, int32_t, (const char *, miic_params **), "miic_params_from_json");
        LOAD(pfree, void, (miic_params *), "miic_params_free");
        LOAD(login, int32_t, (miic_client *, const miic_params *), "miic_login");
        LOAD(remind_async, int32_t, (miic_client *, const miic_params *), "miic_patient_reminder_async");
        LOAD(qr, int32_t, (miic_client *, const miic_params *, char **), "miic_qr_url");
        LOAD(sfree, void, (char *), "miic_string_free");
        LOAD(last_error, const char *, (void), "miic_last_error");
        miic_client *c = open_(config);
        if (!c) { CHECK(0, "cycle %d: miic_open failed", i); return 1; }
        miic_params *doctor = NULL, *patient = NULL, *exam = NULL;
        from_json("{\"hisUserId\":\"1001\",\"doctorName\":\"D\",\"department\":\"R\",\"departmentCode\":\"F1\","
                  "\"doctorSex\":\"1\",\"doctorType\":\"1\",\"doctorCode\":\"D1\",\"doctorIdCardNo\":\"11010119800101123X\"}",
                  &doctor);
        from_json("{\"idCardNo\":\"440101199001011234\",\"patientName\":\"P\",\"mobilePhone\":\"15395092817\","
                  "\"patientType\":\"1\",\"accessNumber\":\"A1\"}",
                  &patient);
        from_json("{\"accessNumber\":\"L1\",\"modality\":\"MR\"}", &exam);
        LONG before = threads_started;
        int32_t rc = login(c, doctor);
        if (rc != MIIC_OK) CHECK(0, "cycle %d: login %d: %s", i, rc, last_error());
        sync_call_threads += (int)(threads_started - before);
        char *url = NULL;
        before = threads_started;
        rc = qr(c, exam, &url);
        if (rc != MIIC_OK) CHECK(0, "cycle %d: qr_url %d: %s", i, rc, last_error());
        sync_call_threads += (int)(threads_started - before);
        sfree(url);
        /* Last: the worker it starts may attach while later calls run. */
        rc = remind_async(c, patient); /* starts the client's reminder worker */
        if (rc != MIIC_OK) CHECK(0, "cycle %d: async reminder %d: %s", i, rc, last_error());
        pfree(doctor);
        pfree(patient);
        pfree(exam);
        close_(c);
        if (!FreeLibrary(lib)) CHECK(0, "cycle %d: FreeLibrary %lu", i, GetLastError());
        if (GetModuleHandleA("miic.dll") != NULL) {
            CHECK(0, "cycle %d: miic.dll still loaded after FreeLibrary (pinned)", i);
            break;
        }
        if (i == 0) threads_after_first = thread_count();
    }
    long growth = private_kib() - memory_at_10;
    int threads = thread_count();
    printf("THREADS_AFTER_FIRST=%d THREADS=%d MEMORY_GROWTH_KIB=%ld THREADS_STARTED=%ld\n", threads_after_first,
           threads, growth, (long)threads_started);
    CHECK(sync_call_threads == 0, "login and qr_url started no thread (%d over 40 cycles)", sync_call_threads);
    CHECK(threads <= threads_after_first, "40 cycles leave no thread behind (%d, %d after the first)", threads,
          threads_after_first);
    CHECK(growth < 8192, "private memory grew %ld KiB over 30 cycles", growth);
    printf("loadlibrary: %d failed\n", failures);
    return failures ? 1 : 0;
}
