//! Opaque handles. A handle is a token, never dereferenced: each call looks it up in a registry,
//! so a closed, freed or foreign handle is reported as `MIIC_E_ARGUMENT` instead of crashing the
//! host, and a call in flight keeps its object alive while another thread closes it.
//!
//! Uses: error.

use crate::error::{Error, Result};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

pub struct Registry<T> {
    what: &'static str,
    next: AtomicUsize,
    live: Mutex<Option<HashMap<usize, Arc<T>>>>,
}

impl<T> Registry<T> {
    pub const fn new(what: &'static str) -> Self {
        Registry {
            what,
            next: AtomicUsize::new(1),
            live: Mutex::new(None),
        }
    }

    /// Register `value` and return its token (non-zero, unique for the process lifetime
    /// until the counter wraps; aligned so it looks like a pointer to debuggers).
    pub fn insert(&self, value: T) -> usize {
        let token = self.next.fetch_add(1, Ordering::Relaxed).wrapping_mul(16) | 0x8;
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        live.get_or_insert_with(HashMap::new)
            .insert(token, Arc::new(value));
        token
    }

    pub fn get(&self, token: usize, name: &str) -> Result<Arc<T>> {
        if token == 0 {
            return Err(Error::argument(format!("'{name}' is NULL")));
        }
        let live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        live.as_ref()
            .and_then(|m| m.get(&token).cloned())
            .ok_or_else(|| {
                Error::argument(format!(
                    "'{name}' is not a live {} handle (closed, freed or invalid)",
                    self.what
                ))
            })
    }

    pub fn remove(&self, token: usize) -> Option<Arc<T>> {
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        live.as_mut().and_then(|m| m.remove(&token))
    }
}
