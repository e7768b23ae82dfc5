//! `miic-cli sim` as a separate process, spoken to over plain HTTP on loopback: the spec's wire
//! format is decoded and checked strictly, and every fault mode does what docs/simulator.md says.

use miic::sm2::{encrypt, CipherEncoding, CipherFormat, CipherMode, Sm2Key};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const DOCTOR_ID: &str = "110101199003077777";
const PATIENT_ID: &str = "11010519491231002X";

/// A simulator process, killed on drop.
struct Sim {
    child: Child,
    base: String,
    public_key: String,
    agent: ureq::Agent,
}

impl Sim {
    fn start(extra: &[&str]) -> Sim {
        let mut child = Command::new(env!("CARGO_BIN_EXE_miic-cli"))
            .args(["sim", "--port", "0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start miic-cli sim");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        // `miic-sim listening on http://127.0.0.1:PORT public_key=04…`
        let rest = line
            .trim()
            .strip_prefix("miic-sim listening on ")
            .unwrap_or_else(|| panic!("startup line: {line:?}"));
        let (base, key) = rest.split_once(" public_key=").unwrap();
        assert!(
            base.starts_with("http://127.0.0.1:") && !base.ends_with(":0"),
            "{base}"
        );
        assert!(key.starts_with("04") && key.len() == 130, "{key}");
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(10)))
            .build()
            .into();
        Sim {
            child,
            base: base.to_string(),
            public_key: key.to_string(),
            agent,
        }
    }

    fn addr(&self) -> String {
        self.base.trim_start_matches("http://").to_string()
    }

    fn encrypt(
        &self,
        plain: &str,
        mode: CipherMode,
        encoding: CipherEncoding,
        prefix_04: bool,
    ) -> String {
        encrypt(
            &Sm2Key::parse(&self.public_key).unwrap(),
            plain,
            CipherFormat {
                mode,
                encoding,
                prefix_04,
            },
        )
        .unwrap()
    }

    fn cipher(&self, plain: &str) -> String {
        self.encrypt(plain, CipherMode::C1c3c2, CipherEncoding::Hex, true)
    }

    /// GET; returns (HTTP status, body text).
    fn get(&self, path_and_query: &str) -> (u16, String) {
        let mut r = self
            .agent
            .get(&format!("{}{path_and_query}", self.base))
            .call()
            .unwrap();
        (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
    }

    fn post(&self, path: &str, body: &str) -> (u16, String) {
        let mut r = self
            .agent
            .post(&format!("{}{path}", self.base))
            .header("Content-Type", "application/json;charset=UTF-8")
            .send(body)
            .unwrap();
        (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
    }

    fn get_json(&self, path_and_query: &str) -> Value {
        let (status, body) = self.get(path_and_query);
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    }

    fn post_json(&self, path: &str, body: &Value) -> Value {
        let (status, text) = self.post(path, &body.to_string());
        assert_eq!(status, 200, "{text}");
        serde_json::from_str(&text).unwrap()
    }

    fn fault(&self, fault: Value) {
        let (status, body) = self.post("/__sim/fault", &fault.to_string());
        assert_eq!(status, 200, "{body}");
    }

    fn requests(&self) -> Vec<Value> {
        self.get_json("/__sim/requests").as_array().unwrap().clone()
    }

    fn last(&self) -> Value {
        self.requests().pop().expect("a recorded request")
    }

    fn reset(&self) {
        assert_eq!(self.post("/__sim/reset", "").0, 200);
    }

    /// A raw request on a fresh connection; returns what came back before close or `wait`.
    fn raw(&self, request: &str, wait: Duration) -> (Vec<u8>, bool) {
        let mut s = TcpStream::connect(self.addr()).unwrap();
        s.set_read_timeout(Some(wait)).unwrap();
        s.write_all(request.as_bytes()).unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf) {
                Ok(0) => return (got, true),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return (got, false)
                }
                Err(_) => return (got, true),
            }
        }
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// encodeURIComponent, then `%` → `$` (written here independently of the library).
fn dollar(v: &str) -> String {
    let mut out = String::new();
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("${b:02X}"));
        }
    }
    out
}

