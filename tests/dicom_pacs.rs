//! DICOM against a real PACS (dcmtk's dcmqrscp on loopback), through the C exports:
//! C-ECHO, C-FIND, retrieval by C-GET and C-MOVE, and the failure cases a hospital meets.

mod common;
mod support;

use miic::ffi::{
    miic_dicom_echo, miic_dicom_find, miic_dicom_retrieve, miic_set_progress_callback,
};
use std::ffi::{c_char, c_void};
use std::path::Path;
use std::time::{Duration, Instant};
use support::ffi::{cstr, last_error, take_string, ClientHandle};
use support::pacs::{patient_name_of, read_pixels, Pacs, Scratch, LOCAL_AE, PATIENT_NAME};

const MIIC_OK: i32 = 0;
const MIIC_E_NETWORK: i32 = -5;
const MIIC_E_TIMEOUT: i32 = -6;
const MIIC_E_DICOM: i32 = -10;

fn retrieve(client: &ClientHandle, study: &str, dest: &Path) -> (i32, Option<serde_json::Value>) {
    let mut out: *mut c_char = std::ptr::null_mut();
    let status = unsafe {
        miic_dicom_retrieve(
            client.0,
            cstr(study).as_ptr(),
            cstr(dest.to_str().unwrap()).as_ptr(),
            &mut out,
        )
    };
    (
        status,
        take_string(out).map(|s| serde_json::from_str(&s).unwrap()),
    )
}

/// Every file in `dest` is one of the originals, byte-identical in its pixels.
fn assert_matches_originals(pacs: &Pacs, dest: &Path, expected: usize) {
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(dest).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(!name.starts_with('.'), "temporary file left behind: {name}");
        let (uid, pixels) = read_pixels(&path);
        assert_eq!(name, format!("{uid}.dcm"));
        let original = pacs
            .originals
            .iter()
            .find(|o| o.sop_instance_uid == uid)
            .unwrap_or_else(|| panic!("unexpected instance {uid}"));
        assert!(pixels == original.pixels, "pixel data of {uid} differs");
        assert_eq!(patient_name_of(&path), PATIENT_NAME);
        seen.push(uid);
    }
    assert_eq!(seen.len(), expected, "files in {}", dest.display());
}

#[test]
fn echo_succeeds_against_dcmqrscp() {
    let pacs = Pacs::start("echo", 1, 8);
    let client = ClientHandle::open(&pacs.config("get", LOCAL_AE, 3000));
    assert_eq!(miic_dicom_echo(client.0), MIIC_OK, "{}", last_error());
}

#[test]
fn echo_with_unknown_calling_ae_is_rejected_with_reason() {
    let pacs = Pacs::start("badae", 1, 8);
    let client = ClientHandle::open(&pacs.config("get", "INTRUDER", 3000));
    assert_eq!(miic_dicom_echo(client.0), MIIC_E_DICOM);
    let message = last_error();
    assert!(message.contains("rejected the association"), "{message}");
    assert!(message.contains("local_ae"), "{message}");
}

#[test]
fn echo_to_closed_port_is_network_error() {
    let port = support::pacs::free_port();
    let config = serde_json::json!({
        "base_url": "http://127.0.0.1:9", "hospital_id": "H1", "timeout_ms": 2000,
        "outbox": {"path": common::fresh_outbox_path()},
        "dicom": {"local_ae": "MIIC", "peer_ae": "PACS", "host": "127.0.0.1", "port": port}
    });
    let client = ClientHandle::open(&config.to_string());
    assert_eq!(
        miic_dicom_echo(client.0),
        MIIC_E_NETWORK,
        "{}",
        last_error()
    );
    assert!(last_error().contains(&port.to_string()), "{}", last_error());
}

#[test]
fn dicom_calls_without_dicom_config_name_the_missing_key() {
    let config = serde_json::json!({
        "base_url": "http://127.0.0.1:9", "hospital_id": "H1",
        "outbox": {"path": common::fresh_outbox_path()},
    });
    let client = ClientHandle::open(&config.to_string());
    assert_eq!(miic_dicom_echo(client.0), -3);
    assert!(last_error().contains("dicom.local_ae"), "{}", last_error());
}

