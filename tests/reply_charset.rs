//! Replies as real servers send them (issue 17): every cloud call, through the C ABI, against the
//! simulator answering in GBK or GB18030 (named by `Content-Type` or not), or in UTF-8 after a
//! byte-order mark. The calls succeed with the cloud's Chinese text and data intact, the cloud's
//! error messages reach `miic_last_error()` readable (in GBK for a GBK host), and an unknown
//! charset is MIIC_E_PROTOCOL naming it.

mod common;
#[path = "support/ffi.rs"]
mod ffi;

use common::Sim;
use ffi::{cstr, last_error_bytes, take_string, ClientHandle, ParamsHandle};
use miic::ffi::{
    miic_delete_notify, miic_login, miic_logout, miic_outbox_flush, miic_patient_reminder,
    miic_patient_reminder_async, miic_qr_image, miic_qr_url, MIIC_E_PROTOCOL, MIIC_E_SERVER,
    MIIC_E_TIMEOUT, MIIC_OK, MIIC_QUEUED,
};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// A log line goes to every open client's log folder; these tests read theirs, so they take
/// turns.
static TURN: Mutex<()> = Mutex::new(());

fn my_turn() -> MutexGuard<'static, ()> {
    TURN.lock().unwrap_or_else(|e| e.into_inner())
}

const DOCTOR: &[(&str, &str)] = &[
    ("hisUserId", "1001"),
    ("doctorName", "张医生"),
    ("department", "放射科"),
    ("departmentCode", "FSK01"),
    ("doctorSex", "1"),
    ("doctorType", "1"),
    ("doctorCode", "D440100001"),
    ("doctorIdCardNo", "11010119800101123X"),
];
const PATIENT: &[(&str, &str)] = &[
    ("idCardNo", "440101199001011234"),
    ("patientName", "李小明"),
    ("mobilePhone", "15395092817"),
    ("patientType", "1"),
    ("accessNumber", "202305010001"),
];
const EXAM: &[(&str, &str)] = &[("accessNumber", "202305010001"), ("modality", "CT")];
const DELETION: &[(&str, &str)] = &[
    ("patientName", "李小明"),
    ("accessionNo", "202305010001"),
    ("operateDoctorName", "张医生"),
    ("operateDateTime", "2023-05-08 15:00:01"),
];

/// The message of the simulator's `code400` fault.
const REFUSAL: &str = "sim:模拟的业务错误";

fn utf8(text: &str) -> Vec<u8> {
    text.as_bytes().to_vec()
}

fn gbk(text: &str) -> Vec<u8> {
    encoding_rs::GBK.encode(text).0.into_owned()
}

/// What one client's calls returned.
struct Run {
    /// (call, status, `miic_last_error()` bytes right after it)
    calls: Vec<(&'static str, i32, Vec<u8>)>,
    url: Option<String>,
    png: Option<Vec<u8>>,
    /// The client's debug log.
    log: String,
}

impl Run {
    fn error(&self, call: &str) -> &[u8] {
        &self.find(call).2
    }

    fn find(&self, call: &str) -> &(&'static str, i32, Vec<u8>) {
        self.calls
            .iter()
            .find(|c| c.0 == call)
            .unwrap_or_else(|| panic!("{call} was not made"))
    }

    fn assert_all(&self, want: impl Fn(&str) -> i32) {
        for (call, status, error) in &self.calls {
            assert_eq!(
                *status,
                want(call),
                "{call}: {}\n{}",
                String::from_utf8_lossy(error),
                self.log
            );
        }
    }
}

/// Every cloud call, made by a new client of `sim` that writes a debug log, takes the QR picture
/// from `qrcode`, and passes its text as `encode` makes it (`extra` adds config keys).
fn every_call(sim: &Sim, tag: &str, extra: &str, encode: fn(&str) -> Vec<u8>) -> Run {
    let dir = tempdir(tag);
    let config = sim.config_with_timeout(
        5000,
        &format!(
            r#""log":{{"dir":{},"level":"debug"}},"qr":{{"source":"qrcode"}}{extra}"#,
            json!(dir)
        ),
    );
    let client = ClientHandle::open(&config);
    let c = client.0;
    let params = |pairs: &[(&str, &str)]| ParamsHandle::encoded(pairs, encode);
    let (doctor, patient, exam, deletion) = (
        params(DOCTOR),
        params(PATIENT),
        params(EXAM),
        params(DELETION),
    );
    let mut calls = Vec::new();
    let mut made = |call, status| calls.push((call, status, last_error_bytes()));

    made("miic_login", miic_login(c, doctor.0));
    made("miic_patient_reminder", miic_patient_reminder(c, patient.0));
    let mut url = std::ptr::null_mut();
    made("miic_qr_url", unsafe { miic_qr_url(c, exam.0, &mut url) });
    let url = take_string(url);
    let png_path = dir.join("qr.png");
    let path = cstr(png_path.to_str().unwrap());
    made("miic_qr_image", unsafe {
        miic_qr_image(c, exam.0, path.as_ptr())
    });
    made("miic_delete_notify", miic_delete_notify(c, deletion.0));
    made("miic_outbox_flush", miic_outbox_flush(c, 300));
    // The async reminder's outcome is only in the log: wait (bounded) for its line.
    let outcomes =
        |log: &str| log.matches("reminder sent").count() + log.matches("reminder failed").count();
    let before = outcomes(&read_log(&dir));
    made(
        "miic_patient_reminder_async",
        miic_patient_reminder_async(c, patient.0),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while outcomes(&read_log(&dir)) == before && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    made("miic_logout", miic_logout(c));
    drop(client);
    let run = Run {
        calls,
        url,
        png: std::fs::read(&png_path).ok(),
        log: read_log(&dir),
    };
    let _ = std::fs::remove_dir_all(&dir);
    run
}

/// The async reminder's outcome: the last reminder line (it is the last reminder sent).
fn async_outcome(log: &str) -> &str {
    log.lines()
        .rfind(|l| l.contains("reminder sent") || l.contains("reminder failed"))
        .unwrap_or_else(|| panic!("no line of the async reminder's outcome:\n{log}"))
}

fn read_log(dir: &Path) -> String {
    let mut text = String::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "log"))
            .collect();
        files.sort();
        for f in files {
            text.push_str(&std::fs::read_to_string(f).unwrap_or_default());
        }
    }
    text
}

