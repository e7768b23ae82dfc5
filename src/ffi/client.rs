//! Opening and closing clients, SM2, and the log callback.
//!
//! Uses: client, error, ffi::boundary, ffi::handles, ffi::loaded, log, text.

use super::boundary::{
    c_bytes, c_text, give_string, guard, guard_status, out_string_slot, set_call_encoding,
    MiicStatus,
};
use super::handles::Registry;
use crate::client::Client;
use crate::error::{Result, Status};
use crate::text::TextEncoding;
use std::ffi::{c_char, c_void, CString};
use std::sync::Arc;

/// A configured connection to the front-end machine. Thread-safe: one handle may be used from
/// many threads at once. Open with `miic_open`, close with `miic_close`.
pub struct miic_client {
    _opaque: [u8; 0],
}

pub(crate) static CLIENTS: Registry<Client> = Registry::new("miic_client");

/// Resolve a client handle; later errors of this call are written in the client's encoding.
pub(crate) fn client_ref(c: *const miic_client) -> Result<Arc<Client>> {
    let client = CLIENTS.get(c as usize, "client")?;
    set_call_encoding(client.encoding());
    Ok(client)
}

/// Open a client. `config` is a path to a `.toml` or `.json` file, or inline JSON text
/// (starting with `{`). Everything is validated now: an unknown key, a bad URL or SM2 key fails
/// here with `miic_last_error()` naming the key. A path that is not UTF-8 is read as GBK.
/// The front-end and `[dicom_http]` are always reached directly: `HTTP_PROXY`, `ALL_PROXY`
/// and the like in the environment are ignored. A failed open leaves nothing behind (its
/// `[log] dir` gets no further lines).
///
/// Returns NULL on failure. Caller owns the client and must call `miic_close` on it.
///
/// # Safety
/// `config` is a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn miic_open(config: *const c_char) -> *mut miic_client {
    guard(|| {
        let bytes = unsafe { c_bytes(config, "config") }?;
        let source = match std::str::from_utf8(bytes) {
            Ok(text) => text.to_owned(),
            Err(_) => TextEncoding::Gbk.decode(bytes, "config")?,
        };
        let client = Client::open(&source)?;
        let token = CLIENTS.insert(client);
        // Notifications left pending by an earlier run go out again from now on.
        let client = CLIENTS.get(token, "client")?;
        if let Err(e) = client.resume_outbox() {
            CLIENTS.remove(token);
            client.close();
            return Err(e);
        }
        Ok(token as *mut miic_client)
    })
}

/// Close a client: stop and join its background workers (an HTTP call in flight is interrupted)
/// and free it. Returns within about 250 ms even when a DNS server hangs: a host-name lookup
/// still running then is left to end on its own, and the library keeps itself loaded for the
/// rest of the process so that unloading it after this call stays safe. NULL and already-closed
/// handles are ignored. Calls still running on other threads finish safely; later calls with
/// this handle return `MIIC_E_ARGUMENT`. Its progress callback is removed as by
/// `miic_set_progress_callback(c, NULL, NULL)`: once this returns it is not running and is never
/// called again, also by a fetch still running on another thread.
#[no_mangle]
pub extern "C" fn miic_close(c: *mut miic_client) {
    guard(|| {
        if let Some(client) = CLIENTS.remove(c as usize) {
            client.close();
        }
        // The host may unload the library next: not while a hung lookup thread is inside it.
        super::loaded::keep_loaded_if_threads_left();
        Ok(())
    })
}

/// SM2-encrypt `plain` with the client's key, mode, encoding and `04` prefix (hex or base64 text).
/// On success `*cipher_out` holds the ciphertext; caller frees it with `miic_string_free`.
///
/// # Safety
/// `plain` is a NUL-terminated string; `cipher_out` is a writable pointer.
#[no_mangle]
pub unsafe extern "C" fn miic_sm2_encrypt(
    c: *mut miic_client,
    plain: *const c_char,
    cipher_out: *mut *mut c_char,
) -> MiicStatus {
    guard_status(|| {
        let client = client_ref(c)?;
        let slot = unsafe { out_string_slot(cipher_out, "cipher_out") }?;
        let plain = unsafe { c_text(plain, "plain", client.encoding()) }?;
        let cipher = client.encrypt(&plain)?;
        give_string(slot, &cipher, client.encoding())?;
        Ok(Status::Ok)
    })
}

/// A host log sink: `level` is 1 = error, 2 = warn, 3 = info, 4 = debug, 5 = trace; `message`
/// is UTF-8, valid only during the call. May be called from miic's worker threads, and from
/// several threads at once.
pub type miic_log_fn =
    Option<unsafe extern "C" fn(user: *mut c_void, level: i32, message: *const c_char)>;

/// Send miic's log lines (info and above, ID and phone numbers masked) to `fn`, replacing any
/// earlier callback; NULL removes it. `user` is passed back unchanged. Replacing or removing
/// waits for calls of the old callback in progress: once this returns, the old callback is not
/// running and is never called again, so its `user` (a delegate, an object) may be freed. The
/// callback must not call miic (lines miic would log from inside it are dropped; calling this
/// function from inside it changes nothing), and must not wait for a thread that calls this
/// function.
#[no_mangle]
pub extern "C" fn miic_set_log_callback(log_fn: miic_log_fn, user: *mut c_void) {
    guard(|| {
        let user = user as usize;
        let sink: Option<crate::log::LogSink> = log_fn.map(|f| {
            Box::new(move |level: i32, message: &str| {
                let text = CString::new(message.replace('\0', " ")).unwrap_or_default();
                unsafe { f(user as *mut c_void, level, text.as_ptr()) };
            }) as crate::log::LogSink
        });
        if !crate::log::set_sink(sink) {
            return Err(crate::error::Error::state(
                "miic_set_log_callback was called from inside a miic callback; nothing changed",
            ));
        }
        Ok(())
    })
}
