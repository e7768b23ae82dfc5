//! The one panic boundary and the thread-local last error (the libgit2/sqlite3 model).
//!
//! Uses: error, text.

use crate::error::{Error, Result, Status};
use crate::text::TextEncoding;
use std::cell::{Cell, RefCell};
use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Status returned by every status-returning export: `MIIC_OK`, `MIIC_QUEUED` or a negative code.
pub type MiicStatus = i32;

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
    static LAST_STATUS: Cell<i32> = const { Cell::new(0) };
    /// Encoding of the client the current call uses, so its error text reaches the host readable.
    static CALL_ENCODING: Cell<TextEncoding> = const { Cell::new(TextEncoding::Utf8) };
}

/// What an export returns when it fails: a status for status functions, NULL for pointers.
pub trait FfiDefault {
    fn on_error(error: &Error) -> Self;
}

impl FfiDefault for i32 {
    fn on_error(error: &Error) -> i32 {
        error.status.code()
    }
}

impl<T> FfiDefault for *mut T {
    fn on_error(_: &Error) -> *mut T {
        std::ptr::null_mut()
    }
}

impl FfiDefault for () {
    fn on_error(_: &Error) {}
}

/// Run an export's body: catch panics, record a failure as the thread's last error.
pub fn guard<R: FfiDefault>(body: impl FnOnce() -> Result<R>) -> R {
    CALL_ENCODING.with(|e| e.set(TextEncoding::Utf8));
    let outcome = catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown".into());
        Err(Error::internal(format!(
            "internal error (please report): {what}"
        )))
    });
    match outcome {
        Ok(value) => value,
        Err(error) => {
            set_last_error(&error);
            R::on_error(&error)
        }
    }
}

/// A status-returning export body.
pub fn guard_status(body: impl FnOnce() -> Result<Status>) -> MiicStatus {
    guard(|| body().map(Status::code))
}

/// Remember that this call speaks `encoding` (set once the client handle is resolved).
pub fn set_call_encoding(encoding: TextEncoding) {
    CALL_ENCODING.with(|e| e.set(encoding));
}

fn set_last_error(error: &Error) {
    let encoding = CALL_ENCODING.with(|e| e.get());
    let mut bytes = encoding.encode(&error.message);
    bytes.retain(|b| *b != 0);
    if !matches!(error.status, Status::Argument | Status::Encoding) {
        log::debug!("{}", error);
    }
    LAST_ERROR.with(|slot| *slot.borrow_mut() = CString::new(bytes).unwrap_or_default());
    LAST_STATUS.with(|s| s.set(error.status.code()));
}

/// Status of the last failed miic call on this thread (`MIIC_OK` when none has failed), kept
/// like `miic_last_error()`: until the next failing miic call on the same thread. It is how a
/// host learns why an export that returns a pointer failed: `miic_open` gives NULL for a bad
/// config or SM2 key (`MIIC_E_CONFIG`) and an outbox or log folder it cannot use (`MIIC_E_IO`)
/// alike.
#[no_mangle]
pub extern "C" fn miic_last_status() -> MiicStatus {
    LAST_STATUS.with(Cell::get)
}

/// Message of the last failed miic call on this thread, or "" when none has failed.
///
/// The text is UTF-8, or GBK for a client opened with `text_encoding = "gbk"`. The pointer is
/// owned by miic (do not free it) and stays valid until the next miic call on the same thread.
#[no_mangle]
pub extern "C" fn miic_last_error() -> *const c_char {
    LAST_ERROR.with(|slot| slot.borrow().as_ptr())
}

// ---- pointer helpers used by the exports ----

/// The bytes of a NUL-terminated C string; `MIIC_E_ARGUMENT` naming `name` for NULL.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string that outlives the call.
pub unsafe fn c_bytes<'a>(ptr: *const c_char, name: &str) -> Result<&'a [u8]> {
    if ptr.is_null() {
        return Err(Error::argument(format!("'{name}' is NULL")));
    }
    Ok(unsafe { CStr::from_ptr(ptr) }.to_bytes())
}

/// A C string argument that must be text in `encoding`.
///
/// # Safety
/// As [`c_bytes`].
pub unsafe fn c_text(ptr: *const c_char, name: &str, encoding: TextEncoding) -> Result<String> {
    let bytes = unsafe { c_bytes(ptr, name) }?;
    encoding.decode(bytes, name)
}

/// Check an out-pointer and clear what it points to, so a failed call leaves NULL there.
///
/// # Safety
/// `out` is NULL or a valid, writable `char **`.
pub unsafe fn out_string_slot<'a>(
    out: *mut *mut c_char,
    name: &str,
) -> Result<&'a mut *mut c_char> {
    if out.is_null() {
        return Err(Error::argument(format!("'{name}' is NULL")));
    }
    let slot = unsafe { &mut *out };
    *slot = std::ptr::null_mut();
    Ok(slot)
}

/// Hand a string to the host (freed with `miic_string_free`), in `encoding`.
pub fn give_string(slot: &mut *mut c_char, text: &str, encoding: TextEncoding) -> Result<()> {
    let c = CString::new(encoding.encode(text))
        .map_err(|_| Error::protocol("returned text contains a NUL character"))?;
    *slot = c.into_raw();
    Ok(())
}
