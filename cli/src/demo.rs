//! `miic-cli demo`: the whole doctor workflow through the library's C ABI against an in-process
//! simulator, each step checked against what the simulator received. Exit 0 only if all passed.

use crate::abi::{Client, Failure, Outcome};
use crate::sim::endpoints::film_url;
use crate::sim::reply::{Charset, ReplyEncoding};
use crate::sim::state::{Fault, FaultMode};
use crate::sim::{Sim, SimArgs};
use miic::{mask_line, mask_name};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const HOSPITAL: &str = "H33010001";
const DOCTOR_ID: &str = "110101199003077777";
const PATIENT_ID: &str = "11010519491231002X";
const PATIENT_2_ID: &str = "110105195501010018";
const ACCESS: &str = "CT202605260001";

struct Demo {
    sim: Sim,
    client: Client,
    passed: usize,
    failed: usize,
    step: usize,
}

/// The result of one step: what the call returned, and whether it did what it should.
type Check = Result<String, String>;

impl Demo {
    /// Run a step: `call` does the library call and checks the records it caused.
    fn step(&mut self, title: &str, call: impl FnOnce(&Demo) -> Check) {
        self.step += 1;
        let started = Instant::now();
        let result = call(self);
        let took = started.elapsed();
        match result {
            Ok(detail) => {
                self.passed += 1;
                println!(
                    "[{}] {title}: ok ({:.1} ms) — {detail}",
                    self.step,
                    took.as_secs_f64() * 1e3
                );
            }
            Err(why) => {
                self.failed += 1;
                println!(
                    "[{}] {title}: FAILED ({:.1} ms) — {why}",
                    self.step,
                    took.as_secs_f64() * 1e3
                );
            }
        }
    }

    fn params(&self, fields: &[(&str, &str)]) -> Result<crate::abi::Params, String> {
        let fields: Vec<(String, String)> = fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.client.params(None, &fields).map_err(|f| f.to_string())
    }

