//! The library as a host sees it: the C ABI exports (`miic::ffi::…`), called exactly as a C, C# or
//! Delphi host calls them, behind a small safe wrapper. This is the only `unsafe` code in miic-cli.

use miic::ffi::{
    miic_client, miic_close, miic_delete_notify, miic_diagnose, miic_dicom_echo,
    miic_dicom_fetch_http, miic_dicom_find, miic_dicom_retrieve, miic_last_error, miic_last_status,
    miic_login, miic_logout, miic_open, miic_params, miic_params_free, miic_params_from_json,
    miic_params_new, miic_params_set, miic_patient_reminder, miic_patient_reminder_async,
    miic_plugin_url, miic_qr_image, miic_qr_render, miic_qr_url, miic_report_validate,
    miic_set_progress_callback, miic_sm2_encrypt, miic_status_name, miic_string_free,
    MIIC_E_ARGUMENT,
};
use miic::TextEncoding;
use std::ffi::{c_char, c_void, CStr, CString};
use std::fmt;

/// A call that returned a negative status: the status, its name and `miic_last_error()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub status: i32,
    pub name: String,
    pub message: String,
}

impl Failure {
    /// A failure found before calling the library (e.g. a NUL byte in an argument).
    pub fn argument(message: impl Into<String>) -> Failure {
        Failure {
            status: MIIC_E_ARGUMENT,
            name: status_name(MIIC_E_ARGUMENT),
            message: message.into(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.name, self.status, self.message)
    }
}

impl std::error::Error for Failure {}

pub type Outcome<T> = Result<T, Failure>;

/// `MIIC_OK`, `MIIC_E_SERVER`, … (static strings, never freed).
pub fn status_name(status: i32) -> String {
    // SAFETY: miic_status_name returns a static NUL-terminated string for any input.
    unsafe { CStr::from_ptr(miic_status_name(status)) }
        .to_string_lossy()
        .into_owned()
}

/// Read `miic_last_error()` now (it is valid only until the next miic call on this thread).
fn last_error(encoding: TextEncoding) -> String {
    let ptr = miic_last_error();
    if ptr.is_null() {
        return String::new();
    }
    // SAFETY: a non-NULL miic_last_error is a NUL-terminated thread-local string, copied at once.
    let bytes = unsafe { CStr::from_ptr(ptr) }.to_bytes().to_vec();
    encoding
        .decode(&bytes, "miic_last_error")
        .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).into_owned())
}

fn check(status: i32, encoding: TextEncoding) -> Outcome<i32> {
    if status >= 0 {
        Ok(status)
    } else {
        Err(Failure {
            status,
            name: status_name(status),
            message: last_error(encoding),
        })
    }
}

/// Text for the library in `encoding`, NUL-terminated.
fn c_text(text: &str, encoding: TextEncoding, what: &str) -> Outcome<CString> {
    CString::new(encoding.encode(text))
        .map_err(|_| Failure::argument(format!("'{what}' contains a NUL character")))
}

/// Take ownership of a string the library returned through `char **`, freeing it.
fn take_string(ptr: *mut c_char, encoding: TextEncoding) -> String {
    if ptr.is_null() {
        return String::new();
    }
    // SAFETY: the library returned this string through an out-parameter; we copy it, then
    // free it exactly once with miic_string_free.
    let bytes = unsafe { CStr::from_ptr(ptr) }.to_bytes().to_vec();
    unsafe { miic_string_free(ptr) };
    encoding
        .decode(&bytes, "result")
        .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).into_owned())
}

/// An open client (`miic_open` … `miic_close`).
pub struct Client {
    raw: *mut miic_client,
    encoding: TextEncoding,
}

// SAFETY: a client handle is a registry token and the ABI allows its use from many threads.
unsafe impl Send for Client {}
unsafe impl Sync for Client {}

impl Client {
    /// `config`: a path to a `.toml`/`.json` file, or inline JSON text.
    pub fn open(config: &str) -> Outcome<Client> {
        // The config's text encoding decides how we pass text in and read it out, as a host must know.
        let encoding = miic::Config::load(config)
            .map(|c| c.text_encoding)
            .unwrap_or(TextEncoding::Utf8);
        let source = c_text(config, TextEncoding::Utf8, "config")?;
        // SAFETY: `source` is NUL-terminated and outlives the call.
        let raw = unsafe { miic_open(source.as_ptr()) };
        if raw.is_null() {
            // miic_open returns NULL; why (MIIC_E_CONFIG, MIIC_E_IO, …) is the thread's last status.
            let status = miic_last_status();
            return Err(Failure {
                status,
                name: status_name(status),
                message: last_error(TextEncoding::Utf8),
            });
        }
        Ok(Client { raw, encoding })
    }

