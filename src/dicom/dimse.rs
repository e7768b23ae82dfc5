//! The DIMSE messages miic needs (C-ECHO, C-FIND, C-GET, C-MOVE, C-STORE), on `dicom-ul`
//! associations. dicom-rs stops at the upper layer, so this module encodes command sets
//! (implicit VR little endian, PS3.7 §9.3/§E) and moves P-DATA fragments in and out.
//!
//! Uses: error.

use crate::error::{association_status, io_cause, Error, Result, Status};
use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_encoding::TransferSyntaxIndex;
use dicom_object::InMemDicomObject;
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;
use dicom_ul::association::{ClientAssociation, ServerAssociation};
use dicom_ul::pdu::{PDataValue, PDataValueType, Pdu, PresentationContextResultReason};
use std::collections::VecDeque;
use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

pub const VERIFICATION: &str = "1.2.840.10008.1.1";
pub const FIND_STUDY_ROOT: &str = "1.2.840.10008.5.1.4.1.2.2.1";
pub const MOVE_STUDY_ROOT: &str = "1.2.840.10008.5.1.4.1.2.2.2";
pub const GET_STUDY_ROOT: &str = "1.2.840.10008.5.1.4.1.2.2.3";
pub const IMPLICIT_LE: &str = "1.2.840.10008.1.2";
pub const EXPLICIT_LE: &str = "1.2.840.10008.1.2.1";

pub const C_STORE_RQ: u16 = 0x0001;
pub const C_STORE_RSP: u16 = 0x8001;
pub const C_GET_RQ: u16 = 0x0010;
pub const C_GET_RSP: u16 = 0x8010;
pub const C_FIND_RQ: u16 = 0x0020;
pub const C_FIND_RSP: u16 = 0x8020;
pub const C_MOVE_RQ: u16 = 0x0021;
pub const C_MOVE_RSP: u16 = 0x8021;
pub const C_ECHO_RQ: u16 = 0x0030;
pub const C_ECHO_RSP: u16 = 0x8030;

const NO_DATASET: u16 = 0x0101;
const PRIORITY_MEDIUM: u16 = 0;

/// Largest command set miic accepts. Real ones are a few hundred bytes (a C-MOVE response with
/// its counts and an error comment stays under 1 KiB); a peer sending fragments that never end
/// is cut off here instead of growing memory until the host aborts.
const MAX_COMMAND_BYTES: usize = 64 << 10;
/// Largest data set miic keeps in memory (C-FIND matches, C-GET/C-MOVE response identifiers):
/// a Failed SOP Instance UID List of 100,000 objects is under 7 MB.
const MAX_IDENTIFIER_BYTES: u64 = 16 << 20;

/// Pending statuses of C-FIND/C-GET/C-MOVE (PS3.4 C.4): more responses follow.
pub fn is_pending(status: u16) -> bool {
    status == 0xFF00 || status == 0xFF01
}

/// Warning statuses: 0x0001, 0xB000..=0xBFFF.
pub fn is_warning(status: u16) -> bool {
    status == 0x0001 || (status & 0xF000) == 0xB000
}

/// What a DIMSE status means, for error messages a hospital's IT can act on.
pub fn status_text(status: u16) -> String {
    let what = match status {
        0x0000 => "success",
        0xFE00 => "cancelled",
        0xA701 | 0xA702 => "out of resources",
        0xA801 => "move destination unknown (the PACS has no entry for miic's local_ae)",
        0xA900 => "identifier does not match SOP class",
        0xC000..=0xCFFF => "unable to process",
        0x0122 => "SOP class not supported",
        0x0124 => "not authorized",
        0xB000 => "sub-operations completed with failures",
        _ if is_pending(status) => "pending",
        _ if is_warning(status) => "warning",
        _ => "failure",
    };
    format!("0x{status:04X} ({what})")
}

/// A received command set with typed accessors.
#[derive(Debug, Clone)]
pub struct Command(InMemDicomObject);

impl Command {
    fn u16_of(&self, tag: Tag) -> Option<u16> {
        self.0
            .element_opt(tag)
            .ok()
            .flatten()
            .and_then(|e| e.to_int::<u16>().ok())
    }

    fn text_of(&self, tag: Tag) -> Option<String> {
        self.0
            .element_opt(tag)
            .ok()
            .flatten()
            .and_then(|e| e.to_str().ok())
            .map(|s| s.trim_end_matches(['\0', ' ']).to_owned())
    }