#[test]
fn find_reports_the_study_with_its_gb18030_patient_name() {
    let pacs = Pacs::start("find", 3, 8);
    let client = ClientHandle::open(&pacs.config("get", LOCAL_AE, 3000));
    let mut out: *mut c_char = std::ptr::null_mut();
    let status = unsafe { miic_dicom_find(client.0, cstr(&pacs.study_uid).as_ptr(), &mut out) };
    assert_eq!(status, MIIC_OK, "{}", last_error());
    let matches: serde_json::Value = serde_json::from_str(&take_string(out).unwrap()).unwrap();
    let matches = matches.as_array().unwrap();
    assert_eq!(matches.len(), 1, "{matches:?}");
    assert_eq!(matches[0]["study_instance_uid"], pacs.study_uid.as_str());
    assert_eq!(matches[0]["patient_id"], "P0001");
    assert_eq!(matches[0]["patient_name"], PATIENT_NAME);
}

struct ProgressLog {
    calls: Vec<(u32, u32, i64)>,
    /// Signal sent to `pid` (negative: a process group) when `files_done` reaches `at`.
    trigger: Option<(u32, i32, i32)>,
}

unsafe extern "C" fn on_progress(user: *mut c_void, done: u32, total: u32, bytes: i64) {
    let log = unsafe { &mut *(user as *mut ProgressLog) };
    log.calls.push((done, total, bytes));
    if let Some((at, pid, sig)) = log.trigger {
        if done >= at {
            unsafe { libc::kill(pid, sig) };
            log.trigger = None;
        }
    }
}

fn retrieve_whole_study(method: &str) {
    let pacs = Pacs::start(method, 6, 64);
    let dest = Scratch::new(&format!("{method}-dest"));
    let client = ClientHandle::open(&pacs.config(method, LOCAL_AE, 3000));
    let mut log = ProgressLog {
        calls: Vec::new(),
        trigger: None,
    };
    assert_eq!(
        miic_set_progress_callback(
            client.0,
            Some(on_progress),
            &mut log as *mut ProgressLog as *mut c_void
        ),
        MIIC_OK
    );
    let (status, manifest) = retrieve(&client, &pacs.study_uid, dest.path());
    let manifest = manifest.expect("manifest");
    assert_eq!(status, MIIC_OK, "{} {manifest:#}", last_error());
    assert_eq!(manifest["method"], format!("c-{method}"));
    assert_eq!(manifest["completed"], 6);
    assert_eq!(manifest["failed"], 0);
    assert_eq!(manifest["study_uid_mismatch"], false);
    for file in manifest["files"].as_array().unwrap() {
        assert_eq!(file["modality"], "CT");
        assert_eq!(file["study_instance_uid"], pacs.study_uid.as_str());
        assert_eq!(file["sop_class_uid"], support::pacs::CT_IMAGE_STORAGE);
        assert!(file["size"].as_u64().unwrap() > 64 * 64 * 2);
    }
    assert_matches_originals(&pacs, dest.path(), 6);
    let last = log.calls.last().copied().expect("progress reported");
    assert_eq!(last.0, 6, "{:?}", log.calls);
    assert!(last.2 >= 6 * 64 * 64 * 2, "{:?}", log.calls);
}

#[test]
fn retrieve_by_get_lands_every_instance_with_matching_pixels() {
    retrieve_whole_study("get");
}

#[test]
fn retrieve_by_move_lands_every_instance_with_matching_pixels() {
    retrieve_whole_study("move");
}

#[test]
fn retrieve_of_unknown_study_returns_zero_files_and_dicom_error() {
    let pacs = Pacs::start("unknown", 2, 8);
    let dest = Scratch::new("unknown-dest");
    let client = ClientHandle::open(&pacs.config("get", LOCAL_AE, 3000));
    let (status, manifest) = retrieve(&client, "1.2.3.4.5.6.7.8.9", dest.path());
    assert_eq!(status, MIIC_E_DICOM);
    assert!(last_error().contains("not on"), "{}", last_error());
    let manifest = manifest.expect("manifest even on failure");
    assert_eq!(manifest["completed"], 0);
    assert_eq!(manifest["files"].as_array().unwrap().len(), 0);
    assert_eq!(std::fs::read_dir(dest.path()).unwrap().count(), 0);
}

