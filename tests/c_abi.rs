//! The C ABI proven from C: tests/c/abi_test.c is compiled with gcc against include/miic.h and
//! the built cdylib, and each case runs against the cloud simulator, which then confirms what
//! arrived on the wire.

mod common;

use common::{closed_port, Sim};
use serde_json::{json, Value};
use std::path::PathBuf;

const DOCTOR_ID: &str = "11010119800101123X";
const PATIENT_ID: &str = "440101199001011234";

fn abi_test_binary() -> PathBuf {
    common::c_program("abi_test", "tests/c/abi_test.c", &["-lpthread"], true)
}

/// Run one C case with `config`; returns its stdout. Panics (with the output) when it fails.
fn run_case(case: &str, config: &str, env: &[(&str, String)]) -> String {
    let mut env = env.to_vec();
    env.push(("MIIC_TEST_CONFIG", config.to_owned()));
    let output = common::run_c(&abi_test_binary(), &[case], &env);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "C case {case} failed:\n{stdout}\n{stderr}"
    );
    stdout
}

fn requests_to(sim: &Sim, path: &str) -> Vec<Value> {
    sim.requests()
        .into_iter()
        .filter(|r| r["path"] == path)
        .collect()
}

#[test]
fn doctor_workflow_reaches_the_cloud_in_the_spec_wire_format() {
    let sim = Sim::start(&[]);
    let out = run_case("workflow", &sim.config(""), &[]);

    let logins = requests_to(&sim, "/hrball/");
    assert_eq!(logins.len(), 2, "login and logout: {logins:#?}");
    for (r, login_type) in logins.iter().zip(["1", "2"]) {
        assert_eq!(r["method"], "GET");
        let p = &r["params"];
        assert_eq!(p["type"], login_type);
        assert_eq!(p["doctorName"], "张医生");
        assert_eq!(p["department"], "放射科");
        assert_eq!(p["departmentCode"], "FSK01");
        assert_eq!(p["hospitalId"], "H4401");
        assert_eq!(p["phoneNumber"], "13800138000");
        assert_eq!(r["decrypted"]["doctorIdCardNo"], DOCTOR_ID);
        let query = r["query"].as_str().unwrap();
        assert!(
            query.contains("doctorName=$E5$BC$A0$E5$8C$BB$E7$94$9F"),
            "{query}"
        );
        assert!(!query.contains('%') && !query.contains(' '), "{query}");
        assert_eq!(r["problems"], json!([]), "{r:#?}");
    }

    let reminders = requests_to(&sim, "/iuWorkStation/swipingIdCardNo");
    assert_eq!(reminders.len(), 1);
    let r = &reminders[0];
    let p = &r["params"];
    assert_eq!(p["patientName"], "李小明");
    assert_eq!(p["hisUserId"], "1001");
    assert_eq!(p["hisUserName"], "张医生");
    assert_eq!(p["doctorType"], "1");
    assert_eq!(p["hospitalId"], "H4401");
    assert_eq!(
        p["clientIp"], "127.0.0.1",
        "the local address of the route to base_url"
    );
    assert_eq!(p["outpatientId"], "MZ0001");
    assert_eq!(r["decrypted"]["idCardNo"], PATIENT_ID);
    assert_eq!(r["decrypted"]["doctorIdCardNo"], DOCTOR_ID);
    assert!(p.as_object().unwrap().keys().all(|k| !k.contains(' ')));
    assert_eq!(r["problems"], json!([]), "{r:#?}");

    let qr = requests_to(&sim, "/getway/reportAndFilm/api/qrurl");
    assert_eq!(qr.len(), 1);
    assert_eq!(qr[0]["params"]["accessNumber"], "202305010001");
    assert_eq!(qr[0]["params"]["modality"], "CT");
    assert_eq!(qr[0]["params"]["hospitalId"], "H4401");
    assert!(out.contains("QR_URL=http://"), "{out}");

    let deletes = requests_to(&sim, "/standardInterface/standardHttp/deleteDicom");
    assert_eq!(deletes.len(), 1);
    let p = &deletes[0]["params"];
    assert_eq!(p["patientName"], "李小明");
    assert_eq!(p["accessionNo"], "202305010001");
    assert_eq!(p["operateDoctorName"], "张医生");
    assert_eq!(p["operateDateTime"], "2023-05-08 15:00:01");
    assert_eq!(p["deleteDateTime"], "2023-05-08 15:00:01");
    assert_eq!(deletes[0]["problems"], json!([]));
}

