//! The params bag across the C ABI.
//!
//! Uses: error, ffi::boundary, ffi::handles, params.

use super::boundary::{c_bytes, guard, guard_status, MiicStatus};
use super::handles::Registry;
use crate::error::{Error, Result, Status};
use crate::params::Params;
use std::ffi::c_char;
use std::sync::{Arc, Mutex};

/// A bag of request fields (the spec's names). Create with `miic_params_new` or
/// `miic_params_from_json`, free with `miic_params_free`.
pub struct miic_params {
    _opaque: [u8; 0],
}

pub(crate) static PARAMS: Registry<Mutex<Params>> = Registry::new("miic_params");

/// Resolve a params handle for a call (a snapshot: the bag may be reused afterwards).
pub(crate) fn params_ref(p: *const miic_params, name: &str) -> Result<Params> {
    let bag = PARAMS.get(p as usize, name)?;
    let guard = bag
        .lock()
        .map_err(|_| Error::internal("params lock poisoned"))?;
    Ok(guard.clone())
}

fn bag(p: *mut miic_params) -> Result<Arc<Mutex<Params>>> {
    PARAMS.get(p as usize, "params")
}

/// A new, empty params bag. Caller owns it and frees it with `miic_params_free`.
/// Returns NULL only if memory is exhausted.
#[no_mangle]
pub extern "C" fn miic_params_new() -> *mut miic_params {
    guard(|| Ok(PARAMS.insert(Mutex::new(Params::new())) as *mut miic_params))
}

/// Set `key` (a spec field name, ASCII) to `value`, replacing any earlier value. The bytes are
/// kept as given and decoded in the encoding of the client that uses the bag (UTF-8 or GBK).
///
/// # Safety
/// `key` and `value` are NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn miic_params_set(
    p: *mut miic_params,
    key: *const c_char,
    value: *const c_char,
) -> MiicStatus {
    guard_status(|| {
        let bag = bag(p)?;
        let key = unsafe { c_bytes(key, "key") }?;
        let value = unsafe { c_bytes(value, "value") }?;
        bag.lock()
            .map_err(|_| Error::internal("params lock poisoned"))?
            .set_raw(key, value)?;
        Ok(Status::Ok)
    })
}

/// Parse a flat JSON object (UTF-8, whatever the client's encoding) into a new bag stored in
/// `*out`. Caller owns `*out` and frees it with `miic_params_free`; `*out` is NULL on failure.
///
/// # Safety
/// `json` is a NUL-terminated string; `out` is a writable pointer.
#[no_mangle]
pub unsafe extern "C" fn miic_params_from_json(
    json: *const c_char,
    out: *mut *mut miic_params,
) -> MiicStatus {
    guard_status(|| {
        if out.is_null() {
            return Err(Error::argument("'out' is NULL"));
        }
        unsafe { *out = std::ptr::null_mut() };
        let json = unsafe { c_bytes(json, "json") }?;
        let params = Params::from_json(json)?;
        unsafe { *out = PARAMS.insert(Mutex::new(params)) as *mut miic_params };
        Ok(Status::Ok)
    })
}

/// Free a params bag. NULL and already-freed bags are ignored.
#[no_mangle]
pub extern "C" fn miic_params_free(p: *mut miic_params) {
    guard(|| {
        PARAMS.remove(p as usize);
        Ok(())
    })
}