/// Keys to replace (`Some`) or drop (`None`) in the valid request.
type Overrides<'a> = Vec<(&'a str, Option<&'a str>)>;

fn login_query(sim: &Sim, overrides: &[(&str, Option<&str>)]) -> String {
    let cipher = sim.cipher(DOCTOR_ID);
    let mut pairs: Vec<(String, String)> = [
        ("hisUserId", "1001"),
        ("type", "1"),
        ("doctorName", "张医生"),
        ("department", "放射科"),
        ("departmentCode", "0301"),
        ("doctorSex", "1"),
        ("doctorIdCardNo", cipher.as_str()),
        ("doctorCode", "D123456"),
        ("doctorType", "2"),
        ("hospitalId", "H33010001"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), dollar(v)))
    .collect();
    for (key, value) in overrides {
        pairs.retain(|(k, _)| k != key);
        if let Some(v) = value {
            pairs.push((key.to_string(), v.to_string()));
        }
    }
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn reminder_body(sim: &Sim) -> Value {
    json!({
        "idCardNo": sim.cipher(PATIENT_ID),
        "patientName": "李四",
        "outpatientId": "15395092817",
        "mobilePhone": "15395092817",
        "hisUserId": "1001",
        "hisUserName": "张医生",
        "patientType": "1",
        "hospitalId": "H33010001",
        "clientIp": "192.168.30.100",
        "mac": "F4:EE:08:0B:9A:54",
        "doctorType": "2",
        "doctorCode": "D123456",
        "doctorIdCardNo": sim.cipher(DOCTOR_ID),
        "accessNumber": "202305010001",
    })
}

fn delete_body() -> Value {
    json!({
        "patientName": "测试",
        "accessionNo": "202501121010",
        "hospitalId": "H33010001",
        "operateDoctorName": "张医生",
        "operateDateTime": "2023-05-08 15:00:01",
        "deleteDateTime": "2023-05-08 15:00:01",
    })
}

const LOGIN: &str = "/hrball/";
const REMINDER: &str = "/iuWorkStation/swipingIdCardNo";
const QRURL: &str = "/getway/reportAndFilm/api/qrurl";
const QRCODE: &str = "/getway/reportAndFilm/api/qrcode";
const DELETE: &str = "/standardInterface/standardHttp/deleteDicom";

fn problems(record: &Value) -> String {
    record["problems"].to_string()
}

#[test]
fn login_decodes_the_specs_dollar_example_and_decrypts_the_doctor_id() {
    let sim = Sim::start(&[]);
    let query = login_query(
        &sim,
        &[
            ("doctorName", Some("$E5$BC$A0$E5$8C$BB$E7$94$9F")),
            ("phoneNumber", Some("13800138000")),
        ],
    );
    let reply = sim.get_json(&format!("{LOGIN}?{query}"));
    assert_eq!(reply["code"], 200, "{reply}");
    assert_eq!(reply["message"], "请求成功");
    let r = sim.last();
    assert_eq!(r["method"], "GET");
    assert_eq!(r["path"], LOGIN);
    assert_eq!(r["endpoint"], "login");
    assert_eq!(r["query"], query);
    assert_eq!(r["params"]["doctorName"], "张医生");
    assert_eq!(r["params"]["department"], "放射科");
    assert_eq!(r["params"]["phoneNumber"], "13800138000");
    assert_eq!(r["decrypted"]["doctorIdCardNo"], DOCTOR_ID);
    assert_eq!(r["problems"], json!([]));
    assert_eq!(r["code"], 200);
    assert_eq!(r["seq"], 1);

    // Logout is the same call with type=2; a literal `$`, `&` and space survive the encoding.
    let query = login_query(
        &sim,
        &[
            ("type", Some("2")),
            ("department", Some(&dollar("CT & MR $室"))),
        ],
    );
    assert_eq!(sim.get_json(&format!("{LOGIN}?{query}"))["code"], 200);
    let r = sim.last();
    assert_eq!(r["params"]["type"], "2");
    assert_eq!(r["params"]["department"], "CT & MR $室");
    assert_eq!(r["seq"], 2);
}

