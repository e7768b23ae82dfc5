//! The `miic-cli` call subcommands and the demo, run as processes against a simulator process:
//! they call the library through its C ABI and the simulator confirms what went over the wire.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_miic-cli");
const DOCTOR_ID: &str = "110101199003077777";
const PATIENT_ID: &str = "11010519491231002X";

/// A new outbox file for one config: the per-user default is shared by every test and run.
fn fresh_outbox() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("outbox-{}-{n}.sqlite", std::process::id()))
        .to_string_lossy()
        .into_owned()
}

struct Sim {
    child: Child,
    base: String,
    public_key: String,
    agent: ureq::Agent,
}

impl Sim {
    fn start() -> Sim {
        let mut child = Command::new(BIN)
            .args(["sim", "--port", "0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let rest = line.trim().strip_prefix("miic-sim listening on ").unwrap();
        let (base, key) = rest.split_once(" public_key=").unwrap();
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(10)))
            .build()
            .into();
        Sim {
            child,
            base: base.into(),
            public_key: key.into(),
            agent,
        }
    }

    fn config(&self) -> String {
        json!({"base_url": self.base, "hospital_id": "H33010001", "timeout_ms": 3000,
               "sm2": {"public_key": self.public_key}, "outbox": {"path": fresh_outbox()}})
        .to_string()
    }

    fn requests(&self) -> Vec<Value> {
        let mut r = self
            .agent
            .get(&format!("{}/__sim/requests", self.base))
            .call()
            .unwrap();
        serde_json::from_str::<Value>(&r.body_mut().read_to_string().unwrap())
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    }

    fn fault(&self, fault: Value) {
        let r = self
            .agent
            .post(&format!("{}/__sim/fault", self.base))
            .send(fault.to_string())
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
    }

    /// Run a subcommand with this simulator's config and the given fields.
    fn run(&self, command: &str, fields: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(BIN);
        cmd.args([command, "--config", &self.config()]);
        for (k, v) in fields {
            cmd.args(["--field", &format!("{k}={v}")]);
        }
        cmd.output().unwrap()
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const DOCTOR: [(&str, &str); 8] = [
    ("hisUserId", "1001"),
    ("doctorName", "张医生"),
    ("department", "放射科"),
    ("departmentCode", "0301"),
    ("doctorSex", "1"),
    ("doctorType", "2"),
    ("doctorCode", "D330100001"),
    ("doctorIdCardNo", DOCTOR_ID),
];

#[test]
fn demo_runs_the_whole_workflow_exits_zero_and_prints_no_plaintext_id() {
    let out = Command::new(BIN).arg("demo").output().unwrap();
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\n{}", stderr(&out));
    assert!(text.contains("9 steps passed, 0 failed"), "{text}");
    assert!(text.contains("张医生"));
    for secret in [
        "110101199003077777",
        "11010519491231002X",
        "13900139000",
        "李四",
        "王五",
    ] {
        assert!(!text.contains(secret), "the demo printed {secret}");
    }
}

#[test]
fn login_sends_the_doctor_through_the_library_and_exits_zero() {
    let sim = Sim::start();
    let out = sim.run("login", &DOCTOR);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "login: MIIC_OK");
    let r = sim.requests().pop().unwrap();
    assert_eq!(r["params"]["type"], "1");
    assert_eq!(r["params"]["doctorName"], "张医生");
    assert_eq!(r["decrypted"]["doctorIdCardNo"], DOCTOR_ID);
    assert_eq!(r["problems"], json!([]));
}

#[test]
fn logout_sends_exactly_one_type_2_request() {
    let sim = Sim::start();
    let out = sim.run("logout", &DOCTOR);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "logout: MIIC_OK");
    let records = sim.requests();
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["params"]["type"], "2");
    assert_eq!(records[0]["decrypted"]["doctorIdCardNo"], DOCTOR_ID);
    assert_eq!(records[0]["problems"], json!([]));
}

