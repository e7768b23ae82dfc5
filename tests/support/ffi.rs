//! Calling miic through its C exports from Rust, as a host does: the one set of wrappers the
//! integration tests and benches share (`mod support;`, or `#[path = "support/ffi.rs"] mod ffi;`).
#![allow(dead_code)]

use miic::ffi::{
    miic_client, miic_close, miic_last_error, miic_open, miic_params, miic_params_free,
    miic_params_from_json, miic_params_new, miic_params_set, miic_string_free, MIIC_OK,
};
use std::ffi::{c_char, CStr, CString};

/// A client opened through `miic_open`, closed on drop.
pub struct ClientHandle(pub *mut miic_client);

impl ClientHandle {
    /// Open, or panic with `miic_last_error()`.
    pub fn open(config: &str) -> ClientHandle {
        ClientHandle::try_open(config).unwrap_or_else(|e| panic!("miic_open failed: {e}"))
    }

    /// Open, or the message of `miic_last_error()`.
    pub fn try_open(config: &str) -> Result<ClientHandle, String> {
        let text = cstr(config);
        let c = unsafe { miic_open(text.as_ptr()) };
        if c.is_null() {
            Err(last_error())
        } else {
            Ok(ClientHandle(c))
        }
    }
}

impl Drop for ClientHandle {
    fn drop(&mut self) {
        miic_close(self.0);
    }
}

/// A params bag built through the C ABI, freed on drop.
pub struct ParamsHandle(pub *mut miic_params);

impl ParamsHandle {
    /// `miic_params_new`, then `miic_params_set` for each pair.
    pub fn pairs(pairs: &[(&str, &str)]) -> ParamsHandle {
        let p = miic_params_new();
        assert!(!p.is_null(), "miic_params_new returned NULL");
        for (k, v) in pairs {
            let status = unsafe { miic_params_set(p, cstr(k).as_ptr(), cstr(v).as_ptr()) };
            assert_eq!(status, MIIC_OK, "miic_params_set({k}): {}", last_error());
        }
        ParamsHandle(p)
    }

    /// Like [`ParamsHandle::pairs`], each value passed as `encode` makes it (a GBK host's bytes).
    pub fn encoded(pairs: &[(&str, &str)], encode: impl Fn(&str) -> Vec<u8>) -> ParamsHandle {
        let p = miic_params_new();
        assert!(!p.is_null(), "miic_params_new returned NULL");
        for (k, v) in pairs {
            let value = CString::new(encode(v)).unwrap();
            let status = unsafe { miic_params_set(p, cstr(k).as_ptr(), value.as_ptr()) };
            assert_eq!(status, MIIC_OK, "miic_params_set({k}): {}", last_error());
        }
        ParamsHandle(p)
    }

    /// `miic_params_from_json`.
    pub fn json(json: &str) -> ParamsHandle {
        let text = cstr(json);
        let mut p = std::ptr::null_mut();
        let status = unsafe { miic_params_from_json(text.as_ptr(), &mut p) };
        assert_eq!(status, MIIC_OK, "miic_params_from_json: {}", last_error());
        ParamsHandle(p)
    }
}

impl Drop for ParamsHandle {
    fn drop(&mut self) {
        miic_params_free(self.0);
    }
}

/// `miic_last_error()` of this thread, copied.
pub fn last_error() -> String {
    unsafe { CStr::from_ptr(miic_last_error()) }
        .to_string_lossy()
        .into_owned()
}

/// `miic_last_error()` of this thread as raw bytes (a GBK client's text is GBK).
pub fn last_error_bytes() -> Vec<u8> {
    unsafe { CStr::from_ptr(miic_last_error()) }
        .to_bytes()
        .to_vec()
}

pub fn cstr(s: &str) -> CString {
    CString::new(s).unwrap()
}

/// Take a string miic returned (and free it with miic_string_free).
pub fn take_string(p: *mut c_char) -> Option<String> {
    if p.is_null() {
        return None;
    }
    let s = unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned();
    unsafe { miic_string_free(p) };
    Some(s)
}
