//! Whole real studies from real PACS, through the C exports: a generated realistic study
//! (CT in four syntaxes, JPEG-LS MR, JPEG baseline, RLE, multi-frame, SR of three kinds, dose
//! SR, GSPS, KO, PDF; Chinese names in UTF-8 and GB18030) from Orthanc and from dcmtk's
//! dcmqrscp, by C-GET and C-MOVE; a study needing more than 128 presentation contexts; and an
//! object the PACS cannot send.

mod support;

use miic::ffi::miic_dicom_retrieve;
use std::collections::HashSet;
use std::ffi::c_char;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use support::ffi::{cstr, last_error, take_string, ClientHandle};
use support::orthanc::{Orthanc, ORTHANC_AE};
use support::pacs::{Pacs, Scratch, LOCAL_AE, PACS_AE};
use support::study::{dcmqrscp_with, dcmtk_fetch, split_part10, Reference, Study, EXPLICIT_LE};

const MIIC_OK: i32 = 0;
const MIIC_E_DICOM: i32 = -10;

fn retrieve(config: &str, study: &str, dest: &Path) -> (i32, serde_json::Value) {
    let client = ClientHandle::open(config);
    let mut out: *mut c_char = std::ptr::null_mut();
    let status = unsafe {
        miic_dicom_retrieve(
            client.0,
            cstr(study).as_ptr(),
            cstr(dest.to_str().unwrap()).as_ptr(),
            &mut out,
        )
    };
    let manifest = take_string(out).expect("manifest");
    (status, serde_json::from_str(&manifest).unwrap())
}

/// Generated once per test binary (a few seconds of pydicom and dcmtk), under target/tmp.
fn study(kind: &'static str) -> &'static Study {
    static REALISTIC: OnceLock<Study> = OnceLock::new();
    static MANY: OnceLock<Study> = OnceLock::new();
    let (cell, n) = match kind {
        "realistic" => (&REALISTIC, 1),
        _ => (&MANY, 2),
    };
    cell.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("study-{kind}"));
        let _ = std::fs::remove_dir_all(&dir);
        let uid = format!("1.2.826.0.1.3680043.9.7433.2.{}.{n}", std::process::id());
        Study::generate(&dir, &uid, kind)
    })
}

fn orthanc_with(name: &str, study: &Study) -> Orthanc {
    let orthanc = Orthanc::start(name);
    for o in &study.objects {
        orthanc.upload(&study.dir.join(&o.file));
    }
    orthanc
}

/// Every object of `study` is in `dest` exactly once, as `<SOP Instance UID>.dcm`, and the
/// manifest says so, with each file's own transfer syntax.
fn assert_whole(study: &Study, dest: &Path, manifest: &serde_json::Value) {
    let files = manifest["files"].as_array().unwrap();
    assert_eq!(manifest["completed"], study.objects.len(), "{manifest:#}");
    assert_eq!(manifest["failed"], 0, "{manifest:#}");
    assert_eq!(files.len(), study.objects.len(), "{manifest:#}");
    let mut seen = HashSet::new();
    for file in files {
        let uid = file["sop_instance_uid"].as_str().unwrap();
        assert!(seen.insert(uid.to_owned()), "{uid} listed twice");
        let object = study
            .object(uid)
            .unwrap_or_else(|| panic!("unexpected {uid}"));
        assert_eq!(file["sop_class_uid"], object.sop_class_uid.as_str());
        let path = dest.join(file["path"].as_str().unwrap());
        let (ts, _) = split_part10(&path);
        assert_eq!(file["transfer_syntax"], ts.as_str(), "{uid}");
    }
    let on_disk = std::fs::read_dir(dest).unwrap().count();
    assert_eq!(on_disk, study.objects.len(), "files in {}", dest.display());
}

/// Each data set miic filed is byte-identical to the one dcmtk fetched of the same object in
/// the same transfer syntax from the same PACS. Returns the syntaxes seen, per object.
fn assert_as_dcmtk_fetched(
    study: &Study,
    dest: &Path,
    reference: &Reference,
    what: &str,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for object in &study.objects {
        let path = dest.join(format!("{}.dcm", object.sop_instance_uid));
        let (ts, data) = split_part10(&path);
        let expected = reference
            .get(&(object.sop_instance_uid.clone(), ts.clone()))
            .unwrap_or_else(|| {
                panic!(
                    "{what}: dcmtk fetched no {} ({}) in {ts}",
                    object.sop_instance_uid, object.kind
                )
            });
        assert!(
            *expected == data,
            "{what}: data set of {} ({}, {ts}) differs from dcmtk's",
            object.sop_instance_uid,
            object.kind
        );
        println!("{what}\t{}\t{ts}", object.kind);
        out.push((object.kind.clone(), ts));
    }
    out
}

