//! Host names to socket addresses, for every HTTP exchange of a client (its cloud calls, the
//! dcmPath downloads) and of a diagnosis: an IP address is used as given (no thread, no system
//! call); a name is looked up at most once per [`TTL`] and kept, on at most one thread of the
//! owner at a time, each caller waiting no longer than its own deadline.
//!
//! Why a thread: the system's resolver (`getaddrinfo`) cannot be told to give up, and no call may
//! outlive its `timeout_ms` because a DNS server hangs. The lookup runs on a thread, callers wait
//! for it with their deadline, and a lookup that outlives its callers still lands in the cache.
//! ureq's own resolver starts such a thread for every request, even for `10.0.0.5` and even when
//! a kept-alive connection is then reused, and nobody joins it.
//!
//! At close the owner waits a little ([`CLOSE_GRACE`]) for a lookup still running, then joins its
//! thread. One still hung after that is left to end on its own and counted in
//! [`lookups_left_running`]: the C surface then keeps the library loaded until the process exits,
//! since a thread must never return into a DLL the host has unloaded (`FreeLibrary` after
//! `miic_close`), and `miic_close` must not wait for a DNS server that does not answer.
//!
//! Uses: error.

use crate::error::Error;
use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a looked-up name is used before it is looked up again (in the background: callers go
/// on with the addresses they have until the new answer is in).
pub const TTL: Duration = Duration::from_secs(60);
/// After a failed lookup, callers get that failure at once for this long, then a new lookup runs.
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(10);
/// How long closing waits for a lookup still running: a working DNS answers in milliseconds.
pub const CLOSE_GRACE: Duration = Duration::from_millis(250);
/// Names kept per owner (its config names one to three hosts).
const MAX_NAMES: usize = 16;

/// Lookup threads whose owner was closed while they hung (they end when the DNS answers).
static LEFT_RUNNING: AtomicUsize = AtomicUsize::new(0);

/// How many lookup threads were left running by an owner's close in this process, ever.
pub fn lookups_left_running() -> usize {
    LEFT_RUNNING.load(Ordering::SeqCst)
}

/// Why no address came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupError {
    /// The lookup failed: the system's reason.
    Failed(String),
    /// No answer within the caller's wait (the DNS server hangs).
    TimedOut,
    /// The owner is closing.
    Closed,
}

impl LookupError {
    /// As a miic error about `host`, for a caller that waited `wait`.
    pub fn into_error(self, host: &str, wait: Duration) -> Error {
        match self {
            LookupError::Failed(why) => Error::network(format!("cannot resolve {host}: {why}")),
            LookupError::TimedOut => Error::timeout(format!(
                "{host} was not resolved within {} ms (the DNS server does not answer)",
                wait.as_millis()
            )),
            LookupError::Closed => {
                Error::state(format!("looking up {host}: the client was closed"))
            }
        }
    }
}

impl fmt::Display for LookupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LookupError::Failed(why) => f.write_str(why),
            LookupError::TimedOut => f.write_str("the DNS server did not answer in time"),
            LookupError::Closed => f.write_str("closed"),
        }
    }
}

type Answer<T> = std::result::Result<T, LookupError>;

/// The system's lookup, or a test's.
type Lookup = fn(&str) -> io::Result<Vec<SocketAddr>>;

fn system_lookup(host: &str) -> io::Result<Vec<SocketAddr>> {
    Ok((host, 0).to_socket_addrs()?.collect())
}

/// The names one owner (a client, a diagnosis) has looked up, and its one lookup thread.
pub struct Resolver {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// A join gave up on a hung lookup (so a later join does not wait again).
    left: AtomicBool,
    lookup: Lookup,
    ttl: Duration,
    retry_after_failure: Duration,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Default)]
struct State {
    names: Vec<Name>,
    /// The name being looked up (one at a time).
    running: Option<String>,
    closed: bool,
    /// Lookups started, ever.
    started: u64,
}

