//! Receiving C-STORE sub-operations (of a C-GET, or on the C-MOVE storage SCP) into `dest_dir`:
//! each object is streamed to a temporary file, checked as Part 10, then renamed to
//! `<SOP Instance UID>.dcm`. A transfer cut short leaves no file under a final name.
//!
//! Everything a peer sends is bounded: each object's size (`dicom.max_object_mb`), the disk's
//! free space (`dicom.min_free_mb`, checked as the object streams), and what lands: only
//! objects of the study asked for, and never a second, different object under a SOP Instance
//! UID already received in this retrieve.
//!
//! Uses: dicom::dimse, dicom::manifest, dicom::progress, error, fs.

use super::dimse::{Command, CommandBuilder, Conn, Link, C_STORE_RSP};
use super::manifest::{inspect_part10, FileEntry, Manifest, Refusal};
use super::progress::Progress;
use crate::error::{Error, Result};
use crate::fs::{DiskReserve, TempFile};
use dicom_dictionary_std::tags;
use dicom_object::meta::FileMetaTableBuilder;
use std::collections::HashSet;
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// miic's implementation class UID (2.25 = UUID-derived root, fixed for this library).
pub const IMPLEMENTATION_CLASS_UID: &str = "2.25.151844931318217207469392393214196839617";
pub const IMPLEMENTATION_VERSION: &str = concat!("MIIC_", env!("CARGO_PKG_VERSION"));

const STORE_OK: u16 = 0x0000;
/// PS3.7 C.5: "Refused: Not Authorized" — an object miic does not take from this sender.
const STORE_REFUSED: u16 = 0x0124;
const STORE_OUT_OF_RESOURCES: u16 = 0xA700;
const STORE_CANNOT_UNDERSTAND: u16 = 0xC000;

/// Refused connections listed in a manifest (and logged); more are only counted.
const MAX_LISTED_CONNECTIONS: usize = 100;

/// The free space is looked at again after this many bytes of one object (or `dcmPath` file).
pub(super) const DISK_CHECK_BYTES: u64 = 8 << 20;

/// Where received objects go, the manifest they are recorded in, and the bounds they obey.
pub struct StoreTarget<'a> {
    pub dest: PathBuf,
    pub manifest: &'a Mutex<Manifest>,
    pub progress: &'a Progress,
    /// The study asked for: objects of another one are refused.
    pub study_uid: String,
    pub max_object_bytes: u64,
    /// Free space to keep on dest's disk (`dicom.min_free_mb`, in bytes).
    pub min_free_bytes: u64,
    /// SOP Instance UIDs landed (or landing) in this retrieve.
    pub received: Mutex<HashSet<String>>,
    /// A bound that ends the whole retrieve (the disk is nearly full): set once, then every
    /// request and association stops.
    pub fatal: Mutex<Option<Error>>,
}

