//! What the simulator remembers: the requests it received, the fault it is told to inject, and
//! the charset it answers in.

use super::reply::ReplyEncoding;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Oldest records are dropped beyond this, so a long-running simulator cannot grow without bound.
pub const MAX_RECORDS: usize = 10_000;
/// A hung or slowed request is released after this long at most, so no test can hang forever.
pub const MAX_HOLD: Duration = Duration::from_secs(120);

/// Fault modes of `POST /__sim/fault`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultMode {
    None,
    Reset,
    Hang,
    Slow,
    Http500,
    Code500,
    Code400,
    Code202,
    Garbage,
    Oversized,
}

impl FaultMode {
    pub const ALL: [FaultMode; 10] = [
        FaultMode::None,
        FaultMode::Reset,
        FaultMode::Hang,
        FaultMode::Slow,
        FaultMode::Http500,
        FaultMode::Code500,
        FaultMode::Code400,
        FaultMode::Code202,
        FaultMode::Garbage,
        FaultMode::Oversized,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FaultMode::None => "none",
            FaultMode::Reset => "reset",
            FaultMode::Hang => "hang",
            FaultMode::Slow => "slow",
            FaultMode::Http500 => "http500",
            FaultMode::Code500 => "code500",
            FaultMode::Code400 => "code400",
            FaultMode::Code202 => "code202",
            FaultMode::Garbage => "garbage",
            FaultMode::Oversized => "oversized",
        }
    }

    pub fn parse(name: &str) -> Option<FaultMode> {
        FaultMode::ALL.into_iter().find(|m| m.name() == name)
    }
}

/// The active fault: `count` left (None: until changed), limited to paths starting with `path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub mode: FaultMode,
    pub delay_ms: u64,
    pub count: Option<u64>,
    pub path: Option<String>,
}

impl Fault {
    pub const NONE: Fault = Fault {
        mode: FaultMode::None,
        delay_ms: 0,
        count: None,
        path: None,
    };

    /// Parse the body of `POST /__sim/fault`; unknown keys and modes are errors.
    pub fn from_json(body: &[u8]) -> Result<Fault, String> {
        let value: Value =
            serde_json::from_slice(body).map_err(|e| format!("body is not JSON: {e}"))?;
        let obj = value.as_object().ok_or("body is not a JSON object")?;
        for key in obj.keys() {
            if !["mode", "delay_ms", "count", "path"].contains(&key.as_str()) {
                return Err(format!("unknown key '{key}' (mode, delay_ms, count, path)"));
            }
        }
        let names: Vec<&str> = FaultMode::ALL.iter().map(|m| m.name()).collect();
        let mode = match obj.get("mode") {
            Some(Value::String(s)) => FaultMode::parse(s)
                .ok_or_else(|| format!("mode '{s}' is not one of {}", names.join("|")))?,
            _ => {
                return Err(format!(
                    "'mode' (a string: {}) is required",
                    names.join("|")
                ))
            }
        };
        let number = |key: &str| -> Result<Option<u64>, String> {
            match obj.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => v
                    .as_u64()
                    .map(Some)
                    .ok_or_else(|| format!("'{key}' must be a non-negative integer")),
            }
        };
        let delay_ms = number("delay_ms")?.unwrap_or(0);
        if delay_ms > MAX_HOLD.as_millis() as u64 {
            return Err(format!("'delay_ms' is at most {}", MAX_HOLD.as_millis()));
        }
        if mode == FaultMode::Slow && delay_ms == 0 {
            return Err("mode 'slow' needs 'delay_ms' > 0".into());
        }
        let count = number("count")?;
        if count == Some(0) {
            return Err("'count' must be at least 1 (omit it for 'until changed')".into());
        }
        let path = match obj.get("path") {
            None | Some(Value::Null) => None,
            Some(Value::String(p)) if p.starts_with('/') => Some(p.clone()),
            Some(_) => return Err("'path' must be a string starting with '/'".into()),
        };
        Ok(Fault {
            mode,
            delay_ms,
            count,
            path,
        })
    }

    pub fn to_json(&self) -> Value {
        json!({"mode": self.mode.name(), "delay_ms": self.delay_ms, "count": self.count, "path": self.path})
    }
}

struct Inner {
    records: VecDeque<Value>,
    next_seq: u64,
    fault: Fault,
    /// The charset of the cloud endpoints' replies, and the one given at start (restored by reset).
    encoding: ReplyEncoding,
    initial_encoding: ReplyEncoding,
    /// Bumped by reset and stop; hung requests wait for it to change.
    generation: u64,
    stopping: bool,
}