    pub fn field(&self) -> u16 {
        self.u16_of(tags::COMMAND_FIELD).unwrap_or(0)
    }
    pub fn status(&self) -> u16 {
        self.u16_of(tags::STATUS).unwrap_or(0xFFFF)
    }
    pub fn message_id(&self) -> u16 {
        self.u16_of(tags::MESSAGE_ID).unwrap_or(0)
    }
    pub fn has_dataset(&self) -> bool {
        self.u16_of(tags::COMMAND_DATA_SET_TYPE)
            .unwrap_or(NO_DATASET)
            != NO_DATASET
    }
    pub fn affected_sop_class(&self) -> String {
        self.text_of(tags::AFFECTED_SOP_CLASS_UID)
            .unwrap_or_default()
    }
    pub fn affected_sop_instance(&self) -> String {
        self.text_of(tags::AFFECTED_SOP_INSTANCE_UID)
            .unwrap_or_default()
    }
    pub fn error_comment(&self) -> Option<String> {
        self.text_of(tags::ERROR_COMMENT).filter(|s| !s.is_empty())
    }
    /// (remaining, completed, failed, warning) sub-operation counts of C-GET/C-MOVE responses.
    pub fn sub_operations(&self) -> [Option<u16>; 4] {
        [
            self.u16_of(tags::NUMBER_OF_REMAINING_SUBOPERATIONS),
            self.u16_of(tags::NUMBER_OF_COMPLETED_SUBOPERATIONS),
            self.u16_of(tags::NUMBER_OF_FAILED_SUBOPERATIONS),
            self.u16_of(tags::NUMBER_OF_WARNING_SUBOPERATIONS),
        ]
    }
}

/// The command elements of one message, before the group length is added.
pub struct CommandBuilder(Vec<DataElement<InMemDicomObject>>);

impl CommandBuilder {
    pub fn new(field: u16, sop_class: &str, has_dataset: bool) -> Self {
        CommandBuilder(vec![
            DataElement::new(tags::AFFECTED_SOP_CLASS_UID, VR::UI, uid_value(sop_class)),
            DataElement::new(tags::COMMAND_FIELD, VR::US, PrimitiveValue::from(field)),
            DataElement::new(
                tags::COMMAND_DATA_SET_TYPE,
                VR::US,
                PrimitiveValue::from(if has_dataset { 0x0001u16 } else { NO_DATASET }),
            ),
        ])
    }

    /// A request: a message id (and a priority for the Q/R and storage services).
    pub fn request(mut self, message_id: u16) -> Self {
        self.0.push(DataElement::new(
            tags::MESSAGE_ID,
            VR::US,
            PrimitiveValue::from(message_id),
        ));
        if !matches!(self.field(), C_ECHO_RQ) {
            self.0.push(DataElement::new(
                tags::PRIORITY,
                VR::US,
                PrimitiveValue::from(PRIORITY_MEDIUM),
            ));
        }
        self
    }

    /// A response to `message_id` with `status`.
    pub fn response(mut self, message_id: u16, status: u16) -> Self {
        self.0.push(DataElement::new(
            tags::MESSAGE_ID_BEING_RESPONDED_TO,
            VR::US,
            PrimitiveValue::from(message_id),
        ));
        self.0.push(DataElement::new(
            tags::STATUS,
            VR::US,
            PrimitiveValue::from(status),
        ));
        self
    }

    pub fn with_uid(mut self, tag: Tag, uid: &str) -> Self {
        self.0.push(DataElement::new(tag, VR::UI, uid_value(uid)));
        self
    }

    pub fn with_ae(mut self, tag: Tag, ae: &str) -> Self {
        self.0
            .push(DataElement::new(tag, VR::AE, PrimitiveValue::from(ae)));
        self
    }

    fn field(&self) -> u16 {
        self.0
            .iter()
            .find(|e| e.header().tag == tags::COMMAND_FIELD)
            .and_then(|e| e.to_int::<u16>().ok())
            .unwrap_or(0)
    }

    /// Encode with CommandGroupLength first (PS3.7 §6.3.1), implicit VR little endian.
    pub fn encode(self) -> Result<Vec<u8>> {
        let body = encode_implicit(InMemDicomObject::from_element_iter(self.0))?;
        let mut out = Vec::with_capacity(body.len() + 12);
        out.extend_from_slice(&[0, 0, 0, 0, 4, 0, 0, 0]);
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(&body);
        Ok(out)
    }
}

/// UIDs are padded with NUL to an even length; dicom-object pads text with spaces otherwise.
fn uid_value(uid: &str) -> PrimitiveValue {
    let mut s = uid.to_owned();
    if s.len() % 2 == 1 {
        s.push('\0');
    }
    PrimitiveValue::from(s)
}

