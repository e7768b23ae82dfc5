//! The manifest every fetch returns (JSON): each file with its identity and outcome, the counts,
//! and whether the files belong to the study that was asked for. Also the Part 10 inspection
//! that decides whether a file is a DICOM object at all.
//!
//! Uses: error.

use crate::error::{Error, Result, Status};
use dicom_dictionary_std::tags;
use dicom_object::OpenFileOptions;
use serde::Serialize;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FileStatus {
    /// Landed whole and valid.
    Completed,
    /// Landed, with a remark (e.g. it belongs to another study).
    Warning,
    /// Not landed; `error` says why. No file is left under the final name.
    Failed,
}

#[derive(Debug, Clone, Serialize)]
pub struct FileEntry {
    /// Where the file landed, relative to `dest_dir` (`/` separators); absent when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The `dcmPath` entry this file came from (HTTP only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    pub sop_instance_uid: Option<String>,
    pub sop_class_uid: Option<String>,
    pub modality: Option<String>,
    pub study_instance_uid: Option<String>,
    pub transfer_syntax: Option<String>,
    pub size: u64,
    pub status: FileStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
    /// Already complete in `dest_dir` from an earlier run, so not downloaded again.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub resumed: bool,
}

impl FileEntry {
    pub fn failed(source: Option<String>, error: impl Into<String>) -> FileEntry {
        FileEntry {
            path: None,
            source,
            sop_instance_uid: None,
            sop_class_uid: None,
            modality: None,
            study_instance_uid: None,
            transfer_syntax: None,
            size: 0,
            status: FileStatus::Failed,
            error: Some(error.into()),
            warning: None,
            resumed: false,
        }
    }

    pub fn landed(path: String, source: Option<String>, info: Part10Info, size: u64) -> FileEntry {
        FileEntry {
            path: Some(path),
            source,
            sop_instance_uid: Some(info.sop_instance_uid),
            sop_class_uid: Some(info.sop_class_uid),
            modality: info.modality,
            study_instance_uid: info.study_instance_uid,
            transfer_syntax: Some(info.transfer_syntax),
            size,
            status: FileStatus::Completed,
            error: None,
            warning: None,
            resumed: false,
        }
    }

    /// An object that did not land, with what is known of it.
    pub fn missing(
        sop_instance_uid: Option<String>,
        sop_class_uid: Option<String>,
        error: impl Into<String>,
    ) -> FileEntry {
        let mut entry = FileEntry::failed(None, error);
        entry.sop_instance_uid = sop_instance_uid.filter(|s| !s.is_empty());
        entry.sop_class_uid = sop_class_uid.filter(|s| !s.is_empty());
        entry
    }

    pub fn warn(&mut self, text: impl Into<String>) {
        self.status = FileStatus::Warning;
        let text = text.into();
        self.warning = Some(match self.warning.take() {
            Some(old) => format!("{old}; {text}"),
            None => text,
        });
    }
}

/// What the PACS itself reported in its final C-GET/C-MOVE responses: the counts over every
/// request, and each request's own final response.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PacsReport {
    /// The final status of the request that left objects missing, else of the last request.
    pub status: String,
    /// Completed sub-operations over all requests.
    pub completed: Option<u32>,
    /// Objects the PACS reported failed and did not send in a later request.
    pub failed: Option<u32>,
    pub warning: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_comment: Option<String>,
    /// Each C-GET/C-MOVE request (several when the study went series by series, or objects
    /// were asked for again in another transfer syntax).
    pub requests: Vec<PacsRequest>,
}

/// One C-GET/C-MOVE request and the PACS's final response to it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PacsRequest {
    /// `study`, `series` or `image`.
    pub level: &'static str,
    /// Series UID (series level) or how many objects (image level).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// A repeat for objects another syntax failed: the only transfer syntax offered/accepted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transfer_syntax: Option<String>,
    pub status: String,
    pub completed: Option<u16>,
    pub failed: Option<u16>,
    pub warning: Option<u16>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failed_sop_instance_uids: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_comment: Option<String>,
    /// The PACS ended this request with a failure status (not "sub-operations failed").
    #[serde(skip)]
    pub aborted: bool,
    /// The final status as a number.
    #[serde(skip)]
    pub code: u16,
}

#[derive(Debug, Clone, Serialize)]
pub struct Manifest {
    /// `c-get`, `c-move` or `http`.
    pub method: &'static str,
    /// The study asked for (DIMSE), or the one most files belong to (HTTP).
    pub study_instance_uid: Option<String>,
    pub dest_dir: String,
    pub completed: u32,
    pub failed: u32,
    pub warning: u32,
    /// Some file belongs to another study than `study_instance_uid`.
    pub study_uid_mismatch: bool,
    /// Every Study Instance UID seen among the files.
    pub studies: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pacs: Option<PacsReport>,
    /// Why the transfer stopped early, when it did (connection lost, timeout, rejection).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub elapsed_ms: u64,
    pub files: Vec<FileEntry>,
    /// What the C-MOVE/C-GET receiver refused: associations from anyone but the PACS, objects of
    /// another study, a different object under a SOP Instance UID already received. Not
    /// counted among the files; the study's own accounting does not depend on them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<Refusal>,
    /// Refused connections beyond the ones listed in `refused` (a host connecting in a loop).
    #[serde(skip_serializing_if = "is_zero")]
    pub refused_unlisted: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// One association or object the receiver refused, and why.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Refusal {
    /// `address:port` of the sender, with its calling AE (`AE@address:port`) when known.
    pub from: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sop_instance_uid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub study_instance_uid: Option<String>,
    pub reason: String,
}

