//! Images from the PACS (spec 4.2) across the C ABI: C-ECHO, C-FIND, retrieval, HTTP `dcmPath`
//! download, and progress reporting.
//!
//! Uses: dicom::{http_fetch, progress, retrieve, scu}, ffi::{boundary, client}, text, error.

use super::boundary::{c_text, give_string, guard_status, out_string_slot, MiicStatus};
use super::client::{client_ref, miic_client};
use crate::dicom::{http_fetch, progress, retrieve, scu};
use crate::error::{Error, Result, Status};
use std::ffi::{c_char, c_void};

/// Hand the manifest to the host whatever the outcome, then return the outcome.
fn give_manifest(
    slot: &mut *mut c_char,
    fetched: retrieve::Fetched,
    encoding: crate::text::TextEncoding,
) -> Result<Status> {
    let (manifest, outcome) = fetched;
    give_string(slot, &manifest.to_json(), encoding)?;
    outcome
}

/// C-ECHO the PACS of `[dicom]` (the health check spec 4.2 asks for): associate, echo,
/// release. Logs the round-trip time. The exchange after the association is set up ends within
/// `timeout_ms` of the call's start; setting up (TCP connect, A-ASSOCIATE) waits at most
/// `timeout_ms` per step, so a PACS slow at every step costs at most about twice `timeout_ms`.
/// `MIIC_OK`; `MIIC_E_NETWORK` when the PACS refuses the connection; `MIIC_E_TIMEOUT` when it does not answer within `timeout_ms`; `MIIC_E_DICOM`
/// when it rejects the association (e.g. unknown calling AE) — `miic_last_error()` says why;
/// `MIIC_E_CONFIG` when a `[dicom]` key is missing.
#[no_mangle]
pub extern "C" fn miic_dicom_echo(c: *mut miic_client) -> MiicStatus {
    guard_status(|| {
        let client = client_ref(c)?;
        let peer = scu::Peer::from_config(client.config())?;
        scu::echo(&peer)?;
        Ok(Status::Ok)
    })
}

/// C-FIND at study level for `study_uid`. On `MIIC_OK`, `*matches_out` holds a JSON array of
/// matches (empty when the PACS does not know the study), each with study_instance_uid,
/// patient_id, patient_name, study_date, accession_number, modalities_in_study and
/// number_of_study_related_instances (null when the PACS does not say). Caller frees it with
/// `miic_string_free`. Errors as for `miic_dicom_echo`.
///
/// # Safety
/// `study_uid` is a NUL-terminated string; `matches_out` is a writable pointer.
#[no_mangle]
pub unsafe extern "C" fn miic_dicom_find(
    c: *mut miic_client,
    study_uid: *const c_char,
    matches_out: *mut *mut c_char,
) -> MiicStatus {
    guard_status(|| {
        let client = client_ref(c)?;
        let slot = unsafe { out_string_slot(matches_out, "matches_out") }?;
        let study_uid = unsafe { c_text(study_uid, "study_uid", client.encoding()) }?;
        let peer = scu::Peer::from_config(client.config())?;
        let matches = scu::find_study(&peer, study_uid.trim())?;
        let json = serde_json::to_string_pretty(&matches).unwrap_or_else(|_| "[]".into());
        give_string(slot, &json, client.encoding())?;
        Ok(Status::Ok)
    })
}

/// Retrieve study `study_uid` from the PACS into folder `dest_dir` (created if missing) by
/// C-GET or C-MOVE (`[dicom] retrieve`; C-MOVE listens on `move_port` for the PACS's
/// sub-operations). The study is first confirmed with C-FIND, which also tells C-GET the
/// study's SOP classes. Every storage SOP class is received, each object in the transfer
/// syntax the PACS sends (compressed ones included; nothing is transcoded); each lands whole
/// as `<SOP Instance UID>.dcm` (temp file, then rename). A study too rich for one association
/// is fetched series by series; objects a PACS fails to send are asked for again (see
/// docs/dicom.md).
///
/// `*manifest_out` receives the manifest JSON whenever the call reached the PACS — also when it
/// fails — so the host can see what landed: `method`, `study_instance_uid`, `dest_dir`,
/// `completed`, `failed`, `warning`, `study_uid_mismatch`, `studies`, `pacs` (the PACS's
/// status and counts over all requests, and `requests`, each request's final response),
/// `error`, `elapsed_ms`, and `files` (each with path, sop_instance_uid, sop_class_uid,
/// modality, study_instance_uid, transfer_syntax, size, status completed|warning|failed,
/// error, warning). Every object that did not land is a `failed` file with its SOP instance
/// and class UID where known and the reason. Caller frees it with `miic_string_free` (it
/// stays NULL on argument/config errors).
///
/// Only the PACS's objects of this study land: C-MOVE images are accepted from `[dicom] host`
/// (or `move_from`) with the calling AE `peer_ae`, objects of another study and a different
/// object under a SOP Instance UID already received are refused; what was refused is listed in
/// the manifest's `refused` (not counted, not failing the call; refused connections past the
/// first 100 are only counted, in `refused_unlisted`). Bounds: 64 KiB per command
/// set, `[dicom] max_object_mb` per object (`MIIC_E_DICOM` naming the key), and
/// `[dicom] min_free_mb` left free on the disk (the retrieve stops with `MIIC_E_IO`).
///
/// Status: `MIIC_OK` when every file landed (warnings are listed in the manifest but do not
/// fail the call). Partial success is `MIIC_E_DICOM` with the
/// manifest listing which files failed and `miic_last_error()` giving the count. An unknown
/// study is `MIIC_E_DICOM` with zero files. A connection lost mid-transfer is
/// `MIIC_E_NETWORK`, a PACS that stops answering for `timeout_ms` is `MIIC_E_TIMEOUT`,
/// a rejected association `MIIC_E_DICOM`; files that landed before stay and are listed.
///
/// # Safety
/// `study_uid` and `dest_dir` are NUL-terminated strings; `manifest_out` is a writable pointer.
#[no_mangle]
pub unsafe extern "C" fn miic_dicom_retrieve(
    c: *mut miic_client,
    study_uid: *const c_char,
    dest_dir: *const c_char,
    manifest_out: *mut *mut c_char,
) -> MiicStatus {
    guard_status(|| {
        let client = client_ref(c)?;
        let slot = unsafe { out_string_slot(manifest_out, "manifest_out") }?;
        let study_uid = unsafe { c_text(study_uid, "study_uid", client.encoding()) }?;
        let dest_dir = unsafe { c_text(dest_dir, "dest_dir", client.encoding()) }?;
        let fetched = retrieve::retrieve_with_config(
            client.config(),
            client.id(),
            study_uid.trim(),
            &dest_dir,
        )?;
        give_manifest(slot, fetched, client.encoding())
    })
}