impl StoreTarget<'_> {
    /// The error that ended the retrieve, if one did.
    pub fn fatal(&self) -> Option<Error> {
        self.fatal.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// `Err` once the retrieve must stop (see [`StoreTarget::fatal`]).
    pub fn check(&self) -> Result<()> {
        self.fatal().map_or(Ok(()), Err)
    }

    fn stop_with(&self, e: Error) -> Error {
        let mut slot = self.fatal.lock().unwrap_or_else(|p| p.into_inner());
        slot.get_or_insert(e).clone()
    }

    fn reserve(&self) -> DiskReserve {
        DiskReserve {
            dir: self.dest.clone(),
            keep: self.min_free_bytes,
        }
    }

    fn disk_full(&self, why: String) -> Error {
        Error::io(format!(
            "{why}; miic keeps dicom.min_free_mb = {} free: retrieve stopped",
            self.min_free_bytes >> 20
        ))
    }

    /// Record (and log) a refusal. Refused connections are listed up to
    /// [`MAX_LISTED_CONNECTIONS`], then only counted: a LAN host connecting in a loop must not
    /// grow the manifest and the log without end. Refused objects are always listed (the
    /// accounting uses them; each costs its sender a whole C-STORE from the PACS's address).
    pub fn refuse(&self, refusal: Refusal) {
        let listed = match self.manifest.lock() {
            Ok(mut m) => {
                let connections = m
                    .refused
                    .iter()
                    .filter(|r| r.sop_instance_uid.is_none())
                    .count();
                if refusal.sop_instance_uid.is_none() && connections >= MAX_LISTED_CONNECTIONS {
                    m.refused_unlisted += 1;
                    Some(m.refused_unlisted == 1)
                } else {
                    m.refused.push(refusal.clone());
                    None
                }
            }
            Err(_) => None,
        };
        // Logged outside the lock: a log callback runs host code.
        match listed {
            None => log::warn!(
                "refused {}{}: {}",
                refusal.from,
                refusal
                    .sop_instance_uid
                    .as_ref()
                    .map(|u| format!(" object {u}"))
                    .unwrap_or_default(),
                refusal.reason
            ),
            Some(true) => log::warn!(
                "refused {} connections already: further ones are counted (refused_unlisted), not listed or logged",
                MAX_LISTED_CONNECTIONS
            ),
            Some(false) => {}
        }
    }
}

/// Swallows write errors so the rest of the data set can still be drained from the wire;
/// the first error is reported afterwards. Running below the disk reserve is not swallowed:
/// the object and the association stop there.
struct FileSink {
    out: BufWriter<File>,
    error: Option<std::io::Error>,
    reserve: DiskReserve,
    unchecked: u64,
    low_disk: Option<String>,
}

