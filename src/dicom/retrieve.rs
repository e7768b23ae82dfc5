//! Retrieving a whole study (spec 4.2) by C-GET or C-MOVE into `dest_dir`: learn what the study
//! holds (C-FIND), ask for it (series by series when one association cannot carry all its
//! SOP classes and transfer syntaxes), ask again for objects a PACS failed to send in the
//! syntax it chose, and account for every object that did not arrive.
//!
//! Uses: config, dicom::{classes, dimse, manifest, plan, progress, scu, store}, error.

use super::classes::{self, is_storable, is_storage_class, STORAGE_CLASSES};
use super::dimse::{
    self, ul_error, Command, CommandBuilder, Conn, Incoming, C_ECHO_RQ, C_ECHO_RSP, C_GET_RQ,
    C_GET_RSP, C_MOVE_RQ, C_MOVE_RSP, C_STORE_RQ, EXPLICIT_LE, FIND_STUDY_ROOT, GET_STUDY_ROOT,
    IMPLICIT_LE, MOVE_STUDY_ROOT, VERIFICATION,
};
use super::manifest::{FileEntry, FileStatus, Manifest, PacsReport, PacsRequest, Refusal};
use super::plan::{self, Batch, Contents, Instance, Scope, Series, MAX_CONTEXTS};
use super::progress::Progress;
use super::scu::{
    check_study_uid, context_for, find_objects, next_message_id, release, study_identifier,
    text_of, Peer,
};
use super::store::{handle_store, StoreTarget};
use crate::config::{Config, RetrieveMethod};
use crate::error::{Error, Result, Status};
use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use dicom_ul::association::{
    ClientAssociation, ClientAssociationOptions, ServerAssociationOptions,
};
use dicom_ul::pdu::Pdu;
use std::collections::BTreeSet;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Single-object requests failed in a row after which a salvage gives a series up.
const SALVAGE_GIVE_UP: usize = 8;

/// Storage contexts per C-GET association: all but the one of the C-GET itself.
const STORAGE_BUDGET: usize = MAX_CONTEXTS - 1;

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
        study_uid: study_uid.to_owned(),
        max_object_bytes: peer.max_object_bytes,
        min_free_bytes: peer.min_free_bytes,
        received: Mutex::new(Default::default()),
        fatal: Mutex::new(None),
    };
    let mut session = Session {
        peer,
        study_uid,
        target: &target,
        contents: Contents::default(),
        requests: Vec::new(),
    };
    let transfer = match peer.retrieve {
        RetrieveMethod::Get => get_study(&mut session),
        RetrieveMethod::Move => move_study(&mut session),
    };
    // A bound that ended the retrieve (the disk) is what the call failed with.
    let transfer = match target.fatal() {
        Some(e) => Err(e),
        None => transfer,
    };
    let transfer = match transfer {
        // The study is not there: nothing was asked for, nothing to account for.
        Err(e) if session.requests.is_empty() => Err(e),
        transfer => {
            session.account();
            let senders = session.check_senders();
            transfer.and(senders)
        }
    };
    let pacs = session.report();
    let mut manifest = manifest.into_inner().unwrap_or_else(|p| p.into_inner());
    manifest.pacs = pacs;
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
        "{method} of study {study_uid} from {}: {} completed, {} warning, {} failed in {} ms ({} requests)",
        peer.name(),
        manifest.completed,
        manifest.warning,
        manifest.failed,
        manifest.elapsed_ms,
        manifest.pacs.as_ref().map_or(0, |p| p.requests.len())
    );
    Ok((manifest, outcome))
}

/// One retrieval: what the PACS told about the study and every request made so far.
struct Session<'a> {
    peer: &'a Peer,
    study_uid: &'a str,
    target: &'a StoreTarget<'a>,
    contents: Contents,
    requests: Vec<PacsRequest>,
}