#[test]
fn login_rejects_each_departure_from_the_spec_naming_the_field() {
    let sim = Sim::start(&[]);
    let cases: Vec<(Overrides, &str)> = vec![
        (vec![("departmentCode", None)], "departmentCode:不能为空"),
        (
            vec![("hospitalId", None), ("hospitalld", Some("H1"))],
            "hospitalld:unknown key",
        ),
        (
            vec![("doctorName", Some("%E5%BC%A0%E5%8C%BB%E7%94%9F"))],
            "doctorName:contains '%'",
        ),
        (
            vec![("doctorName", Some("$E5$BC"))],
            "doctorName:escapes do not decode to UTF-8",
        ),
        (
            vec![("doctorSex", Some("3"))],
            "doctorSex:'3' is not in its dictionary",
        ),
        (
            vec![("doctorType", Some("4"))],
            "doctorType:'4' is not in its dictionary",
        ),
        (
            vec![("type", Some("0"))],
            "type:'0' is not in its dictionary",
        ),
        (
            vec![("doctorIdCardNo", Some(DOCTOR_ID))],
            "doctorIdCardNo:is a plaintext ID-card number",
        ),
        (
            vec![("doctorIdCardNo", Some("04abcd"))],
            "doctorIdCardNo:ciphertext is 3 bytes",
        ),
        (
            vec![("doctorCode", Some("$20D1"))],
            "doctorCode:value has leading or trailing spaces",
        ),
        (vec![("hisUserId", Some(""))], "hisUserId:不能为空"),
    ];
    for (overrides, expected) in cases {
        let query = login_query(&sim, &overrides);
        let reply = sim.get_json(&format!("{LOGIN}?{query}"));
        assert_eq!(reply["code"], 400, "{expected}: {reply}");
        assert!(
            reply["message"].as_str().unwrap().contains(expected),
            "{expected}: {reply}"
        );
        assert!(problems(&sim.last()).contains(expected));
    }
    // The spec template's spaces (`type=1 &doctorName`) cannot even be sent as a URL.
    let (got, _) = sim.raw(
        &format!("GET {LOGIN}?hisUserId=1&type=1 &doctorName=x HTTP/1.1\r\nHost: x\r\n\r\n"),
        Duration::from_secs(5),
    );
    assert!(
        String::from_utf8_lossy(&got).starts_with("HTTP/1.1 400"),
        "{}",
        String::from_utf8_lossy(&got)
    );
    assert!(problems(&sim.last()).contains("malformed HTTP request"));
    // A key with an encoded space is named.
    let query = login_query(&sim, &[("hospitalId", None)]) + "&$20hospitalId=H1";
    let reply = sim.get_json(&format!("{LOGIN}?{query}"));
    assert!(
        reply["message"]
            .as_str()
            .unwrap()
            .contains("key has spaces"),
        "{reply}"
    );
    // Wrong method and wrong path.
    let (status, _) = sim.post(LOGIN, "{}");
    assert_eq!(status, 405);
    let (status, body) = sim.get("/hrball?hisUserId=1");
    assert_eq!(status, 404);
    assert!(body.contains("did you mean /hrball/"), "{body}");
}

