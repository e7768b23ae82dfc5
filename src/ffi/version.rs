//! Versions, status names, and freeing returned strings.
//!
//! Uses: error, ffi::boundary.

use super::boundary::guard;
use crate::error::Status;
use std::ffi::{c_char, CString};

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
    Status::from_code(status)
        .map_or(c"MIIC_UNKNOWN", Status::c_name)
        .as_ptr()
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
    fn every_status_has_its_c_name_and_other_codes_are_unknown() {
        for s in Status::ALL {
            let name = unsafe { std::ffi::CStr::from_ptr(miic_status_name(s.code())) };
            assert_eq!(name.to_str().unwrap(), s.name());
            assert_eq!(Status::from_code(s.code()), Some(s));
        }
        assert_eq!(Status::Io.name(), "MIIC_E_IO");
        assert_eq!(Status::Internal.code(), crate::error::MIIC_E_INTERNAL);
        let unknown = unsafe { std::ffi::CStr::from_ptr(miic_status_name(-12)) };
        assert_eq!(unknown.to_str().unwrap(), "MIIC_UNKNOWN");
    }
}