impl Session<'_> {
    /// SOP Instance UIDs that landed (completed or warning) or already failed here.
    fn in_manifest(&self) -> (BTreeSet<String>, BTreeSet<String>) {
        let mut landed = BTreeSet::new();
        let mut failed = BTreeSet::new();
        if let Ok(m) = self.target.manifest.lock() {
            // Refused here: accounted for in `refused`, not to be asked for again.
            failed.extend(m.refused.iter().filter_map(|r| r.sop_instance_uid.clone()));
            for f in &m.files {
                if let Some(uid) = &f.sop_instance_uid {
                    if f.status == FileStatus::Failed {
                        failed.insert(uid.clone());
                    } else {
                        landed.insert(uid.clone());
                    }
                }
            }
        }
        (landed, failed)
    }

    /// Objects the PACS named as failed that have not arrived since and that miic did not
    /// refuse itself (those are in the manifest already).
    fn unrecovered(&self) -> Vec<String> {
        let (landed, failed) = self.in_manifest();
        let mut out: Vec<String> = Vec::new();
        for r in &self.requests {
            for uid in &r.failed_sop_instance_uids {
                if !landed.contains(uid) && !failed.contains(uid) && !out.contains(uid) {
                    out.push(uid.clone());
                }
            }
        }
        out
    }

    /// Objects the PACS named as failed that never arrived (including those miic failed, but
    /// not those it refused: another study's, or a different object under a received UID).
    fn failed_at_pacs(&self) -> BTreeSet<String> {
        let (landed, _) = self.in_manifest();
        let refused = self.refused_objects();
        self.requests
            .iter()
            .flat_map(|r| r.failed_sop_instance_uids.iter())
            .filter(|uid| !landed.contains(*uid) && !refused.contains(*uid))
            .cloned()
            .collect()
    }

    fn refused_objects(&self) -> BTreeSet<String> {
        self.target
            .manifest
            .lock()
            .map(|m| {
                m.refused
                    .iter()
                    .filter_map(|r| r.sop_instance_uid.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// More objects landed than the PACS reported sending: some came from someone else at the
    /// PACS's address with its AE title. Those the PACS does not list for the study (C-FIND)
    /// are removed and refused; if that does not settle it, no file counts as completed and
    /// the call fails, so the manifest never claims more than the PACS sent.
    fn check_senders(&mut self) -> Result<()> {
        let mut sent = 0u32;
        for r in &self.requests {
            // A request the PACS ended in failure (Orthanc's 0xC000 over one unreadable object)
            // does not count what it sent before: no total to hold the files against.
            let (Some(c), w, false) = (r.completed, r.warning, r.aborted) else {
                return Ok(());
            };
            sent += u32::from(c) + u32::from(w.unwrap_or(0));
        }
        let arrived = |s: &Self| s.in_manifest().0.len() as u32;
        if arrived(self) <= sent {
            return Ok(());
        }
        if self.ensure_instances() {
            let listed: BTreeSet<&str> = self
                .contents
                .instances
                .iter()
                .map(|i| i.sop_instance_uid.as_str())
                .collect();
            if let Ok(mut m) = self.target.manifest.lock() {
                let dest = self.target.dest.clone();
                let mut extra = Vec::new();
                m.files.retain(|f| {
                    let keep = f.status == FileStatus::Failed
                        || f.sop_instance_uid
                            .as_deref()
                            .is_none_or(|u| listed.contains(u));
                    if !keep {
                        extra.push(f.clone());
                    }
                    keep
                });
                for f in extra {
                    if let Some(path) = &f.path {
                        let _ = std::fs::remove_file(dest.join(path));
                    }
                    let refusal = Refusal {
                        from: "the PACS's address and AE title".into(),
                        sop_instance_uid: f.sop_instance_uid.clone(),
                        study_instance_uid: f.study_instance_uid.clone(),
                        reason: format!(
                            "not among the objects the PACS lists for the study (it reported sending {sent}); removed"
                        ),
                    };
                    log::warn!("removed {:?}: {}", f.path, refusal.reason);
                    m.refused.push(refusal);
                }
            }
        }
        let now = arrived(self);
        if now <= sent {
            return Ok(());
        }
        if let Ok(mut m) = self.target.manifest.lock() {
            for f in m
                .files
                .iter_mut()
                .filter(|f| f.status != FileStatus::Failed)
            {
                f.warn(format!(
                    "{now} objects arrived but the PACS reported sending {sent}: which ones came from the PACS cannot be told"
                ));
            }
        }
        Err(Error::dicom(format!(
            "{now} objects arrived but {} reported sending {sent}: another sender used its address and AE title; see the manifest",
            self.peer.name()
        )))
    }

    /// Objects the PACS's C-FIND listed that neither arrived, nor failed here, nor were named
    /// among the failed sub-operations.
    fn unaccounted(&self) -> Vec<String> {
        let (landed, failed) = self.in_manifest();
        let named = self.failed_at_pacs();
        self.contents
            .instances
            .iter()
            .map(|i| &i.sop_instance_uid)
            .filter(|u| !landed.contains(*u) && !failed.contains(*u) && !named.contains(*u))
            .cloned()
            .collect()
    }

    /// Failed sub-operations the PACS counted but did not name (less the objects miic
    /// refused, which a PACS counts as failed).
    fn unnamed_failures(&self) -> u32 {
        let counted: u32 = self
            .requests
            .iter()
            .map(|r| {
                u32::from(r.failed.unwrap_or(0))
                    .saturating_sub(r.failed_sop_instance_uids.len() as u32)
            })
            .sum();
        let refused_unnamed = self
            .refused_objects()
            .iter()
            .filter(|u| {
                !self
                    .requests
                    .iter()
                    .any(|r| r.failed_sop_instance_uids.contains(u))
            })
            .count() as u32;
        counted.saturating_sub(refused_unnamed)
    }

    /// Make sure the objects' series are known (instance-level C-FIND), for instance-level
    /// requests and for naming what did not arrive. False when the PACS cannot tell.
    fn ensure_instances(&mut self) -> bool {
        if self.contents.instances.is_empty() {
            match discover_instances(self.peer, self.study_uid, &mut self.contents) {
                Ok(()) => {}
                Err(e) => log::warn!("instance-level C-FIND on {}: {e}", self.peer.name()),
            }
        }
        !self.contents.instances.is_empty()
    }

    /// List every object that did not arrive in the manifest, with what is known of it.
    fn account(&mut self) {
        let missing = self.unrecovered();
        let unnamed = self.unnamed_failures();
        let arrived = self.in_manifest().0.len() as u32;
        if unnamed > 0
            || self.requests.iter().any(|r| r.aborted)
            || self
                .contents
                .total
                .is_some_and(|t| t > arrived + missing.len() as u32)
        {
            self.ensure_instances();
        }
        let (landed, failed) = self.in_manifest();
        let mut entries = Vec::new();
        for uid in &missing {
            let reason = self
                .requests
                .iter()
                .rev()
                .find(|r| r.failed_sop_instance_uids.contains(uid))
                .map(|r| {
                    let what = if r.aborted {
                        "the PACS ended the request for this object alone with"
                    } else {
                        "the PACS reported its sub-operation failed, final status"
                    };
                    format!(
                        "{what} {}{}{}",
                        r.status,
                        r.error_comment
                            .as_ref()
                            .map(|c| format!(": {c}"))
                            .unwrap_or_default(),
                        self.tried_text(uid)
                    )
                })
                .unwrap_or_default();
            entries.push(FileEntry::missing(
                Some(uid.clone()),
                self.class_of(uid),
                reason,
            ));
        }
        // Objects the PACS listed in its C-FIND and neither sent nor named.
        let mut silent = 0u32;
        for i in &self.contents.instances {
            let uid = &i.sop_instance_uid;
            if !landed.contains(uid) && !failed.contains(uid) && !missing.contains(uid) {
                silent += 1;
                entries.push(FileEntry::missing(
                    Some(uid.clone()),
                    i.sop_class_uid.clone(),
                    "listed by the PACS's C-FIND but not sent, and not named among the failed sub-operations",
                ));
            }
        }
        for _ in silent..unnamed {
            entries.push(FileEntry::missing(
                None,
                None,
                "the PACS counted a failed sub-operation without naming the object",
            ));
        }
        if let Ok(mut m) = self.target.manifest.lock() {
            m.files.extend(entries);
        }
    }

    /// The object's class when the PACS named it, or when its series can hold only one.
    fn class_of(&self, uid: &str) -> Option<String> {
        let instance = self.contents.instance(uid)?;
        instance.sop_class_uid.clone().or_else(|| {
            let series = self
                .contents
                .series
                .iter()
                .find(|s| s.uid == instance.series_uid)?;
            (series.classes.len() == 1).then(|| series.classes[0].clone())
        })
    }

    fn tried_text(&self, uid: &str) -> String {
        let tried: Vec<&str> = self
            .requests
            .iter()
            .filter(|r| r.failed_sop_instance_uids.iter().any(|u| u == uid))
            .filter_map(|r| r.transfer_syntax.as_deref())
            .collect();
        if tried.is_empty() {
            String::new()
        } else {
            format!("; asked again offering only {}", tried.join(", then "))
        }
    }

    /// The PACS's side for the manifest: counts over every request.
    fn report(&self) -> Option<PacsReport> {
        let last = self.requests.last()?;
        let missing = self.failed_at_pacs();
        let leaving = self
            .requests
            .iter()
            .rev()
            .find(|r| {
                r.failed_sop_instance_uids
                    .iter()
                    .any(|u| missing.contains(u))
                    || r.failed.unwrap_or(0) as usize > r.failed_sop_instance_uids.len()
            })
            .unwrap_or(last);
        let sum = |f: fn(&PacsRequest) -> Option<u16>| {
            let values: Vec<u32> = self.requests.iter().filter_map(f).map(u32::from).collect();
            (!values.is_empty()).then(|| values.iter().sum())
        };
        Some(PacsReport {
            status: leaving.status.clone(),
            completed: sum(|r| r.completed),
            failed: Some(missing.len() as u32 + self.unnamed_failures()),
            warning: sum(|r| r.warning),
            error_comment: leaving.error_comment.clone(),
            requests: self.requests.clone(),
        })
    }
}

// ---- learning the study's content (C-FIND) ----

fn find_association(peer: &Peer) -> Result<Option<Conn<ClientAssociation<TcpStream>>>> {
    let result = peer.associate(
        ClientAssociationOptions::new()
            .with_presentation_context(FIND_STUDY_ROOT, vec![EXPLICIT_LE, IMPLICIT_LE]),
    );
    match result {
        Ok(conn) => Ok(Some(conn)),
        // Spec 4.2 only promises C-ECHO and C-MOVE rights: without C-FIND, the retrieval's own
        // result tells an unknown study (no instances) instead.
        Err(e) if e.message.contains("none of the proposed services") => {
            log::info!(
                "{} does not grant C-FIND; retrieving without it",
                peer.name()
            );
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

fn identifier(
    study_uid: &str,
    level: &str,
    keys: &[(dicom_core::Tag, VR, &str)],
) -> InMemDicomObject {
    let mut elements = vec![
        DataElement::new(
            tags::QUERY_RETRIEVE_LEVEL,
            VR::CS,
            PrimitiveValue::from(level),
        ),
        DataElement::new(
            tags::STUDY_INSTANCE_UID,
            VR::UI,
            PrimitiveValue::from(study_uid),
        ),
    ];
    for (tag, vr, value) in keys {
        elements.push(DataElement::new(
            *tag,
            *vr,
            if value.is_empty() {
                PrimitiveValue::Empty
            } else {
                PrimitiveValue::from(*value)
            },
        ));
    }
    InMemDicomObject::from_element_iter(elements)
}

/// What the study holds: study-level C-FIND (confirms the study; SOP Classes in Study and the
/// instance count when answered); with `deep` (C-GET), instance- and series-level C-FINDs when
/// the study's classes are not known or need more than one association.
fn discover(session: &mut Session, deep: bool) -> Result<()> {
    let Some(mut conn) = find_association(session.peer)? else {
        return Ok(());
    };
    let started = Instant::now();
    conn.set_deadline(started + session.peer.timeout);
    let mut query = study_identifier(session.study_uid, true);
    query.put(DataElement::new(
        tags::SOP_CLASSES_IN_STUDY,
        VR::UI,
        PrimitiveValue::Empty,
    ));
    let matches = find_objects(&mut conn, query)?;
    let Some(found) = matches.first() else {
        return Err(Error::dicom(format!(
            "study {} is not on {} (C-FIND found no match)",
            session.study_uid, conn.peer
        )));
    };
    let contents = &mut session.contents;
    contents.total =
        text_of(found, tags::NUMBER_OF_STUDY_RELATED_INSTANCES).and_then(|n| n.parse().ok());
    contents.study_classes = uid_list(found, tags::SOP_CLASSES_IN_STUDY)
        .into_iter()
        .filter(|c| is_storage_class(c))
        .collect();
    let fits = plan::fits_one(&contents.study_classes, STORAGE_BUDGET);
    if deep && !fits {
        conn.set_deadline(Instant::now() + session.peer.timeout);
        instances_on(&mut conn, session.study_uid, contents)?;
    }
    if let Some(total) = contents
        .total
        .or_else(|| (!contents.instances.is_empty()).then_some(contents.instances.len() as u32))
    {
        session.target.progress.set_total(total);
    }
    release(conn);
    Ok(())
}

fn discover_instances(peer: &Peer, study_uid: &str, contents: &mut Contents) -> Result<()> {
    let Some(mut conn) = find_association(peer)? else {
        return Ok(());
    };
    conn.set_deadline(Instant::now() + peer.timeout);
    instances_on(&mut conn, study_uid, contents)?;
    release(conn);
    Ok(())
}

/// Instance-level C-FIND (series, instance and class of every object), then series-level for
/// the modality of series whose classes the PACS did not name.
fn instances_on(
    conn: &mut Conn<ClientAssociation<TcpStream>>,
    study_uid: &str,
    contents: &mut Contents,
) -> Result<()> {
    let mut keys = vec![
        (tags::SERIES_INSTANCE_UID, VR::UI, ""),
        (tags::SOP_INSTANCE_UID, VR::UI, ""),
        (tags::SOP_CLASS_UID, VR::UI, ""),
    ];
    let matches = match find_objects(conn, identifier(study_uid, "IMAGE", &keys)) {
        Ok(matches) => matches,
        // Orthanc 1.10 reads every stored file for the SOP Class UID and fails the whole
        // C-FIND when one is unreadable; its index still knows the objects.
        Err(e) if e.status == Status::Dicom => {
            log::info!(
                "{}: instance-level C-FIND with SOP Class UID: {e}; asking without",
                conn.peer
            );
            keys.pop();
            find_objects(conn, identifier(study_uid, "IMAGE", &keys))?
        }
        Err(e) => return Err(e),
    };
    contents.instances = matches
        .iter()
        .filter_map(|m| {
            Some(Instance {
                sop_instance_uid: text_of(m, tags::SOP_INSTANCE_UID)?,
                series_uid: text_of(m, tags::SERIES_INSTANCE_UID)?,
                sop_class_uid: text_of(m, tags::SOP_CLASS_UID).filter(|c| is_storage_class(c)),
            })
        })
        .collect();
    let mut series: Vec<Series> = Vec::new();
    for i in &contents.instances {
        if !series.iter().any(|s| s.uid == i.series_uid) {
            series.push(Series {
                uid: i.series_uid.clone(),
                modality: None,
                classes: Vec::new(),
            });
        }
    }
    if contents.instances.iter().any(|i| i.sop_class_uid.is_none()) {
        let matches = find_objects(
            conn,
            identifier(
                study_uid,
                "SERIES",
                &[
                    (tags::SERIES_INSTANCE_UID, VR::UI, ""),
                    (tags::MODALITY, VR::CS, ""),
                ],
            ),
        )?;
        for m in &matches {
            let (Some(uid), modality) = (
                text_of(m, tags::SERIES_INSTANCE_UID),
                text_of(m, tags::MODALITY),
            ) else {
                continue;
            };
            match series.iter_mut().find(|s| s.uid == uid) {
                Some(s) => s.modality = modality,
                None => series.push(Series {
                    uid,
                    modality,
                    classes: Vec::new(),
                }),
            }
        }
    }
    contents.series = series;
    contents.derive_series_classes();
    Ok(())
}

fn uid_list(object: &InMemDicomObject, tag: dicom_core::Tag) -> Vec<String> {
    object
        .element_opt(tag)
        .ok()
        .flatten()
        .and_then(|e| e.to_multi_str().ok().map(|v| v.to_vec()))
        .unwrap_or_default()
        .iter()
        .map(|s| s.trim_end_matches(['\0', ' ']).trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

// ---- requests and their final responses ----

fn scope_identifier(study_uid: &str, scope: &Scope) -> InMemDicomObject {
    match scope {
        Scope::Study => identifier(study_uid, "STUDY", &[]),
        Scope::Series(series) => identifier(
            study_uid,
            "SERIES",
            &[(tags::SERIES_INSTANCE_UID, VR::UI, series)],
        ),
        Scope::Instances { series, uids } => identifier(
            study_uid,
            "IMAGE",
            &[
                (tags::SERIES_INSTANCE_UID, VR::UI, series),
                (tags::SOP_INSTANCE_UID, VR::UI, &uids.join("\\")),
            ],
        ),
    }
}

fn request_record(scope: &Scope, syntax: Option<&str>) -> PacsRequest {
    let (level, scope) = match scope {
        Scope::Study => ("study", None),
        Scope::Series(s) => ("series", Some(s.clone())),
        Scope::Instances { uids, .. } => ("image", Some(format!("{} objects", uids.len()))),
    };
    PacsRequest {
        level,
        scope,
        transfer_syntax: syntax.map(str::to_owned),
        ..PacsRequest::default()
    }
}

/// Fill `record` from the final C-GET/C-MOVE response (and its identifier, which lists the
/// failed objects); an error when the status is neither success nor a warning.
fn final_response(
    record: &mut PacsRequest,
    command: &Command,
    identifier: Option<Vec<u8>>,
    ts: &str,
    peer: &str,
    op: &str,
) -> Result<()> {
    let [_, completed, failed, warning] = command.sub_operations();
    record.status = dimse::status_text(command.status());
    record.code = command.status();
    record.completed = completed;
    record.failed = failed;
    record.warning = warning;
    record.error_comment = command.error_comment();
    if let Some(bytes) = identifier {
        match dimse::decode_dataset(&bytes, ts) {
            Ok(object) => {
                record.failed_sop_instance_uids =
                    uid_list(&object, tags::FAILED_SOP_INSTANCE_UID_LIST)
            }
            Err(e) => log::warn!("{peer}: unreadable identifier in the final {op} response: {e}"),
        }
    }
    let status = command.status();
    // Success, "completed with failures" (0xB000) and "unable to perform sub-operations"
    // (0xA702, dcmqrscp's answer when every sub-operation failed) are judged by the files (a
    // repeat may still bring them); others are errors.
    let sub_operations_failed = status == 0xA702
        && (record.failed.is_some() || !record.failed_sop_instance_uids.is_empty());
    if status == 0 || dimse::is_warning(status) || sub_operations_failed {
        return Ok(());
    }
    record.aborted = true;
    Err(Error::dicom(format!(
        "{peer} ended the {op} with status {}{}",
        record.status,
        record
            .error_comment
            .as_ref()
            .map(|c| format!(" ({c})"))
            .unwrap_or_default()
    )))
}

fn update_total(progress: &Progress, command: &Command) {
    let [remaining, completed, failed, warning] = command.sub_operations();
    if let Some(remaining) = remaining {
        let total = [Some(remaining), completed, failed, warning]
            .iter()
            .map(|n| u32::from(n.unwrap_or(0)))
            .sum();
        progress.set_total(total);
    }
}

/// Keep the first DIMSE failure while going on with the other requests (more objects arrive);
/// an association failure (network, timeout) stops the retrieval.
fn keep_first(first: &mut Option<Error>, result: Result<()>) {
    if let Err(e) = result {
        log::warn!("{e}");
        first.get_or_insert(e);
    }
}

/// Sends requests for some scopes: the outer error is the association's, the inner one the
/// PACS's failure status.
type Ask<'s> = dyn FnMut(&mut Session, &[Scope]) -> Result<Result<()>> + 's;

/// A PACS that ends a whole request over one object it cannot send (Orthanc 1.10 answers
/// 0xC000 and sends nothing more) leaves the rest undelivered: ask for what is missing series
/// by series, then object by object where a series fails again, so that only the objects the
/// PACS cannot send are missing (each named with the status the PACS gave for it alone).
/// Returns whether it ran.
fn salvage(session: &mut Session, ask: &mut Ask) -> Result<bool> {
    // Only a PACS that could send objects and stopped at one ("unable to process", "out of
    // resources"); one refusing the request itself (move destination unknown, not
    // authorized…) would refuse every smaller request too.
    let object_trouble =
        |r: &PacsRequest| r.aborted && matches!(r.code, 0xA700..=0xA7FF | 0xC000..=0xCFFF);
    if !session.requests.iter().any(object_trouble) || !session.ensure_instances() {
        return Ok(false);
    }
    let missing = session.unaccounted();
    for scope in plan::instance_scopes(&session.contents, &missing) {
        let Scope::Instances { series, uids } = &scope else {
            continue;
        };
        let single = uids.len() == 1;
        if ask(session, std::slice::from_ref(&scope))?.is_ok() {
            continue;
        }
        let still: Vec<String> = if single {
            Vec::new()
        } else {
            let left = session.unaccounted();
            uids.iter().filter(|u| left.contains(u)).cloned().collect()
        };
        if single {
            mark_alone(session, &uids[0]);
        }
        // Object by object; a run of failures means the PACS cannot send this series at all:
        // the rest stay listed as not sent.
        let mut failures_in_a_row = 0;
        for uid in still {
            if failures_in_a_row == SALVAGE_GIVE_UP {
                break;
            }
            let one = Scope::Instances {
                series: series.clone(),
                uids: vec![uid.clone()],
            };
            if ask(session, &[one])?.is_err() {
                mark_alone(session, &uid);
                failures_in_a_row += 1;
            } else {
                failures_in_a_row = 0;
            }
        }
    }
    Ok(true)
}

/// The last request asked for `uid` alone and the PACS failed it: that object is the failure.
fn mark_alone(session: &mut Session, uid: &str) {
    if let Some(r) = session.requests.last_mut() {
        if r.failed_sop_instance_uids.is_empty() {
            r.failed_sop_instance_uids.push(uid.to_owned());
        }
    }
}

// ---- C-GET ----

fn get_study(session: &mut Session) -> Result<()> {
    discover(session, true)?;
    let batches = plan::batches(&session.contents, STORAGE_BUDGET);
    let single = batches.len() == 1 && batches[0].scopes.len() == 1;
    let mut accepted = BTreeSet::new();
    let mut first_error = None;
    for batch in &batches {
        let result = get_batch(session, batch, None, single, &mut accepted);
        keep_first(&mut first_error, result?);
    }
    // A PACS that sends every object of a class on the first context it accepted for that
    // class (dcmtk's dcmqrscp) fails the objects it holds in another syntax: ask for those
    // again, offering one of the other syntaxes it accepted at a time.
    for syntax in plan::retry_syntaxes(&accepted) {
        let failed = session.unrecovered();
        if failed.is_empty() || !session.ensure_instances() {
            break;
        }
        let mut classes: Vec<String> = Vec::new();
        for uid in &failed {
            for c in session.contents.classes_of(uid) {
                if !classes.contains(&c) {
                    classes.push(c);
                }
            }
        }
        let batch = Batch {
            contexts: plan::contexts_only(&classes, syntax, STORAGE_BUDGET),
            scopes: plan::instance_scopes(&session.contents, &failed),
        };
        if batch.scopes.is_empty() {
            break;
        }
        let result = get_batch(session, &batch, Some(syntax), false, &mut BTreeSet::new());
        let _ = result?;
    }
    let salvaged = salvage(session, &mut |session, scopes| {
        let mut classes: Vec<String> = Vec::new();
        for scope in scopes {
            if let Scope::Instances { uids, .. } = scope {
                for uid in uids {
                    for c in session.contents.classes_of(uid) {
                        if !classes.contains(&c) {
                            classes.push(c);
                        }
                    }
                }
            }
        }
        let batch = Batch {
            contexts: plan::contexts_for(&classes, STORAGE_BUDGET),
            scopes: scopes.to_vec(),
        };
        get_batch(session, &batch, None, false, &mut BTreeSet::new())
    })?;
    // After a salvage the manifest names what is missing; the abort itself is in `requests`.
    if salvaged {
        first_error = None;
    }
    first_error.map_or(Ok(()), Err)
}

/// One C-GET association: propose `batch`'s contexts, send one C-GET per scope, file the
/// objects. The outer error is the association's; the inner one a PACS failure status.
fn get_batch(
    session: &mut Session,
    batch: &Batch,
    syntax: Option<&'static str>,
    single: bool,
    accepted: &mut BTreeSet<String>,
) -> Result<Result<()>> {
    session.target.check()?;
    let mut options = ClientAssociationOptions::new()
        .with_presentation_context(GET_STUDY_ROOT, vec![EXPLICIT_LE, IMPLICIT_LE]);
    let mut roles: Vec<&str> = Vec::new();
    for (class, syntaxes) in &batch.contexts {
        options = options.with_presentation_context(class.as_str(), syntaxes.clone());
        if !roles.contains(&class.as_str()) {
            roles.push(class.as_str());
        }
    }
    for class in roles {
        options = options.with_role_selection(class, false, true);
    }
    let mut conn = session.peer.associate(options)?;
    for pc in conn.link.presentation_contexts() {
        if is_storage_class(pc.abstract_syntax.trim_end_matches('\0')) {
            accepted.insert(pc.transfer_syntax.trim_end_matches('\0').to_owned());
        }
    }
    let (pc_id, ts) = context_for(&conn, GET_STUDY_ROOT)?;
    let mut result = Ok(());
    for scope in &batch.scopes {
        let mut record = request_record(scope, syntax);
        let identifier = dimse::encode_dataset(&scope_identifier(session.study_uid, scope), &ts)?;
        let request =
            CommandBuilder::new(C_GET_RQ, GET_STUDY_ROOT, true).request(next_message_id());
        conn.send_message(pc_id, request, Some(&identifier))?;
        let outcome = loop {
            let (pc, command) = match conn.receive_command()? {
                Incoming::Command { pc_id, command } => (pc_id, command),
                Incoming::Released => {
                    return Err(Error::dicom(format!("{} released during C-GET", conn.peer)))
                }
            };
            match command.field() {
                C_STORE_RQ => handle_store(&mut conn, pc, &command, session.target)?,
                C_GET_RSP => {
                    let data = if command.has_dataset() {
                        Some(conn.receive_dataset_bytes()?)
                    } else {
                        None
                    };
                    if dimse::is_pending(command.status()) {
                        if single && session.contents.total.is_none() {
                            update_total(session.target.progress, &command);
                        }
                        continue;
                    }
                    break final_response(&mut record, &command, data, &ts, &conn.peer, "C-GET");
                }
                other => {
                    return Err(Error::dicom(format!(
                        "{} sent command 0x{other:04X} during C-GET",
                        conn.peer
                    )))
                }
            }
        };
        session.requests.push(record);
        keep_first_result(&mut result, outcome);
    }
    release(conn);
    Ok(result)
}

fn keep_first_result(slot: &mut Result<()>, outcome: Result<()>) {
    if slot.is_ok() {
        *slot = outcome;
    }
}

// ---- C-MOVE and its storage SCP ----

/// What the storage SCP shares with the C-MOVE requests: which syntax a repeat accepts, and
/// which syntaxes the PACS offered.
struct ScpState {
    stop: AtomicBool,
    /// `None`: every storable syntax; `Some(ts)`: a repeat accepting only `ts`.
    only: Mutex<Option<&'static str>>,
    offered: Mutex<BTreeSet<String>>,
}

/// Storage associations served at once: a PACS sends a study over one or a few; more wait
/// until one ends (a flood from the PACS's address costs at most this many threads).
const MAX_STORAGE_ASSOCIATIONS: usize = 16;

fn move_study(session: &mut Session) -> Result<()> {
    let peer = session.peer;
    let port = peer.move_port.ok_or_else(|| {
        Error::config("config key 'dicom.move_port' is required when 'dicom.retrieve' is \"move\"")
    })?;
    discover(session, false)?;
    // Only the PACS may send: its resolved address(es) and its AE title.
    let senders = peer.sender_addresses();
    if senders.is_empty() {
        return Err(Error::config(format!(
            "config key 'dicom.host' = '{}' does not resolve: miic cannot tell the PACS's C-MOVE sub-operations from anyone else's",
            peer.host
        )));
    }
    let listener = TcpListener::bind(("0.0.0.0", port)).map_err(|e| {
        Error::network(format!(
            "cannot listen on dicom.move_port {port} for C-MOVE: {e}"
        ))
    })?;
    listener
        .set_nonblocking(true)
        .map_err(|e| Error::network(format!("cannot listen on dicom.move_port {port}: {e}")))?;
    log::info!(
        "C-MOVE storage SCP: listening on dicom.move_port {port} for {} from {}",
        peer.peer_ae,
        senders
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );
    let state = ScpState {
        stop: AtomicBool::new(false),
        only: Mutex::new(None),
        offered: Mutex::new(BTreeSet::new()),
    };
    let target = session.target;
    std::thread::scope(|scope| {
        let scp = scope.spawn(|| storage_scp(&listener, peer, &senders, &state, target));
        let result = move_all(session, &state);
        state.stop.store(true, Ordering::Relaxed);
        let scp_result = scp
            .join()
            .unwrap_or_else(|_| Err(Error::internal("the C-MOVE storage SCP panicked")));
        match (result, scp_result) {
            (Err(e), _) => Err(e),
            (Ok(()), Err(e)) => Err(e),
            (Ok(()), Ok(())) => Ok(()),
        }
    })
}

fn move_all(session: &mut Session, state: &ScpState) -> Result<()> {
    let mut first_error = None;
    let result = move_request(session, &[Scope::Study], None)?;
    keep_first(&mut first_error, result);
    // As for C-GET: a PACS that uses one context per class (dcmqrscp) fails what it holds in
    // another syntax; ask again, accepting only one of the other syntaxes it offered at a time.
    let offered = state.offered.lock().map(|o| o.clone()).unwrap_or_default();
    for syntax in plan::retry_syntaxes(&offered) {
        let failed = session.unrecovered();
        if failed.is_empty() || !session.ensure_instances() {
            break;
        }
        let scopes = plan::instance_scopes(&session.contents, &failed);
        if scopes.is_empty() {
            break;
        }
        if let Ok(mut only) = state.only.lock() {
            *only = Some(syntax);
        }
        let result = move_request(session, &scopes, Some(syntax))?;
        result.ok();
    }
    if let Ok(mut only) = state.only.lock() {
        *only = None;
    }
    if salvage(session, &mut |session, scopes| {
        move_request(session, scopes, None)
    })? {
        first_error = None;
    }
    first_error.map_or(Ok(()), Err)
}

fn move_request(
    session: &mut Session,
    scopes: &[Scope],
    syntax: Option<&'static str>,
) -> Result<Result<()>> {
    session.target.check()?;
    let mut conn = session.peer.associate(
        ClientAssociationOptions::new()
            .with_presentation_context(MOVE_STUDY_ROOT, vec![EXPLICIT_LE, IMPLICIT_LE]),
    )?;
    let (pc_id, ts) = context_for(&conn, MOVE_STUDY_ROOT)?;
    let single = scopes.len() == 1 && syntax.is_none();
    let mut result = Ok(());
    for scope in scopes {
        let mut record = request_record(scope, syntax);
        let identifier = dimse::encode_dataset(&scope_identifier(session.study_uid, scope), &ts)?;
        let request = CommandBuilder::new(C_MOVE_RQ, MOVE_STUDY_ROOT, true)
            .request(next_message_id())
            .with_ae(tags::MOVE_DESTINATION, &session.peer.local_ae);
        conn.send_message(pc_id, request, Some(&identifier))?;
        let outcome = loop {
            let command = conn.receive_response(C_MOVE_RSP, "C-MOVE")?;
            let data = if command.has_dataset() {
                Some(conn.receive_dataset_bytes()?)
            } else {
                None
            };
            if dimse::is_pending(command.status()) {
                if single && session.contents.total.is_none() {
                    update_total(session.target.progress, &command);
                }
                continue;
            }
            break final_response(&mut record, &command, data, &ts, &conn.peer, "C-MOVE");
        };
        session.requests.push(record);
        keep_first_result(&mut result, outcome);
    }
    release(conn);
    Ok(result)
}

/// An A-ASSOCIATE-RQ as read before negotiating: the calling AE and the proposed contexts.
struct Proposal {
    calling_ae: String,
    contexts: Vec<(String, Vec<String>)>,
}

/// The storage contexts a PACS proposes, read from its A-ASSOCIATE-RQ before the association
/// is negotiated (dicom-ul accepts a fixed list; miic also accepts storage classes newer than
/// its list). `None` when the request does not arrive whole within `timeout`.
fn peek_proposal(socket: &TcpStream, timeout: Duration) -> Option<Proposal> {
    // An A-ASSOCIATE-RQ of 128 contexts with several syntaxes each stays well below this.
    const LIMIT: usize = 256 * 1024;
    let deadline = Instant::now() + timeout;
    let mut buf = vec![0u8; 6];
    loop {
        let n = socket.peek(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        if n >= 6 {
            let len = u32::from_be_bytes([buf[2], buf[3], buf[4], buf[5]]) as usize + 6;
            if buf[0] != 0x01 || len > LIMIT {
                return None;
            }
            if buf.len() < len {
                buf.resize(len, 0);
                continue;
            }
            if n >= len {
                let pdu = dicom_ul::pdu::read_pdu(&buf[..len], LIMIT as u32, false).ok()??;
                let Pdu::AssociationRQ(rq) = pdu else {
                    return None;
                };
                return Some(Proposal {
                    calling_ae: rq.calling_ae_title.trim().to_owned(),
                    contexts: rq
                        .presentation_contexts
                        .into_iter()
                        .map(|pc| {
                            (
                                pc.abstract_syntax.trim_end_matches('\0').to_owned(),
                                pc.transfer_syntaxes
                                    .into_iter()
                                    .map(|t| t.trim_end_matches('\0').to_owned())
                                    .collect(),
                            )
                        })
                        .collect(),
                });
            }
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Admits only associations whose calling AE is the PACS's `peer_ae`.
struct ThePacs<'a>(&'a str);

impl dicom_ul::association::server::AccessControl for ThePacs<'_> {
    fn check_access(
        &self,
        _this_ae_title: &str,
        calling_ae_title: &str,
        _called_ae_title: &str,
        _user_identity: Option<&dicom_ul::pdu::UserIdentity>,
    ) -> std::result::Result<(), dicom_ul::pdu::AssociationRJServiceUserReason> {
        if calling_ae_title.trim() == self.0 {
            Ok(())
        } else {
            Err(dicom_ul::pdu::AssociationRJServiceUserReason::CallingAETitleNotRecognized)
        }
    }
}

/// What the SCP's accept loop knows of one association it serves.
#[derive(Default)]
struct Watch {
    /// Negotiated: from then on the setup deadline no longer applies.
    established: AtomicBool,
    /// The loop shut the socket down (setup too slow, or the retrieve is over).
    cut: AtomicBool,
}

struct Served<'scope> {
    handle: std::thread::ScopedJoinHandle<'scope, ()>,
    socket: TcpStream,
    accepted: Instant,
    watch: std::sync::Arc<Watch>,
}

impl Served<'_> {
    fn cut(&self) {
        if !self.watch.cut.swap(true, Ordering::SeqCst) {
            let _ = self.socket.shutdown(std::net::Shutdown::Both);
        }
    }
}

/// The in-process storage SCP that receives C-MOVE sub-operations on `move_port` while the
/// C-MOVE requests run. Only the PACS gets in (an address of `senders`, checked before a byte
/// is read; then its AE title); its associations are served in parallel, each in its own
/// thread. An association must be negotiated within `timeout_ms` of its connection; once the
/// requests are done, what is still open gets `timeout_ms` to finish and is then cut, so no
/// peer keeps `miic_dicom_retrieve` from returning. Accept errors (a connection reset before
/// it was accepted) are passing trouble: the loop goes on.
fn storage_scp(
    listener: &TcpListener,
    peer: &Peer,
    senders: &[std::net::IpAddr],
    state: &ScpState,
    target: &StoreTarget,
) -> Result<()> {
    let first_error: Mutex<Option<Error>> = Mutex::new(None);
    std::thread::scope(|scope| {
        let mut open: Vec<Served> = Vec::new();
        let mut stopped_at: Option<Instant> = None;
        loop {
            let now = Instant::now();
            open.retain(|s| !s.handle.is_finished());
            if stopped_at.is_none()
                && (state.stop.load(Ordering::Relaxed) || target.fatal().is_some())
            {
                stopped_at = Some(now);
            }
            for s in &open {
                if !s.watch.established.load(Ordering::SeqCst) && now >= s.accepted + peer.timeout {
                    s.cut();
                }
            }
            if let Some(at) = stopped_at {
                if open.is_empty() {
                    break;
                }
                if now >= at + peer.timeout || target.fatal().is_some() {
                    for s in &open {
                        if s.watch.established.load(Ordering::SeqCst) {
                            log::warn!(
                                "C-MOVE storage SCP: an association was still open timeout_ms = {} after the last C-MOVE response: cut",
                                peer.timeout.as_millis()
                            );
                        }
                        s.cut();
                    }
                    break;
                }
            }
            let (socket, addr) = match listener.accept() {
                Ok(pair) => pair,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                }
                Err(e) => {
                    log::warn!("C-MOVE storage SCP: accepting a connection failed: {e}");
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                }
            };
            let from = addr.to_string();
            let ip = match addr.ip() {
                std::net::IpAddr::V6(v6) => v6
                    .to_ipv4_mapped()
                    .map_or(std::net::IpAddr::V6(v6), std::net::IpAddr::V4),
                v4 => v4,
            };
            let refuse = |reason: String| {
                target.refuse(Refusal {
                    from: from.clone(),
                    sop_instance_uid: None,
                    study_instance_uid: None,
                    reason,
                })
            };
            if stopped_at.is_some() {
                refuse("connected after the PACS's last C-MOVE response".into());
                continue;
            }
            if !senders.contains(&ip) {
                refuse(format!(
                    "not the PACS: only {} may send (dicom.host, dicom.move_from)",
                    senders
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
                continue;
            }
            if open.len() >= MAX_STORAGE_ASSOCIATIONS {
                refuse(format!(
                    "{MAX_STORAGE_ASSOCIATIONS} storage associations are open already"
                ));
                continue;
            }
            let Ok(watched) = socket.try_clone() else {
                refuse("cannot watch the connection".into());
                continue;
            };
            let watch = std::sync::Arc::new(Watch::default());
            let handle = {
                let watch = std::sync::Arc::clone(&watch);
                let first_error = &first_error;
                scope.spawn(move || {
                    if let Err(e) = storage_association(socket, &from, peer, state, target, &watch)
                    {
                        log::warn!("C-MOVE storage SCP: {e}");
                        // An association the loop cut fails by design; an object it was
                        // carrying is a failed file already.
                        if !watch.cut.load(Ordering::SeqCst) {
                            let mut slot = first_error.lock().unwrap_or_else(|p| p.into_inner());
                            slot.get_or_insert(e);
                        }
                    }
                })
            };
            open.push(Served {
                handle,
                socket: watched,
                accepted: now,
                watch,
            });
        }
    });
    let first = first_error.into_inner().unwrap_or_else(|p| p.into_inner());
    first.map_or(Ok(()), Err)
}

/// Negotiate one storage association (each storage context in the first of the PACS's
/// proposed syntaxes that miic files as bytes) and store what it carries.
fn storage_association(
    socket: TcpStream,
    from: &str,
    peer: &Peer,
    state: &ScpState,
    target: &StoreTarget,
    watch: &Watch,
) -> Result<()> {
    let _ = socket.set_nonblocking(false);
    let _ = socket.set_nodelay(true);
    let _ = socket.set_read_timeout(Some(peer.timeout));
    let refuse = |reason: String| {
        target.refuse(Refusal {
            from: from.to_owned(),
            sop_instance_uid: None,
            study_instance_uid: None,
            reason,
        })
    };
    let Some(proposal) = peek_proposal(&socket, peer.timeout) else {
        refuse(format!(
            "sent no A-ASSOCIATE-RQ within timeout_ms = {}",
            peer.timeout.as_millis()
        ));
        return Ok(());
    };
    if proposal.calling_ae != peer.peer_ae {
        // dicom-ul answers A-ASSOCIATE-RJ (calling AE title not recognised).
        refuse(format!(
            "calling AE '{}' is not the PACS's (dicom.peer_ae = '{}')",
            proposal.calling_ae, peer.peer_ae
        ));
    }
    let only = state.only.lock().ok().and_then(|o| *o);
    let mut options = ServerAssociationOptions::new()
        .ae_access_control(ThePacs(&peer.peer_ae))
        .ae_title(peer.local_ae.as_str())
        .with_abstract_syntax(VERIFICATION)
        .max_pdu_length(peer.max_pdu)
        .read_timeout(peer.timeout)
        .write_timeout(peer.timeout);
    for (class, _) in STORAGE_CLASSES {
        options = options.with_abstract_syntax(*class);
    }
    if proposal.calling_ae == peer.peer_ae {
        if let Ok(mut offered) = state.offered.lock() {
            for (class, syntaxes) in &proposal.contexts {
                if is_storage_class(class) {
                    offered.extend(syntaxes.iter().filter(|t| is_storable(t)).cloned());
                }
            }
        }
    }
    for (class, _) in &proposal.contexts {
        if is_storage_class(class) && !STORAGE_CLASSES.iter().any(|(c, _)| c == class) {
            options = options.with_abstract_syntax(class.clone());
        }
    }
    match only {
        Some(ts) => options = options.with_transfer_syntax(ts),
        None => {
            for ts in classes::storable_syntaxes() {
                options = options.with_transfer_syntax(ts);
            }
        }
    }
    let association = match options.establish(socket) {
        Ok(a) => a,
        Err(e) => {
            if proposal.calling_ae == peer.peer_ae {
                let name = format!("storage association from {from}");
                log::warn!("C-MOVE storage SCP: {}", ul_error(e, &name, peer.timeout));
            }
            return Ok(());
        }
    };
    if watch.cut.load(Ordering::SeqCst) {
        refuse(format!(
            "did not complete its association request within timeout_ms = {}",
            peer.timeout.as_millis()
        ));
        return Ok(());
    }
    watch.established.store(true, Ordering::SeqCst);
    // `AE@address`, like the SCU side: the AE part goes into the files' meta group.
    let name = format!("{}@{from}", proposal.calling_ae);
    serve_storage(Conn::new(association, name, peer.timeout)?, target)
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
