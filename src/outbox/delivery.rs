//! Delivering stored delete notifications (spec 4.5) under the outbox's rules: an item leaves
//! the outbox only when the cloud answered code 200; code 400 is a business rejection, moved to
//! the dead list and never retried; anything else is retried later with backoff. Shared by the
//! caller's own first try (`cloud::delete`), `miic_outbox_flush` and the retry worker.
//!
//! Uses: outbox::store, context, http (reply envelope), error.

use super::store::{Item, Pick, Store};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::http::short;
use std::time::{Duration, Instant};

const WHAT: &str = "delete notification";
/// A lease outlives the send it covers (bounded by the HTTP deadline) by this margin.
pub const LEASE_MARGIN: Duration = Duration::from_secs(1);
/// Below this much time left, a call does not start another send.
pub const MIN_ATTEMPT: Duration = Duration::from_millis(20);

/// What became of one send.
#[derive(Debug)]
pub enum Outcome {
    /// The cloud answered code 200.
    Delivered,
    /// The cloud answered code 400, a business rejection: sending again cannot help.
    Rejected(String),
    /// Anything else (network, timeout, other codes, a reply not understood): retry later.
    Failed(Error),
}

/// Post a stored notification body once, waiting at most `limit`.
pub fn attempt(ctx: &Context, body: &str, limit: Duration) -> Outcome {
    let url = ctx.config.url(&ctx.config.paths.delete);
    let reply = match ctx
        .http
        .post_json_text_within(&url, body, limit)
        .and_then(|reply| reply.envelope(WHAT))
    {
        Ok(reply) => reply,
        Err(e) => return Outcome::Failed(e),
    };
    match reply.code {
        200 => Outcome::Delivered,
        400 => Outcome::Rejected(format!(
            "cloud answered code 400: {}",
            short(&reply.message)
        )),
        code => Outcome::Failed(Error::server(format!(
            "{WHAT}: cloud answered code {code}: {}",
            short(&reply.message)
        ))),
    }
}

/// What became of one attempt.
#[derive(Debug)]
pub enum Delivery {
    Delivered,
    Rejected(String),
    Retry { error: Error },
}

pub fn deliver(ctx: &Context, store: &Store, item: &Item, limit: Duration) -> Result<Delivery> {
    match attempt(ctx, &item.body, limit) {
        Outcome::Delivered => {
            store.delivered(item.id)?;
            log::info!("delete notification delivered: {}", item.label());
            Ok(Delivery::Delivered)
        }
        Outcome::Rejected(reason) => {
            store.reject(item.id, &reason)?;
            log::warn!(
                "delete notification rejected, kept in the dead list: {}: {reason}",
                item.label()
            );
            Ok(Delivery::Rejected(reason))
        }
        Outcome::Failed(error) => {
            let delay = store.failed(item, &error.message)?;
            log::warn!(
                "delete notification not delivered (attempt {}), next try in {} s: {}: {}",
                item.attempts + 1,
                delay.as_secs(),
                item.label(),
                error
            );
            Ok(Delivery::Retry { error })
        }
    }
}

/// Try every pending item now, backoff notwithstanding, until the outbox is empty (`Ok`) or
/// `timeout` has passed (`MIIC_E_TIMEOUT` saying how many remain and the last error).
pub fn flush(ctx: &Context, store: &Store, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    let mut cursor = 0;
    let mut pause = Duration::from_millis(100);
    let mut last_error: Option<String> = None;
    loop {
        if store.pending()? == 0 {
            return Ok(());
        }
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining < MIN_ATTEMPT {
            break;
        }
        let limit = remaining.min(ctx.config.timeout);
        match store.claim(Pick::After(cursor), limit + LEASE_MARGIN)? {
            Some(item) => {
                cursor = item.id;
                if let Delivery::Retry { error, .. } = deliver(ctx, store, &item, limit)? {
                    last_error = Some(error.message);
                }
            }
            None => {
                // A sweep is over, or the rest is being sent elsewhere: sweep again shortly.
                cursor = 0;
                std::thread::sleep(pause.min(remaining));
                pause = (pause * 2).min(Duration::from_secs(2));
            }
        }
    }
    let left = store.pending()?;
    if left == 0 {
        return Ok(());
    }
    Err(Error::timeout(format!(
        "{left} delete notification(s) still pending in outbox '{}' after {} ms{}",
        store.path().display(),
        timeout.as_millis(),
        last_error
            .map(|e| format!("; last error: {e}"))
            .unwrap_or_default()
    )))
}
