//! Progress of a fetch (files done / total, bytes), reported to a per-client callback.
//! Calls are serialised and throttled so a host's UI thread is not flooded.
//!
//! Uses: nothing in the crate.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// `(files_done, files_total (0 = not known yet), bytes_done)`.
pub type ProgressFn = Arc<dyn Fn(u32, u32, u64) + Send + Sync>;

static SLOTS: Mutex<Vec<(u64, ProgressFn)>> = Mutex::new(Vec::new());

const BYTE_REPORT_INTERVAL: Duration = Duration::from_millis(100);

/// Set (or with `None` remove) the progress callback of client `client_id`.
pub fn set(client_id: u64, f: Option<ProgressFn>) {
    if let Ok(mut slots) = SLOTS.lock() {
        slots.retain(|(id, _)| *id != client_id);
        if let Some(f) = f {
            slots.push((client_id, f));
        }
    }
}

/// Drop a closed client's callback.
pub fn forget(client_id: u64) {
    set(client_id, None);
}

fn get(client_id: u64) -> Option<ProgressFn> {
    SLOTS.lock().ok().and_then(|s| {
        s.iter()
            .find(|(id, _)| *id == client_id)
            .map(|(_, f)| f.clone())
    })
}

/// The progress of one fetch; shared by its worker threads.
pub struct Progress {
    f: Option<ProgressFn>,
    done: AtomicU32,
    total: AtomicU32,
    bytes: AtomicU64,
    last: Mutex<Instant>,
}

impl Progress {
    pub fn for_client(client_id: u64) -> Progress {
        Progress {
            f: get(client_id),
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
        let Some(f) = &self.f else { return };
        // The lock also serialises calls into the host.
        let Ok(mut last) = self.last.lock() else {
            return;
        };
        if !always && last.elapsed() < BYTE_REPORT_INTERVAL {
            return;
        }
        *last = Instant::now();
        f(
            self.done.load(Ordering::Relaxed),
            self.total.load(Ordering::Relaxed),
            self.bytes.load(Ordering::Relaxed),
        );
    }
}