struct Name {
    host: String,
    /// The last good answer, port 0 (empty: none yet).
    addrs: Vec<SocketAddr>,
    /// Why the last lookup failed, if it did.
    failure: Option<String>,
    /// When the last lookup ended.
    at: Instant,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is a cache: whatever a panic left in it is still a usable cache.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The lookup thread's last step: record the answer and wake whoever waits.
    fn finish(&self, host: String, answer: io::Result<Vec<SocketAddr>>, took: Duration) {
        let mut state = self.lock();
        let at = Instant::now();
        let index = match state.names.iter().position(|n| n.host == host) {
            Some(i) => i,
            None => {
                if state.names.len() >= MAX_NAMES {
                    state.names.remove(0);
                }
                state.names.push(Name {
                    host: host.clone(),
                    addrs: Vec::new(),
                    failure: None,
                    at,
                });
                state.names.len() - 1
            }
        };
        let name = &mut state.names[index];
        name.at = at;
        match answer {
            Ok(addrs) if !addrs.is_empty() => {
                log::debug!("{host} is {addrs:?} (looked up in {} ms)", took.as_millis());
                name.addrs = addrs;
                name.failure = None;
            }
            other => {
                let why = match other {
                    Err(e) => e.to_string(),
                    Ok(_) => "no address".to_owned(),
                };
                if name.addrs.is_empty() {
                    log::warn!("cannot resolve {host}: {why}");
                } else {
                    log::warn!(
                        "cannot resolve {host} again ({why}): its last addresses stay in use"
                    );
                }
                name.failure = Some(why);
            }
        }
        state.running = None;
        drop(state);
        self.changed.notify_all();
    }
}

impl Default for Resolver {
    fn default() -> Self {
        Resolver::with_lookup(system_lookup, TTL, RETRY_AFTER_FAILURE)
    }
}

impl fmt::Debug for Resolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.shared.lock();
        f.debug_struct("Resolver")
            .field(
                "names",
                &state.names.iter().map(|n| &n.host).collect::<Vec<_>>(),
            )
            .field("running", &state.running)
            .finish()
    }
}

