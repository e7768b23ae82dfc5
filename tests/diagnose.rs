//! The diagnosis (`miic_diagnose`, `miic-cli doctor`) against real peers: the cloud simulator
//! and dcmqrscp. A healthy set-up gives every check ok; each fault in turn makes exactly its
//! check fail, with its fix sentence in Chinese and English, within the time bound, and
//! `miic-cli doctor` exits non-zero. Every scenario runs through the C ABI (tests/c/abi_test.c,
//! case `diagnose`) and through the CLI.

mod common;
mod support;

use common::{c_program, cli_binary, closed_port, fresh_outbox_path, run_c, Sim};
use serde_json::{json, Value};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use support::pacs::{free_port, Pacs, Scratch, LOCAL_AE, PACS_AE};

const TIMEOUT_MS: u64 = 1500;
/// The documented bound (2 × timeout_ms), plus starting a process on a loaded machine.
const BOUND: Duration = Duration::from_millis(2 * TIMEOUT_MS + 2500);

const ALL: [&str; 10] = [
    "library",
    "config",
    "front_end",
    "clock",
    "sm2",
    "outbox",
    "log",
    "dicom_echo",
    "dicom_move_port",
    "dicom_http",
];

/// A healthy set-up: the simulator, a PACS (one process per association), a fresh outbox and
/// log folder, a free move port. Each scenario spoils one part of it.
struct SetUp {
    sim: Sim,
    /// Kept running for the scenario; killed on drop.
    pacs: Pacs,
    scratch: Scratch,
    config: Value,
}

impl SetUp {
    fn new(name: &str, sim_args: &[&str]) -> SetUp {
        let sim = Sim::start(sim_args);
        let pacs = Pacs::start_with(&format!("diag-{name}"), 1, 8, &[], true);
        let scratch = Scratch::new(&format!("diagnose-{name}"));
        let config = json!({
            "base_url": sim.url,
            "hospital_id": "H4401",
            "timeout_ms": TIMEOUT_MS,
            "sm2": {"public_key": sim.public_key},
            "outbox": {"path": fresh_outbox_path()},
            "log": {"dir": scratch.path().join("log")},
            "dicom": {
                "local_ae": LOCAL_AE, "peer_ae": PACS_AE, "host": "127.0.0.1",
                "port": pacs.port, "retrieve": "move", "move_port": free_port(),
            },
            "dicom_http": {"base_url": sim.url},
        });
        SetUp {
            sim,
            pacs,
            scratch,
            config,
        }
    }

    fn set(&mut self, section: Option<&str>, key: &str, value: Value) {
        let target = match section {
            Some(s) => &mut self.config[s],
            None => &mut self.config,
        };
        target[key] = value;
    }

    /// A regular file in the scratch folder: no folder can be made under it, even by root.
    fn plain_file(&self) -> PathBuf {
        let file = self.scratch.path().join("a-file");
        std::fs::write(&file, "not a folder").unwrap();
        file
    }

    fn outbox_path(&self) -> PathBuf {
        PathBuf::from(self.config["outbox"]["path"].as_str().unwrap())
    }
}

/// One diagnosis through the C ABI: the report and how long the call took.
fn through_c_abi(config: &str) -> (Value, Duration) {
    let exe = c_program("abi_test", "tests/c/abi_test.c", &["-lpthread"], true);
    let started = Instant::now();
    let out = run_c(
        &exe,
        &["diagnose"],
        &[("MIIC_TEST_CONFIG", config.to_owned())],
    );
    let took = started.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "C case diagnose failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("REPORT "))
        .unwrap_or_else(|| panic!("no report printed:\n{stdout}"));
    (serde_json::from_str(line).expect("report JSON"), took)
}

/// `miic-cli doctor`: its exit code, stdout, and the time it took.
fn through_cli(config: &str, args: &[&str], env: &[(&str, &str)]) -> (i32, String, Duration) {
    let started = Instant::now();
    let out = Command::new(cli_binary())
        .args(["doctor", "--config", config])
        .args(args)
        .env_remove("LANGUAGE")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .envs(env.iter().copied())
        .output()
        .expect("run miic-cli doctor");
    let took = started.elapsed();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        took,
    )
}