#[test]
fn retrieve_rejects_a_study_uid_that_is_not_a_uid() {
    let pacs = Pacs::start("baduid", 1, 8);
    let dest = Scratch::new("baduid-dest");
    let client = ClientHandle::open(&pacs.config("get", LOCAL_AE, 3000));
    let (status, manifest) = retrieve(&client, "../../etc", dest.path());
    assert_eq!(status, -1);
    assert!(manifest.is_none());
    assert!(last_error().contains("study_uid"), "{}", last_error());
}

/// Kill or freeze the PACS after two files, then check what miic left on disk.
fn interrupted(name: &str, signal: i32, expected: i32) -> Duration {
    let pacs = Pacs::start(name, 12, 256);
    let dest = Scratch::new(&format!("{name}-dest"));
    let client = ClientHandle::open(&pacs.config("get", LOCAL_AE, 1500));
    let mut log = ProgressLog {
        calls: Vec::new(),
        // The whole process group: the forked child serving the transfer too.
        trigger: Some((2, -pacs.pid(), signal)),
    };
    miic_set_progress_callback(
        client.0,
        Some(on_progress),
        &mut log as *mut ProgressLog as *mut c_void,
    );
    let started = Instant::now();
    let (status, manifest) = retrieve(&client, &pacs.study_uid, dest.path());
    let elapsed = started.elapsed();
    assert_eq!(status, expected, "{}", last_error());
    let manifest = manifest.expect("manifest of what landed");
    assert!(manifest["error"].is_string(), "{manifest:#}");
    let landed = manifest["completed"].as_u64().unwrap() as usize;
    assert!((2..12).contains(&landed), "{manifest:#}");
    // Whatever is on disk under a final name is whole; nothing half-written remains.
    assert_matches_originals(&pacs, dest.path(), landed);
    elapsed
}

#[test]
fn pacs_killed_mid_transfer_leaves_no_partial_file() {
    interrupted("killed", libc::SIGKILL, MIIC_E_NETWORK);
}

#[test]
fn hung_pacs_times_out_after_timeout_ms_of_silence_not_a_hang() {
    let elapsed = interrupted("hung", libc::SIGSTOP, MIIC_E_TIMEOUT);
    // The PACS stops mid-transfer: at least timeout_ms (1,500) passes before the verdict. The
    // upper bound is what a user would call a hang, with room for a loaded machine.
    assert!(elapsed >= Duration::from_millis(1500), "took {elapsed:?}");
    assert!(
        elapsed < Duration::from_millis(1500 + 1500),
        "took {elapsed:?}"
    );
}

#[test]
fn retrieve_with_smallest_max_pdu_reassembles_fragments() {
    // 256 × 256 16-bit pixels: 128 KiB objects, larger than the default max_pdu (64 KiB) too.
    let pacs = Pacs::start_debug_logged("smallpdu", 3, 256);
    for o in &pacs.originals {
        let size = std::fs::metadata(&o.path).unwrap().len();
        assert!(
            size > 2 * 65_536,
            "{} is only {size} bytes",
            o.path.display()
        );
    }
    let dest = Scratch::new("smallpdu-dest");
    let mut config: serde_json::Value =
        serde_json::from_str(&pacs.config("get", LOCAL_AE, 3000)).unwrap();
    config["dicom"]["max_pdu"] = 4096.into();
    let client = ClientHandle::open(&config.to_string());
    let (status, manifest) = retrieve(&client, &pacs.study_uid, dest.path());
    assert_eq!(status, MIIC_OK, "{} {manifest:?}", last_error());
    // The PACS was told 4,096 (so each object came in 30+ P-DATA fragments) and never anything
    // larger: max_pdu reached the association request. dcmqrscp logs it at negotiation.
    let log = pacs.debug_log();
    let seen: Vec<&str> = log
        .lines()
        .filter_map(|l| l.split("Their Max PDU Receive Size:").nth(1))
        .map(str::trim)
        .filter(|s| *s != "0") // its dump of the parameters before it parses the request
        .collect();
    assert!(
        !seen.is_empty() && seen.iter().all(|s| *s == "4096"),
        "max PDU sizes dcmqrscp saw: {seen:?} ({} bytes of log)",
        log.len()
    );
    assert_matches_originals(&pacs, dest.path(), 3);
}

