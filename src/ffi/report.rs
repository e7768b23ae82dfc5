//! Report data validation (spec 4.1) across the C ABI.
//!
//! Uses: error, ffi::boundary, report, text.

use super::boundary::{c_bytes, give_string, guard_status, out_string_slot, MiicStatus};
use crate::error::{Error, Status};
use crate::report::{validate_json, MAX_INPUT_BYTES};
use crate::text::TextEncoding;
use std::ffi::c_char;

/// Check report data against spec 4.1 (the `View_Pacs_Text_Info` columns / the 4.1.2 reply)
/// and the dictionaries of section 5. No client is needed; the text is UTF-8 JSON.
///
/// `report_json` is one record object, an array of records, or a 4.1.2 reply
/// `{"data": [...], "code": 0, "message": "..."}`; at most 64 MiB, nested at most 128 deep.
/// Names of the 4.1.2.4 sample reply (`uname`, `sex`, `accessNumber`, …) are accepted as
/// aliases of the table's names and listed under `"aliases"`.
///
/// Returns `MIIC_OK` when the check ran, conformant or not: `*problems_out` then holds JSON
/// `{"conformant": true/false, "records": n, "errors": n, "warnings": n, "rules": {rule: count},
/// "aliases": [{"alias", "field", "kind", "records"}], "extra_fields": {name: count},
/// "envelope": {"code", "message"} | null, "problems": [{"record": index | null, "field",
/// "rule", "severity": "error" | "warning", "message"}], "truncated": true/false}`. `conformant` is
/// true when no problem has severity "error"; personal values are masked in messages; at most
/// 10000 problems are listed (`rules` always counts all). Caller frees `*problems_out` with
/// `miic_string_free`.
///
/// Input that is not report data at all (NULL, not UTF-8, not JSON, too large, too deep, not
/// an object or array) returns `MIIC_E_ARGUMENT` (`MIIC_E_ENCODING` for bad UTF-8) with
/// `*problems_out` set to NULL and `miic_last_error()` saying why.
///
/// # Safety
/// `report_json` is a NUL-terminated string; `problems_out` is a writable pointer.
#[no_mangle]
pub unsafe extern "C" fn miic_report_validate(
    report_json: *const c_char,
    problems_out: *mut *mut c_char,
) -> MiicStatus {
    guard_status(|| {
        let slot = unsafe { out_string_slot(problems_out, "problems_out") }?;
        let bytes = unsafe { c_bytes(report_json, "report_json") }?;
        if bytes.len() > MAX_INPUT_BYTES {
            return Err(Error::argument(format!(
                "'report_json' is {} bytes; the limit is {MAX_INPUT_BYTES} bytes",
                bytes.len()
            )));
        }
        let text = TextEncoding::Utf8.decode(bytes, "report_json")?;
        let report = validate_json(&text)?;
        give_string(slot, &report.to_json().to_string(), TextEncoding::Utf8)?;
        Ok(Status::Ok)
    })
}
