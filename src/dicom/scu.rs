//! miic as a DICOM SCU of the hospital PACS (spec 4.2): C-ECHO (the health check), C-FIND at
//! study level (confirm a study, count it), and retrieval by C-GET or C-MOVE into `dest_dir`.
//!
//! Uses: config, dicom::dimse, dicom::manifest, dicom::progress, dicom::store, error.

use super::dimse::{
    self, ul_error, CommandBuilder, Conn, Incoming, C_ECHO_RQ, C_ECHO_RSP, C_FIND_RQ, C_FIND_RSP,
    C_GET_RQ, C_GET_RSP, C_MOVE_RQ, C_MOVE_RSP, C_STORE_RQ, EXPLICIT_LE, FIND_STUDY_ROOT,
    GET_STUDY_ROOT, IMPLICIT_LE, MOVE_STUDY_ROOT, STORAGE_CLASSES, STORAGE_SYNTAXES, VERIFICATION,
};
use super::manifest::{Manifest, PacsReport};
use super::progress::Progress;
use super::store::{handle_store, uid_is_valid, StoreTarget};
use crate::config::{Config, RetrieveMethod};
use crate::error::{Error, Result, Status};
use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use dicom_ul::association::{
    ClientAssociation, ClientAssociationOptions, ServerAssociationOptions,
};
use serde::Serialize;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

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
        })
    }

    /// `AE@host:port`, for messages.
    pub fn name(&self) -> String {
        format!("{}@{}:{}", self.peer_ae, self.host, self.port)
    }

    fn associate(
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

fn release(conn: Conn<ClientAssociation<TcpStream>>) {
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

fn study_identifier(study_uid: &str, for_find: bool) -> InMemDicomObject {
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

fn check_study_uid(study_uid: &str) -> Result<()> {
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

fn context_for(
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
    let (pc_id, ts) = context_for(conn, FIND_STUDY_ROOT)?;
    let identifier = dimse::encode_dataset(&study_identifier(study_uid, true), &ts)?;
    let request = CommandBuilder::new(C_FIND_RQ, FIND_STUDY_ROOT, true).request(next_message_id());
    conn.send_message(pc_id, request, Some(&identifier))?;
    let mut matches = Vec::new();
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
                let object = dimse::decode_dataset(&data, &ts)?;
                matches.push(study_match(&object));
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

fn study_match(object: &InMemDicomObject) -> StudyMatch {
    let text = |tag| {
        object
            .element_opt(tag)
            .ok()
            .flatten()
            .and_then(|e| e.to_str().ok())
            .map(|s| s.trim_end_matches(['\0', ' ']).to_owned())
            .filter(|s| !s.is_empty())
    };
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

fn next_message_id() -> u16 {
    MESSAGE_ID.fetch_add(1, Ordering::Relaxed).max(1)
}

/// Retrieve a study into `dest_dir` by C-GET or C-MOVE (`[dicom] retrieve`). The manifest is
/// returned in every case that got as far as the PACS, with the call's outcome beside it.
pub fn retrieve(
    peer: &Peer,
    study_uid: &str,
    dest_dir: &Path,
    progress: &Progress,
) -> Result<(Manifest, Result<Status>)> {
    check_study_uid(study_uid)?;
    std::fs::create_dir_all(dest_dir).map_err(|e| {
        Error::io(format!(
            "cannot create dest_dir '{}': {e}",
            dest_dir.display()
        ))
    })?;
    let method = match peer.retrieve {
        RetrieveMethod::Get => "c-get",
        RetrieveMethod::Move => "c-move",
    };
    let started = Instant::now();
    let manifest = Mutex::new(Manifest::new(method, Some(study_uid.to_owned()), dest_dir));
    let target = StoreTarget {
        dest: dest_dir.to_path_buf(),
        manifest: &manifest,
        progress,
    };
    let transfer = match peer.retrieve {
        RetrieveMethod::Get => get_study(peer, study_uid, &target),
        RetrieveMethod::Move => move_study(peer, study_uid, &target),
    };
    let mut manifest = manifest.into_inner().unwrap_or_else(|p| p.into_inner());
    let transfer = transfer.and_then(|()| {
        if manifest.files.is_empty() {
            return Err(Error::dicom(format!(
                "study {study_uid} is not on {} (it sent no instances)",
                peer.name()
            )));
        }
        Ok(())
    });
    if let Err(e) = &transfer {
        manifest.error = Some(e.message.clone());
    }
    manifest.finish(started.elapsed());
    let outcome = manifest.outcome(transfer);
    log::info!(
        "{method} of study {study_uid} from {}: {} completed, {} warning, {} failed in {} ms",
        peer.name(),
        manifest.completed,
        manifest.warning,
        manifest.failed,
        manifest.elapsed_ms
    );
    Ok((manifest, outcome))
}

/// Confirm the study with C-FIND (on the retrieval association), so an unknown study is a
/// clear error rather than an empty success.
fn confirm_study(
    conn: &mut Conn<ClientAssociation<TcpStream>>,
    study_uid: &str,
    progress: &Progress,
) -> Result<()> {
    // Spec 4.2 only promises C-ECHO and C-MOVE rights: without C-FIND, the retrieval's own
    // result tells an unknown study (no instances) instead.
    if context_for(conn, FIND_STUDY_ROOT).is_err() {
        log::info!(
            "{} does not grant C-FIND; retrieving without confirming the study",
            conn.peer
        );
        return Ok(());
    }
    let matches = find_on(conn, study_uid)?;
    let Some(found) = matches.first() else {
        return Err(Error::dicom(format!(
            "study {study_uid} is not on {} (C-FIND found no match)",
            conn.peer
        )));
    };
    if let Some(n) = found.number_of_study_related_instances {
        progress.set_total(n);
    }
    Ok(())
}

fn set_pacs_report(target: &StoreTarget, command: &dimse::Command) {
    let [_, completed, failed, warning] = command.sub_operations();
    if let Ok(mut m) = target.manifest.lock() {
        m.pacs = Some(PacsReport {
            status: dimse::status_text(command.status()),
            completed,
            failed,
            warning,
            error_comment: command.error_comment(),
        });
    }
}

fn update_total(progress: &Progress, command: &dimse::Command) {
    let [remaining, completed, failed, warning] = command.sub_operations();
    if let Some(remaining) = remaining {
        let total = [Some(remaining), completed, failed, warning]
            .iter()
            .map(|n| u32::from(n.unwrap_or(0)))
            .sum();
        progress.set_total(total);
    }
}

fn final_status_error(conn_peer: &str, op: &str, command: &dimse::Command) -> Result<()> {
    let status = command.status();
    // Success and "completed with failures" (0xB000) are judged by the files; others are errors.
    if status == 0 || dimse::is_warning(status) {
        return Ok(());
    }
    Err(Error::dicom(format!(
        "{conn_peer} ended the {op} with status {}{}",
        dimse::status_text(status),
        command
            .error_comment()
            .map(|c| format!(" ({c})"))
            .unwrap_or_default()
    )))
}

fn get_study(peer: &Peer, study_uid: &str, target: &StoreTarget) -> Result<()> {
    let mut options = ClientAssociationOptions::new()
        .with_presentation_context(GET_STUDY_ROOT, vec![EXPLICIT_LE, IMPLICIT_LE])
        .with_presentation_context(FIND_STUDY_ROOT, vec![EXPLICIT_LE, IMPLICIT_LE]);
    for class in STORAGE_CLASSES {
        options = options
            .with_presentation_context(*class, STORAGE_SYNTAXES.to_vec())
            .with_role_selection(*class, false, true);
    }
    let mut conn = peer.associate(options)?;
    confirm_study(&mut conn, study_uid, target.progress)?;
    let (pc_id, ts) = context_for(&conn, GET_STUDY_ROOT)?;
    let identifier = dimse::encode_dataset(&study_identifier(study_uid, false), &ts)?;
    let request = CommandBuilder::new(C_GET_RQ, GET_STUDY_ROOT, true).request(next_message_id());
    conn.send_message(pc_id, request, Some(&identifier))?;
    loop {
        let (pc, command) = match conn.receive_command()? {
            Incoming::Command { pc_id, command } => (pc_id, command),
            Incoming::Released => {
                return Err(Error::dicom(format!("{} released during C-GET", conn.peer)))
            }
        };
        match command.field() {
            C_STORE_RQ => handle_store(&mut conn, pc, &command, target)?,
            C_GET_RSP => {
                if command.has_dataset() {
                    conn.receive_dataset_bytes()?;
                }
                if dimse::is_pending(command.status()) {
                    update_total(target.progress, &command);
                    continue;
                }
                set_pacs_report(target, &command);
                let result = final_status_error(&conn.peer, "C-GET", &command);
                release(conn);
                return result;
            }
            other => {
                return Err(Error::dicom(format!(
                    "{} sent command 0x{other:04X} during C-GET",
                    conn.peer
                )))
            }
        }
    }
}

fn move_study(peer: &Peer, study_uid: &str, target: &StoreTarget) -> Result<()> {
    let port = peer.move_port.ok_or_else(|| {
        Error::config("config key 'dicom.move_port' is required when 'dicom.retrieve' is \"move\"")
    })?;
    let listener = TcpListener::bind(("0.0.0.0", port)).map_err(|e| {
        Error::network(format!(
            "cannot listen on dicom.move_port {port} for C-MOVE: {e}"
        ))
    })?;
    listener
        .set_nonblocking(true)
        .map_err(|e| Error::network(format!("cannot listen on dicom.move_port {port}: {e}")))?;
    let stop = AtomicBool::new(false);
    let scp_error: Mutex<Option<Error>> = Mutex::new(None);
    std::thread::scope(|scope| {
        let scp = scope.spawn(|| {
            if let Err(e) = storage_scp(&listener, peer, &stop, target) {
                if let Ok(mut slot) = scp_error.lock() {
                    *slot = Some(e);
                }
            }
        });
        let result = move_requests(peer, study_uid, target);
        stop.store(true, Ordering::Relaxed);
        let _ = scp.join();
        let scp_error = scp_error.lock().ok().and_then(|mut e| e.take());
        match (result, scp_error) {
            (Err(e), _) => Err(e),
            (Ok(()), Some(e)) => Err(e),
            (Ok(()), None) => Ok(()),
        }
    })
}

fn move_requests(peer: &Peer, study_uid: &str, target: &StoreTarget) -> Result<()> {
    let mut conn = peer.associate(
        ClientAssociationOptions::new()
            .with_presentation_context(MOVE_STUDY_ROOT, vec![EXPLICIT_LE, IMPLICIT_LE])
            .with_presentation_context(FIND_STUDY_ROOT, vec![EXPLICIT_LE, IMPLICIT_LE]),
    )?;
    confirm_study(&mut conn, study_uid, target.progress)?;
    let (pc_id, ts) = context_for(&conn, MOVE_STUDY_ROOT)?;
    let identifier = dimse::encode_dataset(&study_identifier(study_uid, false), &ts)?;
    let request = CommandBuilder::new(C_MOVE_RQ, MOVE_STUDY_ROOT, true)
        .request(next_message_id())
        .with_ae(tags::MOVE_DESTINATION, &peer.local_ae);
    conn.send_message(pc_id, request, Some(&identifier))?;
    loop {
        let command = conn.receive_response(C_MOVE_RSP, "C-MOVE")?;
        if command.has_dataset() {
            conn.receive_dataset_bytes()?;
        }
        if dimse::is_pending(command.status()) {
            update_total(target.progress, &command);
            continue;
        }
        set_pacs_report(target, &command);
        let result = final_status_error(&conn.peer, "C-MOVE", &command);
        release(conn);
        return result;
    }
}

/// The in-process storage SCP that receives C-MOVE sub-operations: accepts associations on
/// `move_port` until told to stop, storing each object like a C-GET would.
fn storage_scp(
    listener: &TcpListener,
    peer: &Peer,
    stop: &AtomicBool,
    target: &StoreTarget,
) -> Result<()> {
    let mut options = ServerAssociationOptions::new()
        .accept_any()
        .ae_title(peer.local_ae.as_str())
        .with_abstract_syntax(VERIFICATION)
        .max_pdu_length(peer.max_pdu)
        .read_timeout(peer.timeout)
        .write_timeout(peer.timeout);
    for class in STORAGE_CLASSES {
        options = options.with_abstract_syntax(*class);
    }
    for ts in STORAGE_SYNTAXES {
        options = options.with_transfer_syntax(*ts);
    }
    let mut first_error = None;
    while !stop.load(Ordering::Relaxed) {
        let (socket, addr) = match listener.accept() {
            Ok(pair) => pair,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            }
            Err(e) => return Err(Error::network(format!("C-MOVE storage SCP: {e}"))),
        };
        let _ = socket.set_nonblocking(false);
        let _ = socket.set_nodelay(true);
        let association = match options.establish(socket) {
            Ok(a) => a,
            Err(e) => {
                let name = format!("storage association from {addr}");
                log::warn!("C-MOVE storage SCP: {}", ul_error(e, &name, peer.timeout));
                continue;
            }
        };
        // `AE@address`, like the SCU side: the AE part goes into the files' meta group.
        let name = format!(
            "{}@{addr}",
            dicom_ul::association::Association::peer_ae_title(&association).trim()
        );
        if let Err(e) = serve_storage(Conn::new(association, name, peer.timeout)?, target) {
            log::warn!("C-MOVE storage SCP: {e}");
            first_error.get_or_insert(e);
        }
    }
    first_error.map_or(Ok(()), Err)
}

fn serve_storage(
    mut conn: Conn<dicom_ul::association::ServerAssociation<TcpStream>>,
    target: &StoreTarget,
) -> Result<()> {
    loop {
        match conn.receive_command()? {
            Incoming::Released => return Ok(()),
            Incoming::Command { pc_id, command } => match command.field() {
                C_STORE_RQ => handle_store(&mut conn, pc_id, &command, target)?,
                C_ECHO_RQ => {
                    let rsp = CommandBuilder::new(C_ECHO_RSP, VERIFICATION, false)
                        .response(command.message_id(), 0);
                    conn.send_message(pc_id, rsp, None)?;
                }
                other => {
                    return Err(Error::dicom(format!(
                        "{} sent unsupported command 0x{other:04X}",
                        conn.peer
                    )))
                }
            },
        }
    }
}

/// Resolve `dest_dir` text to a path (created if missing).
pub fn dest_path(dest_dir: &str) -> Result<PathBuf> {
    if dest_dir.trim().is_empty() {
        return Err(Error::argument("'dest_dir' is empty"));
    }
    Ok(PathBuf::from(dest_dir))
}

/// The manifest-or-error shape the exports return.
pub type Fetched = (Manifest, Result<Status>);

/// Shared by the CLI and the C surface.
pub fn retrieve_with_config(
    config: &Config,
    client_id: u64,
    study_uid: &str,
    dest_dir: &str,
) -> Result<Fetched> {
    let peer = Peer::from_config(config)?;
    let dest = dest_path(dest_dir)?;
    let progress = Progress::for_client(client_id);
    retrieve(&peer, study_uid, &dest, &progress)
}
