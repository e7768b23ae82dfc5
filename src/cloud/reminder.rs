//! 4.4.3.2 外院检查数据提醒: when the doctor opens a patient, ask the cloud to remind the doctor of
//! that patient's exams at other hospitals. Synchronous, or on a worker the client owns.
//!
//! Uses: context, session, cloud::dict, http (reply envelope), worker, params, log, error.

use crate::cloud::dict;
use crate::context::{Context, Workstation};
use crate::error::{Error, Result};
use crate::log::mask_name;
use crate::params::Params;
use crate::session::Session;
use crate::worker::{Inbox, Wake, Worker};
use serde_json::{Map, Value};
use std::sync::{Arc, Weak};
use std::time::Duration;

const WHAT: &str = "patient reminder";

/// Optional patient identifiers passed through when present.
const OPTIONAL: [&str; 5] = [
    "outpatientId",
    "insuranceId",
    "hospitalizationId",
    "medicareNo",
    "healthNo",
];

/// A reminder checked locally and ready to encrypt and send.
#[derive(Debug, Clone)]
pub struct Reminder {
    patient_id_card_no: String,
    fields: Vec<(&'static str, String)>,
    doctor_id_cipher: Option<String>,
    doctor_id_plain: Option<String>,
    /// As given; the workstation's own fill the gaps when the body is built (see [`Reminder::body`]).
    client_ip: Option<String>,
    mac: Option<String>,
    label: String,
}

impl Reminder {
    /// Check required fields and dictionaries, and fill the doctor and hospital.
    pub fn prepare(ctx: &Context, session: &Session, params: &Params) -> Result<Reminder> {
        let enc = ctx.encoding();
        let get = |key: &str| params.get_nonempty(key, enc);
        let patient_id_card_no = params.require("idCardNo", enc)?;
        let patient_name = params.require("patientName", enc)?;
        let mobile_phone = params.require("mobilePhone", enc)?;
        let access_number = params.require("accessNumber", enc)?;
        let patient_type = params.require("patientType", enc)?;
        dict::check("patientType", &patient_type, dict::PATIENT_TYPE)?;

        // The doctor: fields given in the params win; the rest come from the login session.
        let session = session.doctor();
        let from_session = |key: &str, value: Option<String>| -> Result<String> {
            value.ok_or_else(|| {
                Error::state(format!(
                    "no doctor is logged in and '{key}' was not given (call miic_login first, or pass the doctor's fields)"
                ))
            })
        };
        let his_user_id = from_session(
            "hisUserId",
            get("hisUserId")?.or(session.as_ref().map(|d| d.his_user_id.clone())),
        )?;
        let his_user_name = from_session(
            "hisUserName",
            get("hisUserName")?.or(session.as_ref().map(|d| d.doctor_name.clone())),
        )?;
        let doctor_type = from_session(
            "doctorType",
            get("doctorType")?.or(session.as_ref().map(|d| d.doctor_type.clone())),
        )?;
        dict::check("doctorType", &doctor_type, dict::DOCTOR_TYPE)?;
        let doctor_code = from_session(
            "doctorCode",
            get("doctorCode")?.or(session.as_ref().map(|d| d.doctor_code.clone())),
        )?;
        let (doctor_id_plain, doctor_id_cipher) = match get("doctorIdCardNo")? {
            Some(plain) => (Some(plain), None),
            None => (
                None,
                Some(from_session(
                    "doctorIdCardNo",
                    session.as_ref().map(|d| d.doctor_id_cipher.clone()),
                )?),
            ),
        };
        if ctx.config.sm2.public_key.is_none() {
            return Err(Error::config(
                "config key 'sm2.public_key' is not set; it is needed to encrypt ID numbers",
            ));
        }
        let hospital_id = get("hospitalId")?.unwrap_or_else(|| ctx.config.hospital_id.clone());

        let client_ip = get("clientIp")?;
        let mac = get("mac")?;

        let mut fields: Vec<(&'static str, String)> = vec![("patientName", patient_name.clone())];
        for key in OPTIONAL {
            if let Some(value) = get(key)? {
                fields.push((key, value));
            }
        }
        fields.extend([
            ("mobilePhone", mobile_phone),
            ("hisUserId", his_user_id),
            ("hisUserName", his_user_name),
            ("patientType", patient_type),
            ("hospitalId", hospital_id),
            ("doctorType", doctor_type),
            ("doctorCode", doctor_code),
            ("accessNumber", access_number.clone()),
        ]);
        Ok(Reminder {
            patient_id_card_no,
            fields,
            doctor_id_cipher,
            doctor_id_plain,
            client_ip,
            mac,
            label: format!(
                "accessNumber={access_number} patient={}",
                mask_name(&patient_name)
            ),
        })
    }

    /// The JSON body with both ID numbers encrypted and clean keys. clientIp and mac not given
    /// are this workstation's, looked up here (once per client), on the sending thread: the
    /// adapter list (GetAdaptersAddresses on Windows) can take tens of milliseconds or more, too
    /// long for the thread of `miic_patient_reminder_async`, which must return at once.
    pub fn body(&self, ctx: &Context, workstation: Workstation) -> Result<Value> {
        let client_ip = self.client_ip.clone().or(workstation.ip);
        let mac = self.mac.clone().or(workstation.mac);
        if client_ip.is_none() && mac.is_none() {
            return Err(Error::argument(
                "'clientIp' and 'mac' are both unknown: pass one of them (the workstation's could not be detected)",
            ));
        }
        let mut body = Map::new();
        body.insert(
            "clientIp".into(),
            Value::String(client_ip.unwrap_or_default()),
        );
        body.insert("mac".into(), Value::String(mac.unwrap_or_default()));
        body.insert(
            "idCardNo".into(),
            Value::String(ctx.encrypt(&self.patient_id_card_no)?),
        );
        for (key, value) in &self.fields {
            body.insert((*key).into(), Value::String(value.clone()));
        }
        let doctor_cipher = match (&self.doctor_id_cipher, &self.doctor_id_plain) {
            (Some(cipher), _) => cipher.clone(),
            (None, Some(plain)) => ctx.encrypt(plain)?,
            (None, None) => return Err(Error::internal("reminder has no doctor ID")),
        };
        body.insert("doctorIdCardNo".into(), Value::String(doctor_cipher));
        Ok(Value::Object(body))
    }

    pub fn send(&self, ctx: &Context) -> Result<()> {
        let (workstation, waited) = match (&self.client_ip, &self.mac) {
            (Some(_), Some(_)) => (Workstation::default(), Duration::ZERO),
            _ => ctx.workstation(ctx.config.timeout),
        };
        let body = self.body(ctx, workstation)?;
        let url = ctx.config.url(&ctx.config.paths.reminder);
        // What finding the workstation waited (a first lookup of base_url's host name) comes off
        // the request's budget: the call stays within timeout_ms.
        ctx.http
            .post_json_text_within(
                &url,
                &body.to_string(),
                ctx.config.timeout.saturating_sub(waited),
            )?
            .envelope(WHAT)?
            .into_success(WHAT)?;
        log::info!("reminder sent: {}", self.label);
        Ok(())
    }
}

/// Send a reminder and wait for the cloud's answer.
pub fn remind(ctx: &Context, session: &Session, params: &Params) -> Result<()> {
    Reminder::prepare(ctx, session, params)?.send(ctx)
}

/// The reminder worker of one client: at most one reminder in flight and one waiting.
///
/// A doctor clicking through patients faster than the cloud answers only cares about the patient
/// now on screen, so a newer reminder replaces the one still waiting (the replaced one is logged).
pub struct ReminderWorker {
    worker: Worker<Queue>,
}

impl Default for ReminderWorker {
    fn default() -> Self {
        ReminderWorker {
            worker: Worker::new("miic-reminder"),
        }
    }
}

#[derive(Default)]
struct Queue {
    waiting: Option<Reminder>,
}

impl ReminderWorker {
    /// Queue a checked reminder; starts the worker on first use. Never touches the network.
    pub fn submit(&self, ctx: &Arc<Context>, reminder: Reminder) -> Result<()> {
        self.worker.update(|queue| {
            if let Some(old) = queue.waiting.replace(reminder) {
                log::info!("reminder superseded before sending: {}", old.label);
            }
        })?;
        let ctx = Arc::downgrade(ctx);
        self.worker.start(move |inbox| run(&inbox, &ctx))
    }

    /// Tell the worker to stop: the waiting reminder is dropped (logged); the one in flight is
    /// interrupted by the caller shutting the HTTP agent down before [`Self::join`].
    pub fn signal_stop(&self) {
        self.worker.signal_stop(|queue| {
            if let Some(old) = queue.waiting.take() {
                log::warn!("reminder dropped at close: {}", old.label);
            }
        });
    }

    pub fn join(&self) {
        self.worker.join();
    }
}

fn run(inbox: &Inbox<Queue>, ctx: &Weak<Context>) {
    while let Wake::Got(reminder) = inbox.wait(None, |queue| queue.waiting.take()) {
        let Some(ctx) = ctx.upgrade() else {
            return;
        };
        let result = reminder.send(&ctx);
        drop(ctx);
        if let Err(e) = result {
            log::warn!("reminder failed ({}): {}", reminder.label, e);
        }
    }
}