pub fn encode_implicit(object: InMemDicomObject) -> Result<Vec<u8>> {
    let ts = TransferSyntaxRegistry
        .get(IMPLICIT_LE)
        .ok_or_else(|| Error::internal("implicit VR little endian is not registered"))?;
    let mut out = Vec::new();
    object
        .write_dataset_with_ts(&mut out, ts)
        .map_err(|e| Error::internal(format!("cannot encode DICOM data set: {e}")))?;
    Ok(out)
}

/// Encode a data set in the presentation context's transfer syntax.
pub fn encode_dataset(object: &InMemDicomObject, ts_uid: &str) -> Result<Vec<u8>> {
    let ts = TransferSyntaxRegistry
        .get(ts_uid)
        .ok_or_else(|| Error::dicom(format!("unsupported transfer syntax {ts_uid}")))?;
    let mut out = Vec::new();
    object
        .write_dataset_with_ts(&mut out, ts)
        .map_err(|e| Error::internal(format!("cannot encode DICOM data set: {e}")))?;
    Ok(out)
}

pub fn decode_dataset(bytes: &[u8], ts_uid: &str) -> Result<InMemDicomObject> {
    let ts = TransferSyntaxRegistry
        .get(ts_uid)
        .ok_or_else(|| Error::dicom(format!("unsupported transfer syntax {ts_uid}")))?;
    InMemDicomObject::read_dataset_with_ts(bytes, ts)
        .map_err(|e| Error::dicom(format!("PACS sent a data set miic cannot read: {e}")))
}

fn decode_command(bytes: &[u8]) -> Result<Command> {
    decode_dataset(bytes, IMPLICIT_LE)
        .map(Command)
        .map_err(|e| {
            Error::dicom(format!(
                "PACS sent an unreadable command set: {}",
                e.message
            ))
        })
}

/// The two association flavours miic uses (requestor for SCU work, acceptor for the C-MOVE
/// storage SCP), behind one interface so message handling is written once.
pub trait Link {
    fn send_pdu(&mut self, pdu: &Pdu) -> std::result::Result<(), dicom_ul::association::Error>;
    fn receive_pdu(&mut self) -> std::result::Result<Pdu, dicom_ul::association::Error>;
    /// Largest P-DATA PDU the peer accepts.
    fn peer_max_pdu(&self) -> u32;
    fn stream(&mut self) -> &mut TcpStream;
    fn transfer_syntax(&self, pc_id: u8) -> Option<String>;
}

impl Link for ClientAssociation<TcpStream> {
    fn send_pdu(&mut self, pdu: &Pdu) -> std::result::Result<(), dicom_ul::association::Error> {
        self.send(pdu)
    }
    fn receive_pdu(&mut self) -> std::result::Result<Pdu, dicom_ul::association::Error> {
        self.receive()
    }
    fn peer_max_pdu(&self) -> u32 {
        self.acceptor_max_pdu_length()
    }
    fn stream(&mut self) -> &mut TcpStream {
        self.inner_stream()
    }
    fn transfer_syntax(&self, pc_id: u8) -> Option<String> {
        self.presentation_contexts()
            .iter()
            .find(|pc| pc.id == pc_id)
            .map(|pc| pc.transfer_syntax.trim_end_matches('\0').to_owned())
    }
}

impl Link for ServerAssociation<TcpStream> {
    fn send_pdu(&mut self, pdu: &Pdu) -> std::result::Result<(), dicom_ul::association::Error> {
        self.send(pdu)
    }
    fn receive_pdu(&mut self) -> std::result::Result<Pdu, dicom_ul::association::Error> {
        self.receive()
    }
    fn peer_max_pdu(&self) -> u32 {
        self.requestor_max_pdu_length()
    }
    fn stream(&mut self) -> &mut TcpStream {
        self.inner_stream()
    }
    fn transfer_syntax(&self, pc_id: u8) -> Option<String> {
        // The acceptor's list also holds the contexts it rejected.
        self.presentation_contexts()
            .iter()
            .find(|pc| pc.id == pc_id && pc.reason == PresentationContextResultReason::Acceptance)
            .map(|pc| pc.transfer_syntax.trim_end_matches('\0').to_owned())
    }
}

/// What arrived on an association when miic waited for the next message.
pub enum Incoming {
    Command {
        pc_id: u8,
        command: Command,
    },
    /// The peer asked to release (answered already).
    Released,
}

