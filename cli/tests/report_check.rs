//! `miic-cli report-check` against `miic-cli sim-pacs` (loopback), and against files.

use miic::report::sample::{valid_record, BROKEN};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_miic-cli");

/// A running PACS simulator, killed when dropped.
struct SimPacs {
    child: Child,
    url: String,
}

impl SimPacs {
    fn start(extra: &[&str]) -> SimPacs {
        let mut child = Command::new(BIN)
            .args(["sim-pacs", "--host", "127.0.0.1", "--port", "0"])
            .args(extra)
            .stdout(Stdio::piped())
            .spawn()
            .expect("start sim-pacs");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("listening line");
        let url = line.trim().rsplit(' ').next().unwrap().to_owned();
        assert!(url.starts_with("http://127.0.0.1:"), "{line}");
        SimPacs { child, url }
    }
}

impl Drop for SimPacs {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn check(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .arg("report-check")
        .args(args)
        .output()
        .expect("run report-check");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const WINDOW: [&str; 4] = [
    "--start",
    "2025-03-14 00:00:00",
    "--end",
    "2025-03-14 23:59:59",
];

#[test]
fn checker_against_broken_pacs_exits_non_zero_naming_each_rule() {
    let sim = SimPacs::start(&["--broken", "--records", "4"]);
    let mut args = vec![
        "--url",
        sim.url.as_str(),
        "--json",
        "--probe-dcm",
        "--timeout-ms",
        "5000",
    ];
    args.extend(WINDOW);
    let (code, stdout, stderr) = check(&args);
    assert_eq!(code, 1, "{stderr}");
    let result: Value = serde_json::from_str(&stdout).expect("JSON output");
    assert_eq!(result["conformant"], false);
    let rules = result["rules"].as_object().unwrap();
    for (rule, what) in BROKEN {
        assert!(
            rules.contains_key(*rule),
            "{rule} ({what}) not named: {:?}",
            rules.keys()
        );
    }
    for rule in ["outside_window", "wrong_record", "dcm_unreachable"] {
        assert!(rules.contains_key(rule), "{rule} not named");
    }
    // The cloud's three request shapes were all sent: 4 window types, accession, patient name.
    let queries: Vec<&str> = result["queries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["query"].as_str().unwrap())
        .collect();
    assert_eq!(queries.len(), 6, "{queries:?}");
    assert!(queries[4].starts_with("accessNumber=") && queries[5].starts_with("patientName="));
    assert!(!stdout.contains("测试甲"), "patient name printed unmasked");

    // The human summary names the rules too.
    let mut args = vec!["--url", sim.url.as_str()];
    args.extend(WINDOW);
    let (code, stdout, _) = check(&args);
    assert_eq!(code, 1);
    assert!(
        stdout.contains("NOT CONFORMANT")
            && stdout.contains("certno_checksum")
            && stdout.contains("worst records")
    );
}

#[test]
fn checker_against_conformant_pacs_exits_zero() {
    let sim = SimPacs::start(&["--records", "12"]);
    let mut args = vec![
        "--url",
        sim.url.as_str(),
        "--probe-dcm",
        "--timeout-ms",
        "5000",
    ];
    args.extend(WINDOW);
    let (code, stdout, stderr) = check(&args);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("CONFORMANT: "), "{stdout}");
}

#[test]
fn checker_reports_an_unreachable_endpoint_as_unable_to_check() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/pacs/report");
    let (code, stdout, stderr) = check(&["--url", &url, "--timeout-ms", "2000"]);
    // Exit 2 is shared with usage errors: what it printed tells the two apart.
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stderr.is_empty(), "not a usage error: {stderr}");
    for t in 1..=4 {
        let row = stdout
            .lines()
            .find(|l| l.starts_with(&format!("window type={t} ")))
            .unwrap_or_else(|| panic!("no row for type={t}: {stdout}"));
        assert!(
            row.contains("request failed") && row.contains("Connection refused"),
            "{row}"
        );
    }
    assert_eq!(
        stdout.lines().last(),
        Some("UNABLE TO CHECK: 4 of 4 queries got no HTTP answer"),
        "{stdout}"
    );

    let (code, stdout, _) = check(&["--url", &url, "--timeout-ms", "2000", "--json"]);
    assert_eq!(code, 2, "{stdout}");
    let report: Value = serde_json::from_str(&stdout).expect("JSON report");
    let queries = report["queries"].as_array().unwrap();
    assert_eq!(queries.len(), 4, "{stdout}");
    for q in queries {
        assert!(q["http_status"].is_null(), "{q}");
        assert!(
            q["failure"].as_str().unwrap().contains("request failed"),
            "{q}"
        );
    }
}

