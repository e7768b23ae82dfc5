/* The doctor's workflow in C: login, patient reminder, QR URL, delete notification, logout.
 *
 *   cc -Iinclude examples/c/doctor_workflow.c -Ltarget/release -lmiic -o doctor_workflow
 *   ./doctor_workflow examples/miic.toml      (or inline JSON config)
 */
#include <stdio.h>
#include "miic.h"

/* Print the failure and return its status. */
static int fail(const char *what, int32_t rc) {
    fprintf(stderr, "%s failed: %s (%d): %s\n", what, miic_status_name(rc), rc, miic_last_error());
    return rc;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s CONFIG\n", argv[0]);
        return 2;
    }
    if (miic_abi_version() != MIIC_ABI_VERSION) {
        fprintf(stderr, "libmiic ABI %u, header ABI %d\n", miic_abi_version(), MIIC_ABI_VERSION);
        return 2;
    }
    miic_client *client = miic_open(argv[1]);
    if (!client) {
        fprintf(stderr, "miic_open: %s: %s\n", miic_status_name(miic_last_status()), miic_last_error());
        return 1;
    }
    int32_t rc;

    /* 1. The doctor logs in to the PACS: log in to the remote-viewing plugin too (4.4.3.1). */
    miic_params *doctor = miic_params_new();
    miic_params_set(doctor, "hisUserId", "1001");
    miic_params_set(doctor, "doctorName", "张医生");
    miic_params_set(doctor, "department", "放射科");
    miic_params_set(doctor, "departmentCode", "FSK01");
    miic_params_set(doctor, "doctorSex", "1");        /* dictionary sex */
    miic_params_set(doctor, "doctorType", "1");       /* 1 医师, 2 技师, 3 护士 */
    miic_params_set(doctor, "doctorCode", "D440100001");
    miic_params_set(doctor, "doctorIdCardNo", "11010119800101123X"); /* miic encrypts it (SM2) */
    rc = miic_login(client, doctor);
    miic_params_free(doctor);
    if (rc != MIIC_OK) return fail("login", rc);
    printf("login: ok\n");

    /* 2. The doctor opens a patient: remind of exams at other hospitals (4.4.3.2), without
     *    blocking the UI thread. The doctor's fields come from the login. */
    miic_params *patient = miic_params_new();
    miic_params_set(patient, "idCardNo", "440101199001011234");
    miic_params_set(patient, "patientName", "李小明");
    miic_params_set(patient, "mobilePhone", "15395092817");
    miic_params_set(patient, "patientType", "1");     /* 1 门诊, 2 住院, 3 体检, 4 急诊, 9 未说明 */
    miic_params_set(patient, "accessNumber", "202305010001");
    rc = miic_patient_reminder_async(client, patient);
    miic_params_free(patient);
    if (rc != MIIC_OK) return fail("reminder", rc);
    printf("reminder: queued\n");

    /* 3. The report is printed: get the QR code's URL (4.3). */
    miic_params *exam = miic_params_new();
    miic_params_set(exam, "accessNumber", "202305010001");
    miic_params_set(exam, "modality", "CT");
    char *url = NULL;
    rc = miic_qr_url(client, exam, &url);
    miic_params_free(exam);
    if (rc != MIIC_OK) return fail("qr url", rc);
    printf("qr url: %s\n", url);
    miic_string_free(url);

    /* 4. Images deleted in the PACS: tell the cloud (4.5). */
    miic_params *deletion = miic_params_new();
    miic_params_set(deletion, "patientName", "李小明");
    miic_params_set(deletion, "accessionNo", "202305010001");
    rc = miic_delete_notify(client, deletion); /* operateDoctorName, operateDateTime default */
    miic_params_free(deletion);
    if (rc < 0) return fail("delete notification", rc);
    printf("delete notification: %s\n", rc == MIIC_OK ? "delivered" : "queued");

    /* 5. Logout. */
    rc = miic_logout(client);
    if (rc != MIIC_OK) return fail("logout", rc);
    printf("logout: ok\n");
    miic_close(client);
    return 0;
}
