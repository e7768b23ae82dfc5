//! miic as a DICOM SCU of the hospital PACS (spec 4.2): the PACS's identity from `[dicom]`,
//! C-ECHO (the health check), and C-FIND (a study at study level; any identifier for the
//! retrieval's questions). Retrieval itself is in `retrieve.rs`.
//!
//! Uses: config, dicom::dimse, dicom::store, error.

use super::dimse::{
    self, ul_error, CommandBuilder, Conn, Incoming, C_ECHO_RQ, C_ECHO_RSP, C_FIND_RQ, C_FIND_RSP,
    EXPLICIT_LE, FIND_STUDY_ROOT, IMPLICIT_LE, VERIFICATION,
};
use super::store::uid_is_valid;
use crate::config::{Config, RetrieveMethod};
use crate::error::{Error, Result};
use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use dicom_ul::association::{ClientAssociation, ClientAssociationOptions};
use serde::Serialize;
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Most matches one C-FIND may bring: an instance-level listing of the largest studies (tens of
/// thousands of objects) fits many times over; a PACS that answers "pending" without end is
/// cut off here instead of growing memory until the host aborts (each match costs a few
/// hundred bytes in memory however small its identifier; answers without one cost nothing
/// and are bounded in time by the call's deadline).
const MAX_FIND_MATCHES: usize = 250_000;
/// Most identifier bytes one C-FIND may bring in all (an instance-level match is ~250 bytes).
const MAX_FIND_BYTES: usize = 64 << 20;

/// The PACS and miic's own identity, from `[dicom]`.
#[derive(Debug, Clone)]
pub struct Peer {
    pub local_ae: String,
    pub peer_ae: String,
    pub host: String,
    pub port: u16,
    pub max_pdu: u32,
    pub timeout: Duration,
    pub retrieve: RetrieveMethod,
    pub move_port: Option<u16>,
    pub max_object_bytes: u64,
    pub min_free_bytes: u64,
    /// Hosts besides `host` that C-MOVE sub-operations may come from.
    pub move_from: Vec<String>,
}

impl Peer {
    pub fn from_config(config: &Config) -> Result<Peer> {
        let d = &config.dicom;
        let need = |value: Option<String>, key: &str| {
            value.filter(|v| !v.trim().is_empty()).ok_or_else(|| {
                Error::config(format!("config key '{key}' is required for DICOM calls"))
            })
        };
        Ok(Peer {
            local_ae: need(d.local_ae.clone(), "dicom.local_ae")?
                .trim()
                .to_owned(),
            peer_ae: need(d.peer_ae.clone(), "dicom.peer_ae")?.trim().to_owned(),
            host: need(d.host.clone(), "dicom.host")?.trim().to_owned(),
            port: d.port.ok_or_else(|| {
                Error::config("config key 'dicom.port' is required for DICOM calls")
            })?,
            max_pdu: d.max_pdu,
            timeout: config.timeout,
            retrieve: d.retrieve,
            move_port: d.move_port,
            max_object_bytes: d.max_object_bytes,
            min_free_bytes: d.min_free_bytes,
            move_from: d.move_from.clone(),
        })
    }

    /// The addresses the PACS's storage associations may come from: `host` and
    /// `move_from`, resolved now (a name the resolver does not know counts for nothing).
    pub fn sender_addresses(&self) -> Vec<std::net::IpAddr> {
        use std::net::ToSocketAddrs;
        let mut out = Vec::new();
        for host in std::iter::once(&self.host).chain(&self.move_from) {
            match (host.as_str(), 0).to_socket_addrs() {
                Ok(addrs) => out.extend(addrs.map(|a| a.ip())),
                Err(e) => log::warn!("C-MOVE: cannot resolve '{host}' of [dicom]: {e}"),
            }
        }
        out.sort();
        out.dedup();
        out
    }

    /// `AE@host:port`, for messages.
    pub fn name(&self) -> String {
        format!("{}@{}:{}", self.peer_ae, self.host, self.port)
    }

    pub(crate) fn associate(
        &self,
        options: ClientAssociationOptions<'_>,
    ) -> Result<Conn<ClientAssociation<TcpStream>>> {
        let association = options
            .calling_ae_title(self.local_ae.as_str())
            .called_ae_title(self.peer_ae.as_str())
            .max_pdu_length(self.max_pdu)
            .connection_timeout(self.timeout)
            .read_timeout(self.timeout)
            .write_timeout(self.timeout)
            .establish((self.host.as_str(), self.port))
            .map_err(|e| ul_error(e, &self.name(), self.timeout))?;
        Conn::new(association, self.name(), self.timeout)
    }
}

pub(crate) fn release(conn: Conn<ClientAssociation<TcpStream>>) {
    let peer = conn.peer.clone();
    if let Err(e) = conn.link.release() {
        // Everything asked for has arrived by now; a sloppy release is not the caller's problem.
        log::warn!("releasing the association with {peer}: {e}");
    }
}

/// C-ECHO: associate, echo, release. Returns the round-trip time of the whole exchange.
pub fn echo(peer: &Peer) -> Result<Duration> {
    let started = Instant::now();
    let mut conn = peer.associate(
        ClientAssociationOptions::new()
            .with_presentation_context(VERIFICATION, vec![IMPLICIT_LE, EXPLICIT_LE]),
    )?;
    conn.set_deadline(started + peer.timeout);
    let pc_id = conn.link.presentation_contexts()[0].id;
    conn.send_message(
        pc_id,
        CommandBuilder::new(C_ECHO_RQ, VERIFICATION, false).request(1),
        None,
    )?;
    let command = match conn.receive_command()? {
        Incoming::Command { command, .. } if command.field() == C_ECHO_RSP => command,
        Incoming::Command { command, .. } => {
            return Err(Error::dicom(format!(
                "{} answered C-ECHO with command 0x{:04X}",
                conn.peer,
                command.field()
            )))
        }
        Incoming::Released => {
            return Err(Error::dicom(format!(
                "{} released instead of answering C-ECHO",
                conn.peer
            )))
        }
    };
    if command.status() != 0 {
        return Err(Error::dicom(format!(
            "{} answered C-ECHO with status {}",
            conn.peer,
            dimse::status_text(command.status())
        )));
    }
    release(conn);
    let rtt = started.elapsed();
    log::info!("C-ECHO {} OK in {} ms", peer.name(), rtt.as_millis());
    Ok(rtt)
}

/// One study as C-FIND reports it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct StudyMatch {
    pub study_instance_uid: String,
    pub patient_id: Option<String>,
    pub patient_name: Option<String>,
    pub study_date: Option<String>,
    pub accession_number: Option<String>,
    pub modalities_in_study: Option<String>,
    pub number_of_study_related_instances: Option<u32>,
}

