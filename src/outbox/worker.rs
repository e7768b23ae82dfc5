//! The retry worker of a client's outbox: it sends what is due, one item at a time, and backs
//! off against a cloud that is down as a whole, while callers' own sends and other processes
//! sharing the file keep going. The thread gets the outbox file and a weak context, never the
//! client; it ends when the client closes (or is dropped).
//!
//! Uses: outbox::{store, delivery}, context, worker, error.

use super::delivery::{deliver, Delivery, LEASE_MARGIN};
use super::store::{backoff, default_path, now_ms, Pick, Store};
use crate::context::Context;
use crate::error::Result;
use crate::worker::{Inbox, Wake, Worker};
use std::path::Path;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

/// The worker looks at the file at least this often: other processes add and free items too.
const IDLE_POLL: Duration = Duration::from_secs(15);

/// A client's outbox: the file (opened once) and its retry worker.
pub struct Outbox {
    store: Mutex<Option<Arc<Store>>>,
    worker: Worker<Signals>,
}

impl Default for Outbox {
    fn default() -> Self {
        Outbox {
            store: Mutex::new(None),
            worker: Worker::new("miic-outbox"),
        }
    }
}

/// What callers tell the retry worker between its steps.
#[derive(Default)]
struct Signals {
    kicked: bool,
    /// A caller's own send went through: the cloud is back, drop the worker's pause.
    cloud_answered: bool,
    /// The worker is backing off after failed sends (set by the worker before it sleeps): only
    /// then does a caller's success concern it.
    paused: bool,
}

impl Outbox {
    /// The open outbox at `path` (default: [`default_path`]), opened on first use.
    pub fn store(&self, path: Option<&Path>) -> Result<Arc<Store>> {
        let mut slot = self.store.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(store) = slot.as_ref() {
            return Ok(Arc::clone(store));
        }
        let path = match path {
            Some(p) => p.to_owned(),
            None => default_path()?,
        };
        let store = Arc::new(Store::open(&path)?);
        *slot = Some(Arc::clone(&store));
        Ok(store)
    }

    /// Start the retry worker on `ctx`'s outbox file unless it runs (or the client is closing).
    pub fn start(&self, ctx: &Arc<Context>) -> Result<()> {
        let store = self.store(ctx.config.outbox_path.as_deref())?;
        let ctx = Arc::downgrade(ctx);
        self.worker.start(move |inbox| run(&inbox, &ctx, &store))
    }

    /// Wake the worker to look at the schedule again.
    pub fn kick(&self) {
        let _ = self.worker.update(|s| s.kicked = true);
    }

    /// The cloud took a notification outside the worker: end the worker's pause, so what
    /// waits goes out now rather than after the backoff of an outage that is over.
    /// A worker that is not pausing is left asleep: waking it after every delivered
    /// notification cost each `miic_delete_notify` a thread switch and two outbox transactions.
    pub fn cloud_answered(&self) {
        let _ = self.worker.update_waking_if(|s| {
            s.cloud_answered = true;
            s.paused
        });
    }

    /// Ask the worker to stop; the caller then interrupts HTTP and calls [`Self::join`].
    pub fn signal_stop(&self) {
        self.worker.signal_stop(|_| {});
    }

    pub fn join(&self) {
        self.worker.join();
    }
}

enum Step {
    Worked,
    Idle(Duration),
    Gone,
}

fn run(inbox: &Inbox<Signals>, ctx: &Weak<Context>, store: &Store) {
    let mut pause = Pause::default();
    loop {
        let sleep = match step(ctx, store, &mut pause) {
            Step::Worked => Duration::ZERO,
            Step::Idle(d) => d,
            Step::Gone => return,
        };
        // Until a caller kicks (then: did the cloud answer it?), a paused worker hears that the
        // cloud answered a caller, the sleep is over, or close.
        let paused = pause.failures > 0;
        let kicked = inbox.wait(Some(sleep), |s| {
            s.paused = paused;
            if !paused {
                // Nothing to end: a success from before a later failure must not end its pause.
                s.cloud_answered = false;
            }
            (std::mem::take(&mut s.kicked) || (paused && s.cloud_answered))
                .then(|| std::mem::take(&mut s.cloud_answered))
        });
        match kicked {
            Wake::Stopped => return,
            Wake::Got(true) if pause.failures > 0 => {
                pause = Pause {
                    recovered: true,
                    ..Pause::default()
                };
            }
            Wake::Got(_) | Wake::TimedOut => {}
        }
    }
}

/// The worker's backoff against the cloud as a whole: after `failures` sends in a row failed,
/// it waits [`backoff`]`(failures)` before the next one, whichever item is due, instead of
/// trying every item against a cloud that is down. Items keep their own schedule as well.
#[derive(Default)]
struct Pause {
    failures: u32,
    until: Option<Instant>,
    /// The cloud answered again after failures: what waits becomes due now.
    recovered: bool,
}

fn step(ctx: &Weak<Context>, store: &Store, pause: &mut Pause) -> Step {
    let Some(ctx) = ctx.upgrade() else {
        return Step::Gone;
    };
    if let Some(until) = pause.until {
        let now = Instant::now();
        if now < until {
            return Step::Idle(until - now);
        }
        pause.until = None;
    }
    if std::mem::take(&mut pause.recovered) {
        match store.retry_now() {
            Ok(n) => log::info!("cloud answers again: {n} waiting notification(s) due now"),
            Err(e) => log::warn!("outbox worker: {e}"),
        }
    }
    let limit = ctx.config.timeout;
    let attempt = store
        .claim(Pick::Due, limit + LEASE_MARGIN)
        .and_then(|item| {
            item.map(|item| deliver(&ctx, store, &item, limit))
                .transpose()
        });
    match attempt {
        Ok(Some(Delivery::Retry { .. })) => {
            pause.failures = pause.failures.saturating_add(1);
            pause.until = Some(Instant::now() + backoff(pause.failures));
            Step::Worked
        }
        Ok(Some(_)) => {
            *pause = Pause {
                recovered: pause.failures > 0,
                ..Pause::default()
            };
            Step::Worked
        }
        Ok(None) => {
            let wait = match store.next_due() {
                Ok(Some(at)) => Duration::from_millis(u64::try_from(at - now_ms()).unwrap_or(0)),
                Ok(None) => IDLE_POLL,
                Err(e) => {
                    log::warn!("outbox worker: {e}");
                    IDLE_POLL
                }
            };
            Step::Idle(wait.clamp(Duration::from_millis(10), IDLE_POLL))
        }
        Err(e) => {
            // The file is busy or failing (disk full…): items stay stored; look again later.
            log::warn!("outbox worker: {e}");
            Step::Idle(Duration::from_secs(1))
        }
    }
}