fn tempdir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("miic-charset-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The envelope every call read, with its message, as the client's debug log says it read it
/// (`how` names the charset as the log describes it, given the reply's message).
fn assert_replies_read(run: &Run, how: impl Fn(&str) -> String) {
    for (what, message) in [
        ("login", "请求成功"),
        ("patient reminder", ""),
        ("qrurl", "请求成功"),
        ("qrcode", "请求成功"),
        ("delete notification", "请求成功"),
        ("logout", "请求成功"),
    ] {
        let line = format!("{what}: code 200, message '{message}', in {}", how(message));
        assert!(run.log.contains(&line), "no line '{line}' in:\n{}", run.log);
    }
    assert!(
        async_outcome(&run.log).contains("reminder sent"),
        "{}",
        run.log
    );
}

/// Every call of a baseline client (UTF-8 replies) and of a client whose replies come as `mode`
/// says: all MIIC_OK, the same film URL and the same PNG, each reply read as `how` describes.
fn every_call_succeeds_in(mode: Value, how: impl Fn(&str) -> String) {
    let _turn = my_turn();
    let sim = Sim::start(&[]);
    let baseline = every_call(&sim, "baseline", "", utf8);
    baseline.assert_all(|_| MIIC_OK);
    let answered_before = sim.requests().len();

    sim.encoding(mode.clone());
    let run = every_call(&sim, "mode", "", utf8);
    run.assert_all(|_| MIIC_OK);
    assert_replies_read(&run, how);
    assert!(
        run.url.as_deref().is_some_and(|u| u.starts_with("http://")),
        "{:?}",
        run.url
    );
    assert_eq!(run.url, baseline.url, "the film URL arrived intact");
    assert!(run.png.is_some(), "qr image written");
    assert_eq!(run.png, baseline.png, "the cloud's picture arrived intact");

    // The simulator did answer every call that way.
    let records = sim.requests();
    let answered = &records[answered_before..];
    assert_eq!(answered.len(), 7, "{answered:#?}");
    let want = json!({
        "encoding": mode["encoding"].as_str().unwrap_or("utf-8").to_uppercase(),
        "bom": mode["bom"].as_bool().unwrap_or(false),
    });
    for r in answered {
        assert_eq!(r["reply_encoding"]["encoding"], want["encoding"], "{r:#}");
        assert_eq!(r["reply_encoding"]["bom"], want["bom"], "{r:#}");
        assert_eq!(r["problems"], json!([]), "{r:#}");
    }
}

#[test]
fn every_call_reads_gbk_replies_named_by_their_charset() {
    every_call_succeeds_in(json!({"encoding": "gbk"}), |_| "GBK (charset=GBK)".into());
}

#[test]
fn every_call_reads_gb18030_replies_named_by_their_charset() {
    every_call_succeeds_in(json!({"encoding": "gb18030"}), |_| {
        "GB18030 (charset=GB18030)".into()
    });
}

#[test]
fn every_call_reads_utf8_replies_after_a_byte_order_mark() {
    every_call_succeeds_in(json!({"encoding": "utf-8", "bom": true}), |_| {
        "UTF-8 (charset=UTF-8, after a byte-order mark)".into()
    });
}

#[test]
fn every_call_reads_gbk_replies_without_a_charset_as_gb18030_and_says_so() {
    let how = |message: &str| {
        if message.is_ascii() {
            "UTF-8 (no charset)".to_owned()
        } else {
            "GB18030 (no charset, not UTF-8)".to_owned()
        }
    };
    every_call_succeeds_in(json!({"encoding": "gbk", "charset": null}), how);
}

#[test]
fn every_call_reads_gbk_replies_after_a_stray_utf8_byte_order_mark() {
    let how = |message: &str| {
        // Bytes after the mark that are UTF-8 (ASCII) are read as UTF-8, as the mark says.
        let charset = if message.is_ascii() { "UTF-8" } else { "GBK" };
        format!("{charset} (charset=GBK, after a byte-order mark)")
    };
    every_call_succeeds_in(json!({"encoding": "gbk", "bom": true}), how);
}

#[test]
fn gbk_reply_without_a_charset_is_logged_as_read_in_gb18030() {
    let _turn = my_turn();
    let sim = Sim::start(&["--reply-encoding", "gbk", "--reply-charset", "none"]);
    let run = every_call(&sim, "fallback", "", utf8);
    run.assert_all(|_| MIIC_OK);
    let said = run
        .log
        .lines()
        .find(|l| l.contains("qrurl: reply names no charset and is not UTF-8"))
        .unwrap_or_else(|| panic!("no fallback line:\n{}", run.log));
    assert!(
        said.contains(" DEBUG ") && said.ends_with("read as GB18030"),
        "{said}"
    );
}

/// Under the `code400` fault each call fails with MIIC_E_SERVER whose message is `refusal` as the
/// host's encoding writes it (the delete is rejected, so the outbox is empty at once).
fn refusals_arrive_readable(run: &Run, refusal: &[u8]) {
    run.assert_all(|call| match call {
        "miic_outbox_flush" | "miic_patient_reminder_async" => MIIC_OK,
        _ => MIIC_E_SERVER,
    });
    for (call, _, error) in &run.calls {
        if !["miic_outbox_flush", "miic_patient_reminder_async"].contains(call) {
            assert!(
                error.windows(refusal.len()).any(|w| w == refusal),
                "{call}: {:?}",
                String::from_utf8_lossy(error)
            );
        }
    }
    let outcome = async_outcome(&run.log);
    assert!(
        outcome.contains("reminder failed") && outcome.contains(REFUSAL),
        "{outcome}"
    );
}

#[test]
fn chinese_error_messages_of_gbk_replies_arrive_readable_in_last_error() {
    let _turn = my_turn();
    for mode in [
        json!({"encoding": "gbk"}),
        json!({"encoding": "gb18030", "charset": null}),
        json!({"encoding": "utf-8", "bom": true}),
    ] {
        let sim = Sim::start(&[]);
        sim.encoding(mode.clone());
        sim.fault(json!({"mode": "code400"}));
        let run = every_call(&sim, "refused", "", utf8);
        refusals_arrive_readable(&run, REFUSAL.as_bytes());
        assert!(
            std::str::from_utf8(run.error("miic_qr_url")).is_ok(),
            "{mode}: a UTF-8 host's text is UTF-8"
        );
    }
}

#[test]
fn gbk_client_reads_gbk_replies_and_receives_their_error_messages_in_gbk() {
    let _turn = my_turn();
    let sim = Sim::start(&["--reply-encoding", "gbk"]);
    let gbk_host = r#","text_encoding":"gbk""#;
    let run = every_call(&sim, "gbk-host", gbk_host, gbk);
    run.assert_all(|_| MIIC_OK);
    assert_replies_read(&run, |_| "GBK (charset=GBK)".into());

    sim.fault(json!({"mode": "code400"}));
    let run = every_call(&sim, "gbk-host-refused", gbk_host, gbk);
    refusals_arrive_readable(&run, &gbk(REFUSAL));
    let (text, _, malformed) = encoding_rs::GBK.decode(run.error("miic_login"));
    assert!(!malformed && text.contains("code 400"), "{text}");
}

#[test]
fn unknown_reply_charset_is_a_protocol_error_naming_it() {
    let _turn = my_turn();
    let sim = Sim::start(&[]);
    sim.encoding(json!({"encoding": "utf-8", "charset": "x-klingon"}));
    let run = every_call(&sim, "unknown", "", utf8);
    run.assert_all(|call| match call {
        // Stored first, so queued for the retry worker; the flush says why it stays.
        "miic_delete_notify" => MIIC_QUEUED,
        "miic_outbox_flush" => MIIC_E_TIMEOUT,
        "miic_patient_reminder_async" => MIIC_OK,
        _ => MIIC_E_PROTOCOL,
    });
    for call in [
        "miic_login",
        "miic_patient_reminder",
        "miic_qr_url",
        "miic_qr_image",
        "miic_logout",
    ] {
        let error = String::from_utf8_lossy(run.error(call)).into_owned();
        assert!(
            error.contains("reply charset 'x-klingon' is unknown"),
            "{call}: {error}"
        );
    }
    assert!(
        async_outcome(&run.log).contains("'x-klingon'"),
        "{}",
        run.log
    );
    assert!(
        run.log
            .contains("delete notification: reply charset 'x-klingon' is unknown"),
        "the outbox keeps the reason:\n{}",
        run.log
    );
    assert!(run.url.is_none() && run.png.is_none());
}