pub(crate) fn study_identifier(study_uid: &str, for_find: bool) -> InMemDicomObject {
    let mut elements = vec![
        DataElement::new(
            tags::QUERY_RETRIEVE_LEVEL,
            VR::CS,
            PrimitiveValue::from("STUDY"),
        ),
        DataElement::new(
            tags::STUDY_INSTANCE_UID,
            VR::UI,
            PrimitiveValue::from(study_uid),
        ),
    ];
    if for_find {
        for (tag, vr) in [
            (tags::SPECIFIC_CHARACTER_SET, VR::CS),
            (tags::PATIENT_NAME, VR::PN),
            (tags::PATIENT_ID, VR::LO),
            (tags::STUDY_DATE, VR::DA),
            (tags::ACCESSION_NUMBER, VR::SH),
            (tags::MODALITIES_IN_STUDY, VR::CS),
            (tags::NUMBER_OF_STUDY_RELATED_INSTANCES, VR::IS),
        ] {
            elements.push(DataElement::new(tag, vr, PrimitiveValue::Empty));
        }
    }
    InMemDicomObject::from_element_iter(elements)
}

pub(crate) fn check_study_uid(study_uid: &str) -> Result<()> {
    if !uid_is_valid(study_uid) {
        return Err(Error::argument(format!(
            "'study_uid' must be a DICOM UID (digits and dots, at most 64), got '{study_uid}'"
        )));
    }
    Ok(())
}

/// C-FIND at study level for one Study Instance UID (zero or one match, normally).
pub fn find_study(peer: &Peer, study_uid: &str) -> Result<Vec<StudyMatch>> {
    check_study_uid(study_uid)?;
    let started = Instant::now();
    let mut conn = peer.associate(
        ClientAssociationOptions::new()
            .with_presentation_context(FIND_STUDY_ROOT, vec![EXPLICIT_LE, IMPLICIT_LE]),
    )?;
    conn.set_deadline(started + peer.timeout);
    let matches = find_on(&mut conn, study_uid)?;
    release(conn);
    Ok(matches)
}