fn check<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id} in {report:#}"))
}

/// Exactly `failed` failed (each with both fix sentences), `skipped` were skipped, and every
/// other check is ok; the report came within the bound and holds no secret.
fn assert_only(
    report: &Value,
    took: Duration,
    failed: &[&str],
    skipped: &[&str],
    secrets: &[&str],
) {
    let ids: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ALL, "checks and their order");
    for id in ALL {
        let c = check(report, id);
        let expected = if failed.contains(&id) {
            "failed"
        } else if skipped.contains(&id) {
            "skipped"
        } else {
            "ok"
        };
        assert_eq!(c["result"], expected, "{id}: {c:#}");
        if expected == "failed" {
            for lang in ["zh", "en"] {
                let fix = c["fix"][lang].as_str().unwrap_or("");
                assert!(fix.len() > 20, "{id}: no {lang} fix sentence: {c:#}");
            }
        } else if expected == "ok" {
            assert!(c["fix"].is_null(), "{id}: {c:#}");
        }
    }
    let expected = if failed.is_empty() { "ok" } else { "failed" };
    assert_eq!(report["result"], expected);
    assert!(took <= BOUND, "took {took:?}, bound {BOUND:?}");
    let elapsed = Duration::from_millis(report["elapsed_ms"].as_u64().unwrap());
    assert!(
        elapsed <= Duration::from_millis(2 * TIMEOUT_MS + 500),
        "the report says {elapsed:?}"
    );
    let text = report.to_string();
    for secret in secrets {
        assert!(!text.contains(secret), "the report holds {secret}: {text}");
    }
}

/// The scenario through the C ABI and the CLI (JSON and Chinese text): `failed` fail, with
/// the CLI exiting 1 (0 when nothing failed) and printing the fix sentences.
fn diagnose(setup: &SetUp, config: &str, failed: &[&str], skipped: &[&str]) -> Value {
    let secrets = [setup.sim.public_key.as_str(), &setup.sim.public_key[2..66]];
    let (report, took) = through_c_abi(config);
    println!(
        "C ABI: {} in {} ms (wall {took:?})",
        report["result"], report["elapsed_ms"]
    );
    assert_only(&report, took, failed, skipped, &secrets);

    let (code, stdout, took) = through_cli(config, &["--json"], &[]);
    let cli_report: Value = serde_json::from_str(stdout.trim()).expect("doctor --json");
    println!("CLI: exit {code} in {took:?}");
    assert_only(&cli_report, took, failed, skipped, &secrets);
    assert_eq!(code, if failed.is_empty() { 0 } else { 1 }, "{stdout}");

    let (code, text, _) = through_cli(config, &["--lang", "zh"], &[]);
    assert_eq!(code, if failed.is_empty() { 0 } else { 1 }, "{text}");
    for id in failed {
        let fix = check(&report, id)["fix"]["zh"].as_str().unwrap().to_owned();
        assert!(
            text.contains(&format!("修复: {fix}")),
            "{id}'s fix not printed:\n{text}"
        );
        let failed_line = text
            .lines()
            .find(|l| l.contains(&format!("] {id} ")))
            .unwrap_or_else(|| panic!("no line for {id}:\n{text}"));
        assert!(failed_line.starts_with("[ 失败 ]"), "{failed_line}");
    }
    assert!(
        text.contains(&format!("结果：{} 项失败", failed.len())),
        "{text}"
    );
    report
}