#[test]
fn realistic_study_from_orthanc_arrives_whole_in_its_original_syntaxes_by_get_and_move() {
    let study = study("realistic");
    let orthanc = orthanc_with("realistic", study);
    let work = Scratch::new("orthanc-realistic-dcmtk");
    // getscu always gets explicit VR LE from Orthanc (Orthanc prefers it within getscu's
    // one context per class); movescu gets each object in its stored syntax.
    let reference = dcmtk_fetch(
        "movescu",
        work.path(),
        ORTHANC_AE,
        orthanc.dicom_port,
        orthanc.dcmtk_port,
        &study.uid,
    );
    for method in ["get", "move"] {
        let dest = Scratch::new(&format!("orthanc-realistic-{method}"));
        let (status, manifest) = retrieve(&orthanc.config(method, 10_000), &study.uid, dest.path());
        assert_eq!(status, MIIC_OK, "{method}: {} {manifest:#}", last_error());
        println!("orthanc {method}: {} ms", manifest["elapsed_ms"]);
        assert_whole(study, dest.path(), &manifest);
        let syntaxes =
            assert_as_dcmtk_fetched(study, dest.path(), &reference, &format!("orthanc {method}"));
        for (object, (kind, ts)) in study.objects.iter().zip(&syntaxes) {
            assert_eq!(
                *ts, object.transfer_syntax,
                "{method}: Orthanc sent {kind} {} in another syntax",
                object.sop_instance_uid
            );
        }
        assert_eq!(manifest["pacs"]["failed"], 0);
    }
}

#[test]
fn realistic_study_from_dcmqrscp_arrives_whole_by_get_and_move() {
    let study = study("realistic");
    let pacs = dcmqrscp_with("dq-realistic", study, true);
    let work = Scratch::new("dq-realistic-dcmtk");
    let reference = dcmtk_fetch(
        "getscu",
        work.path(),
        PACS_AE,
        pacs.port,
        pacs.move_port.wrapping_add(1),
        &study.uid,
    );
    for method in ["get", "move"] {
        let dest = Scratch::new(&format!("dq-realistic-{method}"));
        let (status, manifest) = retrieve(
            &pacs.config(method, LOCAL_AE, 10_000),
            &study.uid,
            dest.path(),
        );
        assert_eq!(status, MIIC_OK, "{method}: {} {manifest:#}", last_error());
        assert_whole(study, dest.path(), &manifest);
        let syntaxes = assert_as_dcmtk_fetched(
            study,
            dest.path(),
            &reference,
            &format!("dcmqrscp {method}"),
        );
        println!(
            "dcmqrscp {method}: {} ms, {} requests",
            manifest["elapsed_ms"],
            manifest["pacs"]["requests"].as_array().unwrap().len()
        );
        // dcmqrscp converts between uncompressed syntaxes itself and sends compressed objects
        // as stored.
        for (object, (kind, ts)) in study.objects.iter().zip(&syntaxes) {
            let expected = if support::study::DEFLATED == object.transfer_syntax
                || [support::study::IMPLICIT_LE, support::study::EXPLICIT_BE]
                    .contains(&object.transfer_syntax.as_str())
            {
                EXPLICIT_LE
            } else {
                object.transfer_syntax.as_str()
            };
            assert_eq!(ts, expected, "{method}: {kind}");
        }
    }
}

#[test]
fn study_needing_more_than_128_presentation_contexts_arrives_whole() {
    let study = study("many-classes");
    let orthanc = orthanc_with("many", study);
    let pacs = dcmqrscp_with("dq-many", study, false);
    for (name, config) in [
        ("orthanc", orthanc.config("get", 10_000)),
        ("orthanc", orthanc.config("move", 10_000)),
        ("dcmqrscp", pacs.config("get", LOCAL_AE, 10_000)),
        ("dcmqrscp", pacs.config("move", LOCAL_AE, 10_000)),
    ] {
        let dest = Scratch::new(&format!("many-{name}"));
        let (status, manifest) = retrieve(&config, &study.uid, dest.path());
        assert_eq!(status, MIIC_OK, "{name}: {} {manifest:#}", last_error());
        assert_whole(study, dest.path(), &manifest);
        if manifest["method"] == "c-get" {
            // 12 image classes × 13 syntaxes do not fit one association.
            let requests = manifest["pacs"]["requests"].as_array().unwrap();
            assert!(requests.len() >= 2, "{name}: {manifest:#}");
            assert!(requests.iter().all(|r| r["level"] != "study"), "{name}");
        }
    }
}

