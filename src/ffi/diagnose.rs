//! The diagnosis of a set-up across the C ABI.
//!
//! Uses: diagnose, error, ffi::boundary, ffi::loaded, ffi::version, text.

use super::boundary::{c_bytes, give_string, guard_status, out_string_slot, MiicStatus};
use super::version::MIIC_ABI_VERSION;
use crate::diagnose::diagnose;
use crate::error::Status;
use crate::text::TextEncoding;
use std::ffi::c_char;

/// Check a workstation's whole set-up for `config` (as for `miic_open`: a path to a `.toml` or
/// `.json` file, or inline JSON; a path that is not UTF-8 is read as GBK) and describe what was
/// found. No client is opened and nothing is sent to the cloud but a GET of the QR-URL path
/// without parameters; it works on a config `miic_open` refuses, and says why.
///
/// Checks, in this order, by `id`: `library` (version, ABI, bitness, text encoding), `config`
/// (every key, every problem named with its file and key), `front_end` (TCP connect time, the
/// HTTP answer and what it looked like), `clock` (skew against the front-end's `Date` header),
/// `sm2` (a point on the curve, a test encryption in the configured layout, the library families
/// that read it; the key shown only as its fingerprint), `outbox` (path, writable, free space,
/// pending and rejected counts, age of the oldest pending notification), `log` (writable,
/// today's size), `dicom_echo` (C-ECHO round trip and the AE titles), `dicom_move_port` (the
/// port can be opened), `dicom_http` (the image server answers). A check that does not apply
/// is `skipped`. Each network check is bounded by `timeout_ms` and they run at the same time,
/// so the whole call takes about `timeout_ms` (at most 2 × `timeout_ms` plus local work).
///
/// Returns `MIIC_OK` when the report was made, whatever the checks found; `*report_out` then
/// holds UTF-8 JSON whatever the config's `text_encoding` (it must be readable even when the
/// config is not): `{"format": 1, "result": "ok"|"warning"|"failed", "counts": {"ok", "warning",
/// "failed", "skipped"}, "config", "timeout_ms", "started_at", "elapsed_ms", "checks": [{"id",
/// "title": {"zh", "en"}, "result": "ok"|"warning"|"failed"|"skipped", "summary": {"zh", "en"},
/// "measured": {...}, "fix": {"zh", "en"} | null, "elapsed_ms"}]}`. `fix` is one sentence saying
/// how to fix a failed or warning check. The report holds no secret and no personal value.
/// Caller frees `*report_out` with `miic_string_free`.
///
/// Negative only when no report could be made: `MIIC_E_ARGUMENT` for a NULL argument
/// (`*report_out` is then NULL and `miic_last_error()` says which).
///
/// # Safety
/// `config` is a NUL-terminated string; `report_out` is a writable pointer.
#[no_mangle]
pub unsafe extern "C" fn miic_diagnose(
    config: *const c_char,
    report_out: *mut *mut c_char,
) -> MiicStatus {
    guard_status(|| {
        let slot = unsafe { out_string_slot(report_out, "report_out") }?;
        let bytes = unsafe { c_bytes(config, "config") }?;
        let source = match std::str::from_utf8(bytes) {
            Ok(text) => Ok(text.to_owned()),
            Err(_) => TextEncoding::Gbk.decode(bytes, "config"),
        };
        let report = diagnose(source.as_deref().map_err(Clone::clone), MIIC_ABI_VERSION);
        super::loaded::keep_loaded_if_threads_left();
        give_string(slot, &report.to_json().to_string(), TextEncoding::Utf8)?;
        Ok(Status::Ok)
    })
}
