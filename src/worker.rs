//! The one way a client runs work in the background (the reminder queue, the outbox retries): a
//! named thread started on first use, a state shared with it under one lock, woken on every
//! change, stopped and joined when the client closes. A DLL inside someone else's process starts
//! no thread it does not own and leaves none running.
//!
//! A panic while the lock was held cannot leave the state half-written (flags, counters, one
//! queued item), so a poisoned lock is used as it is, by callers and thread alike.
//!
//! Uses: error.

use crate::error::{Error, Result};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A background worker whose thread and callers share a state `S`.
pub struct Worker<S> {
    name: &'static str,
    shared: Arc<Shared<S>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

struct Shared<S> {
    state: Mutex<State<S>>,
    wake: Condvar,
}

struct State<S> {
    stopping: bool,
    data: S,
}

impl<S> Shared<S> {
    fn lock(&self) -> MutexGuard<'_, State<S>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// What the thread found when it woke up.
pub enum Wake<R> {
    /// What it waited for.
    Got(R),
    /// The wait's time is up.
    TimedOut,
    /// The client is closing: end the thread.
    Stopped,
}

impl<S: Default + Send + 'static> Worker<S> {
    /// A worker whose thread will be called `name`; nothing starts yet.
    pub fn new(name: &'static str) -> Self {
        Worker {
            name,
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    stopping: false,
                    data: S::default(),
                }),
                wake: Condvar::new(),
            }),
            thread: Mutex::new(None),
        }
    }

    /// Change the state (unless the worker is stopping: then `MIIC_E_STATE`) and wake the thread.
    pub fn update<R>(&self, change: impl FnOnce(&mut S) -> R) -> Result<R> {
        self.change(change, |_| true)
    }

    /// Change the state like [`Self::update`], and wake the thread only when `change` says the
    /// change concerns it (`true`): a thread woken for nothing costs the caller a thread switch.
    pub fn update_waking_if(&self, change: impl FnOnce(&mut S) -> bool) -> Result<bool> {
        self.change(change, |wake| *wake)
    }

    fn change<R>(
        &self,
        change: impl FnOnce(&mut S) -> R,
        wake: impl FnOnce(&R) -> bool,
    ) -> Result<R> {
        let mut state = self.shared.lock();
        if state.stopping {
            return Err(Error::state("client is closing"));
        }
        let result = change(&mut state.data);
        drop(state);
        if wake(&result) {
            self.shared.wake.notify_all();
        }
        Ok(result)
    }

    pub fn is_stopping(&self) -> bool {
        self.shared.lock().stopping
    }

    /// Start the thread running `body` unless it runs already or the worker is stopping.
    pub fn start(&self, body: impl FnOnce(Inbox<S>) + Send + 'static) -> Result<()> {
        // The slot first, then the flag: a close that signalled stop waits in `join` for this
        // slot, so either it joins what starts here, or nothing starts.
        let mut thread = self.thread.lock().unwrap_or_else(|p| p.into_inner());
        if self.is_stopping() {
            return Ok(());
        }
        if thread.is_none() {
            let inbox = Inbox {
                shared: Arc::clone(&self.shared),
            };
            let handle = std::thread::Builder::new()
                .name(self.name.into())
                .spawn(move || body(inbox))
                .map_err(|e| Error::internal(format!("cannot start {}: {e}", self.name)))?;
            *thread = Some(handle);
        }
        Ok(())
    }

    /// Tell the thread to stop (after `on_stop` cleared what must not run any more). The caller
    /// then interrupts what the thread may be blocked in (HTTP) and calls [`Self::join`].
    pub fn signal_stop(&self, on_stop: impl FnOnce(&mut S)) {
        let mut state = self.shared.lock();
        state.stopping = true;
        on_stop(&mut state.data);
        drop(state);
        self.shared.wake.notify_all();
    }

    /// Wait for the thread to end; idempotent.
    pub fn join(&self) {
        let handle = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(handle) = handle {
            let _ = handle.join();
        }
    }
}

/// The thread's side of a [`Worker`].
pub struct Inbox<S> {
    shared: Arc<Shared<S>>,
}

impl<S> Inbox<S> {
    /// Sleep until `take` finds something in the state (it is asked at once and after every
    /// wake-up), the worker stops, or `timeout` (`None`: no limit) has passed.
    pub fn wait<R>(
        &self,
        timeout: Option<Duration>,
        mut take: impl FnMut(&mut S) -> Option<R>,
    ) -> Wake<R> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut state = self.shared.lock();
        loop {
            if state.stopping {
                return Wake::Stopped;
            }
            if let Some(found) = take(&mut state.data) {
                return Wake::Got(found);
            }
            state = match deadline {
                None => self
                    .shared
                    .wake
                    .wait(state)
                    .unwrap_or_else(|p| p.into_inner()),
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Wake::TimedOut;
                    }
                    self.shared
                        .wake
                        .wait_timeout(state, left)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Jobs {
        waiting: Vec<u32>,
        done: Vec<u32>,
    }

    #[test]
    fn thread_takes_what_callers_queue_and_stops_when_told() {
        let worker: Worker<Jobs> = Worker::new("miic-test-worker");
        worker.update(|j| j.waiting.push(1)).unwrap();
        worker
            .start(|inbox| {
                // `take` runs under the lock: record the job as taken there.
                while let Wake::Got(()) = inbox.wait(None, |j| {
                    let job = j.waiting.pop()?;
                    j.done.push(job);
                    Some(())
                }) {}
            })
            .unwrap();
        worker.update(|j| j.waiting.push(2)).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while worker.shared.lock().data.done.len() < 2 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        worker.signal_stop(|j| j.waiting.clear());
        worker.join();
        assert_eq!(worker.shared.lock().data.done.len(), 2);
        assert!(worker.update(|j| j.waiting.push(3)).is_err());
        // A stopped worker does not start again.
        worker.start(|_| panic!("must not run")).unwrap();
        worker.join();
    }

    #[test]
    fn start_racing_close_never_leaves_a_thread_nobody_joins() {
        let worker: Arc<Worker<Jobs>> = Arc::new(Worker::new("miic-test-worker"));
        // Hold the thread slot, so a `start` that checked "not stopping" first waits here.
        let slot = worker.thread.lock().unwrap();
        let starter = {
            let worker = Arc::clone(&worker);
            std::thread::spawn(move || worker.start(|_| {}).unwrap())
        };
        std::thread::sleep(Duration::from_millis(100));
        // The client closes: stop is signalled while `start` waits for the slot.
        worker.signal_stop(|_| {});
        drop(slot);
        starter.join().unwrap();
        assert!(
            worker.thread.lock().unwrap().is_none(),
            "a thread was started after the stop signal"
        );
    }

    #[test]
    fn wait_times_out_when_nothing_comes() {
        let worker: Worker<Jobs> = Worker::new("miic-test-worker");
        let inbox = Inbox {
            shared: Arc::clone(&worker.shared),
        };
        let started = Instant::now();
        assert!(matches!(
            inbox.wait(Some(Duration::from_millis(20)), |j| j.waiting.pop()),
            Wake::TimedOut
        ));
        assert!(started.elapsed() >= Duration::from_millis(20));
    }
}
