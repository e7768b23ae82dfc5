//! The four cloud interfaces as the spec writes them (4.3, 4.4.3.1, 4.4.3.2, 4.5): strict checks
//! of keys, dictionaries, encodings and ciphertexts, and replies shaped like the spec's samples.

use super::crypto::{looks_like_id_card, Decrypter};
use base64::Engine as _;
use serde_json::{json, Map, Value};
use sm3::Digest as _;

/// One cloud endpoint: method, path, short name, spec section.
pub struct Endpoint {
    pub method: &'static str,
    pub path: &'static str,
    pub name: &'static str,
    pub spec: &'static str,
}

pub const ENDPOINTS: [Endpoint; 5] = [
    Endpoint {
        method: "GET",
        path: "/hrball/",
        name: "login",
        spec: "4.4.3.1 login/logout, $-encoded query",
    },
    Endpoint {
        method: "POST",
        path: "/iuWorkStation/swipingIdCardNo",
        name: "reminder",
        spec: "4.4.3.2 patient reminder, JSON",
    },
    Endpoint {
        method: "GET",
        path: "/getway/reportAndFilm/api/qrurl",
        name: "qrurl",
        spec: "4.3 QR URL",
    },
    Endpoint {
        method: "GET",
        path: "/getway/reportAndFilm/api/qrcode",
        name: "qrcode",
        spec: "4.3 QR picture, base64 PNG in data",
    },
    Endpoint {
        method: "POST",
        path: "/standardInterface/standardHttp/deleteDicom",
        name: "delete",
        spec: "4.5 delete notification, JSON",
    },
];

/// 5.2 性别, 5.7 人员类型, 5.2 患者类型 (codes only).
const SEX: [&str; 4] = ["0", "1", "2", "9"];
const DOCTOR_TYPE: [&str; 3] = ["1", "2", "3"];
const PATIENT_TYPE: [&str; 5] = ["1", "2", "3", "4", "9"];
const LOGIN_TYPE: [&str; 2] = ["1", "2"];

const LOGIN_KEYS: [&str; 11] = [
    "hisUserId",
    "type",
    "doctorName",
    "hospitalId",
    "department",
    "departmentCode",
    "doctorSex",
    "doctorType",
    "doctorCode",
    "doctorIdCardNo",
    "phoneNumber",
];
const REMINDER_KEYS: [&str; 18] = [
    "idCardNo",
    "patientName",
    "outpatientId",
    "insuranceId",
    "hospitalizationId",
    "medicareNo",
    "healthNo",
    "mobilePhone",
    "hisUserId",
    "hisUserName",
    "patientType",
    "hospitalId",
    "clientIp",
    "mac",
    "doctorType",
    "doctorCode",
    "doctorIdCardNo",
    "accessNumber",
];
const QR_KEYS: [&str; 3] = ["accessNumber", "modality", "hospitalId"];
const DELETE_KEYS: [&str; 6] = [
    "patientName",
    "accessionNo",
    "hospitalId",
    "operateDoctorName",
    "operateDateTime",
    "deleteDateTime",
];

/// Where the QR URL points, as in the spec's sample reply.
pub const FILM_URL: &str = "http://wx.imagingunion.com/iuweixin/iu_scanFilmInfo?info=";

pub struct Ctx<'a> {
    pub decrypter: &'a Decrypter,
    /// When set, requests for another hospital are a problem.
    pub hospital_id: Option<&'a str>,
}

/// What a cloud request produced: the record's fields and the reply.
pub struct Outcome {
    pub endpoint: Option<&'static str>,
    pub params: Value,
    pub decrypted: Map<String, Value>,
    pub problems: Vec<String>,
    pub http_status: u16,
    pub reply: Value,
}

impl Outcome {
    fn new(endpoint: &'static str) -> Outcome {
        Outcome {
            endpoint: Some(endpoint),
            params: Value::Object(Map::new()),
            decrypted: Map::new(),
            problems: Vec::new(),
            http_status: 200,
            reply: Value::Null,
        }
    }

    fn problem(&mut self, p: impl Into<String>) {
        self.problems.push(p.into());
    }

    /// The reply is `{"code":200,…}` when nothing was wrong, else `{"code":<bad>,"message":problems}`.
    fn finish(mut self, ok: Value, bad_code: u16) -> Outcome {
        self.reply = if self.problems.is_empty() {
            ok
        } else {
            json!({"code": bad_code, "message": self.problems.join("; ")})
        };
        self
    }
}

