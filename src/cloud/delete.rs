//! 4.5 影像图像删除接口: tell the cloud that the doctor deleted an exam's images in the PACS.
//! The notification is committed to the outbox first, then the call tries to deliver it within
//! its own `timeout_ms`; what does not go through is left to the retry worker.
//!
//! Uses: context, session, outbox::{store, delivery, worker}, params, log,
//! error.

use crate::context::Context;
use crate::error::{Error, Result, Status};
use crate::log::mask_name;
use crate::outbox::delivery::{deliver, Delivery, LEASE_MARGIN, MIN_ATTEMPT};
use crate::outbox::store::{Item, Pick, Store};
use crate::outbox::worker::Outbox;
use crate::params::Params;
use crate::session::Session;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A checked delete notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deletion {
    pub patient_name: String,
    pub accession_no: String,
    pub hospital_id: String,
    pub operate_doctor_name: String,
    pub operate_date_time: String,
}

impl Deletion {
    /// `operateDoctorName` defaults to the logged-in doctor, `operateDateTime` to now.
    pub fn from_params(ctx: &Context, session: &Session, params: &Params) -> Result<Deletion> {
        let enc = ctx.encoding();
        let patient_name = params.require("patientName", enc)?;
        let accession_no = params.require("accessionNo", enc)?;
        let operate_doctor_name = match params.get_nonempty("operateDoctorName", enc)? {
            Some(name) => name,
            None => session
                .doctor()
                .map(|d| d.doctor_name)
                .ok_or_else(|| Error::missing("operateDoctorName"))?,
        };
        let operate_date_time = match params
            .get_nonempty("operateDateTime", enc)?
            .or(params.get_nonempty("deleteDateTime", enc)?)
        {
            Some(t) if is_datetime(&t) => t,
            Some(t) => {
                return Err(Error::argument(format!(
                    "'operateDateTime' = '{t}' is not a date-time 'yyyy-MM-dd HH:mm:ss'"
                )))
            }
            None => now_local(),
        };
        let hospital_id = params
            .get_nonempty("hospitalId", enc)?
            .unwrap_or_else(|| ctx.config.hospital_id.clone());
        Ok(Deletion {
            patient_name,
            accession_no,
            hospital_id,
            operate_doctor_name,
            operate_date_time,
        })
    }

    /// The body: the table's `operateDateTime` and the sample's `deleteDateTime`, same value.
    pub fn body(&self) -> Value {
        json!({
            "patientName": self.patient_name,
            "accessionNo": self.accession_no,
            "hospitalId": self.hospital_id,
            "operateDoctorName": self.operate_doctor_name,
            "operateDateTime": self.operate_date_time,
            "deleteDateTime": self.operate_date_time,
        })
    }

    pub fn label(&self) -> String {
        format!(
            "accessionNo={} patient={}",
            self.accession_no,
            mask_name(&self.patient_name)
        )
    }
}

/// Check the notification, commit it to the outbox, then try to deliver it within the call's
/// `timeout_ms`: `Ok` when the cloud took it, `Queued` when it waits for the retry worker.
/// Validation errors and a code-400 rejection fail at once.
pub fn delete_notify(
    ctx: &Arc<Context>,
    session: &Session,
    outbox: &Outbox,
    params: &Params,
) -> Result<Status> {
    let deletion = Deletion::from_params(ctx, session, params)?;
    let store = outbox.store(ctx.config.outbox_path.as_deref())?;
    let stored = store.enqueue(
        &deletion.accession_no,
        &deletion.patient_name,
        &deletion.body().to_string(),
        caller_hold(ctx),
    )?;
    // The send gets the whole timeout_ms; storing (a few ms) is the "small margin" of the
    // reliability rules.
    let deadline = Instant::now() + ctx.config.timeout;
    log::info!(
        "delete notification stored as #{}: {}",
        stored.0,
        deletion.label()
    );
    if let Err(e) = outbox.start(ctx) {
        log::warn!(
            "{e}: notification #{} waits for a flush or the next miic_open",
            stored.0
        );
    }
    deliver_now(
        ctx,
        outbox,
        &store,
        &deletion.accession_no,
        stored,
        deadline,
    )
}

/// How long a freshly stored item is left to its caller before workers may take it.
fn caller_hold(ctx: &Context) -> Duration {
    ctx.config.timeout + LEASE_MARGIN
}

/// The caller's own try (`miic_delete_notify`) of the stored item `id`: send the accession's
/// older pending items and then `id`, until `deadline`. `Ok(Ok)` when `id` was delivered,
/// `Ok(Queued)` when it waits in the outbox, `Err(Server)` when the cloud rejected it. The item
/// is stored already, so trouble with the file from here on means "queued", not failure.
fn deliver_now(
    ctx: &Context,
    outbox: &Outbox,
    store: &Store,
    accession: &str,
    (id, leased): (i64, Option<Item>),
    deadline: Instant,
) -> Result<Status> {
    match try_deliver(ctx, outbox, store, accession, id, leased, deadline) {
        Err(e) if e.status != Status::Server => {
            log::warn!("delete notification #{id} stays queued: {e}");
            Ok(Status::Queued)
        }
        other => other,
    }
}

fn try_deliver(
    ctx: &Context,
    outbox: &Outbox,
    store: &Store,
    accession: &str,
    id: i64,
    mut leased: Option<Item>,
    deadline: Instant,
) -> Result<Status> {
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining < MIN_ATTEMPT {
            return Ok(Status::Queued);
        }
        let claimed = match leased.take() {
            Some(item) => Some(item),
            None => store.claim(Pick::Accession(accession, id), remaining + LEASE_MARGIN)?,
        };
        let Some(item) = claimed else {
            // Either gone (another worker delivered or rejected it) or being sent right now.
            if !store.contains(id)? {
                return match store.dead_reason(id)? {
                    Some(reason) => Err(rejected(accession, &reason)),
                    None => Ok(Status::Ok),
                };
            }
            std::thread::sleep(remaining.min(Duration::from_millis(20)));
            continue;
        };
        match deliver(ctx, store, &item, remaining)? {
            Delivery::Delivered if item.id == id => {
                outbox.cloud_answered();
                return Ok(Status::Ok);
            }
            Delivery::Rejected(reason) if item.id == id => {
                return Err(rejected(accession, &reason))
            }
            Delivery::Delivered | Delivery::Rejected(_) => {}
            Delivery::Retry { .. } => {
                outbox.kick();
                return Ok(Status::Queued);
            }
        }
    }
}

fn rejected(accession: &str, reason: &str) -> Error {
    Error::server(format!(
        "delete notification for accessionNo={accession} rejected: {reason} (not retried; listed \
         in the outbox's dead list)"
    ))
}

/// `yyyy-MM-dd HH:mm:ss` in local time, the spec's DateTime format.
fn now_local() -> String {
    chrono::Local::now().format("%Y-%m-%d %H:%M:%S").to_string()
}

/// True when `text` is a real calendar `yyyy-MM-dd HH:mm:ss`.
fn is_datetime(text: &str) -> bool {
    text.len() == 19 && chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").is_ok()
}