/// One association with message framing: P-DATA values queued across PDU boundaries.
pub struct Conn<L: Link> {
    pub link: L,
    pending: VecDeque<PDataValue>,
    /// Who the peer is, for error messages (`AE@host:port`).
    pub peer: String,
    /// Timeout of every single wait on the peer (a hung PACS surfaces as `MIIC_E_TIMEOUT`).
    pub timeout: Duration,
    /// For short exchanges (C-ECHO, C-FIND): the whole call ends by then, not only each wait.
    deadline: Option<std::time::Instant>,
}

impl<L: Link> Conn<L> {
    pub fn new(mut link: L, peer: String, timeout: Duration) -> Result<Self> {
        let stream = link.stream();
        // Small command PDUs must not wait for Nagle's delayed ACK dance.
        let _ = stream.set_nodelay(true);
        stream
            .set_read_timeout(Some(timeout))
            .and_then(|_| stream.set_write_timeout(Some(timeout)))
            .map_err(|e| Error::network(format!("cannot configure the socket: {e}")))?;
        Ok(Conn {
            link,
            pending: VecDeque::new(),
            peer,
            timeout,
            deadline: None,
        })
    }

    /// Bound the rest of this association's waits by `deadline` (whole-call timeout).
    pub fn set_deadline(&mut self, deadline: std::time::Instant) {
        self.deadline = Some(deadline);
    }

    fn next_pdv(&mut self) -> Result<Option<PDataValue>> {
        loop {
            if let Some(pdv) = self.pending.pop_front() {
                return Ok(Some(pdv));
            }
            if let Some(deadline) = self.deadline {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                if left.is_zero() {
                    return Err(Error::timeout(format!(
                        "{}: no answer within timeout_ms = {}",
                        self.peer,
                        self.timeout.as_millis()
                    )));
                }
                let _ = self.link.stream().set_read_timeout(Some(left));
            }
            match self
                .link
                .receive_pdu()
                .map_err(|e| ul_error(e, &self.peer, self.timeout))?
            {
                Pdu::PData { data } => self.pending.extend(data),
                Pdu::ReleaseRQ => {
                    let _ = self.link.send_pdu(&Pdu::ReleaseRP);
                    return Ok(None);
                }
                Pdu::AbortRQ { source } => {
                    return Err(Error::dicom(format!(
                        "{} aborted the association ({source:?})",
                        self.peer
                    )))
                }
                other => {
                    return Err(Error::dicom(format!(
                        "{} sent an unexpected {}",
                        self.peer,
                        other.short_description()
                    )))
                }
            }
        }
    }

    /// Wait for the response `field` of the operation `what` (e.g. C-FIND); any other command,
    /// or the peer releasing, is `MIIC_E_DICOM`.
    pub fn receive_response(&mut self, field: u16, what: &str) -> Result<Command> {
        match self.receive_command()? {
            Incoming::Command { command, .. } if command.field() == field => Ok(command),
            Incoming::Command { command, .. } => Err(Error::dicom(format!(
                "{} sent command 0x{:04X} during {what}",
                self.peer,
                command.field()
            ))),
            Incoming::Released => Err(Error::dicom(format!(
                "{} released during {what}",
                self.peer
            ))),
        }
    }

    /// Wait for the next command (all its fragments).
    pub fn receive_command(&mut self) -> Result<Incoming> {
        let mut bytes = Vec::new();
        loop {
            let Some(pdv) = self.next_pdv()? else {
                return Ok(Incoming::Released);
            };
            if pdv.value_type != PDataValueType::Command {
                return Err(Error::dicom(format!(
                    "{} sent data where a command was expected",
                    self.peer
                )));
            }
            if bytes.len() + pdv.data.len() > MAX_COMMAND_BYTES {
                return Err(Error::dicom(format!(
                    "{} sent a command set larger than {} KiB (miic's bound for a DIMSE command set); association dropped",
                    self.peer,
                    MAX_COMMAND_BYTES >> 10
                )));
            }
            bytes.extend_from_slice(&pdv.data);
            if pdv.is_last {
                let command = decode_command(&bytes)?;
                return Ok(Incoming::Command {
                    pc_id: pdv.presentation_context_id,
                    command,
                });
            }
        }
    }