#[test]
fn every_export_rejects_null_pointers_and_stale_handles() {
    let sim = Sim::start(&[]);
    run_case("null_pointers", &sim.config(""), &[]);
    assert!(sim.requests().is_empty(), "nothing may reach the cloud");
}

#[test]
fn missing_or_invalid_fields_are_named_before_anything_is_sent() {
    let sim = Sim::start(&[]);
    run_case("missing_fields", &sim.config(""), &[]);
    // Only the one valid login went out.
    let sent: Vec<_> = sim
        .requests()
        .into_iter()
        .map(|r| r["path"].clone())
        .collect();
    assert_eq!(sent, vec![json!("/hrball/")], "{sent:?}");
}

#[test]
fn invalid_utf8_is_an_encoding_error_naming_the_field() {
    let sim = Sim::start(&[]);
    run_case("invalid_utf8", &sim.config(""), &[]);
}

#[test]
fn gbk_client_round_trips_chinese_names() {
    let sim = Sim::start(&[]);
    sim.fault(json!({"mode": "code202", "path": "/getway/reportAndFilm/api/qrurl"}));
    run_case("gbk_client", &sim.config(r#""text_encoding":"gbk""#), &[]);
    let logins = requests_to(&sim, "/hrball/");
    assert_eq!(logins.len(), 1);
    assert_eq!(logins[0]["params"]["doctorName"], "张医生");
    assert_eq!(logins[0]["params"]["department"], "放射科");
    assert_eq!(
        logins[0]["decrypted"]["doctorIdCardNo"],
        "110101198001011234"
    );
}

#[test]
fn gbk_client_in_c_reads_a_cloud_answering_gbk_after_a_byte_order_mark() {
    // The same C case with every reply in GBK (UTF-8 mark first): the login succeeds and the
    // cloud's Chinese refusal reaches the GBK host in GBK.
    let sim = Sim::start(&["--reply-encoding", "gbk", "--reply-bom"]);
    sim.fault(json!({"mode": "code202", "path": "/getway/reportAndFilm/api/qrurl"}));
    run_case("gbk_client", &sim.config(r#""text_encoding":"gbk""#), &[]);
    let answered: Vec<Value> = sim
        .requests()
        .into_iter()
        .map(|r| r["reply_encoding"].clone())
        .collect();
    assert_eq!(answered.len(), 2, "login and qrurl: {answered:?}");
    assert!(
        answered
            .iter()
            .all(|e| *e == json!({"encoding": "GBK", "bom": true, "charset": "GBK"})),
        "{answered:?}"
    );
}

fn expect(sim_fault: Option<Value>, config: String, status: i32, max_ms: u64) -> String {
    expect_env(sim_fault, config, status, max_ms, &[])
}

/// As [`expect`], and `miic_last_error()` must contain `said`.
fn expect_saying(sim_fault: Option<Value>, config: String, status: i32, max_ms: u64, said: &str) {
    let env = [("MIIC_TEST_EXPECT_MESSAGE", said.to_owned())];
    expect_env(sim_fault, config, status, max_ms, &env);
}

fn expect_env(
    sim_fault: Option<Value>,
    config: String,
    status: i32,
    max_ms: u64,
    extra_env: &[(&str, String)],
) -> String {
    let sim = Sim::start(&[]);
    if let Some(f) = sim_fault {
        sim.fault(f);
    }
    // Its own outbox: the per-user default is shared by every client of the machine.
    let outbox = serde_json::Value::from(common::fresh_outbox_path().to_string_lossy());
    let config = config
        .replace("SIM_URL", &sim.url)
        .replace("SIM_KEY", &sim.public_key);
    let config = format!(
        r#"{},"outbox":{{"path":{outbox}}}}}"#,
        config.strip_suffix('}').expect("a JSON object config")
    );
    let mut env = vec![
        ("MIIC_TEST_EXPECT", status.to_string()),
        ("MIIC_TEST_MAX_MS", max_ms.to_string()),
    ];
    env.extend_from_slice(extra_env);
    run_case("expect_status", &config, &env)
}

const SIM_CONFIG: &str = r#"{"base_url":"SIM_URL","hospital_id":"H4401","timeout_ms":1000,"sm2":{"public_key":"SIM_KEY"}}"#;

#[test]
fn refused_connection_is_a_network_error_at_once() {
    let config = format!(
        r#"{{"base_url":"http://127.0.0.1:{}","hospital_id":"H","timeout_ms":3000}}"#,
        closed_port()
    );
    expect(None, config, -5, 1000);
}

#[test]
fn hung_cloud_is_a_timeout_within_timeout_ms_plus_200() {
    let out = expect(Some(json!({"mode": "hang"})), SIM_CONFIG.into(), -6, 1200);
    println!("{out}");
}

#[test]
fn http_500_is_a_protocol_error_quoting_what_the_page_says() {
    expect_saying(
        Some(json!({"mode": "http500"})),
        SIM_CONFIG.into(),
        -8,
        1200,
        "answered HTTP 500: '500 Internal Server Error'",
    );
}

#[test]
fn cloud_code_500_is_a_server_error() {
    expect(
        Some(json!({"mode": "code500"})),
        SIM_CONFIG.into(),
        -7,
        1200,
    );
}

#[test]
fn non_json_reply_is_a_protocol_error() {
    expect(
        Some(json!({"mode": "garbage"})),
        SIM_CONFIG.into(),
        -8,
        1200,
    );
}

#[test]
fn oversized_reply_is_a_protocol_error() {
    expect(
        Some(json!({"mode": "oversized"})),
        SIM_CONFIG.into(),
        -8,
        1200,
    );
}

#[test]
fn slow_cloud_beyond_the_deadline_is_a_timeout() {
    expect(
        Some(json!({"mode": "slow", "delay_ms": 3000})),
        SIM_CONFIG.into(),
        -6,
        1200,
    );
}

/// The async reminders return without waiting for the hung cloud, one of them reaches the
/// simulator (which holds it), and miic_close with that reminder in flight is prompt.
#[test]
fn async_reminder_returns_at_once_and_close_is_prompt_with_the_cloud_hung() {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};
    let sim = Sim::start(&[]);
    sim.fault(json!({"mode": "hang"}));
    let mut child = Command::new(abi_test_binary())
        .arg("async_reminder")
        .env("LD_LIBRARY_PATH", common::cdylib().parent().unwrap())
        .env("MIIC_TEST_CONFIG", sim.config(""))
        .env("MIIC_TEST_AWAIT_GO", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("run abi_test");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut out = String::new();
    while !out.ends_with("REMINDERS_QUEUED\n") {
        let before = out.len();
        stdout.read_line(&mut out).unwrap();
        if out.len() == before {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the C case ended before queueing its reminders:\n{out}");
        }
    }
    // The worker sends one reminder; the hung simulator records it and never answers.
    let deadline = Instant::now() + Duration::from_secs(10);
    let reminder = loop {
        if let Some(r) = requests_to(&sim, "/iuWorkStation/swipingIdCardNo").pop() {
            break Some(r);
        }
        if Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // Let the case close the client (with the reminder in flight) and finish, within a bound.
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the C case did not finish within 30 s of the go-ahead:\n{out}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    stdout.read_to_string(&mut out).unwrap();
    println!("{out}");
    assert!(
        status.success() && out.contains("async_reminder: 0 failed"),
        "{out}"
    );
    let r = reminder.expect("no reminder reached the simulator within 10 s");
    assert_eq!(r["fault"], "hang", "{r:#}");
    assert_eq!(r["params"]["patientName"], "李小明", "{r:#}");
    assert_eq!(r["params"]["hisUserId"], "1001", "{r:#}");
    assert_eq!(r["decrypted"]["idCardNo"], PATIENT_ID, "{r:#}");
    assert_eq!(r["problems"], json!([]), "{r:#}");
}

#[test]
fn reminder_without_login_or_doctor_fields_is_a_state_error() {
    let sim = Sim::start(&[]);
    run_case("no_session", &sim.config(""), &[]);
    let reminders = requests_to(&sim, "/iuWorkStation/swipingIdCardNo");
    assert_eq!(reminders.len(), 1);
    assert_eq!(reminders[0]["decrypted"]["doctorIdCardNo"], DOCTOR_ID);
    assert_eq!(reminders[0]["problems"], json!([]));
}

#[test]
fn no_log_line_holds_a_plaintext_id_phone_or_full_name() {
    let sim = Sim::start(&[]);
    let dir = tempdir("logs");
    let config = sim.config(&format!(
        r#""log":{{"dir":"{}","level":"debug"}}"#,
        dir.display()
    ));
    run_case("logs_mask_personal_data", &config, &[]);
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        files += 1;
        assert!(text.lines().count() > 3, "{text}");
        for secret in [
            DOCTOR_ID,
            PATIENT_ID,
            "15395092817",
            "13800138000",
            "李小明",
            "张医生",
        ] {
            assert!(!text.contains(secret), "log file holds {secret}:\n{text}");
        }
    }
    assert_eq!(files, 1, "one daily log file");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn plugin_url_and_exe_login_carry_the_dollar_encoded_parameter_string() {
    let sim = Sim::start(&[]);
    let dir = tempdir("plugin");
    let exe = dir.join("plugin.sh");
    // Each launch records its argument count and argument in a file of its own: the two
    // launches are separate processes and may finish in either order.
    std::fs::write(
        &exe,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$#\" \"$1\" > '{}/argv-'$$.tmp && mv '{}/argv-'$$.tmp '{}/argv-'$$.txt\n",
            dir.display(),
            dir.display(),
            dir.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = sim.config(&format!(
        r#""plugin":{{"exe":"{}","login_via":"exe"}}"#,
        exe.display()
    ));
    let out = run_case("plugin_url_and_exe", &config, &[]);
    let url = out
        .lines()
        .find_map(|l| l.strip_prefix("PLUGIN_URL="))
        .unwrap();
    // Wait for both launches to have written their argv (bounded).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut launches: Vec<Vec<String>> = Vec::new();
    while std::time::Instant::now() < deadline {
        launches = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "txt"))
            .map(|p| {
                std::fs::read_to_string(p)
                    .unwrap()
                    .lines()
                    .map(str::to_owned)
                    .collect()
            })
            .collect();
        if launches.len() >= 2 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(launches.len(), 2, "two launches: {launches:?}");
    assert!(
        launches.iter().all(|l| l.len() == 2 && l[0] == "1"),
        "one argument each: {launches:?}"
    );
    launches.sort_by_key(|l| l[1].contains("&type=2&"));
    let lines: Vec<String> = launches.concat();
    assert!(
        lines[1].starts_with("hisUserId=1001&type=1&doctorName=$E5$BC$A0$E5$8C$BB$E7$94$9F&"),
        "{}",
        lines[1]
    );
    assert!(lines[3].contains("&type=2&"), "{}", lines[3]);
    // The exe receives what the WYHT:// URL carries, apart from the ciphertext (SM2 is randomised).
    let strip = |s: &str| {
        s.split('&')
            .filter(|kv| !kv.starts_with("doctorIdCardNo="))
            .collect::<Vec<_>>()
            .join("&")
    };
    assert_eq!(
        strip(url.strip_prefix("WYHT://").unwrap()),
        strip(&lines[1])
    );
    assert!(
        requests_to(&sim, "/hrball/").is_empty(),
        "exe login sends no HTTP"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_configs_fail_at_open_naming_the_key() {
    run_case("bad_configs", "{}", &[]);
}

#[test]
fn header_macros_and_library_versions_agree() {
    run_case("versions", "{}", &[]);
}

fn tempdir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "miic-test-{tag}-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Every cloud call under one simulator fault returns its documented status within
/// `timeout_ms` + 200 ms; the delete notification is kept in the outbox.
fn fault_matrix(fault: Option<Value>, closed_port: bool, status: i32) {
    let sim = Sim::start(&[]);
    let mut config = sim.config("");
    if let Some(f) = fault {
        sim.fault(f);
    }
    if closed_port {
        config = config.replace(
            &sim.url,
            &format!("http://127.0.0.1:{}", common::closed_port()),
        );
    }
    let out = run_case(
        "fault_matrix",
        &config,
        &[
            ("MIIC_TEST_EXPECT", status.to_string()),
            ("MIIC_TEST_MAX_MS", "1200".into()),
        ],
    );
    println!(
        "{}",
        out.lines()
            .filter(|l| l.starts_with("CALL"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn every_call_with_the_cloud_refusing_is_a_network_error_and_delete_is_queued() {
    fault_matrix(None, true, -5);
}

#[test]
fn every_call_with_connections_reset_is_a_network_error_and_delete_is_queued() {
    fault_matrix(Some(json!({"mode": "reset"})), false, -5);
}

#[test]
fn every_call_with_the_cloud_hung_times_out_in_bound_and_delete_is_queued() {
    fault_matrix(Some(json!({"mode": "hang"})), false, -6);
}

#[test]
fn every_call_with_the_cloud_slow_times_out_in_bound_and_delete_is_queued() {
    fault_matrix(Some(json!({"mode": "slow", "delay_ms": 5000})), false, -6);
}

#[test]
fn every_call_with_http_500_is_a_protocol_error_and_delete_is_queued() {
    fault_matrix(Some(json!({"mode": "http500"})), false, -8);
}

#[test]
fn every_call_with_cloud_code_500_is_a_server_error_and_delete_is_queued() {
    fault_matrix(Some(json!({"mode": "code500"})), false, -7);
}

#[test]
fn every_call_with_garbage_replies_is_a_protocol_error_and_delete_is_queued() {
    fault_matrix(Some(json!({"mode": "garbage"})), false, -8);
}

#[test]
fn every_call_with_oversized_replies_is_a_protocol_error_and_delete_is_queued() {
    fault_matrix(Some(json!({"mode": "oversized"})), false, -8);
}

/// Proxy variables a workstation may have set for its browser: miic sends nothing to them (the
/// front-end machine is on the hospital LAN; a proxy would see patient data).
#[test]
fn proxy_variables_of_the_environment_are_never_used() {
    let sim = Sim::start(&[]);
    let proxy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    proxy.set_nonblocking(true).unwrap();
    let proxy_url = format!("http://{}", proxy.local_addr().unwrap());
    let mut env: Vec<(&str, String)> = [
        "HTTP_PROXY",
        "http_proxy",
        "ALL_PROXY",
        "all_proxy",
        "HTTPS_PROXY",
    ]
    .iter()
    .map(|k| (*k, proxy_url.clone()))
    .collect();
    env.push(("NO_PROXY", String::new()));
    env.push(("no_proxy", String::new()));
    // The client's agent: the whole doctor workflow goes to the front-end itself.
    run_case("workflow", &sim.config(""), &env);
    assert!(!requests_to(&sim, "/hrball/").is_empty());
    // The dcmPath downloader's agent: it reaches the server (a 404 there), not the proxy.
    let dest = common::target_dir().join(format!("proxy-dest-{}", std::process::id()));
    let host = common::c_program("host_test", "tests/c/host_test.c", &["-lpthread"], true);
    let mut fetch_env = env.clone();
    fetch_env.push((
        "MIIC_TEST_CONFIG",
        sim.config(&format!(r#""dicom_http":{{"base_url":"{}"}}"#, sim.url)),
    ));
    let out = common::run_c(
        &host,
        &["fetch", r"\wadocloud\none.dcm", dest.to_str().unwrap()],
        &fetch_env,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("HTTP 404"), "{stdout}");
    let _ = std::fs::remove_dir_all(&dest);
    match proxy.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("the proxy was contacted: {other:?}"),
    }
}
