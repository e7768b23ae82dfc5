//! Receiving C-STORE sub-operations (of a C-GET, or on the C-MOVE storage SCP) into `dest_dir`:
//! each object is streamed to a temporary file, checked as Part 10, then renamed to
//! `<SOP Instance UID>.dcm`. A transfer cut short leaves no file under a final name.
//!
//! Uses: dicom::dimse, dicom::manifest, dicom::progress, error, fs.

use super::dimse::{Command, CommandBuilder, Conn, Link, C_STORE_RSP};
use super::manifest::{inspect_part10, FileEntry, Manifest};
use super::progress::Progress;
use crate::error::{Error, Result};
use crate::fs::TempFile;
use dicom_dictionary_std::tags;
use dicom_object::meta::FileMetaTableBuilder;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// miic's implementation class UID (2.25 = UUID-derived root, fixed for this library).
pub const IMPLEMENTATION_CLASS_UID: &str = "2.25.151844931318217207469392393214196839617";
pub const IMPLEMENTATION_VERSION: &str = concat!("MIIC_", env!("CARGO_PKG_VERSION"));

const STORE_OK: u16 = 0x0000;
const STORE_OUT_OF_RESOURCES: u16 = 0xA700;
const STORE_CANNOT_UNDERSTAND: u16 = 0xC000;

/// Where received objects go, and the manifest they are recorded in.
pub struct StoreTarget<'a> {
    pub dest: PathBuf,
    pub manifest: &'a Mutex<Manifest>,
    pub progress: &'a Progress,
}

/// Swallows write errors so the rest of the data set can still be drained from the wire;
/// the first error is reported afterwards.
struct FileSink {
    out: BufWriter<File>,
    error: Option<std::io::Error>,
}

impl Write for FileSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
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
        Ok(entry) => (entry, STORE_OK),
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
            FileEntry::missing(
                Some(sop_instance.clone()),
                Some(sop_class.clone()),
                e.message,
            ),
            status,
        ),
    };
    record(target, entry);
    let response = CommandBuilder::new(C_STORE_RSP, &sop_class, false)
        .response(message_id, status)
        .with_uid(tags::AFFECTED_SOP_INSTANCE_UID, &sop_instance);
    conn.send_message(pc_id, response, None)
}

fn record(target: &StoreTarget, entry: FileEntry) {
    if let Ok(mut m) = target.manifest.lock() {
        m.files.push(entry);
    }
    target.progress.file_done();
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
) -> std::result::Result<FileEntry, ReceiveError> {
    let drain = |conn: &mut Conn<L>, e: Error, status: u16| match conn
        .receive_dataset(&mut std::io::sink(), &mut |n| target.progress.add_bytes(n))
    {
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
    let final_path = target.dest.join(format!("{sop_instance}.dcm"));
    let temp = TempFile::part(&final_path);
    let file = match start_file(temp.path(), sop_class, sop_instance, &ts, &conn.peer) {
        Ok(file) => file,
        Err(e) => return Err(drain(conn, e, STORE_OUT_OF_RESOURCES)),
    };
    let mut sink = FileSink {
        out: file,
        error: None,
    };
    conn.receive_dataset(&mut sink, &mut |n| target.progress.add_bytes(n))
        .map_err(ReceiveError::Link)?;
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
    let size = std::fs::metadata(temp.path()).map(|m| m.len()).unwrap_or(0);
    land(temp, &final_path).map_err(local)?;
    let mut entry = FileEntry::landed(format!("{sop_instance}.dcm"), None, info.clone(), size);
    if info.sop_instance_uid != sop_instance {
        entry.warn(format!(
            "the data set's SOP Instance UID {} differs from the C-STORE request's {sop_instance}",
            info.sop_instance_uid
        ));
    }
    Ok(entry)
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