#[test]
fn a_healthy_set_up_gives_every_check_ok_in_both_languages() {
    let setup = SetUp::new("healthy", &[]);
    let config = setup.config.to_string();
    let report = diagnose(&setup, &config, &[], &[]);
    println!("{report:#}");
    assert_eq!(check(&report, "front_end")["measured"]["cloud_code"], 202);
    assert_eq!(
        check(&report, "front_end")["measured"]["charset"],
        "UTF-8 (charset=UTF-8)"
    );
    assert!(check(&report, "dicom_echo")["measured"]["rtt_ms"].is_u64());
    let fingerprint = check(&report, "sm2")["measured"]["fingerprint"]
        .as_str()
        .unwrap();
    assert!(fingerprint.starts_with("sm3:") && fingerprint.len() == 20);
    assert!(
        !setup.outbox_path().exists(),
        "the diagnosis must not create the outbox"
    );

    // The system locale picks the language; --lang overrides it.
    let (code, en, _) = through_cli(&config, &[], &[("LANG", "en_US.UTF-8")]);
    assert_eq!(code, 0, "{en}");
    assert!(en.contains("result: 0 failed, 0 warning, 10 ok"), "{en}");
    let (_, zh, _) = through_cli(&config, &[], &[("LANG", "zh_CN.UTF-8")]);
    assert!(zh.contains("结果：0 项失败"), "{zh}");
    let (_, en, _) = through_cli(&config, &["--lang", "en"], &[("LANG", "zh_CN.UTF-8")]);
    assert!(en.contains("result: 0 failed"), "{en}");
    // Only the parameterless QR-URL probe reached the cloud (and GET / of the image server,
    // which the simulator does not record).
    let requests = setup.sim.requests();
    assert!(
        requests
            .iter()
            .all(|r| r["path"] == "/getway/reportAndFilm/api/qrurl" && r["query"].is_null()),
        "{requests:#?}"
    );
}

#[test]
fn a_front_end_answering_gbk_without_a_charset_is_healthy_and_the_charset_is_shown() {
    let setup = SetUp::new(
        "gbk",
        &["--reply-encoding", "gbk", "--reply-charset", "none"],
    );
    let report = diagnose(&setup, &setup.config.to_string(), &[], &[]);
    let c = check(&report, "front_end");
    assert_eq!(c["measured"]["cloud_code"], 202, "{c:#}");
    assert_eq!(
        c["measured"]["charset"], "GB18030 (no charset, not UTF-8)",
        "{c:#}"
    );
    assert!(
        c["measured"]["body_start"]
            .as_str()
            .unwrap()
            .contains("传参数不规范"),
        "the Chinese message read intact: {c:#}"
    );
}

#[test]
fn a_refused_front_end_fails_front_end_only() {
    let mut setup = SetUp::new("refused", &[]);
    setup.set(
        None,
        "base_url",
        json!(format!("http://127.0.0.1:{}", closed_port())),
    );
    let report = diagnose(
        &setup,
        &setup.config.to_string(),
        &["front_end"],
        &["clock"],
    );
    let c = check(&report, "front_end");
    assert!(
        c["summary"]["en"].as_str().unwrap().contains("refused"),
        "{c:#}"
    );
}

#[test]
fn a_hung_front_end_fails_front_end_within_timeout() {
    let setup = SetUp::new("hung", &[]);
    setup.sim.fault(json!({"mode": "hang"}));
    let report = diagnose(
        &setup,
        &setup.config.to_string(),
        &["front_end"],
        &["clock"],
    );
    let c = check(&report, "front_end");
    assert!(
        c["summary"]["en"]
            .as_str()
            .unwrap()
            .contains("no HTTP answer"),
        "{c:#}"
    );
    assert!(
        c["elapsed_ms"].as_u64().unwrap() >= TIMEOUT_MS - 100,
        "{c:#}"
    );
    setup.sim.reset();
}

#[test]
fn an_http_500_fails_front_end_only() {
    let setup = SetUp::new("http500", &[]);
    setup.sim.fault(json!({"mode": "http500"}));
    let report = diagnose(&setup, &setup.config.to_string(), &["front_end"], &[]);
    let c = check(&report, "front_end");
    assert_eq!(c["measured"]["http_status"], 500);
    assert_eq!(c["measured"]["body_kind"], "HTML");
}