/// Download the images listed in `dcm_path` (the spec's `dcmPath`: comma-separated paths such
/// as `\wadocloud\2025\1\1\0A9C2648`) from `[dicom_http] base_url` into `dest_dir`, keeping
/// each path's folders under `dest_dir`. Up to 4 downloads run at once over keep-alive
/// connections. Every body must be DICOM Part 10 (an HTML page served with 200 is a failed
/// file). Files land whole (temp file, then rename); a file already complete in `dest_dir` is
/// kept and marked `resumed`. A path that would leave `dest_dir` (`..`, drive letter, UNC,
/// `:`) is a failed file, never written. A file larger than `[dicom_http] max_file_mb`
/// (announced or as it streams) is a failed file naming the key, of which nothing stays.
///
/// `*manifest_out` (caller frees it with `miic_string_free`) and the status follow
/// `miic_dicom_retrieve` (each file also has `source`, its `dcmPath` entry).
/// `MIIC_E_NETWORK`/`MIIC_E_TIMEOUT` only when nothing landed and every download failed that
/// way; `MIIC_E_CONFIG` without `[dicom_http] base_url`; `MIIC_E_IO` naming `dicom.min_free_mb`
/// when `dest_dir`'s disk went below that reserve (every download stops; what landed stays).
///
/// # Safety
/// `dcm_path` and `dest_dir` are NUL-terminated strings; `manifest_out` is a writable pointer.
#[no_mangle]
pub unsafe extern "C" fn miic_dicom_fetch_http(
    c: *mut miic_client,
    dcm_path: *const c_char,
    dest_dir: *const c_char,
    manifest_out: *mut *mut c_char,
) -> MiicStatus {
    guard_status(|| {
        let client = client_ref(c)?;
        let slot = unsafe { out_string_slot(manifest_out, "manifest_out") }?;
        let dcm_path = unsafe { c_text(dcm_path, "dcm_path", client.encoding()) }?;
        let dest_dir = unsafe { c_text(dest_dir, "dest_dir", client.encoding()) }?;
        let dest = retrieve::dest_path(&dest_dir)?;
        let progress = progress::Progress::for_client(client.id());
        let fetched = http_fetch::fetch(
            client.config(),
            client.resolver(),
            &dcm_path,
            &dest,
            &progress,
        )?;
        give_manifest(slot, fetched, client.encoding())
    })
}

/// Progress of `miic_dicom_retrieve` / `miic_dicom_fetch_http`: `files_done` of `files_total`
/// (0 while not known yet) and `bytes_done` received so far. Called on the fetching thread or
/// on miic's worker threads, one call at a time, at most every 100 ms for byte progress.
pub type miic_progress_fn = Option<
    unsafe extern "C" fn(user: *mut c_void, files_done: u32, files_total: u32, bytes_done: i64),
>;

/// Report the progress of this client's fetches to `fn` (replacing any earlier callback; NULL
/// removes it), also of fetches already running. `user` is passed back unchanged. Replacing or
/// removing waits for a call of the old callback in progress: once this returns (or
/// `miic_close` returned), the old callback is not running and is never called again, so its
/// `user` may be freed. The callback must return quickly, must not call miic (calling this
/// function from inside it is `MIIC_E_STATE`), and must not wait for a thread that calls this
/// function. `MIIC_E_ARGUMENT` for a bad client handle.
#[no_mangle]
pub extern "C" fn miic_set_progress_callback(
    c: *mut miic_client,
    progress_fn: miic_progress_fn,
    user: *mut c_void,
) -> MiicStatus {
    guard_status(|| {
        let client = client_ref(c)?;
        let user = user as usize;
        let f: Option<progress::ProgressFn> = progress_fn.map(|f| {
            Box::new(move |done: u32, total: u32, bytes: u64| {
                unsafe {
                    f(
                        user as *mut c_void,
                        done,
                        total,
                        bytes.min(i64::MAX as u64) as i64,
                    )
                };
            }) as progress::ProgressFn
        });
        if !progress::set(client.id(), f) {
            return Err(Error::state(
                "miic_set_progress_callback was called from inside a miic callback, or the client is closing; nothing changed",
            ));
        }
        Ok(Status::Ok)
    })
}