impl Resolver {
    fn with_lookup(lookup: Lookup, ttl: Duration, retry_after_failure: Duration) -> Resolver {
        Resolver {
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                changed: Condvar::new(),
            }),
            thread: Mutex::new(None),
            left: AtomicBool::new(false),
            lookup,
            ttl,
            retry_after_failure,
        }
    }

    /// The addresses of `host` (a name, or an IP address without brackets) with `port`, waiting
    /// at most `wait` for a lookup.
    pub fn resolve(&self, host: &str, port: u16, wait: Duration) -> Answer<Vec<SocketAddr>> {
        let mut addrs = Vec::new();
        self.resolve_each(host, port, wait, &mut |a| addrs.push(a))?;
        Ok(addrs)
    }

    /// [`Self::resolve`], handing each address to `each` (no allocation for the hot path).
    pub fn resolve_each(
        &self,
        host: &str,
        port: u16,
        wait: Duration,
        each: &mut dyn FnMut(SocketAddr),
    ) -> Answer<()> {
        if let Ok(ip) = host.parse::<IpAddr>() {
            each(SocketAddr::new(ip, port));
            return Ok(());
        }
        let deadline = Instant::now() + wait;
        let mut state = self.shared.lock();
        loop {
            if state.closed {
                return Err(LookupError::Closed);
            }
            let now = Instant::now();
            let known = state.names.iter().position(|n| n.host == host);
            if let Some(i) = known {
                let name = &state.names[i];
                let age = now.saturating_duration_since(name.at);
                if !name.addrs.is_empty() {
                    let due = age >= self.ttl
                        || (name.failure.is_some() && age >= self.retry_after_failure);
                    for addr in &name.addrs {
                        each(SocketAddr::new(addr.ip(), port));
                    }
                    if due && state.running.is_none() {
                        // Looked up again behind this call; failing to start is retried later.
                        let _ = self.start(&mut state, host);
                    }
                    return Ok(());
                }
                if age < self.retry_after_failure {
                    let why = name.failure.as_deref().unwrap_or("no address");
                    return Err(LookupError::Failed(why.to_owned()));
                }
            }
            if state.running.is_none() {
                self.start(&mut state, host)?;
            }
            let left = deadline.saturating_duration_since(now);
            if left.is_zero() {
                return Err(LookupError::TimedOut);
            }
            state = self
                .shared
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// Look `host` up on the owner's lookup thread (none runs: `state.running` is `None`).
    fn start(&self, state: &mut State, host: &str) -> Answer<()> {
        let mut thread = self.thread.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(ended) = thread.take() {
            // It recorded its answer (running is None) and is returning: wait for its exit, so
            // that at most one lookup thread of this owner exists at any time.
            let _ = ended.join();
        }
        let shared = Arc::clone(&self.shared);
        let lookup = self.lookup;
        let name = host.to_owned();
        let handle = std::thread::Builder::new()
            .name("miic-resolve".into())
            .spawn(move || {
                let started = Instant::now();
                let answer = lookup(&name);
                shared.finish(name, answer, started.elapsed());
            })
            .map_err(|e| LookupError::Failed(format!("no thread for the lookup: {e}")))?;
        *thread = Some(handle);
        state.running = Some(host.to_owned());
        state.started += 1;
        Ok(())
    }

    /// Refuse new lookups and wake every caller waiting for one (they fail with `MIIC_E_STATE`).
    pub fn shutdown(&self) {
        self.shared.lock().closed = true;
        self.shared.changed.notify_all();
    }

    /// After [`Self::shutdown`]: wait up to [`CLOSE_GRACE`] for a lookup still running and join
    /// its thread. `false` when it still hangs: it is left to end on its own (and counted in
    /// [`lookups_left_running`]); its memory is its own, so it harms nothing while the code it
    /// runs stays loaded.
    pub fn join(&self) -> bool {
        if self
            .thread
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_none()
        {
            // Joined before (a close, then the drop): no second grace.
            return !self.left.load(Ordering::SeqCst);
        }
        let give_up = Instant::now() + CLOSE_GRACE;
        let mut state = self.shared.lock();
        while state.running.is_some() {
            let left = give_up.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            state = self
                .shared
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        let hung = state.running.clone();
        drop(state);
        let thread = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        match (thread, hung) {
            (Some(_detached), Some(host)) => {
                LEFT_RUNNING.fetch_add(1, Ordering::SeqCst);
                self.left.store(true, Ordering::SeqCst);
                log::warn!(
                    "the lookup of {host} still hangs at close: left to end on its own, the \
                     library stays loaded"
                );
                false
            }
            (Some(thread), None) => {
                let _ = thread.join();
                true
            }
            (None, _) => true,
        }
    }

    /// Lookups started so far (each on its own short-lived thread).
    #[cfg(test)]
    fn lookups(&self) -> u64 {
        self.shared.lock().started
    }
}

impl Drop for Resolver {
    fn drop(&mut self) {
        // An owner dropped without closing (a Rust host): same rules as a close.
        self.shutdown();
        self.join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;

    static LOCALHOST_LOOKUPS: AtomicU32 = AtomicU32::new(0);

    fn counting_lookup(host: &str) -> io::Result<Vec<SocketAddr>> {
        match host {
            "front-end.test" => {
                LOCALHOST_LOOKUPS.fetch_add(1, Ordering::SeqCst);
                Ok(vec!["10.0.0.5:0".parse().unwrap()])
            }
            "hung.test" => {
                std::thread::sleep(Duration::from_millis(600));
                Err(io::Error::other("timed out"))
            }
            _ => Err(io::Error::other("no such host")),
        }
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn ip_addresses_are_used_as_given_without_a_lookup() {
        let r = Resolver::with_lookup(|_| panic!("no lookup for an address"), TTL, TTL);
        assert_eq!(
            r.resolve("10.0.0.5", 8080, Duration::ZERO).unwrap(),
            ["10.0.0.5:8080".parse::<SocketAddr>().unwrap()]
        );
        assert_eq!(
            r.resolve("::1", 9, Duration::ZERO).unwrap(),
            ["[::1]:9".parse::<SocketAddr>().unwrap()]
        );
        assert_eq!(r.lookups(), 0);
    }

    #[test]
    fn a_name_is_looked_up_once_per_ttl_and_again_behind_the_caller_after_it() {
        let r = Resolver::with_lookup(counting_lookup, ms(300), ms(300));
        let before = LOCALHOST_LOOKUPS.load(Ordering::SeqCst);
        for port in [80, 8080, 80] {
            let addrs = r
                .resolve("front-end.test", port, Duration::from_secs(5))
                .unwrap();
            assert_eq!(addrs, [SocketAddr::new([10, 0, 0, 5].into(), port)]);
        }
        assert_eq!(r.lookups(), 1);
        std::thread::sleep(ms(350));
        // Past the TTL: the old answer serves this call while a new lookup runs.
        assert!(r.resolve("front-end.test", 80, Duration::ZERO).is_ok());
        assert_eq!(r.lookups(), 2);
        assert!(r.join_for_test());
        assert_eq!(LOCALHOST_LOOKUPS.load(Ordering::SeqCst) - before, 2);
    }

    #[test]
    fn a_failed_lookup_is_reported_and_not_repeated_for_a_while() {
        let r = Resolver::with_lookup(counting_lookup, TTL, ms(300));
        for _ in 0..3 {
            let e = r
                .resolve("nowhere.test", 80, Duration::from_secs(5))
                .unwrap_err();
            assert_eq!(e, LookupError::Failed("no such host".into()));
        }
        assert_eq!(r.lookups(), 1);
        std::thread::sleep(ms(350));
        assert!(r
            .resolve("nowhere.test", 80, Duration::from_secs(5))
            .is_err());
        assert_eq!(r.lookups(), 2);
    }

    #[test]
    fn a_hung_lookup_costs_each_caller_only_its_deadline_and_runs_once() {
        let r = Resolver::with_lookup(counting_lookup, TTL, TTL);
        for _ in 0..2 {
            let started = Instant::now();
            let e = r.resolve("hung.test", 80, ms(100)).unwrap_err();
            assert_eq!(e, LookupError::TimedOut);
            assert!(started.elapsed() < ms(400), "{:?}", started.elapsed());
        }
        assert_eq!(
            r.lookups(),
            1,
            "the second caller waits for the same lookup"
        );
        // Close wakes a waiting caller at once.
        std::thread::scope(|s| {
            let waiter = s.spawn(|| r.resolve("hung.test", 80, Duration::from_secs(5)));
            std::thread::sleep(ms(50));
            let started = Instant::now();
            r.shutdown();
            let e = waiter.join().unwrap().unwrap_err();
            assert_eq!(e, LookupError::Closed);
            assert!(started.elapsed() < ms(200));
        });
        // Still hung after the grace: left running and counted.
        let left = lookups_left_running();
        let started = Instant::now();
        assert!(!r.join());
        assert!(started.elapsed() < CLOSE_GRACE + ms(150));
        assert!(lookups_left_running() > left);
    }

    #[test]
    fn close_joins_a_lookup_that_ends_within_the_grace() {
        let r = Resolver::with_lookup(
            |_| {
                std::thread::sleep(ms(50));
                Ok(vec!["10.0.0.7:0".parse().unwrap()])
            },
            TTL,
            TTL,
        );
        std::thread::scope(|s| {
            s.spawn(|| r.resolve("slow.test", 80, Duration::from_secs(5)));
            std::thread::sleep(ms(10));
            r.shutdown();
        });
        assert!(r.join(), "joined, not left running");
    }

    impl Resolver {
        /// Wait for a background lookup to end (tests only; no shutdown).
        fn join_for_test(&self) -> bool {
            let mut state = self.shared.lock();
            let give_up = Instant::now() + Duration::from_secs(5);
            while state.running.is_some() && Instant::now() < give_up {
                state = self.shared.changed.wait_timeout(state, ms(10)).unwrap().0;
            }
            state.running.is_none()
        }
    }
}
