//! A host's callback slot (the log sink, a client's progress callback), called from any of
//! miic's threads. Calling, replacing and removing exclude each other: once a replacement or
//! removal has returned, the old callback is not running and is never called again, so the host
//! may free what it pointed to (a C# delegate, a Delphi object) right after.
//!
//! Uses: std only.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::RwLock;

thread_local! {
    /// How many callbacks this thread is inside: a host that calls miic from its callback must
    /// neither re-enter itself nor wait for itself.
    static DEPTH: Cell<u32> = const { Cell::new(0) };
}

/// One callback slot; `F` is the callback's `dyn Fn` type.
pub struct Callback<F: ?Sized> {
    slot: RwLock<Option<Box<F>>>,
    /// Whether a callback is set, readable without the lock (also from inside a callback).
    present: AtomicBool,
}

impl<F: ?Sized> Default for Callback<F> {
    fn default() -> Self {
        Callback::new()
    }
}

impl<F: ?Sized> Callback<F> {
    pub const fn new() -> Self {
        Callback {
            slot: RwLock::new(None),
            present: AtomicBool::new(false),
        }
    }

    pub fn is_set(&self) -> bool {
        self.present.load(Ordering::Acquire)
    }

    /// Call the current callback through `call`, if one is set. Calls from several threads run
    /// at once; a call made from inside a callback on this thread is dropped.
    pub fn call(&self, call: impl FnOnce(&F)) {
        if !self.is_set() || DEPTH.get() > 0 {
            return;
        }
        let slot = self.slot.read().unwrap_or_else(|p| p.into_inner());
        if let Some(f) = slot.as_deref() {
            DEPTH.set(DEPTH.get() + 1);
            // Restores the depth also if the callback panics (the export's boundary catches it).
            struct Leave;
            impl Drop for Leave {
                fn drop(&mut self) {
                    DEPTH.set(DEPTH.get() - 1);
                }
            }
            let _leave = Leave;
            call(f);
        }
    }

    /// Replace the callback (`None` removes it), after every call in progress has returned.
    /// From inside a callback this would wait for itself: refused, `false`.
    pub fn set(&self, f: Option<Box<F>>) -> bool {
        if DEPTH.get() > 0 {
            return false;
        }
        let mut slot = self.slot.write().unwrap_or_else(|p| p.into_inner());
        self.present.store(f.is_some(), Ordering::Release);
        let old = std::mem::replace(&mut *slot, f);
        drop(slot);
        // The host's closure state (e.g. a delegate handle) is released outside the lock.
        drop(old);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;
    use std::time::Duration;

    type Sink = dyn Fn() + Send + Sync;

    #[test]
    fn removal_waits_for_a_running_call_and_nothing_runs_after() {
        let slot: Arc<Callback<Sink>> = Arc::new(Callback::new());
        let inside = Arc::new(AtomicUsize::new(0));
        let late = Arc::new(AtomicUsize::new(0));
        let removed = Arc::new(AtomicBool::new(false));
        {
            let (inside, late, removed) = (inside.clone(), late.clone(), removed.clone());
            slot.set(Some(Box::new(move || {
                inside.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(50));
                if removed.load(Ordering::SeqCst) {
                    late.fetch_add(1, Ordering::SeqCst);
                }
                inside.fetch_sub(1, Ordering::SeqCst);
            })));
        }
        let caller = {
            let slot = slot.clone();
            std::thread::spawn(move || slot.call(|f| f()))
        };
        while inside.load(Ordering::SeqCst) == 0 {
            std::thread::yield_now();
        }
        assert!(slot.set(None));
        removed.store(true, Ordering::SeqCst);
        assert_eq!(
            inside.load(Ordering::SeqCst),
            0,
            "removal returned mid-call"
        );
        caller.join().unwrap();
        slot.call(|f| f());
        assert_eq!(late.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn calls_from_inside_a_callback_neither_recurse_nor_deadlock() {
        let slot: Arc<Callback<Sink>> = Arc::new(Callback::new());
        let calls = Arc::new(AtomicUsize::new(0));
        let refused = Arc::new(AtomicBool::new(false));
        {
            let (inner, calls, refused) = (slot.clone(), calls.clone(), refused.clone());
            slot.set(Some(Box::new(move || {
                calls.fetch_add(1, Ordering::SeqCst);
                inner.call(|f| f());
                refused.store(!inner.set(None), Ordering::SeqCst);
            })));
        }
        slot.call(|f| f());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(refused.load(Ordering::SeqCst));
        assert!(slot.is_set());
        // The callback holds a clone of its own slot: break the cycle.
        assert!(slot.set(None));
    }
}