/// Route one cloud request. `query` is the raw text after `?`.
pub fn handle(
    ctx: &Ctx,
    method: &str,
    path: &str,
    query: Option<&str>,
    content_type: Option<&str>,
    body: &[u8],
) -> Outcome {
    let Some(endpoint) = ENDPOINTS.iter().find(|e| e.path == path) else {
        let hint = ENDPOINTS
            .iter()
            .find(|e| {
                e.path
                    .trim_end_matches('/')
                    .eq_ignore_ascii_case(path.trim_end_matches('/'))
            })
            .map(|e| format!(" (did you mean {}?)", e.path))
            .unwrap_or_default();
        let message = format!("no such endpoint: {path}{hint}");
        return Outcome {
            endpoint: None,
            params: Value::Null,
            decrypted: Map::new(),
            problems: vec![message.clone()],
            http_status: 404,
            reply: json!({"code": 404, "message": message}),
        };
    };
    if endpoint.method != method {
        let message = format!("{} wants {}, got {method}", endpoint.path, endpoint.method);
        let mut o = Outcome::new(endpoint.name);
        o.problem(message.clone());
        o.http_status = 405;
        o.reply = json!({"code": 405, "message": message});
        return o;
    }
    match endpoint.name {
        "login" => login(ctx, query),
        "reminder" => reminder(ctx, content_type, body),
        "qrurl" => qr(ctx, "qrurl", query),
        "qrcode" => qr(ctx, "qrcode", query),
        _ => delete(ctx, content_type, body),
    }
}

// ---------------------------------------------------------------- 4.4.3.1 login / logout

fn login(ctx: &Ctx, query: Option<&str>) -> Outcome {
    let mut o = Outcome::new("login");
    let pairs = parse_query(query.unwrap_or(""), QueryEncoding::Dollar, &mut o);
    let fields = check_keys(&pairs, &LOGIN_KEYS, &mut o);
    for key in [
        "hisUserId",
        "type",
        "doctorName",
        "hospitalId",
        "department",
        "departmentCode",
        "doctorSex",
        "doctorType",
        "doctorCode",
        "doctorIdCardNo",
    ] {
        require(&fields, key, &mut o);
    }
    dictionary(&fields, "type", &LOGIN_TYPE, "1=login, 2=logout", &mut o);
    dictionary(
        &fields,
        "doctorSex",
        &SEX,
        "dictionary 性别 sex: 0, 1, 2, 9",
        &mut o,
    );
    dictionary(
        &fields,
        "doctorType",
        &DOCTOR_TYPE,
        "dictionary 人员类型 doctorType: 1, 2, 3",
        &mut o,
    );
    hospital(ctx, &fields, &mut o);
    decrypt_id(ctx, &fields, "doctorIdCardNo", &mut o);
    o.params = Value::Object(fields);
    o.finish(
        json!({"code": 200, "message": "请求成功", "data": null}),
        400,
    )
}

// ---------------------------------------------------------------- 4.4.3.2 patient reminder

fn reminder(ctx: &Ctx, content_type: Option<&str>, body: &[u8]) -> Outcome {
    let mut o = Outcome::new("reminder");
    let fields = json_body(content_type, body, &REMINDER_KEYS, &mut o);
    for key in [
        "idCardNo",
        "patientName",
        "mobilePhone",
        "hisUserId",
        "hisUserName",
        "patientType",
        "hospitalId",
        "doctorType",
        "doctorCode",
        "doctorIdCardNo",
        "accessNumber",
    ] {
        require(&fields, key, &mut o);
    }
    dictionary(
        &fields,
        "patientType",
        &PATIENT_TYPE,
        "dictionary 患者类型 patientType: 1, 2, 3, 4, 9",
        &mut o,
    );
    dictionary(
        &fields,
        "doctorType",
        &DOCTOR_TYPE,
        "dictionary 人员类型 doctorType: 1, 2, 3",
        &mut o,
    );
    if let Some(phone) = text(&fields, "mobilePhone") {
        if !(7..=15).contains(&phone.len()) || !phone.bytes().all(|b| b.is_ascii_digit()) {
            o.problem(format!(
                "mobilePhone:'{}' is not a phone number (7-15 digits)",
                mask(phone)
            ));
        }
    }
    let ip = text(&fields, "clientIp");
    let mac = text(&fields, "mac");
    if ip.is_none() && mac.is_none() {
        o.problem("clientIp:不能为空 (clientIp or mac is required)");
    }
    if let Some(ip) = ip {
        if ip.parse::<std::net::IpAddr>().is_err() {
            o.problem(format!("clientIp:'{ip}' is not an IP address"));
        }
    }
    if let Some(mac) = mac {
        if !is_mac(mac) {
            o.problem(format!(
                "mac:'{mac}' is not a MAC address (six hex pairs with ':' or '-')"
            ));
        }
    }
    hospital(ctx, &fields, &mut o);
    decrypt_id(ctx, &fields, "idCardNo", &mut o);
    decrypt_id(ctx, &fields, "doctorIdCardNo", &mut o);
    o.params = Value::Object(fields);
    o.finish(json!({"code": 200, "data": {}, "message": ""}), 400)
}