pub(crate) fn context_for(
    conn: &Conn<ClientAssociation<TcpStream>>,
    abstract_syntax: &str,
) -> Result<(u8, String)> {
    conn.link
        .presentation_contexts()
        .iter()
        .find(|pc| pc.abstract_syntax.trim_end_matches('\0') == abstract_syntax)
        .map(|pc| (pc.id, pc.transfer_syntax.trim_end_matches('\0').to_owned()))
        .ok_or_else(|| {
            Error::dicom(format!(
                "{} does not grant the service {abstract_syntax} to this AE",
                conn.peer
            ))
        })
}

fn find_on(
    conn: &mut Conn<ClientAssociation<TcpStream>>,
    study_uid: &str,
) -> Result<Vec<StudyMatch>> {
    let objects = find_objects(conn, study_identifier(study_uid, true))?;
    Ok(objects.iter().map(study_match).collect())
}

/// C-FIND (study root) with `identifier` on an association that has the FIND context; the
/// matches as data sets.
pub(crate) fn find_objects(
    conn: &mut Conn<ClientAssociation<TcpStream>>,
    identifier: InMemDicomObject,
) -> Result<Vec<InMemDicomObject>> {
    let (pc_id, ts) = context_for(conn, FIND_STUDY_ROOT)?;
    let identifier = dimse::encode_dataset(&identifier, &ts)?;
    let request = CommandBuilder::new(C_FIND_RQ, FIND_STUDY_ROOT, true).request(next_message_id());
    conn.send_message(pc_id, request, Some(&identifier))?;
    let mut matches = Vec::new();
    let mut bytes = 0usize;
    loop {
        let command = conn.receive_response(C_FIND_RSP, "C-FIND")?;
        let data = if command.has_dataset() {
            Some(conn.receive_dataset_bytes()?)
        } else {
            None
        };
        let status = command.status();
        if dimse::is_pending(status) {
            if let Some(data) = data {
                bytes += data.len();
                if matches.len() == MAX_FIND_MATCHES {
                    return Err(Error::dicom(format!(
                        "{} sent more than {MAX_FIND_MATCHES} C-FIND matches (miic's bound); C-FIND stopped",
                        conn.peer
                    )));
                }
                if bytes > MAX_FIND_BYTES {
                    return Err(Error::dicom(format!(
                        "{} sent more than {} MiB of C-FIND matches (miic's bound); C-FIND stopped",
                        conn.peer,
                        MAX_FIND_BYTES >> 20
                    )));
                }
                matches.push(dimse::decode_dataset(&data, &ts)?);
            }
            continue;
        }
        if status != 0 {
            return Err(Error::dicom(format!(
                "{} failed the C-FIND: {}{}",
                conn.peer,
                dimse::status_text(status),
                command
                    .error_comment()
                    .map(|c| format!(" ({c})"))
                    .unwrap_or_default()
            )));
        }
        return Ok(matches);
    }
}

/// A text element of a C-FIND match, trimmed; `None` when absent or empty.
pub(crate) fn text_of(object: &InMemDicomObject, tag: dicom_core::Tag) -> Option<String> {
    object
        .element_opt(tag)
        .ok()
        .flatten()
        .and_then(|e| e.to_str().ok())
        .map(|s| s.trim_end_matches(['\0', ' ']).trim().to_owned())
        .filter(|s| !s.is_empty())
}

fn study_match(object: &InMemDicomObject) -> StudyMatch {
    let text = |tag| text_of(object, tag);
    StudyMatch {
        study_instance_uid: text(tags::STUDY_INSTANCE_UID).unwrap_or_default(),
        patient_id: text(tags::PATIENT_ID),
        patient_name: text(tags::PATIENT_NAME),
        study_date: text(tags::STUDY_DATE),
        accession_number: text(tags::ACCESSION_NUMBER),
        modalities_in_study: text(tags::MODALITIES_IN_STUDY),
        number_of_study_related_instances: text(tags::NUMBER_OF_STUDY_RELATED_INSTANCES)
            .and_then(|n| n.trim().parse().ok()),
    }
}

static MESSAGE_ID: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(1);

pub(crate) fn next_message_id() -> u16 {
    MESSAGE_ID.fetch_add(1, Ordering::Relaxed).max(1)
}
