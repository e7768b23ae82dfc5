//! Calling miic through its C exports, as a host does.
#![allow(dead_code)]

use miic::ffi::client::{miic_client, miic_close, miic_open};
use std::ffi::{c_char, CStr, CString};

pub struct ClientHandle(pub *mut miic_client);

impl ClientHandle {
    pub fn open(config: &str) -> ClientHandle {
        let text = CString::new(config).unwrap();
        let c = unsafe { miic_open(text.as_ptr()) };
        assert!(!c.is_null(), "miic_open failed: {}", last_error());
        ClientHandle(c)
    }
}

impl Drop for ClientHandle {
    fn drop(&mut self) {
        miic_close(self.0);
    }
}

pub fn last_error() -> String {
    unsafe { CStr::from_ptr(miic::ffi::miic_last_error()) }
        .to_string_lossy()
        .into_owned()
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
    unsafe { miic::ffi::version::miic_string_free(p) };
    Some(s)
}
