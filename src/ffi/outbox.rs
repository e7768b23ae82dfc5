//! The delete notifications' outbox across the C ABI.
//!
//! Uses: error, ffi::boundary, ffi::client.

use super::boundary::{guard_status, MiicStatus};
use super::client::{client_ref, miic_client};
use crate::error::{Error, Result, Status};
use std::time::Duration;

/// Check an out-pointer for a count and zero it, so a failed call leaves 0 there.
///
/// # Safety
/// `out` is NULL or a valid, writable `uint32_t *`.
unsafe fn count_slot<'a>(out: *mut u32, name: &str) -> Result<&'a mut u32> {
    if out.is_null() {
        return Err(Error::argument(format!("'{name}' is NULL")));
    }
    let slot = unsafe { &mut *out };
    *slot = 0;
    Ok(slot)
}

/// Number of delete notifications waiting in the outbox file, from every process that shares it
/// (saturating at `UINT32_MAX`). On success `*count_out` holds it; on failure 0.
/// `MIIC_E_IO` (naming the file) when the outbox cannot be read.
///
/// # Safety
/// `count_out` is a writable pointer.
#[no_mangle]
pub unsafe extern "C" fn miic_outbox_pending(
    c: *mut miic_client,
    count_out: *mut u32,
) -> MiicStatus {
    guard_status(|| {
        let client = client_ref(c)?;
        let slot = unsafe { count_slot(count_out, "count_out") }?;
        *slot = u32::try_from(client.outbox_store()?.pending()?).unwrap_or(u32::MAX);
        Ok(Status::Ok)
    })
}

/// Number of delete notifications the cloud rejected (code 400) that sit in the outbox's dead
/// list for hospital IT (`miic-cli outbox dead`). They are never retried on their own.
///
/// # Safety
/// `count_out` is a writable pointer.
#[no_mangle]
pub unsafe extern "C" fn miic_outbox_dead_count(
    c: *mut miic_client,
    count_out: *mut u32,
) -> MiicStatus {
    guard_status(|| {
        let client = client_ref(c)?;
        let slot = unsafe { count_slot(count_out, "count_out") }?;
        *slot = u32::try_from(client.outbox_store()?.dead_count()?).unwrap_or(u32::MAX);
        Ok(Status::Ok)
    })
}

/// Try every pending delete notification now, backoff notwithstanding (in order per accession
/// number), for at most `timeout_ms`. Returns `MIIC_OK` when the outbox is empty (items the cloud
/// rejected with code 400 move to the dead list), `MIIC_E_TIMEOUT` when items remain at the
/// deadline (`miic_last_error()` says how many and the last failure). Blocks the calling thread.
#[no_mangle]
pub extern "C" fn miic_outbox_flush(c: *mut miic_client, timeout_ms: u32) -> MiicStatus {
    guard_status(|| {
        let client = client_ref(c)?;
        client.outbox_flush(Duration::from_millis(u64::from(timeout_ms)))?;
        Ok(Status::Ok)
    })
}