#[test]
fn echo_to_hung_pacs_times_out_after_timeout_ms_not_a_hang() {
    let pacs = Pacs::start("echohung", 1, 8);
    let client = ClientHandle::open(&pacs.config("get", LOCAL_AE, 1000));
    pacs.signal(libc::SIGSTOP);
    let started = Instant::now();
    let status = miic_dicom_echo(client.0);
    let elapsed = started.elapsed();
    assert_eq!(status, MIIC_E_TIMEOUT, "{}", last_error());
    assert!(
        last_error().contains("timeout_ms = 1000"),
        "{}",
        last_error()
    );
    // Not before timeout_ms (1,000) of silence; the upper bound is a hang's, not a tight one.
    assert!(elapsed >= Duration::from_millis(1000), "took {elapsed:?}");
    assert!(
        elapsed < Duration::from_millis(1000 + 1000),
        "took {elapsed:?}"
    );
}

/// The host removes its callbacks (and then closes the client) while a retrieve, a C-ECHO loop
/// and the outbox worker call them: once the removal returned, no call is running or starts
/// (a C# host frees the delegate then). Counted from C, by tests/c/host_test.c.
#[test]
fn callbacks_are_never_called_after_their_removal_returned() {
    let pacs = Pacs::start("callbacks", 30, 64);
    let dest = Scratch::new("callbacks-dest");
    let mut config: serde_json::Value =
        serde_json::from_str(&pacs.config("get", LOCAL_AE, 5000)).unwrap();
    config["outbox"] = serde_json::json!({"path": dest.path().join("outbox.sqlite")});
    let host = common::c_program("host_test", "tests/c/host_test.c", &["-lpthread"], true);
    let out = common::run_c(
        &host,
        &["callbacks", &pacs.study_uid, dest.path().to_str().unwrap()],
        &[("MIIC_TEST_CONFIG", config.to_string())],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let value = |key: &str| -> i64 {
        stdout
            .split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{key}=")))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {key} in {stdout}"))
    };
    assert!(stdout.contains("delete=MIIC_QUEUED"), "{stdout}");
    assert!(stdout.contains("retrieve=MIIC_OK"), "{stdout}");
    assert!(
        value("progress_calls") > 0 && value("log_calls") > 0,
        "{stdout}"
    );
    assert_eq!(value("progress_late"), 0, "{stdout}");
    assert_eq!(value("log_late"), 0, "{stdout}");
    assert!(value("close_calls") > 0, "{stdout}");
    assert_eq!(value("close_late"), 0, "{stdout}");
}

/// An accept error of the C-MOVE receiver (here EMFILE: the host ran out of descriptors just
/// as the PACS connected) is passing trouble: once descriptors are free the PACS is accepted
/// and the retrieve completes. Run from C (tests/c/accept_error_host.c), in its own process:
/// the descriptor table is per process.
#[test]
fn an_accept_error_during_a_move_is_passing_trouble() {
    let pacs = Pacs::start("accept-error", 3, 64);
    let dest = Scratch::new("accept-error-dest");
    let host = common::c_program(
        "accept_error_host",
        "tests/c/accept_error_host.c",
        &[],
        true,
    );
    let out = common::run_c(
        &host,
        &[&pacs.study_uid, dest.path().to_str().unwrap()],
        &[("MIIC_TEST_CONFIG", pacs.config("move", LOCAL_AE, 5000))],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let value = |key: &str| -> String {
        stdout
            .split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("no {key} in {stdout}"))
            .to_owned()
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(value("filled"), "0", "{stdout}{stderr}");
    assert_ne!(
        value("accept_errors"),
        "0",
        "the accept never failed: {stdout}"
    );
    assert_eq!(value("retrieve"), "MIIC_OK", "{stdout}");
    assert_eq!(value("completed"), "3", "{stdout}");
}