#[test]
fn object_the_pacs_cannot_send_is_named_in_the_manifest_and_the_rest_arrives() {
    let pacs = Pacs::start("lost", 4, 16);
    let lost = &pacs.originals[1];
    std::fs::remove_file(&lost.path).unwrap();
    for method in ["get", "move"] {
        let dest = Scratch::new(&format!("lost-{method}"));
        let (status, manifest) = retrieve(
            &pacs.config(method, LOCAL_AE, 5_000),
            &pacs.study_uid,
            dest.path(),
        );
        assert_eq!(status, MIIC_E_DICOM, "{method}: {manifest:#}");
        let message = last_error();
        assert!(
            message.contains("1 of 4 files failed"),
            "{method}: {message}"
        );
        assert_eq!(manifest["completed"], 3, "{manifest:#}");
        assert_eq!(manifest["failed"], 1, "{manifest:#}");
        assert_eq!(manifest["pacs"]["failed"], 1, "{manifest:#}");
        let failed: Vec<_> = manifest["files"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["status"] == "failed")
            .collect();
        assert_eq!(failed.len(), 1);
        assert_eq!(
            failed[0]["sop_instance_uid"],
            lost.sop_instance_uid.as_str()
        );
        assert!(
            failed[0]["error"]
                .as_str()
                .unwrap()
                .contains("PACS reported"),
            "{failed:?}"
        );
        assert!(message.contains("PACS reported"), "{message}");
        assert_eq!(std::fs::read_dir(dest.path()).unwrap().count(), 3);
        for o in pacs
            .originals
            .iter()
            .filter(|o| o.sop_instance_uid != lost.sop_instance_uid)
        {
            assert!(dest
                .path()
                .join(format!("{}.dcm", o.sop_instance_uid))
                .exists());
        }
    }
}

#[test]
fn object_orthanc_cannot_read_is_named_in_the_manifest_and_the_rest_arrives() {
    let study = study("realistic");
    let orthanc = orthanc_with("lost", study);
    let lost = study
        .objects
        .iter()
        .find(|o| o.kind == "Key Object Selection")
        .unwrap();
    orthanc.lose_file(&lost.sop_instance_uid);
    for method in ["get", "move"] {
        let dest = Scratch::new(&format!("orthanc-lost-{method}"));
        let (status, manifest) = retrieve(&orthanc.config(method, 10_000), &study.uid, dest.path());
        // Orthanc ends the whole C-GET/C-MOVE with 0xC000 at the unreadable object; miic asks
        // for the rest series by series, then that series object by object.
        assert_eq!(status, MIIC_E_DICOM, "{method}: {manifest:#}");
        let message = last_error();
        assert!(
            message.contains("1 of 38 files failed"),
            "{method}: {message}"
        );
        assert_eq!(manifest["completed"], 37, "{method}: {manifest:#}");
        assert_eq!(manifest["failed"], 1, "{method}: {manifest:#}");
        assert_eq!(manifest["pacs"]["failed"], 1, "{method}: {manifest:#}");
        let failed: Vec<_> = manifest["files"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["status"] == "failed")
            .collect();
        assert_eq!(
            failed[0]["sop_instance_uid"],
            lost.sop_instance_uid.as_str()
        );
        assert_eq!(failed[0]["sop_class_uid"], lost.sop_class_uid.as_str());
        let reason = failed[0]["error"].as_str().unwrap();
        assert!(reason.contains("0xC000"), "{reason}");
        for o in study
            .objects
            .iter()
            .filter(|o| o.sop_instance_uid != lost.sop_instance_uid)
        {
            assert!(
                dest.path()
                    .join(format!("{}.dcm", o.sop_instance_uid))
                    .exists(),
                "{method}: {} ({}) missing",
                o.sop_instance_uid,
                o.kind
            );
        }
        assert_eq!(std::fs::read_dir(dest.path()).unwrap().count(), 37);
    }
}
