//! Versions, status names, and freeing returned strings.

use super::boundary::guard;
use crate::error::Status;
use std::ffi::{c_char, CString};

/// Success.
pub const MIIC_OK: i32 = 0;
/// Accepted and stored durably; delivery is retried in the background.
pub const MIIC_QUEUED: i32 = 1;
/// A pointer was NULL, or a field is missing or invalid (the message names it).
pub const MIIC_E_ARGUMENT: i32 = -1;
/// Text is not valid in the client's encoding (UTF-8 or GBK).
pub const MIIC_E_ENCODING: i32 = -2;
/// The configuration is invalid or lacks what the call needs (the message names the key).
pub const MIIC_E_CONFIG: i32 = -3;
/// The call is not possible now, e.g. no doctor is logged in.
pub const MIIC_E_STATE: i32 = -4;
/// The front-end machine could not be reached (refused, unreachable, host not found).
pub const MIIC_E_NETWORK: i32 = -5;
/// No answer within `timeout_ms`.
pub const MIIC_E_TIMEOUT: i32 = -6;
/// The cloud answered with an error code; the message carries its code and message.
pub const MIIC_E_SERVER: i32 = -7;
/// The reply was not understood (HTTP error status, not JSON, too large).
pub const MIIC_E_PROTOCOL: i32 = -8;
/// SM2 encryption failed, or the key is unusable.
pub const MIIC_E_CRYPTO: i32 = -9;
/// A DICOM peer failed or refused.
pub const MIIC_E_DICOM: i32 = -10;
/// A local file or folder could not be read or written.
pub const MIIC_E_IO: i32 = -11;
/// A bug in miic; the message says what, please report it.
pub const MIIC_E_INTERNAL: i32 = -99;

/// Version of the C ABI. Bindings compare it with their own constant when they load; it changes
/// only when an existing export changes its meaning or signature.
pub const MIIC_ABI_VERSION: u32 = 1;

const VERSION: &std::ffi::CStr = match std::ffi::CStr::from_bytes_with_nul(
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes(),
) {
    Ok(v) => v,
    Err(_) => panic!("version string"),
};

/// The library version, e.g. "0.1.0". Static: never free it.
#[no_mangle]
pub extern "C" fn miic_version() -> *const c_char {
    VERSION.as_ptr()
}

/// The ABI version of the loaded library; compare with `MIIC_ABI_VERSION` from the header.
#[no_mangle]
pub extern "C" fn miic_abi_version() -> u32 {
    MIIC_ABI_VERSION
}

/// The name of a status code ("MIIC_E_TIMEOUT"), or "MIIC_UNKNOWN". Static: never free it.
#[no_mangle]
pub extern "C" fn miic_status_name(status: i32) -> *const c_char {
    let name: &'static [u8] = match Status::from_code(status) {
        Some(Status::Ok) => b"MIIC_OK\0",
        Some(Status::Queued) => b"MIIC_QUEUED\0",
        Some(Status::Argument) => b"MIIC_E_ARGUMENT\0",
        Some(Status::Encoding) => b"MIIC_E_ENCODING\0",
        Some(Status::Config) => b"MIIC_E_CONFIG\0",
        Some(Status::State) => b"MIIC_E_STATE\0",
        Some(Status::Network) => b"MIIC_E_NETWORK\0",
        Some(Status::Timeout) => b"MIIC_E_TIMEOUT\0",
        Some(Status::Server) => b"MIIC_E_SERVER\0",
        Some(Status::Protocol) => b"MIIC_E_PROTOCOL\0",
        Some(Status::Crypto) => b"MIIC_E_CRYPTO\0",
        Some(Status::Dicom) => b"MIIC_E_DICOM\0",
        Some(Status::Io) => b"MIIC_E_IO\0",
        Some(Status::Internal) => b"MIIC_E_INTERNAL\0",
        None => b"MIIC_UNKNOWN\0",
    };
    name.as_ptr().cast()
}

/// Free a string miic returned through a `char **` out-parameter. NULL is ignored.
/// Never pass a string from `miic_version`, `miic_status_name` or `miic_last_error`.
///
/// # Safety
/// `s` is NULL or a string returned by miic and not yet freed.
#[no_mangle]
pub unsafe extern "C" fn miic_string_free(s: *mut c_char) {
    guard(|| {
        if !s.is_null() {
            drop(unsafe { CString::from_raw(s) });
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_match_status_enum_and_names() {
        for s in Status::ALL {
            let name = unsafe { std::ffi::CStr::from_ptr(miic_status_name(s.code())) };
            assert_eq!(name.to_str().unwrap(), s.name());
        }
        assert_eq!(MIIC_E_INTERNAL, Status::Internal.code());
        assert_eq!(MIIC_E_IO, Status::Io.code());
    }
}
