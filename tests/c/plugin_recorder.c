/* A stand-in for the cloud's plugin exe on Windows (tests/windows.rs): each launch writes its
 * argument count and first argument, as the program received them, to argv-<pid>.txt beside
 * itself (temp file, then rename, so a reader never sees half a record). */
#include <windows.h>
#include <stdio.h>
#include <wchar.h>

int wmain(int argc, wchar_t **argv) {
    wchar_t dir[MAX_PATH], tmp[MAX_PATH + 32], done[MAX_PATH + 32];
    DWORD n = GetModuleFileNameW(NULL, dir, MAX_PATH);
    if (n == 0 || n >= MAX_PATH) return 2;
    wchar_t *slash = wcsrchr(dir, L'\\');
    if (!slash) return 2;
    *slash = 0;
    DWORD pid = GetCurrentProcessId();
    swprintf(tmp, sizeof tmp / sizeof *tmp, L"%ls\\argv-%lu.tmp", dir, (unsigned long)pid);
    swprintf(done, sizeof done / sizeof *done, L"%ls\\argv-%lu.txt", dir, (unsigned long)pid);
    FILE *f = _wfopen(tmp, L"wb");
    if (!f) return 3;
    /* UTF-8, whatever the ANSI code page: the test compares it with what miic sent. */
    char arg[8192] = "";
    if (argc > 1) WideCharToMultiByte(CP_UTF8, 0, argv[1], -1, arg, sizeof arg, NULL, NULL);
    fprintf(f, "%d\n%s\n", argc - 1, arg);
    fclose(f);
    return MoveFileExW(tmp, done, MOVEFILE_REPLACE_EXISTING) ? 0 : 4;
}