#[test]
fn remind_qr_and_delete_reach_the_simulator_as_the_spec_wants() {
    let sim = Sim::start();
    // The reminder with the doctor's fields given (a separate process has no login session).
    let mut patient: Vec<(&str, &str)> = vec![
        ("idCardNo", PATIENT_ID),
        ("patientName", "李四"),
        ("mobilePhone", "13900139000"),
        ("patientType", "1"),
        ("accessNumber", "CT1"),
        ("hisUserId", "1001"),
        ("hisUserName", "张医生"),
        ("doctorType", "2"),
        ("doctorCode", "D330100001"),
        ("doctorIdCardNo", DOCTOR_ID),
    ];
    patient.push(("clientIp", "192.168.30.100"));
    let out = sim.run("remind", &patient);
    assert!(out.status.success(), "{}", stderr(&out));
    let r = sim.requests().pop().unwrap();
    assert_eq!(r["endpoint"], "reminder");
    assert_eq!(r["decrypted"]["idCardNo"], PATIENT_ID);
    assert_eq!(r["problems"], json!([]));

    // --json works too, and --field wins over it.
    let out = Command::new(BIN)
        .args([
            "qr",
            "--config",
            &sim.config(),
            "--json",
            r#"{"accessNumber":"CT1","modality":"MR"}"#,
            "-f",
            "modality=CT",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("http://wx.imagingunion.com/iuweixin/iu_scanFilmInfo?info="));
    assert_eq!(sim.requests().pop().unwrap()["params"]["modality"], "CT");

    let out = sim.run(
        "delete",
        &[
            ("patientName", "李四"),
            ("accessionNo", "CT1"),
            ("operateDoctorName", "张医生"),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let r = sim.requests().pop().unwrap();
    assert_eq!(r["endpoint"], "delete");
    assert_eq!(r["problems"], json!([]));
}

#[test]
fn failures_print_the_status_name_and_exit_non_zero() {
    let sim = Sim::start();
    let out = sim.run("qr", &[("accessNumber", "CT1")]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("MIIC_E_ARGUMENT") && err.contains("modality"),
        "{err}"
    );

    sim.fault(json!({"mode": "code500"}));
    let out = sim.run("qr", &[("accessNumber", "CT1"), ("modality", "CT")]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("MIIC_E_SERVER (-7)"),
        "{}",
        stderr(&out)
    );

    let out = Command::new(BIN)
        .args([
            "login",
            "--config",
            r#"{"base_url":"http://127.0.0.1:9","hospital_id":"H","colour":1}"#,
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("MIIC_E_CONFIG") && stderr(&out).contains("colour"),
        "{}",
        stderr(&out)
    );

    let out = Command::new(BIN)
        .args(["login", "--config", "{}", "--field", "novalue"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("not key=value"), "{}", stderr(&out));
}

#[test]
fn sm2_encrypt_and_plugin_url_print_what_the_library_returns() {
    let sim = Sim::start();
    let out = Command::new(BIN)
        .args(["sm2-encrypt", "--config", &sim.config(), DOCTOR_ID])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let cipher = stdout(&out).trim().to_string();
    assert!(
        cipher.starts_with("04") && cipher.len() == 2 * (65 + 32 + 18),
        "{cipher}"
    );
    // The simulator decrypts it (sent as the doctor's ID in a login query).
    let url = sim.run("plugin-url", &DOCTOR);
    assert!(url.status.success(), "{}", stderr(&url));
    let url = stdout(&url).trim().to_string();
    assert!(
        url.starts_with("WYHT://hisUserId=1001&type=1&doctorName=$E5$BC$A0$E5$8C$BB$E7$94$9F"),
        "{url}"
    );
    let query = url.trim_start_matches("WYHT://").replace(
        url.split("doctorIdCardNo=")
            .nth(1)
            .unwrap()
            .split('&')
            .next()
            .unwrap(),
        &cipher,
    );
    let mut r = sim
        .agent
        .get(&format!("{}/hrball/?{query}", sim.base))
        .call()
        .unwrap();
    let reply: Value = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(reply["code"], 200, "{reply}");
    assert_eq!(
        sim.requests().pop().unwrap()["decrypted"]["doctorIdCardNo"],
        DOCTOR_ID
    );
}

#[test]
fn gbk_config_passes_chinese_text_as_an_ansi_host_would() {
    let sim = Sim::start();
    let config = json!({"base_url": sim.base, "hospital_id": "H33010001", "text_encoding": "gbk",
                        "sm2": {"public_key": sim.public_key}, "outbox": {"path": fresh_outbox()}})
    .to_string();
    let mut cmd = Command::new(BIN);
    cmd.args(["login", "--config", &config]);
    for (k, v) in DOCTOR {
        cmd.args(["--field", &format!("{k}={v}")]);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let r = sim.requests().pop().unwrap();
    assert_eq!(r["params"]["doctorName"], "张医生");
    assert_eq!(r["params"]["department"], "放射科");
}

#[test]
fn open_failure_prints_the_status_miic_open_failed_with() {
    // An outbox path below a regular file cannot be created: miic_open fails with MIIC_E_IO,
    // and that status (not a guess) is what the CLI reports.
    let blocker = std::env::temp_dir().join(format!("miic-cli-open-{}", std::process::id()));
    std::fs::write(&blocker, b"not a folder").unwrap();
    let config = json!({"base_url": "http://127.0.0.1:9", "hospital_id": "H",
                        "outbox": {"path": blocker.join("outbox.sqlite")}});
    let out = Command::new(BIN)
        .args(["qr", "--config", &config.to_string()])
        .args(["--field", "accessNumber=CT1", "--field", "modality=CT"])
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&blocker);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("MIIC_E_IO (-11)"), "{}", stderr(&out));
}
