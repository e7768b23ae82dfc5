//! The durable outbox of delete notifications (spec 4.5): the SQLite file (`store`), the
//! delivery rules (`delivery`) and a client's retry worker (`worker`).
//!
//! Public for operators' tools: the file (list, retry, requeue, purge) and a one-off flush.
//!
//! Uses: outbox::{store, delivery}, context, config, error.

pub(crate) mod delivery;
pub(crate) mod store;
pub(crate) mod worker;

pub use store::{default_path, DeadRow, PendingRow, Store};

use crate::config::Config;
use crate::context::Context;
use crate::error::Result;
use std::time::Duration;

/// Try every notification pending in `store` now, with `config`'s cloud and timeouts, backoff
/// notwithstanding, until the file is empty (`Ok`) or `timeout` has passed (`MIIC_E_TIMEOUT`
/// saying how many remain). No client is opened: nothing else starts.
pub fn flush(config: &Config, store: &Store, timeout: Duration) -> Result<()> {
    delivery::flush(&Context::new(config.clone()), store, timeout)
}