#[test]
fn a_private_key_in_place_of_the_public_key_fails_sm2_only() {
    let mut setup = SetUp::new("sm2", &[]);
    // The simulator's TEST private key: the classic mix-up.
    let private = "3945208f7b2144b13f36e38ac6d39f95889393692860b51a42fb81ef4df7c5b8";
    setup.set(Some("sm2"), "public_key", json!(private));
    let report = diagnose(&setup, &setup.config.to_string(), &["sm2"], &[]);
    let c = check(&report, "sm2");
    assert!(
        c["fix"]["en"].as_str().unwrap().contains("private key"),
        "{c:#}"
    );
    assert!(!report.to_string().contains(private));
}

#[test]
fn an_outbox_on_an_unwritable_path_fails_outbox_only() {
    let mut setup = SetUp::new("outbox", &[]);
    let file = setup.plain_file();
    // Even root cannot make a folder under a file, nor files in /proc.
    for path in [
        file.join("outbox.sqlite"),
        PathBuf::from("/proc/miic-diagnose/outbox.sqlite"),
    ] {
        setup.set(Some("outbox"), "path", json!(path));
        let report = diagnose(&setup, &setup.config.to_string(), &["outbox"], &[]);
        let c = check(&report, "outbox");
        assert!(
            c["fix"]["en"].as_str().unwrap().contains("[outbox] path"),
            "{c:#}"
        );
    }
}

#[test]
fn a_notification_pending_for_hours_fails_outbox_only() {
    let setup = SetUp::new("pending", &[]);
    let path = setup.outbox_path();
    let store = miic::outbox::Store::open(&path).unwrap();
    store
        .enqueue(
            "ACC-OLD-1",
            "张三丰",
            r#"{"accessionNo":"ACC-OLD-1"}"#,
            Duration::ZERO,
        )
        .unwrap();
    drop(store);
    let db = rusqlite::Connection::open(&path).unwrap();
    db.execute(
        "UPDATE outbox SET created_at = created_at - 3 * 3600 * 1000",
        [],
    )
    .unwrap();
    drop(db);
    let report = diagnose(&setup, &setup.config.to_string(), &["outbox"], &[]);
    let c = check(&report, "outbox");
    assert_eq!(c["measured"]["pending"], 1);
    let age = c["measured"]["oldest_pending_age_s"].as_u64().unwrap();
    assert!((3 * 3600..3 * 3600 + 120).contains(&age), "{c:#}");
    assert!(
        c["summary"]["en"].as_str().unwrap().contains("3 h"),
        "{c:#}"
    );
    assert!(
        !report.to_string().contains("张三丰"),
        "a patient name in the report"
    );
}

#[test]
fn a_pacs_that_is_down_fails_dicom_echo_only() {
    let mut setup = SetUp::new("pacs-down", &[]);
    setup.set(Some("dicom"), "port", json!(closed_port()));
    let report = diagnose(&setup, &setup.config.to_string(), &["dicom_echo"], &[]);
    let c = check(&report, "dicom_echo");
    assert_eq!(c["measured"]["local_ae"], LOCAL_AE);
    assert_eq!(c["measured"]["peer_ae"], PACS_AE);
}

#[test]
fn a_move_port_taken_by_another_program_fails_dicom_move_port_only() {
    let setup = SetUp::new("move-port", &[]);
    let port = setup.config["dicom"]["move_port"].as_u64().unwrap() as u16;
    let _taken = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let report = diagnose(&setup, &setup.config.to_string(), &["dicom_move_port"], &[]);
    let c = check(&report, "dicom_move_port");
    assert!(
        c["fix"]["en"].as_str().unwrap().contains(&port.to_string()),
        "{c:#}"
    );
}