// ---------------------------------------------------------------- 4.3 QR URL / picture

fn qr(ctx: &Ctx, name: &'static str, query: Option<&str>) -> Outcome {
    let mut o = Outcome::new(name);
    let pairs = parse_query(query.unwrap_or(""), QueryEncoding::Percent, &mut o);
    let fields = check_keys(&pairs, &QR_KEYS, &mut o);
    for key in QR_KEYS {
        require(&fields, key, &mut o);
    }
    if let Some(m) = text(&fields, "modality") {
        if m.len() > 16
            || !m
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
        {
            o.problem(format!(
                "modality:'{m}' is not a modality code (CT, MR, DX, …)"
            ));
        }
    }
    hospital(ctx, &fields, &mut o);
    let url = film_url(
        text(&fields, "accessNumber").unwrap_or(""),
        text(&fields, "modality").unwrap_or(""),
        text(&fields, "hospitalId").unwrap_or(""),
    );
    o.params = Value::Object(fields);
    let data = if name == "qrcode" && o.problems.is_empty() {
        match super::png::qr_png(&url) {
            Ok(png) => base64::engine::general_purpose::STANDARD.encode(png),
            Err(e) => {
                o.problem(format!("accessNumber:cannot draw a QR code: {e}"));
                String::new()
            }
        }
    } else {
        url
    };
    if !o.problems.is_empty() {
        o.problems.insert(0, "传参数不规范（少传参数）".into());
    }
    o.finish(
        json!({"code": 200, "data": data, "message": "请求成功"}),
        202,
    )
}

/// The film URL for an exam: `info` is base64(SM3(accessNumber|modality|hospitalId)), so the
/// same exam always gets the same URL (a test can compute it) and the URL looks like the sample.
pub fn film_url(access_number: &str, modality: &str, hospital_id: &str) -> String {
    let digest = sm3::Sm3::digest(format!("{access_number}|{modality}|{hospital_id}").as_bytes());
    format!(
        "{FILM_URL}{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

// ---------------------------------------------------------------- 4.5 delete notification

fn delete(ctx: &Ctx, content_type: Option<&str>, body: &[u8]) -> Outcome {
    let mut o = Outcome::new("delete");
    let fields = json_body(content_type, body, &DELETE_KEYS, &mut o);
    for key in [
        "patientName",
        "accessionNo",
        "hospitalId",
        "operateDoctorName",
    ] {
        require(&fields, key, &mut o);
    }
    let operate = text(&fields, "operateDateTime");
    let delete = text(&fields, "deleteDateTime");
    if operate.is_none() && delete.is_none() {
        o.problem("operateDateTime:不能为空");
    }
    for (key, value) in [("operateDateTime", operate), ("deleteDateTime", delete)] {
        if let Some(v) = value {
            if !is_datetime(v) {
                o.problem(format!(
                    "{key}:'{v}' is not a date-time yyyy-MM-dd HH:mm:ss"
                ));
            }
        }
    }
    if let (Some(a), Some(b)) = (operate, delete) {
        if a != b {
            o.problem(format!(
                "deleteDateTime:'{b}' differs from operateDateTime '{a}'"
            ));
        }
    }
    hospital(ctx, &fields, &mut o);
    o.params = Value::Object(fields);
    o.finish(json!({"message": "请求成功", "code": 200}), 400)
}

/// `yyyy-MM-dd HH:mm:ss`, zero-padded, a real calendar date.
pub fn is_datetime(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 19
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b' ',
            13 | 16 => *c == b':',
            _ => c.is_ascii_digit(),
        })
        && chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").is_ok()
}

// ---------------------------------------------------------------- shared checks

#[derive(Clone, Copy, PartialEq, Eq)]
enum QueryEncoding {
    /// 4.4.3.1: encodeURIComponent with every `%` replaced by `$`.
    Dollar,
    /// Plain percent-encoding (4.3), `+` read as a space as Java servers do.
    Percent,
}