    /// The records that arrived after the first `before`, waiting up to `wait` for `want` of them.
    fn new_records(&self, before: usize, want: usize, wait: Duration) -> Vec<Value> {
        let deadline = Instant::now() + wait;
        loop {
            let records = self.sim.requests();
            if records.len() >= before + want || Instant::now() >= deadline {
                return records.into_iter().skip(before).collect();
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Exactly one new record, for `endpoint`, without problems.
    fn one_clean(&self, before: usize, endpoint: &str, wait: Duration) -> Result<Value, String> {
        let new = self.new_records(before, 1, wait);
        let [r] = new.as_slice() else {
            return Err(format!(
                "the simulator received {} requests, expected 1",
                new.len()
            ));
        };
        if r["endpoint"] != endpoint {
            return Err(format!(
                "the simulator saw {} {}, expected the {endpoint} endpoint",
                r["method"], r["path"]
            ));
        }
        if r["problems"] != json!([]) || r["code"] != 200 {
            return Err(format!("the simulator found problems: {}", r["problems"]));
        }
        Ok(r.clone())
    }
}

fn expect(cond: bool, what: impl Into<String>) -> Result<(), String> {
    if cond {
        Ok(())
    } else {
        Err(what.into())
    }
}

fn ok_status(r: Outcome<i32>) -> Result<i32, String> {
    r.map_err(|f| format!("call failed: {f}"))
}

pub fn run() -> Result<(), String> {
    let sim = Sim::start(&SimArgs::default())?;
    let config_path = std::env::temp_dir().join(format!("miic-demo-{}.json", std::process::id()));
    // An outbox of its own: the per-user default belongs to the workstation's real client, and
    // what waits there must not go to the demo's simulator.
    let outbox = std::env::temp_dir().join(format!("miic-demo-{}.outbox", std::process::id()));
    let config = json!({
        "base_url": sim.base_url(),
        "hospital_id": HOSPITAL,
        "timeout_ms": 3000,
        "sm2": {"public_key": sim.public_key_hex()},
        "outbox": {"path": outbox},
    });
    std::fs::write(
        &config_path,
        serde_json::to_string_pretty(&config).unwrap_or_default(),
    )
    .map_err(|e| format!("cannot write {}: {e}", config_path.display()))?;
    println!("miic {} demo", env!("CARGO_PKG_VERSION"));
    println!("simulator: {} (built-in TEST key)", sim.base_url());
    println!("config:    {}", config_path.display());
    println!(
        "{}",
        serde_json::to_string_pretty(&config).unwrap_or_default()
    );
    let opened = Client::open(&config_path.to_string_lossy());
    let _ = std::fs::remove_file(&config_path);
    let client = opened.map_err(|f: Failure| format!("miic_open failed: {f}"))?;
    println!();

    let mut demo = Demo {
        sim,
        client,
        passed: 0,
        failed: 0,
        step: 0,
    };
    steps(&mut demo);

    println!("\nwhat the simulator received (ID numbers, phones and patient names masked):");
    for r in demo.sim.requests() {
        println!("{}", describe(&r));
    }
    println!("\n{} steps passed, {} failed", demo.passed, demo.failed);
    let failed = demo.failed;
    drop(demo); // closes the client: nothing holds the outbox file any more
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", outbox.display()));
    }
    if failed == 0 {
        Ok(())
    } else {
        Err(format!("{failed} demo step(s) failed"))
    }
}

fn steps(demo: &mut Demo) {
    demo.step("miic_login 张医生 (4.4.3.1, type=1)", login);
    demo.step(
        "miic_patient_reminder, patient 李* (4.4.3.2, synchronous)",
        reminder,
    );
    demo.step(
        "miic_patient_reminder_async, patient 王* (returns at once, sent by the client's worker)",
        reminder_async,
    );
    demo.step("miic_qr_url (4.3)", qr_url);
    demo.step(
        "miic_delete_notify (4.5, doctor and time filled in)",
        delete_notify,
    );
    demo.step("cloud answers code 500 → MIIC_E_SERVER", cloud_error);
    demo.step(
        "front-end answers in GBK after a UTF-8 byte-order mark → miic_qr_url still reads it",
        gbk_reply,
    );
    demo.step(
        "missing field → MIIC_E_ARGUMENT naming it, nothing sent",
        missing_field,
    );
    demo.step("miic_logout (4.4.3.1, type=2)", logout);
}

fn login(d: &Demo) -> Check {
    let before = d.sim.requests().len();
    let doctor = d.params(&[
        ("hisUserId", "1001"),
        ("doctorName", "张医生"),
        ("department", "放射科"),
        ("departmentCode", "0301"),
        ("doctorSex", "1"),
        ("doctorType", "2"),
        ("doctorCode", "D330100001"),
        ("doctorIdCardNo", DOCTOR_ID),
        ("phoneNumber", "13800138000"),
    ])?;
    ok_status(d.client.login(&doctor))?;
    let r = d.one_clean(before, "login", Duration::ZERO)?;
    expect(r["params"]["type"] == "1", "type is not 1")?;
    expect(
        r["params"]["doctorName"] == "张医生",
        format!("doctorName arrived as {}", r["params"]["doctorName"]),
    )?;
    expect(
        r["decrypted"]["doctorIdCardNo"] == DOCTOR_ID,
        "doctorIdCardNo did not decrypt to the doctor's number",
    )?;
    expect(
        r["query"]
            .as_str()
            .is_some_and(|q| q.contains("doctorName=$E5$BC$A0$E5$8C$BB$E7$94$9F")),
        "doctorName is not $-encoded",
    )?;
    Ok("the simulator decoded 张医生 and decrypted doctorIdCardNo".into())
}

fn reminder(d: &Demo) -> Check {
    let before = d.sim.requests().len();
    let patient = d.params(&[
        ("idCardNo", PATIENT_ID),
        ("patientName", "李四"),
        ("mobilePhone", "13900139000"),
        ("patientType", "1"),
        ("outpatientId", "MZ20260526001"),
        ("accessNumber", ACCESS),
    ])?;
    ok_status(d.client.patient_reminder(&patient))?;
    let r = d.one_clean(before, "reminder", Duration::ZERO)?;
    expect(
        r["decrypted"]["idCardNo"] == PATIENT_ID,
        "idCardNo did not decrypt to the patient's number",
    )?;
    expect(
        r["params"]["hisUserName"] == "张医生",
        "hisUserName was not filled from the login",
    )?;
    expect(
        r["params"]["hospitalId"] == HOSPITAL,
        "hospitalId was not filled from the config",
    )?;
    Ok(format!(
        "doctor filled from the session, workstation clientIp={} mac={}",
        r["params"]["clientIp"].as_str().unwrap_or(""),
        r["params"]["mac"].as_str().unwrap_or("")
    ))
}

fn reminder_async(d: &Demo) -> Check {
    let before = d.sim.requests().len();
    let patient = d.params(&[
        ("idCardNo", PATIENT_2_ID),
        ("patientName", "王五"),
        ("mobilePhone", "13700137000"),
        ("patientType", "2"),
        ("hospitalizationId", "ZY20260526007"),
        ("accessNumber", "MR202605260002"),
    ])?;
    let t = Instant::now();
    ok_status(d.client.patient_reminder_async(&patient))?;
    let returned = t.elapsed();
    let r = d.one_clean(before, "reminder", Duration::from_secs(5))?;
    expect(
        r["decrypted"]["idCardNo"] == PATIENT_2_ID,
        "idCardNo did not decrypt to the patient's number",
    )?;
    Ok(format!(
        "returned in {} µs; the simulator received it from the worker",
        returned.as_micros()
    ))
}

fn qr_url(d: &Demo) -> Check {
    let before = d.sim.requests().len();
    let exam = d.params(&[("accessNumber", ACCESS), ("modality", "CT")])?;
    let url = d
        .client
        .qr_url(&exam)
        .map_err(|f| format!("call failed: {f}"))?;
    d.one_clean(before, "qrurl", Duration::ZERO)?;
    expect(
        url == film_url(ACCESS, "CT", HOSPITAL),
        format!("unexpected URL {url}"),
    )?;
    Ok(url)
}

fn delete_notify(d: &Demo) -> Check {
    let before = d.sim.requests().len();
    let deletion = d.params(&[("patientName", "李四"), ("accessionNo", ACCESS)])?;
    let status = ok_status(d.client.delete_notify(&deletion))?;
    let r = d.one_clean(before, "delete", Duration::from_secs(5))?;
    expect(
        r["params"]["operateDoctorName"] == "张医生",
        "operateDoctorName was not the logged-in doctor",
    )?;
    expect(
        r["params"]["operateDateTime"] == r["params"]["deleteDateTime"],
        "the two time keys differ",
    )?;
    Ok(format!(
        "{}, operateDateTime={}",
        crate::abi::status_name(status),
        r["params"]["operateDateTime"].as_str().unwrap_or("")
    ))
}

fn cloud_error(d: &Demo) -> Check {
    d.sim.set_fault(Fault {
        mode: FaultMode::Code500,
        delay_ms: 0,
        count: Some(1),
        path: None,
    });
    let exam = d.params(&[("accessNumber", ACCESS), ("modality", "CT")])?;
    match d.client.qr_url(&exam) {
        Err(f) if f.name == "MIIC_E_SERVER" && f.message.contains("500") => Ok(f.to_string()),
        Err(f) => Err(format!("expected MIIC_E_SERVER, got {f}")),
        Ok(url) => Err(format!("expected MIIC_E_SERVER, got a URL {url}")),
    }
}

fn gbk_reply(d: &Demo) -> Check {
    let gbk = ReplyEncoding {
        bom: true,
        ..ReplyEncoding::of(Charset::Gbk)
    };
    d.sim.set_reply_encoding(gbk.clone());
    let before = d.sim.requests().len();
    let exam = d.params(&[("accessNumber", ACCESS), ("modality", "CT")]);
    let url = exam.and_then(|exam| {
        d.client
            .qr_url(&exam)
            .map_err(|f| format!("call failed: {f}"))
    });
    d.sim.set_reply_encoding(ReplyEncoding::default());
    let r = d.one_clean(before, "qrurl", Duration::ZERO)?;
    let url = url?;
    expect(
        url == film_url(ACCESS, "CT", HOSPITAL),
        format!("unexpected URL {url}"),
    )?;
    expect(
        r["reply_encoding"] == gbk.to_json(),
        format!("the simulator answered {}", r["reply_encoding"]),
    )?;
    Ok(format!(
        "the reply came in {}; the film URL is intact",
        gbk.describe()
    ))
}

fn missing_field(d: &Demo) -> Check {
    let before = d.sim.requests().len();
    let exam = d.params(&[("accessNumber", ACCESS)])?;
    let result = d.client.qr_url(&exam);
    let sent = d.sim.requests().len() - before;
    match result {
        Err(f) if f.name == "MIIC_E_ARGUMENT" && f.message.contains("modality") && sent == 0 => {
            Ok(f.to_string())
        }
        Err(f) => Err(format!(
            "expected MIIC_E_ARGUMENT naming modality with nothing sent, got {f} ({sent} sent)"
        )),
        Ok(url) => Err(format!("expected MIIC_E_ARGUMENT, got a URL {url}")),
    }
}

fn logout(d: &Demo) -> Check {
    let before = d.sim.requests().len();
    ok_status(d.client.logout())?;
    let r = d.one_clean(before, "login", Duration::ZERO)?;
    expect(r["params"]["type"] == "2", "type is not 2")?;
    Ok("type=2 with the same doctor".into())
}

/// One received request as a line, with personal data masked.
fn describe(r: &Value) -> String {
    let mut parts = Vec::new();
    if let Some(params) = r["params"].as_object() {
        for (key, value) in params {
            let value = value.as_str().unwrap_or_default();
            let shown = match key.as_str() {
                "idCardNo" | "doctorIdCardNo" => format!("<SM2 {} chars>", value.len()),
                "patientName" => mask_name(value),
                _ => mask_line(value),
            };
            parts.push(format!("{key}={shown}"));
        }
    }
    let decrypted: Vec<String> = r["decrypted"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}→{}", mask_line(v.as_str().unwrap_or_default())))
                .collect()
        })
        .unwrap_or_default();
    format!(
        "  #{} {} {} code={} fault={} problems={}\n      {}\n      decrypted: {}",
        r["seq"],
        r["method"].as_str().unwrap_or(""),
        r["path"].as_str().unwrap_or(""),
        r["code"],
        r["fault"],
        r["problems"],
        parts.join(" "),
        if decrypted.is_empty() {
            "-".into()
        } else {
            decrypted.join(", ")
        }
    )
}