#[test]
fn reminder_accepts_clean_keys_and_rejects_the_samples_spaced_keys() {
    let sim = Sim::start(&[]);
    let reply = sim.post_json(REMINDER, &reminder_body(&sim));
    assert_eq!(reply, json!({"code": 200, "data": {}, "message": ""}));
    let r = sim.last();
    assert_eq!(r["endpoint"], "reminder");
    assert_eq!(r["params"]["patientName"], "李四");
    assert_eq!(r["decrypted"]["idCardNo"], PATIENT_ID);
    assert_eq!(r["decrypted"]["doctorIdCardNo"], DOCTOR_ID);

    let mut cases: Vec<(Value, &str)> = Vec::new();
    let mut spaced = reminder_body(&sim);
    let name = spaced
        .as_object_mut()
        .unwrap()
        .remove("patientName")
        .unwrap();
    spaced["patientName "] = name;
    cases.push((spaced, "'patientName ':key has spaces"));
    let mut b = reminder_body(&sim);
    b["patientType"] = json!("0");
    cases.push((b, "patientType:'0' is not in its dictionary"));
    let mut b = reminder_body(&sim);
    b.as_object_mut().unwrap().remove("clientIp");
    b.as_object_mut().unwrap().remove("mac");
    cases.push((b, "clientIp:不能为空"));
    let mut b = reminder_body(&sim);
    b.as_object_mut().unwrap().remove("accessNumber");
    cases.push((b, "accessNumber:不能为空"));
    let mut b = reminder_body(&sim);
    b["idCardNo"] = json!(PATIENT_ID);
    cases.push((b, "idCardNo:is a plaintext ID-card number"));
    let mut b = reminder_body(&sim);
    b["mac"] = json!("F4EE080B9A54");
    cases.push((b, "mac:'F4EE080B9A54' is not a MAC address"));
    let mut b = reminder_body(&sim);
    b["patientType"] = json!(1);
    cases.push((b, "patientType:must be a string"));
    for (body, expected) in cases {
        let reply = sim.post_json(REMINDER, &body);
        assert_eq!(reply["code"], 400, "{expected}: {reply}");
        assert!(
            reply["message"].as_str().unwrap().contains(expected),
            "{expected}: {reply}"
        );
    }
    // Only one of clientIp / mac is needed.
    let mut b = reminder_body(&sim);
    b["clientIp"] = json!("");
    assert_eq!(sim.post_json(REMINDER, &b)["code"], 200);
    // Not JSON at all.
    let (_, text) = sim.post(REMINDER, "idCardNo=1");
    assert!(text.contains("body:not JSON"), "{text}");
}

#[test]
fn simulator_decrypts_only_the_layout_it_was_told() {
    let sim = Sim::start(&["--mode", "c1c2c3"]);
    let good = sim.encrypt(DOCTOR_ID, CipherMode::C1c2c3, CipherEncoding::Hex, true);
    let wrong = sim.encrypt(DOCTOR_ID, CipherMode::C1c3c2, CipherEncoding::Hex, true);
    let reply = sim.get_json(&format!(
        "{LOGIN}?{}",
        login_query(&sim, &[("doctorIdCardNo", Some(good.as_str()))])
    ));
    assert_eq!(reply["code"], 200, "{reply}");
    assert_eq!(sim.last()["decrypted"]["doctorIdCardNo"], DOCTOR_ID);
    let reply = sim.get_json(&format!(
        "{LOGIN}?{}",
        login_query(&sim, &[("doctorIdCardNo", Some(wrong.as_str()))])
    ));
    assert_eq!(reply["code"], 400);
    assert!(
        reply["message"]
            .as_str()
            .unwrap()
            .contains("does not decrypt"),
        "{reply}"
    );
    assert!(
        reply["message"].as_str().unwrap().contains("C1C2C3"),
        "{reply}"
    );
    drop(sim);

    let sim = Sim::start(&["--no-prefix-04", "--cipher-encoding", "base64"]);
    let good = sim.encrypt(
        PATIENT_ID,
        CipherMode::C1c3c2,
        CipherEncoding::Base64,
        false,
    );
    let with_04 = sim.encrypt(PATIENT_ID, CipherMode::C1c3c2, CipherEncoding::Base64, true);
    let hex = sim.encrypt(PATIENT_ID, CipherMode::C1c3c2, CipherEncoding::Hex, false);
    let mut body = reminder_body(&sim);
    body["doctorIdCardNo"] =
        json!(sim.encrypt(DOCTOR_ID, CipherMode::C1c3c2, CipherEncoding::Base64, false));
    body["idCardNo"] = json!(good);
    assert_eq!(sim.post_json(REMINDER, &body)["code"], 200);
    assert_eq!(sim.last()["decrypted"]["idCardNo"], PATIENT_ID);
    for bad in [with_04, hex] {
        body["idCardNo"] = json!(bad);
        let reply = sim.post_json(REMINDER, &body);
        assert_eq!(reply["code"], 400, "{reply}");
        assert!(problems(&sim.last()).contains("idCardNo:ciphertext"));
    }
}