#[test]
fn checker_reads_files_of_records() {
    let dir = std::env::temp_dir().join(format!("miic-report-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let exam = chrono::NaiveDate::from_ymd_opt(2025, 3, 14)
        .unwrap()
        .and_hms_opt(8, 0, 0)
        .unwrap();
    let good = dir.join("good.json");
    let records: Vec<Value> = (0..5)
        .map(|i| Value::Object(valid_record(i, exam)))
        .collect();
    std::fs::write(
        &good,
        json!({"data": records, "code": 0, "message": "成功"}).to_string(),
    )
    .unwrap();
    assert_eq!(check(&["--file", good.to_str().unwrap()]).0, 0);

    let bad = dir.join("bad.json");
    let mut record = valid_record(0, exam);
    record.insert("brdy".into(), json!("2023-02-30"));
    std::fs::write(&bad, Value::Object(record).to_string()).unwrap();
    let (code, stdout, _) = check(&["--file", bad.to_str().unwrap(), "--json"]);
    assert_eq!(code, 1);
    assert!(stdout.contains("date_format"));

    // The spec's sample reply as printed is not JSON: the checker says why and exits 2.
    let sample = dir.join("sample.json");
    std::fs::write(&sample, miic::report::tables::SAMPLE_REPLY).unwrap();
    let (code, _, stderr) = check(&["--file", sample.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("fullwidth") || stderr.contains("backslash"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn checker_reads_a_gbk_pacs_and_warns_of_its_charset() {
    let sim = SimPacs::start(&["--records", "3", "--reply-encoding", "gbk"]);
    let mut args = vec!["--url", sim.url.as_str(), "--json", "--timeout-ms", "5000"];
    args.extend(WINDOW);
    let (code, stdout, stderr) = check(&args);
    assert_eq!(code, 0, "warnings only: {stdout}{stderr}");
    let result: Value = serde_json::from_str(&stdout).expect("JSON output");
    assert_eq!(result["conformant"], true);
    let queries = result["queries"].as_array().unwrap();
    assert_eq!(
        queries.len(),
        6,
        "the accession and name queries found their records"
    );
    for q in queries {
        assert!(q["records"].as_u64().unwrap() >= 1, "{q:#}");
        assert_eq!(q["failure"], Value::Null, "{q:#}");
        let warning = &q["checker_problems"][0];
        assert_eq!(warning["rule"], "charset", "{q:#}");
        assert_eq!(warning["severity"], "warning");
        assert!(
            warning["message"]
                .as_str()
                .unwrap()
                .contains("GBK (charset=GBK)"),
            "{warning}"
        );
    }
    assert_eq!(result["rules"]["charset"]["warnings"], 6);
    assert_eq!(result["rules"]["charset"]["errors"], 0);
    // The name query asked for a name read from GBK records, and matched it.
    assert_eq!(result["rules"].get("wrong_record"), None, "{stdout}");

    let mut args = vec!["--url", sim.url.as_str()];
    args.extend(WINDOW);
    let (code, stdout, _) = check(&args);
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains("charset: the reply came in GBK (charset=GBK)")
            && stdout.contains("CONFORMANT: "),
        "{stdout}"
    );
}

#[test]
fn checker_names_an_unknown_charset_and_reads_files_with_a_byte_order_mark() {
    let sim = SimPacs::start(&["--records", "2", "--reply-charset", "x-klingon"]);
    let mut args = vec!["--url", sim.url.as_str(), "--json", "--timeout-ms", "5000"];
    args.extend(WINDOW);
    let (code, stdout, _) = check(&args);
    assert_eq!(code, 1, "{stdout}");
    let result: Value = serde_json::from_str(&stdout).expect("JSON output");
    let failure = result["queries"][0]["failure"].as_str().unwrap_or_default();
    assert!(
        failure.contains("charset 'x-klingon' is unknown"),
        "{failure}"
    );

    // Notepad saves UTF-8 with a byte-order mark.
    let dir = std::env::temp_dir().join(format!("miic-report-bom-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let exam = chrono::NaiveDate::from_ymd_opt(2025, 3, 14)
        .unwrap()
        .and_hms_opt(8, 0, 0)
        .unwrap();
    let file = dir.join("notepad.json");
    let text =
        json!({"data": [Value::Object(valid_record(0, exam))], "code": 0, "message": "成功"});
    std::fs::write(
        &file,
        [b"\xEF\xBB\xBF".as_slice(), text.to_string().as_bytes()].concat(),
    )
    .unwrap();
    let (code, stdout, stderr) = check(&["--file", file.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let result: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(result["queries"][0]["records"], 1);
    assert_eq!(result["rules"]["charset"]["warnings"], 1, "{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
}
