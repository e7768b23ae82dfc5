/* miic_report_validate from C, as a PACS vendor's host calls it. Exit 0 when every check holds. */
#include <stdio.h>
#include <string.h>
#include "miic.h"

static int failures = 0;
#define CHECK(cond, what) do { if (!(cond)) { fprintf(stderr, "FAIL: %s\n", what); failures++; } } while (0)

int main(int argc, char **argv) {
    char *problems = NULL;
    /* A record using the 4.1.2.4 sample's names, with an impossible birth date. */
    const char *record = argc > 1 ? argv[1] : "{}";
    int32_t status = miic_report_validate(record, &problems);
    CHECK(status == MIIC_OK, "a record validates with MIIC_OK");
    CHECK(problems != NULL, "problems JSON returned");
    if (problems) {
        CHECK(strstr(problems, "\"conformant\":false") != NULL, "record is not conformant");
        CHECK(strstr(problems, "\"rule\":\"date_format\"") != NULL, "2023-02-30 rejected");
        CHECK(strstr(problems, "\"alias\":\"uname\"") != NULL, "uname reported as an alias");
        CHECK(strstr(problems, "\"rule\":\"required\"") != NULL, "missing required fields named");
        miic_string_free(problems);
    }

    problems = (char *)1; /* a failed call must leave NULL behind */
    status = miic_report_validate("{\"a\":", &problems);
    CHECK(status == MIIC_E_ARGUMENT, "truncated JSON is MIIC_E_ARGUMENT");
    CHECK(problems == NULL, "no problems JSON on failure");
    CHECK(strstr(miic_last_error(), "not valid") != NULL, "last error says why");

    status = miic_report_validate(NULL, &problems);
    CHECK(status == MIIC_E_ARGUMENT, "NULL json is MIIC_E_ARGUMENT");
    CHECK(strstr(miic_last_error(), "report_json") != NULL, "last error names report_json");
    status = miic_report_validate("{}", NULL);
    CHECK(status == MIIC_E_ARGUMENT, "NULL out-pointer is MIIC_E_ARGUMENT");
    miic_string_free(NULL);
    return failures == 0 ? 0 : 1;
}
