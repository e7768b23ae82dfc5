//! The front-end machine's calls (spec 4.3, 4.4, 4.5) across the C ABI.
//!
//! Uses: error, ffi::boundary, ffi::client, ffi::params.

use super::boundary::{give_string, guard_status, out_string_slot, MiicStatus};
use super::client::{client_ref, miic_client};
use super::params::{miic_params, params_ref};
use crate::error::Status;
use std::ffi::c_char;

/// 4.4.3.1 login (type 1): validate the doctor (hisUserId, doctorName, department,
/// departmentCode, doctorSex, doctorType, doctorCode, doctorIdCardNo; phoneNumber optional),
/// keep it in the client for logout and reminders, and log in the plugin by HTTP or by starting
/// the plugin exe (`[plugin] login_via`). The doctor is kept even if the plugin is unreachable.
#[no_mangle]
pub extern "C" fn miic_login(c: *mut miic_client, doctor: *const miic_params) -> MiicStatus {
    guard_status(|| {
        let client = client_ref(c)?;
        let params = params_ref(doctor, "doctor")?;
        client.login(&params)?;
        Ok(Status::Ok)
    })
}

/// 4.4.3.1 logout (type 2) of the doctor kept by `miic_login`; `MIIC_E_STATE` if none.
#[no_mangle]
pub extern "C" fn miic_logout(c: *mut miic_client) -> MiicStatus {
    guard_status(|| {
        let client = client_ref(c)?;
        client.logout()?;
        Ok(Status::Ok)
    })
}

/// The `WYHT://…` URL of login method 2 for browser-based hosts (`type` param: 1 default, or 2).
/// No network. On success `*url_out` holds the URL; caller frees it with `miic_string_free`.
///
/// # Safety
/// `url_out` is a writable pointer.
#[no_mangle]
pub unsafe extern "C" fn miic_plugin_url(
    c: *mut miic_client,
    doctor: *const miic_params,
    url_out: *mut *mut c_char,
) -> MiicStatus {
    guard_status(|| {
        let client = client_ref(c)?;
        let slot = unsafe { out_string_slot(url_out, "url_out") }?;
        let params = params_ref(doctor, "doctor")?;
        let url = client.plugin_url(&params)?;
        give_string(slot, &url, client.encoding())?;
        Ok(Status::Ok)
    })
}

/// 4.4.3.2 patient reminder, waiting for the cloud's answer (at most `timeout_ms`).
/// Required: idCardNo, patientName, mobilePhone, patientType (1/2/3/4/9), accessNumber. The
/// doctor's fields come from the login session unless given; `MIIC_E_STATE` when neither.
/// hospitalId comes from the config, clientIp and mac from this workstation, unless given.
#[no_mangle]
pub extern "C" fn miic_patient_reminder(
    c: *mut miic_client,
    patient: *const miic_params,
) -> MiicStatus {
    guard_status(|| {
        let client = client_ref(c)?;
        let params = params_ref(patient, "patient")?;
        client.patient_reminder(&params)?;
        Ok(Status::Ok)
    })
}

/// Like `miic_patient_reminder`, but returns `MIIC_OK` as soon as the reminder is checked and
/// queued; a worker owned by the client sends it (and looks up this workstation's clientIp and
/// mac when not given, which can be slow on Windows). Local errors return at once. If a reminder
/// is still waiting to be sent, the new one replaces it (the doctor has moved on to another
/// patient). Outcomes are logged. The queue lives in memory: `miic_close` drops what waits.
#[no_mangle]
pub extern "C" fn miic_patient_reminder_async(
    c: *mut miic_client,
    patient: *const miic_params,
) -> MiicStatus {
    guard_status(|| {
        let client = client_ref(c)?;
        let params = params_ref(patient, "patient")?;
        client.patient_reminder_async(&params)?;
        Ok(Status::Ok)
    })
}

/// 4.3 QR URL: GET `qrurl` with accessNumber, modality and hospitalId (from the config unless
/// given). On success `*url_out` holds the film URL; caller frees it with `miic_string_free`.
/// Cloud codes 202 (parameters missing) and 500 give `MIIC_E_SERVER` with code and message.
///
/// # Safety
/// `url_out` is a writable pointer.
#[no_mangle]
pub unsafe extern "C" fn miic_qr_url(
    c: *mut miic_client,
    exam: *const miic_params,
    url_out: *mut *mut c_char,
) -> MiicStatus {
    guard_status(|| {
        let client = client_ref(c)?;
        let slot = unsafe { out_string_slot(url_out, "url_out") }?;
        let params = params_ref(exam, "exam")?;
        let url = client.qr_url(&params)?;
        give_string(slot, &url, client.encoding())?;
        Ok(Status::Ok)
    })
}

/// 4.5 delete notification: patientName, accessionNo; operateDoctorName (default: the logged-in
/// doctor), operateDateTime `yyyy-MM-dd HH:mm:ss` (default: now), hospitalId (default: config).
/// Sent with both `operateDateTime` and `deleteDateTime`.
///
/// The notification is first committed to the outbox file (`[outbox] path`), then sent within
/// `timeout_ms`. Returns `MIIC_OK` when the cloud answered code 200, `MIIC_QUEUED` when it is
/// stored and still pending: the client's retry worker sends it (backoff up to 5 minutes, also
/// after a restart, at the next `miic_open`), per accession number in the order of the calls.
/// Fails at once, not retried: invalid fields (`MIIC_E_ARGUMENT`), the cloud's code 400
/// (`MIIC_E_SERVER`; the item is kept in the outbox's dead list), an outbox that cannot be
/// written (`MIIC_E_IO` naming the file: the notification was NOT stored).
#[no_mangle]
pub extern "C" fn miic_delete_notify(
    c: *mut miic_client,
    deletion: *const miic_params,
) -> MiicStatus {
    guard_status(|| {
        let client = client_ref(c)?;
        let params = params_ref(deletion, "deletion")?;
        client.delete_notify(&params)
    })
}
