//! 4.5 影像图像删除接口: tell the cloud that the doctor deleted an exam's images in the PACS.

use crate::client::Client;
use crate::cloud::{is_datetime, now_local};
use crate::error::{Error, Result, Status};
use crate::log::mask_name;
use crate::outbox::delivery;
use crate::params::Params;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Instant;

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
    pub fn from_params(client: &Client, params: &Params) -> Result<Deletion> {
        let enc = client.encoding();
        let patient_name = params.require("patientName", enc)?;
        let accession_no = params.require("accessionNo", enc)?;
        let operate_doctor_name = match params.get_nonempty("operateDoctorName", enc)? {
            Some(name) => name,
            None => client
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
            .unwrap_or_else(|| client.config.hospital_id.clone());
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
pub fn delete_notify(client: &Arc<Client>, params: &Params) -> Result<Status> {
    let deletion = Deletion::from_params(client, params)?;
    let store = client.outbox_store()?;
    let stored = store.enqueue(
        &deletion.accession_no,
        &deletion.patient_name,
        &deletion.body().to_string(),
        delivery::caller_hold(client),
    )?;
    // The send gets the whole timeout_ms; storing (a few ms) is the "small margin" of the
    // reliability rules.
    let deadline = Instant::now() + client.config.timeout;
    log::info!(
        "delete notification stored as #{}: {}",
        stored.0,
        deletion.label()
    );
    if let Err(e) = client.outbox.start(client) {
        log::warn!(
            "{e}: notification #{} waits for a flush or the next miic_open",
            stored.0
        );
    }
    delivery::deliver_now(client, &store, &deletion.accession_no, stored, deadline)
}
