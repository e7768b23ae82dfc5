//! Keeping the library loaded while one of its threads outlives the call that owned it: a host
//! may unload the DLL (`FreeLibrary`, `dlclose`) right after `miic_close`, and a thread still
//! inside miic's code would then return into unmapped memory and crash the host. The only such
//! thread is a name lookup that hung past its owner's close (see `resolve.rs`); once one exists,
//! the library stays loaded until the process exits (a few MB kept mapped, in a process whose DNS
//! hangs). Nothing is done while no thread was left: then unloading works as it always did.
//!
//! Uses: resolve.

use std::sync::Once;

/// Pin the library in memory if a lookup thread was left running; idempotent and cheap.
pub(crate) fn keep_loaded_if_threads_left() {
    static PINNED: Once = Once::new();
    if crate::resolve::lookups_left_running() > 0 {
        PINNED.call_once(pin);
    }
}

/// Any address inside this library, to find the module it belongs to.
fn anchor() -> *const std::ffi::c_void {
    keep_loaded_if_threads_left as *const std::ffi::c_void
}

#[cfg(unix)]
fn pin() {
    // dladdr names the file this code was loaded from; dlopen with RTLD_NOLOAD | RTLD_NODELETE
    // takes a reference to the already loaded object and marks it never to be unloaded.
    let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
    if unsafe { libc::dladdr(anchor(), &mut info) } == 0 || info.dli_fname.is_null() {
        log::warn!("cannot find this library's file to keep it loaded");
        return;
    }
    let handle = unsafe {
        libc::dlopen(
            info.dli_fname,
            libc::RTLD_LAZY | libc::RTLD_NOLOAD | libc::RTLD_NODELETE,
        )
    };
    if handle.is_null() {
        // Linked into an executable (a Rust host): nothing can unload it anyway.
        log::debug!("this library is not a loaded shared object: nothing to pin");
    } else {
        log::warn!("a hung name lookup outlived its client: the library stays loaded");
    }
}

#[cfg(windows)]
fn pin() {
    const GET_MODULE_HANDLE_EX_FLAG_PIN: u32 = 0x1;
    const GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS: u32 = 0x4;
    #[link(name = "kernel32")]
    extern "system" {
        fn GetModuleHandleExW(
            flags: u32,
            name: *const u16,
            module: *mut *mut std::ffi::c_void,
        ) -> i32;
    }
    let mut module = std::ptr::null_mut();
    // PIN: the module stays loaded until the process ends, whatever FreeLibrary calls follow.
    let pinned = unsafe {
        GetModuleHandleExW(
            GET_MODULE_HANDLE_EX_FLAG_PIN | GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS,
            anchor().cast(),
            &mut module,
        )
    };
    if pinned == 0 {
        log::warn!(
            "cannot keep miic.dll loaded: {}",
            std::io::Error::last_os_error()
        );
    } else {
        log::warn!("a hung name lookup outlived its client: miic.dll stays loaded");
    }
}

#[cfg(not(any(unix, windows)))]
fn pin() {}