impl Write for FileSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.unchecked += buf.len() as u64;
        if self.unchecked >= DISK_CHECK_BYTES {
            self.unchecked = 0;
            if let Err(why) = self.reserve.check() {
                self.low_disk = Some(why.clone());
                return Err(std::io::Error::other(why));
            }
        }
        if self.error.is_none() {
            if let Err(e) = self.out.write_all(buf) {
                self.error = Some(e);
            }
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A UID usable as a file name: digits and dots only (PS3.5 §9.1), at most 64 characters.
pub fn uid_is_valid(uid: &str) -> bool {
    !uid.is_empty()
        && uid.len() <= 64
        && uid.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && !uid.starts_with('.')
        && !uid.ends_with('.')
        && !uid.contains("..")
}

/// Handle one C-STORE-RQ whose command has arrived: receive its data set, answer it, record it.
/// Returns an error only when the association itself failed (the caller stops then).
pub fn handle_store<L: Link>(
    conn: &mut Conn<L>,
    pc_id: u8,
    command: &Command,
    target: &StoreTarget,
) -> Result<()> {
    let sop_class = command.affected_sop_class();
    let sop_instance = command.affected_sop_instance();
    let message_id = command.message_id();
    let outcome = receive_object(conn, pc_id, &sop_class, &sop_instance, target);
    let (entry, status) = match outcome {
        Ok(Received::Landed(entry)) => (Some(entry), STORE_OK),
        // The same object again (a PACS repeating itself): nothing new lands or is counted.
        Ok(Received::Again) => (None, STORE_OK),
        Ok(Received::Refused(refusal)) => {
            target.refuse(refusal);
            (None, STORE_REFUSED)
        }
        Err(ReceiveError::Link(e)) => {
            record(
                target,
                FileEntry::missing(
                    Some(sop_instance.clone()),
                    Some(sop_class.clone()),
                    format!("{sop_instance}: {}", e.message),
                ),
            );
            return Err(e);
        }
        Err(ReceiveError::Local(e, status)) => (
            Some(FileEntry::missing(
                Some(sop_instance.clone()),
                Some(sop_class.clone()),
                e.message,
            )),
            status,
        ),
    };
    if let Some(entry) = entry {
        record(target, entry);
    }
    let response = CommandBuilder::new(C_STORE_RSP, &sop_class, false)
        .response(message_id, status)
        .with_uid(tags::AFFECTED_SOP_INSTANCE_UID, &sop_instance);
    conn.send_message(pc_id, response, None)?;
    target.check()
}

fn record(target: &StoreTarget, entry: FileEntry) {
    if let Ok(mut m) = target.manifest.lock() {
        m.files.push(entry);
    }
    target.progress.file_done();
}

enum Received {
    Landed(FileEntry),
    /// Byte for byte an object that already landed in this retrieve.
    Again,
    Refused(Refusal),
}

enum ReceiveError {
    /// The association failed: nothing more will come.
    Link(Error),
    /// This object failed here (disk, bad data); the association goes on.
    Local(Error, u16),
}

fn receive_object<L: Link>(
    conn: &mut Conn<L>,
    pc_id: u8,
    sop_class: &str,
    sop_instance: &str,
    target: &StoreTarget,
) -> std::result::Result<Received, ReceiveError> {
    let limit = target.max_object_bytes;
    let limit_name = format!("dicom.max_object_mb = {}", limit >> 20);
    let drain = |conn: &mut Conn<L>, e: Error, status: u16| match conn.receive_dataset(
        &mut std::io::sink(),
        &mut |n| target.progress.add_bytes(n),
        limit,
        &limit_name,
    ) {
        Ok(_) => ReceiveError::Local(e, status),
        Err(link) => ReceiveError::Link(link),
    };
    let ts = match conn.transfer_syntax(pc_id) {
        Ok(ts) => ts,
        Err(e) => return Err(drain(conn, e, STORE_CANNOT_UNDERSTAND)),
    };
    if !uid_is_valid(sop_instance) {
        let e = Error::dicom(format!(
            "PACS sent an invalid SOP Instance UID '{sop_instance}'"
        ));
        return Err(drain(conn, e, STORE_CANNOT_UNDERSTAND));
    }
    let reserve = target.reserve();
    if let Err(why) = reserve.check() {
        return Err(ReceiveError::Link(target.stop_with(target.disk_full(why))));
    }
    let final_path = target.dest.join(format!("{sop_instance}.dcm"));
    // Two associations may carry the same UID at once: one part file each.
    let temp = TempFile::unique(&final_path);
    let file = match start_file(temp.path(), sop_class, sop_instance, &ts, &conn.peer) {
        Ok(file) => file,
        Err(e) => return Err(drain(conn, e, STORE_OUT_OF_RESOURCES)),
    };
    let mut sink = FileSink {
        out: file,
        error: None,
        reserve,
        unchecked: 0,
        low_disk: None,
    };
    let received = conn.receive_dataset(
        &mut sink,
        &mut |n| target.progress.add_bytes(n),
        limit,
        &limit_name,
    );
    if let Some(why) = sink.low_disk.take() {
        return Err(ReceiveError::Link(target.stop_with(target.disk_full(why))));
    }
    received.map_err(ReceiveError::Link)?;
    let local = |e: Error| ReceiveError::Local(e, STORE_OUT_OF_RESOURCES);
    if let Some(e) = sink.error {
        return Err(local(Error::io(format!(
            "cannot write {}: {e}",
            temp.path().display()
        ))));
    }
    sink.out
        .into_inner()
        .map_err(|e| e.into_error())
        .map_err(|e| {
            local(Error::io(format!(
                "cannot write {}: {e}",
                temp.path().display()
            )))
        })?;
    let info =
        inspect_part10(temp.path()).map_err(|e| ReceiveError::Local(e, STORE_CANNOT_UNDERSTAND))?;
    let refusal = |reason: String| {
        Received::Refused(Refusal {
            from: conn.peer.clone(),
            sop_instance_uid: Some(sop_instance.to_owned()),
            study_instance_uid: info.study_instance_uid.clone(),
            reason,
        })
    };
    if info.study_instance_uid.as_deref() != Some(target.study_uid.as_str()) {
        return Ok(refusal(format!(
            "object of study {}, not of study {} asked for",
            info.study_instance_uid.as_deref().unwrap_or("(none)"),
            target.study_uid
        )));
    }
    let first = target
        .received
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(sop_instance.to_owned());
    if !first {
        return Ok(if same_content(temp.path(), &final_path) {
            Received::Again
        } else {
            refusal(
                "a different object under the SOP Instance UID of one already received in this retrieve; the first is kept"
                    .into(),
            )
        });
    }
    let size = std::fs::metadata(temp.path()).map(|m| m.len()).unwrap_or(0);
    if let Err(e) = land(temp, &final_path) {
        target
            .received
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(sop_instance);
        return Err(local(e));
    }
    let mut entry = FileEntry::landed(format!("{sop_instance}.dcm"), None, info.clone(), size);
    if info.sop_instance_uid != sop_instance {
        entry.warn(format!(
            "the data set's SOP Instance UID {} differs from the C-STORE request's {sop_instance}",
            info.sop_instance_uid
        ));
    }
    Ok(Received::Landed(entry))
}

/// Whether two files hold the same bytes (a missing or unreadable file: no).
fn same_content(a: &Path, b: &Path) -> bool {
    let (Ok(ma), Ok(mb)) = (std::fs::metadata(a), std::fs::metadata(b)) else {
        return false;
    };
    if ma.len() != mb.len() {
        return false;
    }
    let (Ok(fa), Ok(fb)) = (File::open(a), File::open(b)) else {
        return false;
    };
    let (mut ra, mut rb) = (std::io::BufReader::new(fa), std::io::BufReader::new(fb));
    let (mut ba, mut bb) = (vec![0u8; 64 * 1024], vec![0u8; 64 * 1024]);
    loop {
        let n = match ra.read(&mut ba) {
            Ok(n) => n,
            Err(_) => return false,
        };
        if n == 0 {
            return true;
        }
        if rb.read_exact(&mut bb[..n]).is_err() || ba[..n] != bb[..n] {
            return false;
        }
    }
}

/// Create the temp file with preamble and file meta group; the data set bytes follow as sent.
fn start_file(
    path: &Path,
    sop_class: &str,
    sop_instance: &str,
    ts: &str,
    peer: &str,
) -> Result<BufWriter<File>> {
    let meta = FileMetaTableBuilder::new()
        .media_storage_sop_class_uid(sop_class)
        .media_storage_sop_instance_uid(sop_instance)
        .transfer_syntax(ts)
        .implementation_class_uid(IMPLEMENTATION_CLASS_UID)
        .implementation_version_name(even(IMPLEMENTATION_VERSION))
        .source_application_entity_title(even(peer.split('@').next().unwrap_or("").trim()))
        .build()
        .map_err(|e| Error::dicom(format!("cannot build the file meta group: {e}")))?;
    let file = File::create(path)
        .map_err(|e| Error::io(format!("cannot create {}: {e}", path.display())))?;
    let mut out = BufWriter::with_capacity(256 * 1024, file);
    let mut head = [0u8; 132];
    head[128..].copy_from_slice(b"DICM");
    out.write_all(&head)
        .map_err(|e| Error::io(format!("cannot write {}: {e}", path.display())))?;
    meta.write(&mut out)
        .map_err(|e| Error::io(format!("cannot write {}: {e}", path.display())))?;
    Ok(out)
}

/// Text values in the meta group must have even length (padded with a space).
fn even(text: &str) -> String {
    let mut s: String = text.chars().take(16).collect();
    if s.len() % 2 == 1 {
        s.push(' ');
    }
    s
}

/// Rename the finished temp file to its final name (replacing an older copy).
pub(crate) fn land(temp: TempFile, final_path: &Path) -> Result<()> {
    temp.land().map_err(|e| {
        Error::io(format!(
            "cannot move {} into place: {e}",
            final_path.display()
        ))
    })
}