#[test]
fn an_unknown_key_in_a_toml_file_fails_config_naming_file_and_key() {
    let setup = SetUp::new("unknown-key", &[]);
    let c = &setup.config;
    let file = setup.scratch.path().join("miic.toml");
    let q = |v: &Value| serde_json::to_string(v).unwrap();
    std::fs::write(
        &file,
        format!(
            "base_url = {}\nhospital_id = \"H4401\"\ntimeout_ms = {TIMEOUT_MS}\nretries = 3\n\
             [sm2]\npublic_key = {}\n[outbox]\npath = {}\n[log]\ndir = {}\n\
             [dicom]\nlocal_ae = {}\npeer_ae = {}\nhost = \"127.0.0.1\"\nport = {}\n\
             retrieve = \"move\"\nmove_port = {}\n[dicom_http]\nbase_url = {}\n",
            q(&c["base_url"]),
            q(&c["sm2"]["public_key"]),
            q(&c["outbox"]["path"]),
            q(&c["log"]["dir"]),
            q(&c["dicom"]["local_ae"]),
            q(&c["dicom"]["peer_ae"]),
            c["dicom"]["port"],
            c["dicom"]["move_port"],
            q(&c["dicom_http"]["base_url"]),
        ),
    )
    .unwrap();
    let report = diagnose(&setup, file.to_str().unwrap(), &["config"], &[]);
    let c = check(&report, "config");
    let file = file.display().to_string();
    for lang in ["zh", "en"] {
        let fix = c["fix"][lang].as_str().unwrap();
        assert!(fix.contains(&file) && fix.contains("'retries'"), "{fix}");
    }
    assert_eq!(c["measured"]["problems"][0]["key"], "retries");
}

#[test]
fn a_clock_an_hour_off_the_front_end_fails_clock_only() {
    let setup = SetUp::new("clock", &["--clock-offset", "-3600"]);
    let report = diagnose(&setup, &setup.config.to_string(), &["clock"], &[]);
    let skew = check(&report, "clock")["measured"]["skew_ms"]
        .as_i64()
        .unwrap();
    assert!((3_598_000..=3_602_000).contains(&skew), "{skew}");
}

#[test]
fn an_unwritable_log_folder_or_a_down_image_server_fail_their_checks_only() {
    let mut setup = SetUp::new("log-http", &[]);
    let file = setup.plain_file();
    setup.set(Some("log"), "dir", json!(file.join("logs")));
    diagnose(&setup, &setup.config.to_string(), &["log"], &[]);
    setup.set(Some("log"), "dir", json!(setup.scratch.path().join("log")));
    setup.set(
        Some("dicom_http"),
        "base_url",
        json!(format!("http://127.0.0.1:{}", closed_port())),
    );
    diagnose(&setup, &setup.config.to_string(), &["dicom_http"], &[]);
}

#[test]
fn a_config_that_cannot_be_read_is_reported_with_every_other_check_skipped() {
    let setup = SetUp::new("unreadable", &[]);
    let missing = Path::new("/nonexistent/miic.toml");
    let (report, took) = through_c_abi(missing.to_str().unwrap());
    let skipped: Vec<&str> = ALL[2..].to_vec();
    assert_only(&report, took, &["config"], &skipped, &[]);
    let (code, _, _) = through_cli(missing.to_str().unwrap(), &["--json"], &[]);
    assert_eq!(code, 1);
    drop(setup);
}

/// The worst case: the front-end, the PACS and the image server all accept connections and never
/// answer. The network checks run side by side, so the report still comes in about one
/// `timeout_ms`, naming all three.
#[test]
fn everything_hung_at_once_still_reports_within_the_bound() {
    let mut setup = SetUp::new("all-hung", &[]);
    setup.sim.fault(json!({"mode": "hang"}));
    setup.pacs.signal(libc::SIGSTOP);
    // Accepted by the kernel's backlog, never read: a server that hangs before answering.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", silent.local_addr().unwrap());
    setup.set(Some("dicom_http"), "base_url", json!(url));
    let started = Instant::now();
    let report = diagnose(
        &setup,
        &setup.config.to_string(),
        &["front_end", "dicom_echo", "dicom_http"],
        &["clock"],
    );
    let elapsed = report["elapsed_ms"].as_u64().unwrap();
    println!(
        "all hung: {elapsed} ms in the report; three runs in {:?}",
        started.elapsed()
    );
    assert!(
        elapsed < 2 * TIMEOUT_MS,
        "the checks did not run side by side: {elapsed} ms"
    );
    setup.pacs.signal(libc::SIGCONT);
    setup.sim.reset();
}