/// Split and decode a query string; every defect is a problem naming the key.
fn parse_query(query: &str, encoding: QueryEncoding, o: &mut Outcome) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    if query.is_empty() {
        return pairs;
    }
    for piece in query.split('&') {
        if piece.is_empty() {
            o.problem("query:empty parameter (stray '&')");
            continue;
        }
        let Some((raw_key, raw_value)) = piece.split_once('=') else {
            o.problem(format!("query:'{piece}' is not key=value"));
            continue;
        };
        if raw_key.is_empty()
            || !raw_key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            let shown = decode_lossy(raw_key, encoding);
            if shown.trim() != shown || shown.contains(' ') {
                o.problem(format!(
                    "'{shown}':key has spaces (the spec's template spaces must not be sent)"
                ));
            } else {
                o.problem(format!("'{shown}':is not a parameter name"));
            }
            continue;
        }
        let key = raw_key.to_string();
        match decode_value(raw_value, encoding) {
            Ok(value) => {
                if value.trim() != value {
                    o.problem(format!("{key}:value has leading or trailing spaces"));
                }
                pairs.push((key, value));
            }
            Err(why) => {
                o.problem(format!("{key}:{why}"));
                pairs.push((key, decode_lossy(raw_value, encoding)));
            }
        }
    }
    pairs
}

fn decode_value(raw: &str, encoding: QueryEncoding) -> Result<String, String> {
    let escape = match encoding {
        QueryEncoding::Dollar => b'$',
        QueryEncoding::Percent => b'%',
    };
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == escape {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            match hex {
                Some(v) => out.push(v),
                None => return Err(format!("bad escape at '{}'", &raw[i..raw.len().min(i + 3)])),
            }
            i += 3;
            continue;
        }
        match (encoding, b) {
            (QueryEncoding::Dollar, b'%') => {
                return Err(
                    "contains '%' (the spec replaces every '%' of the encoding by '$')".into(),
                )
            }
            (QueryEncoding::Percent, b'+') => out.push(b' '),
            // What encodeURI leaves alone (the spec says encodeURI; encodeURIComponent is stricter).
            (_, b) if b.is_ascii_alphanumeric() || b"-_.!~*'();/?:@,+$#".contains(&b) => {
                out.push(b)
            }
            (QueryEncoding::Dollar, _) => {
                return Err("has characters that are not $-encoded".into())
            }
            (QueryEncoding::Percent, _) => {
                return Err("has characters that are not percent-encoded".into())
            }
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| "escapes do not decode to UTF-8 (GBK bytes?)".into())
}

fn decode_lossy(raw: &str, encoding: QueryEncoding) -> String {
    let s = match encoding {
        QueryEncoding::Dollar => raw.replace('$', "%"),
        QueryEncoding::Percent => raw.replace('+', " "),
    };
    percent_encoding::percent_decode_str(&s)
        .decode_utf8_lossy()
        .into_owned()
}

/// Check names against the endpoint's keys (no unknown, no duplicate) and build the params object.
fn check_keys(pairs: &[(String, String)], known: &[&str], o: &mut Outcome) -> Map<String, Value> {
    let mut fields = Map::new();
    for (key, value) in pairs {
        if !known.contains(&key.as_str()) {
            o.problem(unknown_key(key));
        }
        if fields
            .insert(key.clone(), Value::String(value.clone()))
            .is_some()
        {
            o.problem(format!("{key}:given twice"));
        }
    }
    fields
}

fn unknown_key(key: &str) -> String {
    if key == "hospitalld" {
        "hospitalld:unknown key (the spec table's typo; the key is hospitalId)".into()
    } else {
        format!("{key}:unknown key")
    }
}

/// Parse a JSON object body of string values; keys with spaces and unknown keys are problems.
fn json_body(
    content_type: Option<&str>,
    body: &[u8],
    known: &[&str],
    o: &mut Outcome,
) -> Map<String, Value> {
    if !content_type.is_some_and(|t| t.to_ascii_lowercase().contains("application/json")) {
        o.problem(format!(
            "Content-Type:'{}' is not application/json",
            content_type.unwrap_or("")
        ));
    }
    let value: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            o.problem(format!("body:not JSON ({e})"));
            return Map::new();
        }
    };
    let Value::Object(obj) = value else {
        o.problem("body:not a JSON object");
        return Map::new();
    };
    for (key, value) in &obj {
        if key.trim() != key || key.contains(' ') {
            o.problem(format!(
                "'{key}':key has spaces (the spec sample's stray spaces must not be sent)"
            ));
        } else if !known.contains(&key.as_str()) {
            o.problem(unknown_key(key));
        }
        match value {
            Value::String(s) if s.trim() != s => {
                o.problem(format!("{key}:value has leading or trailing spaces"))
            }
            Value::String(_) | Value::Null => {}
            _ => o.problem(format!(
                "{key}:must be a string (the spec's type is String)"
            )),
        }
    }
    obj
}