#[test]
fn simulator_with_its_own_key_prints_the_matching_public_key() {
    let private = "1649ab77a00637bd5e2efe283fbf353534aa7f7cb89463f208ddbc2920bb0da0";
    let sim = Sim::start(&["--private-key", private]);
    let test_key_sim = Sim::start(&[]);
    assert_ne!(sim.public_key, test_key_sim.public_key);
    let reply = sim.get_json(&format!("{LOGIN}?{}", login_query(&sim, &[])));
    assert_eq!(reply["code"], 200, "{reply}");
    // A ciphertext for another key does not decrypt.
    let other = test_key_sim.cipher(DOCTOR_ID);
    let reply = sim.get_json(&format!(
        "{LOGIN}?{}",
        login_query(&sim, &[("doctorIdCardNo", Some(other.as_str()))])
    ));
    assert_eq!(reply["code"], 400);
    // A bad key fails at start with a message.
    let out = Command::new(env!("CARGO_BIN_EXE_miic-cli"))
        .args(["sim", "--private-key", "xyz"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--private-key"));
}

#[test]
fn qr_url_is_deterministic_and_missing_parameters_get_code_202() {
    let sim = Sim::start(&["--hospital-id", "H33010001"]);
    let q = format!("{QRURL}?accessNumber=202305010001&modality=CT&hospitalId=H33010001");
    let a = sim.get_json(&q);
    assert_eq!(a["code"], 200);
    assert_eq!(a["message"], "请求成功");
    let url = a["data"].as_str().unwrap();
    assert!(
        url.starts_with("http://wx.imagingunion.com/iuweixin/iu_scanFilmInfo?info="),
        "{url}"
    );
    // info = base64(SM3("accessNumber|modality|hospitalId")), as docs/simulator.md says.
    use base64::Engine as _;
    use sm3::Digest as _;
    let info = base64::engine::general_purpose::STANDARD
        .encode(sm3::Sm3::digest(b"202305010001|CT|H33010001"));
    assert!(url.ends_with(&info), "{url}");
    assert_eq!(sim.get_json(&q)["data"], a["data"]);
    assert_ne!(
        sim.get_json(&format!(
            "{QRURL}?accessNumber=202305010002&modality=CT&hospitalId=H33010001"
        ))["data"],
        a["data"]
    );
    assert_eq!(sim.last()["params"]["accessNumber"], "202305010002");

    for (query, expected) in [
        ("accessNumber=1&modality=CT", "hospitalId:不能为空"),
        ("accessNumber=1&hospitalId=H33010001", "modality:不能为空"),
        ("modality=CT&hospitalId=H33010001", "accessNumber:不能为空"),
        (
            "accessNumber=1&modality=CT&hospitalld=H33010001",
            "hospitalld:unknown key",
        ),
        (
            "accessNumber=1&modality=CT&hospitalId=OTHER",
            "hospitalId:'OTHER' is not this front-end machine's hospital",
        ),
        (
            "accessNumber=1&modality=c%20t&hospitalId=H33010001",
            "modality:'c t' is not a modality code",
        ),
    ] {
        let reply = sim.get_json(&format!("{QRURL}?{query}"));
        assert_eq!(reply["code"], 202, "{query}: {reply}");
        assert!(
            reply["message"].as_str().unwrap().contains(expected),
            "{query}: {reply}"
        );
    }

    let png = sim.get_json(&format!(
        "{QRCODE}?accessNumber=202305010001&modality=CT&hospitalId=H33010001"
    ));
    assert_eq!(png["code"], 200);
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(png["data"].as_str().unwrap())
        .unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
}

#[test]
fn delete_needs_every_field_and_a_real_date_time() {
    let sim = Sim::start(&[]);
    assert_eq!(
        sim.post_json(DELETE, &delete_body()),
        json!({"message": "请求成功", "code": 200})
    );
    assert_eq!(sim.last()["params"]["operateDoctorName"], "张医生");
    // The sample's deleteDateTime alone, or the table's operateDateTime alone, is enough.
    for drop_key in ["operateDateTime", "deleteDateTime"] {
        let mut b = delete_body();
        b.as_object_mut().unwrap().remove(drop_key);
        assert_eq!(sim.post_json(DELETE, &b)["code"], 200, "{drop_key}");
    }
    let mut cases: Vec<(Value, &str)> = Vec::new();
    for key in [
        "patientName",
        "accessionNo",
        "hospitalId",
        "operateDoctorName",
    ] {
        let mut b = delete_body();
        b.as_object_mut().unwrap().remove(key);
        cases.push((b, key));
    }
    for (body, key) in cases {
        let reply = sim.post_json(DELETE, &body);
        assert_eq!(reply["code"], 400);
        assert_eq!(reply["message"], format!("{key}:不能为空"));
    }
    let mut b = delete_body();
    b.as_object_mut().unwrap().remove("deleteDateTime");
    b["operateDateTime"] = json!("2023-02-30 15:00:01");
    let reply = sim.post_json(DELETE, &b);
    assert!(
        reply["message"]
            .as_str()
            .unwrap()
            .contains("operateDateTime:'2023-02-30 15:00:01' is not a date-time"),
        "{reply}"
    );
    let mut b = delete_body();
    b.as_object_mut().unwrap().remove("operateDateTime");
    b.as_object_mut().unwrap().remove("deleteDateTime");
    assert_eq!(
        sim.post_json(DELETE, &b)["message"],
        "operateDateTime:不能为空"
    );
}

#[test]
fn fault_modes_answer_as_documented() {
    let sim = Sim::start(&[]);
    let qr = format!("{QRURL}?accessNumber=1&modality=CT&hospitalId=H1");
    let get = format!("GET {qr} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");

    sim.fault(json!({"mode": "code500"}));
    assert_eq!(
        sim.get_json(&qr),
        json!({"code": 500, "message": "服务异常"})
    );
    assert_eq!(sim.last()["fault"], "code500");
    sim.fault(json!({"mode": "code400"}));
    assert_eq!(sim.get_json(&qr)["code"], 400);
    sim.fault(json!({"mode": "code202"}));
    assert_eq!(sim.get_json(&qr)["code"], 202);

    sim.fault(json!({"mode": "http500"}));
    assert_eq!(sim.get(&qr).0, 500);
    assert_eq!(sim.last()["http_status"], 500);

    sim.fault(json!({"mode": "garbage"}));
    let (status, body) = sim.get(&qr);
    assert_eq!(status, 200);
    assert!(serde_json::from_str::<Value>(&body).is_err(), "{body}");

    sim.fault(json!({"mode": "oversized"}));
    let mut r = sim.agent.get(&format!("{}{qr}", sim.base)).call().unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let mut n = 0u64;
    let mut reader = r.body_mut().as_reader();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match reader.read(&mut buf).unwrap() {
            0 => break,
            k => n += k as u64,
        }
    }
    assert_eq!(n, 16 * 1024 * 1024);

    sim.fault(json!({"mode": "reset"}));
    let (got, closed) = sim.raw(&get, Duration::from_secs(5));
    assert!(
        got.is_empty() && closed,
        "reset answered {:?}",
        String::from_utf8_lossy(&got)
    );
    assert_eq!(sim.last()["fault"], "reset");

    sim.fault(json!({"mode": "slow", "delay_ms": 400}));
    let t = Instant::now();
    assert_eq!(sim.get_json(&qr)["code"], 200);
    assert!(
        t.elapsed() >= Duration::from_millis(400),
        "{:?}",
        t.elapsed()
    );

    sim.fault(json!({"mode": "hang"}));
    let (got, closed) = sim.raw(&get, Duration::from_millis(700));
    assert!(got.is_empty() && !closed, "a hung request was answered");
    let hung = sim.last();
    assert_eq!(hung["fault"], "hang");
    assert_eq!(
        hung["params"]["accessNumber"], "1",
        "faulted requests are still decoded"
    );
    assert_eq!(hung["http_status"], Value::Null);

    sim.fault(json!({"mode": "none"}));
    assert_eq!(sim.get_json(&qr)["code"], 200);

    // Bad fault requests are refused with a reason.
    let (status, body) = sim.post("/__sim/fault", r#"{"mode":"explode"}"#);
    assert_eq!(status, 400);
    assert!(body.contains("explode"), "{body}");
}

#[test]
fn fault_count_and_path_limit_it() {
    let sim = Sim::start(&[]);
    let qr = format!("{QRURL}?accessNumber=1&modality=CT&hospitalId=H1");
    sim.fault(json!({"mode": "code500", "count": 2}));
    assert_eq!(sim.get_json(&qr)["code"], 500);
    assert_eq!(sim.get_json(&qr)["code"], 500);
    assert_eq!(sim.get_json(&qr)["code"], 200);
    assert_eq!(sim.get_json("/__sim/fault")["mode"], "none");

    sim.fault(json!({"mode": "code500", "path": DELETE}));
    assert_eq!(sim.get_json(&qr)["code"], 200);
    assert_eq!(sim.post_json(DELETE, &delete_body())["code"], 500);
}

#[test]
fn a_hung_request_blocks_no_other_connection_and_reset_releases_it() {
    let sim = Sim::start(&[]);
    sim.fault(json!({"mode": "hang", "path": LOGIN}));
    let addr = sim.addr();
    let hung = std::thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        s.write_all(b"GET /hrball/?hisUserId=1 HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let t = Instant::now();
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf);
        (buf, t.elapsed())
    });
    std::thread::sleep(Duration::from_millis(300));
    // Other endpoints answer at once while the login hangs.
    let t = Instant::now();
    assert_eq!(
        sim.get_json(&format!("{QRURL}?accessNumber=1&modality=CT&hospitalId=H1"))["code"],
        200
    );
    assert!(t.elapsed() < Duration::from_secs(2));
    // Reset releases it: closed without an answer.
    sim.reset();
    let (buf, waited) = hung.join().unwrap();
    assert!(buf.is_empty());
    assert!(waited < Duration::from_secs(10), "{waited:?}");
    assert!(sim.requests().is_empty(), "reset clears the records");
}