    /// Stream the data set that follows a command into `sink`; returns its byte count.
    /// `on_bytes` sees each fragment's size (progress). A data set growing past `limit` bytes
    /// fails the association with `MIIC_E_DICOM` naming `limit_name` (what the bound is).
    pub fn receive_dataset(
        &mut self,
        sink: &mut dyn Write,
        on_bytes: &mut dyn FnMut(u64),
        limit: u64,
        limit_name: &str,
    ) -> Result<u64> {
        let mut total = 0u64;
        loop {
            let Some(pdv) = self.next_pdv()? else {
                return Err(Error::dicom(format!(
                    "{} released the association in the middle of a data set",
                    self.peer
                )));
            };
            if pdv.value_type != PDataValueType::Data {
                return Err(Error::dicom(format!(
                    "{} sent a command in the middle of a data set",
                    self.peer
                )));
            }
            total += pdv.data.len() as u64;
            if total > limit {
                return Err(Error::dicom(format!(
                    "{} sent a data set larger than {limit_name}; association dropped",
                    self.peer
                )));
            }
            sink.write_all(&pdv.data)
                .map_err(|e| Error::io(format!("cannot write received DICOM data: {e}")))?;
            on_bytes(pdv.data.len() as u64);
            if pdv.is_last {
                return Ok(total);
            }
        }
    }

    /// A data set miic keeps in memory (an identifier), at most [`MAX_IDENTIFIER_BYTES`].
    pub fn receive_dataset_bytes(&mut self) -> Result<Vec<u8>> {
        let mut bytes = Vec::new();
        let name = format!(
            "{} MiB (miic's bound for an identifier)",
            MAX_IDENTIFIER_BYTES >> 20
        );
        self.receive_dataset(&mut bytes, &mut |_| {}, MAX_IDENTIFIER_BYTES, &name)?;
        Ok(bytes)
    }

    /// Send a command, then its data set (if any), split to the peer's PDU limit.
    pub fn send_message(
        &mut self,
        pc_id: u8,
        command: CommandBuilder,
        dataset: Option<&[u8]>,
    ) -> Result<()> {
        let command = command.encode()?;
        self.send_fragments(pc_id, PDataValueType::Command, &command)?;
        if let Some(data) = dataset {
            self.send_fragments(pc_id, PDataValueType::Data, data)?;
        }
        Ok(())
    }

    fn send_fragments(
        &mut self,
        pc_id: u8,
        value_type: PDataValueType,
        bytes: &[u8],
    ) -> Result<()> {
        // PDU length = PDV item length field (4) + context id (1) + header (1) + data.
        let max = (self.link.peer_max_pdu() as usize)
            .saturating_sub(6)
            .max(1024);
        let mut chunks = bytes.chunks(max).peekable();
        if bytes.is_empty() {
            return Err(Error::internal("empty DIMSE fragment"));
        }
        while let Some(chunk) = chunks.next() {
            let pdu = Pdu::PData {
                data: vec![PDataValue {
                    presentation_context_id: pc_id,
                    value_type: value_type.clone(),
                    is_last: chunks.peek().is_none(),
                    data: chunk.to_vec(),
                }],
            };
            self.link
                .send_pdu(&pdu)
                .map_err(|e| ul_error(e, &self.peer, self.timeout))?;
        }
        Ok(())
    }

    pub fn transfer_syntax(&self, pc_id: u8) -> Result<String> {
        self.link.transfer_syntax(pc_id).ok_or_else(|| {
            Error::dicom(format!(
                "{} used presentation context {pc_id}, which was not negotiated",
                self.peer
            ))
        })
    }
}

/// Turn an upper-layer failure into miic's error model: hung peer → `MIIC_E_TIMEOUT`,
/// refused/lost connection → `MIIC_E_NETWORK`, rejection and protocol trouble → `MIIC_E_DICOM`.
pub fn ul_error(e: dicom_ul::association::Error, peer: &str, timeout: Duration) -> Error {
    use dicom_ul::association::Error as Ul;
    let status = association_status(&e);
    let message = match (&e, status) {
        (Ul::Rejected { association_rj, .. }, _) => format!(
            "{peer} rejected the association: {:?}, {} — check that the PACS knows miic's local_ae and that peer_ae is right",
            association_rj.result, association_rj.source
        ),
        (Ul::NoAcceptedPresentationContexts { .. }, _) => {
            format!("{peer} accepted the association but none of the proposed services")
        }
        (Ul::Aborted { .. }, _) => format!("{peer} aborted the association"),
        (_, Status::Timeout) => format!(
            "{peer}: no answer within timeout_ms = {}",
            timeout.as_millis()
        ),
        (Ul::Connect { .. } | Ul::ToAddress { .. }, _) => {
            format!("cannot connect to {peer}: {}", io_text(&e))
        }
        (Ul::ConnectionClosed { .. }, _) => format!("{peer} closed the connection"),
        (_, Status::Network) => format!("connection to {peer} failed: {}", io_text(&e)),
        _ => format!("{peer}: {e}"),
    };
    Error::new(status, message)
}

fn io_text(e: &dicom_ul::association::Error) -> String {
    io_cause(e).map_or_else(|| e.to_string(), ToString::to_string)
}