impl Manifest {
    pub fn new(method: &'static str, study: Option<String>, dest_dir: &Path) -> Manifest {
        Manifest {
            method,
            study_instance_uid: study,
            dest_dir: dest_dir.display().to_string(),
            completed: 0,
            failed: 0,
            warning: 0,
            study_uid_mismatch: false,
            studies: Vec::new(),
            pacs: None,
            error: None,
            elapsed_ms: 0,
            files: Vec::new(),
            refused: Vec::new(),
            refused_unlisted: 0,
        }
    }

    /// Recount, mark files of another study, and list the studies seen.
    pub fn finish(&mut self, elapsed: std::time::Duration) {
        self.elapsed_ms = elapsed.as_millis() as u64;
        if self.study_instance_uid.is_none() {
            // HTTP: the study most files belong to is "the" study; the rest are mismatches.
            let mut counts: Vec<(String, usize)> = Vec::new();
            for uid in self
                .files
                .iter()
                .filter_map(|f| f.study_instance_uid.clone())
            {
                match counts.iter_mut().find(|(u, _)| *u == uid) {
                    Some((_, n)) => *n += 1,
                    None => counts.push((uid, 1)),
                }
            }
            self.study_instance_uid = counts
                .iter()
                .max_by_key(|(_, n)| *n)
                .map(|(u, _)| u.clone());
        }
        if let Some(expected) = self.study_instance_uid.clone() {
            for file in &mut self.files {
                if file.status != FileStatus::Failed {
                    if let Some(actual) = file.study_instance_uid.clone() {
                        if actual != expected
                            && file.warning.as_deref().is_none_or(|w| !w.contains("study"))
                        {
                            file.warn(format!("belongs to study {actual}, not {expected}"));
                        }
                    }
                }
            }
        }
        self.studies.clear();
        for file in &self.files {
            if let Some(uid) = &file.study_instance_uid {
                if !self.studies.contains(uid) {
                    self.studies.push(uid.clone());
                }
            }
        }
        self.study_uid_mismatch = self.files.iter().any(|f| {
            f.status != FileStatus::Failed
                && f.study_instance_uid.is_some()
                && f.study_instance_uid != self.study_instance_uid
        });
        self.completed = self.count(FileStatus::Completed);
        self.failed = self.count(FileStatus::Failed);
        self.warning = self.count(FileStatus::Warning);
    }

    fn count(&self, status: FileStatus) -> u32 {
        self.files.iter().filter(|f| f.status == status).count() as u32
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".into())
    }

    /// The call's status (documented in the header): `MIIC_OK` when every file landed
    /// (warnings allowed); otherwise the transfer's own error, or `MIIC_E_DICOM` when files failed.
    pub fn outcome(&self, transfer: Result<()>) -> Result<Status> {
        transfer?;
        let pacs_failed = self.pacs.as_ref().and_then(|p| p.failed).unwrap_or(0);
        if self.failed > 0 || pacs_failed > self.failed {
            let failed = self.failed.max(pacs_failed);
            let total = self.completed + self.warning + failed;
            let first = self
                .files
                .iter()
                .find_map(|f| f.error.clone())
                .unwrap_or_else(|| "the PACS reported failed sub-operations".into());
            return Err(Error::new(
                Status::Dicom,
                format!("{failed} of {total} files failed (first: {first}); see the manifest"),
            ));
        }
        Ok(Status::Ok)
    }
}

/// The identity of a Part 10 file, read from its meta group and header (never its pixels).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part10Info {
    pub sop_class_uid: String,
    pub sop_instance_uid: String,
    pub transfer_syntax: String,
    pub study_instance_uid: Option<String>,
    pub modality: Option<String>,
}

/// Read and check a Part 10 file: preamble, `DICM`, meta group, and the data set up to the
/// pixel data. Anything else (an HTML error page, a truncated file) is an error.
pub fn inspect_part10(path: &Path) -> Result<Part10Info> {
    let object = OpenFileOptions::new()
        .read_until(tags::PIXEL_DATA)
        .open_file(path)
        .map_err(|e| Error::dicom(format!("not a valid DICOM Part 10 file: {e}")))?;
    let text = |tag| {
        object
            .element_opt(tag)
            .ok()
            .flatten()
            .and_then(|e| e.to_str().ok())
            .map(|s| s.trim_end_matches(['\0', ' ']).to_owned())
            .filter(|s| !s.is_empty())
    };
    let meta = object.meta();
    let clean = |s: &str| s.trim_end_matches(['\0', ' ']).to_owned();
    Ok(Part10Info {
        sop_class_uid: clean(meta.media_storage_sop_class_uid()),
        sop_instance_uid: clean(meta.media_storage_sop_instance_uid()),
        transfer_syntax: clean(meta.transfer_syntax()),
        study_instance_uid: text(tags::STUDY_INSTANCE_UID),
        modality: text(tags::MODALITY),
    })
}