    /// A params bag from an optional JSON object, then `fields` set one by one (they win).
    pub fn params(&self, json: Option<&str>, fields: &[(String, String)]) -> Outcome<Params> {
        let params = match json {
            Some(json) => {
                let text = c_text(json, TextEncoding::Utf8, "json")?;
                let mut raw: *mut miic_params = std::ptr::null_mut();
                // SAFETY: `text` is NUL-terminated; `raw` is a writable slot.
                let status = unsafe { miic_params_from_json(text.as_ptr(), &mut raw) };
                check(status, TextEncoding::Utf8)?;
                Params { raw }
            }
            None => {
                let raw = miic_params_new();
                if raw.is_null() {
                    return Err(Failure::argument("miic_params_new returned NULL"));
                }
                Params { raw }
            }
        };
        for (key, value) in fields {
            let k = c_text(key, self.encoding, "field name")?;
            let v = c_text(value, self.encoding, key)?;
            // SAFETY: both strings are NUL-terminated and outlive the call; the bag is live.
            let status = unsafe { miic_params_set(params.raw, k.as_ptr(), v.as_ptr()) };
            check(status, self.encoding)?;
        }
        Ok(params)
    }

    pub fn login(&self, doctor: &Params) -> Outcome<i32> {
        check(miic_login(self.raw, doctor.raw), self.encoding)
    }

    pub fn logout(&self) -> Outcome<i32> {
        check(miic_logout(self.raw), self.encoding)
    }

    pub fn plugin_url(&self, doctor: &Params) -> Outcome<String> {
        let mut out: *mut c_char = std::ptr::null_mut();
        // SAFETY: `out` is a writable slot; the handles are live.
        let status = unsafe { miic_plugin_url(self.raw, doctor.raw, &mut out) };
        check(status, self.encoding)?;
        Ok(take_string(out, self.encoding))
    }

    pub fn patient_reminder(&self, patient: &Params) -> Outcome<i32> {
        check(miic_patient_reminder(self.raw, patient.raw), self.encoding)
    }

    pub fn patient_reminder_async(&self, patient: &Params) -> Outcome<i32> {
        check(
            miic_patient_reminder_async(self.raw, patient.raw),
            self.encoding,
        )
    }

    pub fn qr_url(&self, exam: &Params) -> Outcome<String> {
        let mut out: *mut c_char = std::ptr::null_mut();
        // SAFETY: `out` is a writable slot; the handles are live.
        let status = unsafe { miic_qr_url(self.raw, exam.raw, &mut out) };
        check(status, self.encoding)?;
        Ok(take_string(out, self.encoding))
    }

    /// `miic_qr_image`: the exam's QR code with its caption, written to `png_path`.
    pub fn qr_image(&self, exam: &Params, png_path: &str) -> Outcome<i32> {
        let path = c_text(png_path, self.encoding, "png_path")?;
        // SAFETY: `path` is NUL-terminated and outlives the call; the handles are live.
        let status = unsafe { miic_qr_image(self.raw, exam.raw, path.as_ptr()) };
        check(status, self.encoding)
    }

    pub fn delete_notify(&self, deletion: &Params) -> Outcome<i32> {
        check(miic_delete_notify(self.raw, deletion.raw), self.encoding)
    }

    pub fn sm2_encrypt(&self, plain: &str) -> Outcome<String> {
        let text = c_text(plain, self.encoding, "plain")?;
        let mut out: *mut c_char = std::ptr::null_mut();
        // SAFETY: `text` is NUL-terminated; `out` is a writable slot.
        let status = unsafe { miic_sm2_encrypt(self.raw, text.as_ptr(), &mut out) };
        check(status, self.encoding)?;
        Ok(take_string(out, self.encoding))
    }
}

/// Progress of a DICOM transfer: files done, files in all, bytes done.
pub type Progress<'a> = &'a (dyn Fn(u32, u32, i64) + Sync);

unsafe extern "C" fn on_progress(user: *mut c_void, done: u32, total: u32, bytes: i64) {
    // SAFETY: `user` points at the `Progress` registered in `with_progress`, which outlives
    // the registration.
    let progress = unsafe { &*(user as *const Progress) };
    progress(done, total, bytes);
}

impl Client {
    /// 4.2 C-ECHO (`miic_dicom_echo`).
    pub fn dicom_echo(&self) -> Outcome<i32> {
        check(miic_dicom_echo(self.raw), self.encoding)
    }

    /// 4.2 C-FIND of one study (`miic_dicom_find`): the matches as JSON.
    pub fn dicom_find(&self, study_uid: &str) -> Outcome<String> {
        let study = c_text(study_uid, self.encoding, "study")?;
        let mut out: *mut c_char = std::ptr::null_mut();
        // SAFETY: `study` is NUL-terminated; `out` is a writable slot freed by take_string.
        let status = unsafe { miic_dicom_find(self.raw, study.as_ptr(), &mut out) };
        let json = take_string(out, self.encoding);
        check(status, self.encoding)?;
        Ok(json)
    }

