//! Progress of a fetch (files done / total, bytes), reported to a per-client callback.
//! Calls are serialised and throttled so a host's UI thread is not flooded. A fetch looks the
//! client's callback up at every report, so replacing or removing it (or closing the client)
//! applies to fetches already running.
//!
//! Uses: callback.

use crate::callback::Callback;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// `(files_done, files_total (0 = not known yet), bytes_done)`.
pub type ProgressFn = Box<dyn Fn(u32, u32, u64) + Send + Sync>;
type Slot = Callback<dyn Fn(u32, u32, u64) + Send + Sync>;

/// Each open client's slot; a closed client's is removed (and emptied).
static SLOTS: Mutex<Vec<(u64, Arc<Slot>)>> = Mutex::new(Vec::new());

const BYTE_REPORT_INTERVAL: Duration = Duration::from_millis(100);

fn slot(client_id: u64) -> Option<Arc<Slot>> {
    SLOTS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .find(|(id, _)| *id == client_id)
        .map(|(_, s)| Arc::clone(s))
}

/// Give a newly opened client its (empty) slot.
pub fn register(client_id: u64) {
    let mut slots = SLOTS.lock().unwrap_or_else(|p| p.into_inner());
    if !slots.iter().any(|(id, _)| *id == client_id) {
        slots.push((client_id, Arc::new(Slot::new())));
    }
}

/// Set (or with `None` remove) the progress callback of client `client_id`; returns once no
/// call of the old one is running. `false` when nothing changed: the client is closed, or this
/// was called from inside a miic callback (it would wait for itself).
pub fn set(client_id: u64, f: Option<ProgressFn>) -> bool {
    slot(client_id).is_some_and(|slot| slot.set(f))
}

/// Drop a closed client's callback: no call of it is running when this returns.
pub fn forget(client_id: u64) {
    let removed = {
        let mut slots = SLOTS.lock().unwrap_or_else(|p| p.into_inner());
        let at = slots.iter().position(|(id, _)| *id == client_id);
        at.map(|i| slots.swap_remove(i).1)
    };
    if let Some(slot) = removed {
        slot.set(None);
    }
}

/// The progress of one fetch; shared by its worker threads.
pub struct Progress {
    f: Arc<Slot>,
    done: AtomicU32,
    total: AtomicU32,
    bytes: AtomicU64,
    last: Mutex<Instant>,
}

impl Progress {
    pub fn for_client(client_id: u64) -> Progress {
        Progress {
            // A client closed meanwhile: an empty slot nobody can set.
            f: slot(client_id).unwrap_or_else(|| Arc::new(Slot::new())),
            done: AtomicU32::new(0),
            total: AtomicU32::new(0),
            bytes: AtomicU64::new(0),
            last: Mutex::new(Instant::now()),
        }
    }

    pub fn set_total(&self, total: u32) {
        if self.total.swap(total, Ordering::Relaxed) != total {
            self.report(true);
        }
    }

    pub fn file_done(&self) {
        self.done.fetch_add(1, Ordering::Relaxed);
        self.report(true);
    }

    pub fn add_bytes(&self, n: u64) {
        self.bytes.fetch_add(n, Ordering::Relaxed);
        self.report(false);
    }

    fn report(&self, always: bool) {
        if !self.f.is_set() {
            return;
        }
        // The lock also serialises calls into the host.
        let Ok(mut last) = self.last.lock() else {
            return;
        };
        if !always && last.elapsed() < BYTE_REPORT_INTERVAL {
            return;
        }
        *last = Instant::now();
        self.f.call(|f| {
            f(
                self.done.load(Ordering::Relaxed),
                self.total.load(Ordering::Relaxed),
                self.bytes.load(Ordering::Relaxed),
            )
        });
    }
}