pub struct State {
    inner: Mutex<Inner>,
    changed: Condvar,
}

impl State {
    pub fn new() -> State {
        State::answering(ReplyEncoding::default())
    }

    /// A simulator whose cloud endpoints answer in `encoding` until told otherwise.
    pub fn answering(encoding: ReplyEncoding) -> State {
        State {
            inner: Mutex::new(Inner {
                records: VecDeque::new(),
                next_seq: 1,
                fault: Fault::NONE,
                initial_encoding: encoding.clone(),
                encoding,
                generation: 0,
                stopping: false,
            }),
            changed: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panicking handler must not take the whole simulator down with a poisoned lock.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Append a record, giving it the next `seq`.
    pub fn record(&self, mut record: Value) -> u64 {
        let mut inner = self.lock();
        let seq = inner.next_seq;
        inner.next_seq += 1;
        record["seq"] = json!(seq);
        if inner.records.len() == MAX_RECORDS {
            inner.records.pop_front();
        }
        inner.records.push_back(record);
        seq
    }

    pub fn records(&self) -> Vec<Value> {
        self.lock().records.iter().cloned().collect()
    }

    pub fn fault(&self) -> Fault {
        self.lock().fault.clone()
    }

    pub fn set_fault(&self, fault: Fault) {
        self.lock().fault = fault;
        self.changed.notify_all();
    }

    pub fn reply_encoding(&self) -> ReplyEncoding {
        self.lock().encoding.clone()
    }

    pub fn set_reply_encoding(&self, encoding: ReplyEncoding) {
        self.lock().encoding = encoding;
    }

    /// Clear records and faults, restore the reply charset given at start, and release every
    /// hung request.
    pub fn reset(&self) {
        let mut inner = self.lock();
        inner.records.clear();
        inner.fault = Fault::NONE;
        inner.encoding = inner.initial_encoding.clone();
        inner.generation += 1;
        drop(inner);
        self.changed.notify_all();
    }

    pub fn stop(&self) {
        let mut inner = self.lock();
        inner.stopping = true;
        inner.generation += 1;
        drop(inner);
        self.changed.notify_all();
    }

    pub fn stopping(&self) -> bool {
        self.lock().stopping
    }

    /// The fault to apply to a request for `path`, counting it down.
    pub fn take_fault(&self, path: &str) -> Option<Fault> {
        let mut inner = self.lock();
        let fault = inner.fault.clone();
        if fault.mode == FaultMode::None {
            return None;
        }
        if let Some(prefix) = &fault.path {
            if !path.starts_with(prefix.as_str()) {
                return None;
            }
        }
        if let Some(left) = fault.count {
            inner.fault = if left <= 1 {
                Fault::NONE
            } else {
                Fault {
                    count: Some(left - 1),
                    ..fault.clone()
                }
            };
        }
        Some(fault)
    }

    /// Block for `limit` (at most `MAX_HOLD`), or until reset/stop. Returns true when released early.
    pub fn hold(&self, limit: Duration) -> bool {
        let limit = limit.min(MAX_HOLD);
        let deadline = Instant::now() + limit;
        let mut inner = self.lock();
        let generation = inner.generation;
        loop {
            if inner.generation != generation {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            inner = self
                .changed
                .wait_timeout(inner, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

impl Default for State {
    fn default() -> Self {
        State::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counted_fault_expires_and_path_limits_it() {
        let s = State::new();
        s.set_fault(
            Fault::from_json(br#"{"mode":"code500","count":2,"path":"/hrball/"}"#).unwrap(),
        );
        assert!(s.take_fault("/getway/reportAndFilm/api/qrurl").is_none());
        assert_eq!(s.take_fault("/hrball/").unwrap().mode, FaultMode::Code500);
        assert_eq!(s.take_fault("/hrball/").unwrap().mode, FaultMode::Code500);
        assert!(s.take_fault("/hrball/").is_none());
    }

    #[test]
    fn bad_fault_bodies_name_the_problem() {
        for (body, needle) in [
            (r#"{"mode":"explode"}"#, "explode"),
            (r#"{"mode":"slow"}"#, "delay_ms"),
            (r#"{"mode":"hang","count":0}"#, "count"),
            (r#"{"mode":"hang","colour":1}"#, "colour"),
            (r#"{"mode":"hang","path":"hrball"}"#, "path"),
        ] {
            let err = Fault::from_json(body.as_bytes()).unwrap_err();
            assert!(err.contains(needle), "{body}: {err}");
        }
    }
}