    /// 4.2 retrieve a study (`miic_dicom_retrieve`): the status and the manifest (also on failure).
    pub fn dicom_retrieve(
        &self,
        study_uid: &str,
        dest: &str,
        progress: Progress,
    ) -> (Outcome<i32>, String) {
        let (study, dest) = match (
            c_text(study_uid, self.encoding, "study"),
            c_text(dest, self.encoding, "out"),
        ) {
            (Ok(s), Ok(d)) => (s, d),
            (Err(e), _) | (_, Err(e)) => return (Err(e), String::new()),
        };
        self.with_progress(progress, |out| {
            // SAFETY: both strings are NUL-terminated and live; `out` is a writable slot.
            unsafe { miic_dicom_retrieve(self.raw, study.as_ptr(), dest.as_ptr(), out) }
        })
    }

    /// 4.2 download a `dcmPath` list (`miic_dicom_fetch_http`): the status and the manifest.
    pub fn dicom_fetch_http(
        &self,
        dcm_path: &str,
        dest: &str,
        progress: Progress,
    ) -> (Outcome<i32>, String) {
        let (list, dest) = match (
            c_text(dcm_path, self.encoding, "dcm-path"),
            c_text(dest, self.encoding, "out"),
        ) {
            (Ok(s), Ok(d)) => (s, d),
            (Err(e), _) | (_, Err(e)) => return (Err(e), String::new()),
        };
        self.with_progress(progress, |out| {
            // SAFETY: both strings are NUL-terminated and live; `out` is a writable slot.
            unsafe { miic_dicom_fetch_http(self.raw, list.as_ptr(), dest.as_ptr(), out) }
        })
    }

    fn with_progress(
        &self,
        progress: Progress,
        call: impl FnOnce(*mut *mut c_char) -> i32,
    ) -> (Outcome<i32>, String) {
        let user = &progress as *const Progress as *mut c_void;
        if let Err(e) = check(
            miic_set_progress_callback(self.raw, Some(on_progress), user),
            self.encoding,
        ) {
            return (Err(e), String::new());
        }
        let mut out: *mut c_char = std::ptr::null_mut();
        let status = call(&mut out);
        // `progress` must outlive every callback: unregister before returning.
        miic_set_progress_callback(self.raw, None, std::ptr::null_mut());
        let manifest = take_string(out, self.encoding);
        (check(status, self.encoding), manifest)
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        // Joins the client's workers (an async reminder still queued is sent or dropped first).
        miic_close(self.raw);
    }
}

/// `miic_qr_render`: any text as a captioned QR code PNG, no client; `options` as fields
/// (modulePx, sizePx, sizeMm, dpi, caption, ecLevel), all UTF-8.
pub fn qr_render(text: &str, png_path: &str, options: &[(String, String)]) -> Outcome<i32> {
    let text = c_text(text, TextEncoding::Utf8, "text")?;
    let path = c_text(png_path, TextEncoding::Utf8, "png_path")?;
    let bag = Params {
        raw: miic_params_new(),
    };
    if bag.raw.is_null() {
        return Err(Failure::argument("miic_params_new returned NULL"));
    }
    for (key, value) in options {
        let k = c_text(key, TextEncoding::Utf8, "option name")?;
        let v = c_text(value, TextEncoding::Utf8, key)?;
        // SAFETY: both strings are NUL-terminated and outlive the call; the bag is live.
        check(
            unsafe { miic_params_set(bag.raw, k.as_ptr(), v.as_ptr()) },
            TextEncoding::Utf8,
        )?;
    }
    // SAFETY: the strings are NUL-terminated and outlive the call; the bag is live.
    let status = unsafe { miic_qr_render(text.as_ptr(), path.as_ptr(), bag.raw) };
    check(status, TextEncoding::Utf8)
}

/// A params bag (`miic_params_new`/`miic_params_from_json` … `miic_params_free`).
pub struct Params {
    raw: *mut miic_params,
}

impl Drop for Params {
    fn drop(&mut self) {
        miic_params_free(self.raw);
    }
}

/// 4.1 `miic_report_validate`: the problems JSON for report data (UTF-8 JSON, no client).
pub fn report_validate(json: &str) -> Outcome<String> {
    let text = c_text(json, TextEncoding::Utf8, "report_json")?;
    let mut out: *mut c_char = std::ptr::null_mut();
    // SAFETY: `text` is NUL-terminated; `out` is a writable slot.
    let status = unsafe { miic_report_validate(text.as_ptr(), &mut out) };
    check(status, TextEncoding::Utf8)?;
    Ok(take_string(out, TextEncoding::Utf8))
}

/// `miic_diagnose`: the report JSON (UTF-8) on the set-up `config` describes; no client.
pub fn diagnose(config: &str) -> Outcome<String> {
    let text = c_text(config, TextEncoding::Utf8, "config")?;
    let mut out: *mut c_char = std::ptr::null_mut();
    // SAFETY: `text` is NUL-terminated; `out` is a writable slot freed by take_string.
    let status = unsafe { miic_diagnose(text.as_ptr(), &mut out) };
    let report = take_string(out, TextEncoding::Utf8);
    check(status, TextEncoding::Utf8)?;
    Ok(report)
}