#[test]
fn many_keep_alive_clients_at_once_are_all_answered_and_recorded() {
    let sim = Sim::start(&[]);
    let threads: Vec<_> = (0..16)
        .map(|t| {
            let agent = sim.agent.clone();
            let base = sim.base.clone();
            std::thread::spawn(move || {
                for i in 0..20 {
                    let url =
                        format!("{base}{QRURL}?accessNumber={t}-{i}&modality=CT&hospitalId=H1");
                    let mut r = agent.get(&url).call().unwrap();
                    let v: Value =
                        serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
                    assert_eq!(v["code"], 200);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let records = sim.requests();
    assert_eq!(records.len(), 320);
    let seqs: Vec<u64> = records.iter().map(|r| r["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn listing_names_every_endpoint() {
    let sim = Sim::start(&[]);
    let listing = sim.get_json("/__sim");
    assert_eq!(listing["public_key"], sim.public_key.as_str());
    let paths: Vec<&str> = listing["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, [LOGIN, REMINDER, QRURL, QRCODE, DELETE]);
}

#[test]
fn in_process_simulator_records_takes_faults_and_stops() {
    use miic_cli::sim::state::{Fault, FaultMode};
    let mut sim = miic_cli::sim::Sim::start(&miic_cli::sim::SimArgs::default()).unwrap();
    assert!(sim.startup_line().starts_with(&format!(
        "miic-sim listening on {} public_key=04",
        sim.base_url()
    )));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let url = format!(
        "{}{QRURL}?accessNumber=1&modality=CT&hospitalId=H1",
        sim.base_url()
    );
    let body = agent
        .get(&url)
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    assert!(body.contains("\"code\":200"), "{body}");
    sim.set_fault(Fault {
        mode: FaultMode::Code500,
        delay_ms: 0,
        count: Some(1),
        path: None,
    });
    let body = agent
        .get(&url)
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    assert!(body.contains("\"code\":500"), "{body}");
    assert_eq!(sim.requests().len(), 2);
    assert_eq!(sim.requests()[1]["fault"], "code500");
    sim.reset();
    assert!(sim.requests().is_empty());
    let addr = sim.addr();
    sim.stop();
    // Stopped: new connections are refused or closed unanswered.
    let answered = TcpStream::connect_timeout(&addr, Duration::from_secs(1))
        .ok()
        .and_then(|mut s| {
            s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
            s.write_all(b"GET /__sim HTTP/1.1\r\nHost: x\r\n\r\n")
                .ok()?;
            let mut buf = [0u8; 16];
            s.read(&mut buf).ok().filter(|n| *n > 0)
        });
    assert!(answered.is_none(), "a stopped simulator answered");
}

#[test]
fn expect_100_continue_gets_its_interim_answer() {
    let sim = Sim::start(&[]);
    let body = delete_body().to_string();
    let head = format!(
        "POST {DELETE} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        body.len()
    );
    let mut s = TcpStream::connect(sim.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    let mut buf = [0u8; 25];
    s.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"HTTP/1.1 100 Continue\r\n\r\n");
    s.write_all(body.as_bytes()).unwrap();
    let mut rest = vec![0u8; 4096];
    let n = s.read(&mut rest).unwrap();
    let text = String::from_utf8_lossy(&rest[..n]);
    assert!(
        text.starts_with("HTTP/1.1 200") && text.contains("请求成功"),
        "{text}"
    );
}

/// A raw GET on a fresh connection: (head, body bytes).
fn raw_get(sim: &Sim, path_and_query: &str) -> (String, Vec<u8>) {
    let request = format!("GET {path_and_query} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let (got, closed) = sim.raw(&request, Duration::from_secs(5));
    assert!(closed, "answer not finished");
    let at = got
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of head");
    (
        String::from_utf8_lossy(&got[..at]).into_owned(),
        got[at + 4..].to_vec(),
    )
}

#[test]
fn reply_encoding_switch_writes_gbk_gb18030_and_a_bom_as_told() {
    let sim = Sim::start(&["--reply-encoding", "gbk"]);
    let qr = format!("{QRURL}?accessNumber=1&modality=CT&hospitalId=H1");
    let (head, body) = raw_get(&sim, &qr);
    assert!(
        head.contains("Content-Type: application/json;charset=GBK\r\n"),
        "{head}"
    );
    let (text, _, malformed) = encoding_rs::GBK.decode(&body);
    assert!(
        !malformed
            && body
                .windows(8)
                .any(|w| w == b"\xC7\xEB\xC7\xF3\xB3\xC9\xB9\xA6")
    );
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap()["message"],
        "请求成功"
    );
    assert_eq!(
        sim.last()["reply_encoding"],
        json!({"encoding": "GBK", "bom": false, "charset": "GBK"})
    );

    // Switched while running: GB18030 after a UTF-8 byte-order mark, no charset named; the
    // faults' replies follow it, the control endpoints stay UTF-8.
    let (status, answer) = sim.post(
        "/__sim/encoding",
        r#"{"encoding":"gb18030","bom":true,"charset":null}"#,
    );
    assert_eq!(status, 200, "{answer}");
    sim.fault(json!({"mode": "code500", "count": 1}));
    let (head, body) = raw_get(&sim, &qr);
    assert!(
        head.contains("Content-Type: application/json\r\n"),
        "{head}"
    );
    let gb = body
        .strip_prefix(b"\xEF\xBB\xBF")
        .expect("byte-order mark first");
    let (text, _, malformed) = encoding_rs::GB18030.decode(gb);
    assert!(!malformed && std::str::from_utf8(gb).is_err());
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap(),
        json!({"code": 500, "message": "服务异常"})
    );
    assert_eq!(sim.get_json("/__sim/encoding")["encoding"], "GB18030");

    // Any label, known or not, is written as given.
    sim.post("/__sim/encoding", r#"{"charset":"x-klingon"}"#);
    let (head, body) = raw_get(&sim, &qr);
    assert!(head.contains("charset=x-klingon\r\n"), "{head}");
    assert!(std::str::from_utf8(&body).is_ok());

    // Reset restores the charset given at start; bad bodies are refused naming the problem.
    sim.reset();
    assert!(raw_get(&sim, &qr).0.contains("charset=GBK\r\n"));
    let (status, body) = sim.post("/__sim/encoding", r#"{"encoding":"big5"}"#);
    assert_eq!(status, 400);
    assert!(body.contains("big5"), "{body}");
}