/// A non-blank string value, if present.
fn text<'a>(fields: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    fields
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

fn require(fields: &Map<String, Value>, key: &str, o: &mut Outcome) {
    if text(fields, key).is_none() {
        o.problem(format!("{key}:不能为空"));
    }
}

fn dictionary(fields: &Map<String, Value>, key: &str, codes: &[&str], what: &str, o: &mut Outcome) {
    if let Some(v) = text(fields, key) {
        if !codes.contains(&v) {
            o.problem(format!("{key}:'{v}' is not in its dictionary ({what})"));
        }
    }
}

fn hospital(ctx: &Ctx, fields: &Map<String, Value>, o: &mut Outcome) {
    if let (Some(expected), Some(got)) = (ctx.hospital_id, text(fields, "hospitalId")) {
        if expected != got {
            o.problem(format!(
                "hospitalId:'{got}' is not this front-end machine's hospital '{expected}'"
            ));
        }
    }
}

/// Decrypt an ID-card field into `decrypted`; failure or a non-ID plaintext is a problem.
fn decrypt_id(ctx: &Ctx, fields: &Map<String, Value>, key: &str, o: &mut Outcome) {
    let Some(cipher) = text(fields, key) else {
        return;
    };
    match ctx.decrypter.decrypt(cipher) {
        Ok(plain) => {
            if !looks_like_id_card(&plain) {
                o.problem(format!(
                    "{key}:decrypts to '{}', not an ID-card number (18 characters)",
                    mask(&plain)
                ));
            }
            o.decrypted.insert(key.into(), Value::String(plain));
        }
        Err(why) => {
            if looks_like_id_card(cipher) {
                o.problem(format!(
                    "{key}:is a plaintext ID-card number; it must be SM2-encrypted"
                ));
            } else {
                o.problem(format!("{key}:ciphertext {why}"));
            }
        }
    }
}

fn is_mac(s: &str) -> bool {
    let sep = if s.contains('-') { '-' } else { ':' };
    let parts: Vec<&str> = s.split(sep).collect();
    parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Problems are served to anyone on the port: keep only the ends of a sensitive value.
fn mask(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= 4 {
        return "*".repeat(chars.len());
    }
    let mut out: String = chars[..2].iter().collect();
    out.push_str(&"*".repeat(chars.len() - 4));
    out.extend(&chars[chars.len() - 2..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dollar_decoding_reads_the_spec_example() {
        assert_eq!(
            decode_value("$E5$BC$A0$E5$8C$BB$E7$94$9F", QueryEncoding::Dollar).unwrap(),
            "张医生"
        );
        assert_eq!(
            decode_value("a$26b$3Dc$20$24d", QueryEncoding::Dollar).unwrap(),
            "a&b=c $d"
        );
        assert!(decode_value("%E5%BC%A0", QueryEncoding::Dollar)
            .unwrap_err()
            .contains('%'));
        assert!(decode_value("$E5$BC", QueryEncoding::Dollar)
            .unwrap_err()
            .contains("UTF-8"));
        assert!(decode_value("$G1", QueryEncoding::Dollar)
            .unwrap_err()
            .contains("escape"));
        assert!(decode_value("张", QueryEncoding::Dollar).is_err());
    }

    #[test]
    fn datetime_must_be_a_real_zero_padded_date() {
        assert!(is_datetime("2023-05-08 15:00:01"));
        assert!(!is_datetime("2023-02-30 15:00:01"));
        assert!(!is_datetime("2023-5-08 15:00:01"));
        assert!(!is_datetime("2023-05-08T15:00:01"));
        assert!(!is_datetime("2023-05-08 24:00:00"));
    }

    #[test]
    fn film_url_is_deterministic_and_shaped_like_the_sample() {
        let a = film_url("123", "CT", "H1");
        assert_eq!(a, film_url("123", "CT", "H1"));
        assert_ne!(a, film_url("124", "CT", "H1"));
        assert!(a.starts_with(FILM_URL));
        assert_eq!(a.len(), FILM_URL.len() + 44);
    }
}
