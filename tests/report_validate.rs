//! `miic_report_validate` through the C ABI: the 4.1 record, the section-5 dictionaries, the
//! 4.1.2.4 sample reply, and hostile input.

#[path = "support/ffi.rs"]
mod ffi;

use ffi::{last_error, take_string};
use miic::ffi::miic_report_validate;
use miic::report::aliases;
use miic::report::sample::{broken_record, valid_record, BROKEN};
use miic::report::tables::{EXAM_CODES, FIELDS, SAMPLE_REPLY, SAMPLE_REPLY_KEYS};
use miic::report::{is_code_shape, Domain};
use serde_json::{json, Map, Value};
use std::ffi::{c_char, CString};

const MIIC_OK: i32 = 0;
const MIIC_E_ARGUMENT: i32 = -1;
const MIIC_E_ENCODING: i32 = -2;

/// Call the export on raw bytes: (status, parsed problems JSON, last error).
fn call_bytes(bytes: &[u8]) -> (i32, Option<Value>, String) {
    let input = CString::new(bytes).expect("no NUL in test input");
    let mut out: *mut c_char = std::ptr::null_mut();
    let status = unsafe { miic_report_validate(input.as_ptr(), &mut out) };
    let error = last_error();
    let problems =
        take_string(out).map(|text| serde_json::from_str(&text).expect("problems output is JSON"));
    (status, problems, error)
}

fn validate(value: &Value) -> Value {
    let (status, problems, error) = call_bytes(value.to_string().as_bytes());
    assert_eq!(status, MIIC_OK, "validation did not run: {error}");
    problems.expect("problems JSON on MIIC_OK")
}

fn exam_time() -> chrono::NaiveDateTime {
    chrono::NaiveDate::from_ymd_opt(2025, 3, 14)
        .unwrap()
        .and_hms_opt(9, 30, 0)
        .unwrap()
}

fn base() -> Map<String, Value> {
    valid_record(1, exam_time())
}

fn problems(report: &Value) -> &Vec<Value> {
    report["problems"].as_array().expect("problems array")
}

fn problems_of<'a>(report: &'a Value, record: usize, field: &str) -> Vec<&'a Value> {
    problems(report)
        .iter()
        .filter(|p| p["record"] == json!(record) && p["field"] == field)
        .collect()
}

fn has_rule(report: &Value, record: usize, field: &str, rule: &str) -> bool {
    problems_of(report, record, field)
        .iter()
        .any(|p| p["rule"] == rule)
}

#[test]
fn generated_valid_records_are_conformant_with_no_errors() {
    let records: Vec<Value> = (0..40)
        .map(|i| Value::Object(valid_record(i, exam_time())))
        .collect();
    let report = validate(&Value::Array(records));
    assert_eq!(report["records"], 40);
    assert_eq!(report["errors"], 0, "{report:#}");
    assert_eq!(report["conformant"], true);
}

#[test]
fn every_dictionary_code_is_accepted_and_a_neighbour_rejected() {
    let mut checked = 0;
    for spec in FIELDS {
        let dict = match spec.domain() {
            Domain::Dict(d) | Domain::DictList(d) => d,
            _ => continue,
        };
        let mut records = Vec::new();
        let mut expect = Vec::new();
        for (code, _) in dict.entries {
            let mut accepted = base();
            accepted.insert(spec.name.into(), json!(code));
            records.push(Value::Object(accepted));
            expect.push((code.to_string(), true));
            // The nearest non-member: bump the last character until it leaves the dictionary.
            let mut neighbour = code.to_string();
            while dict.contains(&neighbour) {
                let last = neighbour.pop().unwrap();
                neighbour.push(if last == '9' {
                    '0'
                } else {
                    (last as u8 + 1) as char
                });
                if neighbour == *code {
                    neighbour.push('0');
                }
            }
            let mut rejected = base();
            rejected.insert(spec.name.into(), json!(neighbour));
            records.push(Value::Object(rejected));
            expect.push((neighbour, false));
        }
        let report = validate(&Value::Array(records));
        for (i, (value, ok)) in expect.iter().enumerate() {
            let found = problems_of(&report, i, spec.name);
            if *ok {
                assert!(
                    found.is_empty(),
                    "{} = {value} should be accepted: {found:?}",
                    spec.name
                );
            } else {
                assert!(
                    found
                        .iter()
                        .any(|p| p["rule"] == "dictionary" && p["severity"] == "error"),
                    "{} = {value} should be rejected by its dictionary: {found:?}",
                    spec.name
                );
            }
            checked += 1;
        }
    }
    // patientType 5, sex 4, examRsltCode 3, imgExamType 5, prfs 13, chargeType 3, examWay 9,
    // 0/1 flags 2 x 4 (criticalValue, criticalFlag, infectionName, deleteFlag); each with a neighbour.
    assert_eq!(checked, 2 * (5 + 4 + 3 + 5 + 13 + 3 + 9 + 2 * 4));
}

#[test]
fn pipe_lists_accept_several_codes_and_reject_other_separators() {
    let mut records = Vec::new();
    for (field, value) in [
        ("imgExamType", "2|3"),
        ("examWay", "1|2|3"),
        ("imgExamType", "2,3"),
        ("examWay", "1||2"),
        ("imgExamType", "2|7"),
    ] {
        let mut r = base();
        r.insert(field.into(), json!(value));
        records.push(Value::Object(r));
    }
    let report = validate(&Value::Array(records));
    assert!(problems_of(&report, 0, "imgExamType").is_empty());
    assert!(problems_of(&report, 1, "examWay").is_empty());
    assert!(has_rule(&report, 2, "imgExamType", "list_format"));
    assert!(has_rule(&report, 3, "examWay", "list_format"));
    assert!(has_rule(&report, 4, "imgExamType", "dictionary"));
}

#[test]
fn every_exam_code_of_5_1_is_accepted_and_misprints_are_named() {
    let records: Vec<Value> = EXAM_CODES
        .iter()
        .map(|e| {
            let mut r = base();
            r.insert("examPart".into(), json!(e.code));
            r.insert("examItemCode".into(), json!(e.code));
            Value::Object(r)
        })
        .collect();
    let report = validate(&Value::Array(records));
    let mut misprints = 0;
    for (i, entry) in EXAM_CODES.iter().enumerate() {
        let found = problems_of(&report, i, "examPart");
        if is_code_shape(entry.code) {
            assert!(
                found.is_empty(),
                "{} should be accepted: {found:?}",
                entry.code
            );
        } else {
            misprints += 1;
            let p = found
                .iter()
                .find(|p| p["rule"] == "code_shape")
                .expect("misprint named");
            assert!(p["message"]
                .as_str()
                .unwrap()
                .contains(&format!("spec line {}", entry.line)));
        }
    }
    // B50B0ZZZ, B50C0ZZZ, B50D0ZZZ, B531Z, BG3ZYZZZ, BG350ZZZ, BD0, BF2, BF34, BQ08ZZZA,
    // BT00ZZZZ, BTO0ZZZZ, BT05ZZZZ are printed with fewer than 9 characters.
    assert_eq!(misprints, 13);

    // A neighbour of a listed code: well-shaped but unlisted (warning), or mis-shaped (error).
    let mut records = Vec::new();
    for value in ["BW23ZYZZY", "bw23zyzzz", "BW23ZYZZ", "BW23ZYZZZ|B020ZYZZZ"] {
        let mut r = base();
        r.insert("examPart".into(), json!(value));
        records.push(Value::Object(r));
    }
    let report = validate(&Value::Array(records));
    assert!(has_rule(&report, 0, "examPart", "code_unlisted"));
    assert!(has_rule(&report, 1, "examPart", "code_shape"));
    assert!(has_rule(&report, 2, "examPart", "code_shape"));
    assert!(
        problems_of(&report, 3, "examPart").is_empty(),
        "two listed codes joined by |"
    );
}

#[test]
fn every_required_field_missing_in_turn_is_named() {
    let required: Vec<_> = FIELDS.iter().filter(|f| f.required).collect();
    assert_eq!(required.len(), 39);
    for blank in [None, Some(json!("")), Some(json!("   ")), Some(Value::Null)] {
        let records: Vec<Value> = required
            .iter()
            .map(|f| {
                let mut r = valid_record(9, exam_time()); // a critical case: every field owed
                match &blank {
                    None => {
                        r.remove(f.name);
                    }
                    Some(v) => {
                        r.insert(f.name.into(), v.clone());
                    }
                }
                Value::Object(r)
            })
            .collect();
        let report = validate(&Value::Array(records));
        for (i, f) in required.iter().enumerate() {
            let found = problems_of(&report, i, f.name);
            assert!(
                found
                    .iter()
                    .any(|p| p["rule"].as_str().unwrap().starts_with("required")
                        && p["message"].as_str().unwrap().contains(f.name)),
                "missing {} ({blank:?}) not named: {found:?}",
                f.name
            );
        }
    }
}

#[test]
fn visit_numbers_are_owed_by_patient_type() {
    let mut outpatient = base();
    outpatient.insert("patientType".into(), json!("1"));
    outpatient.remove("iptNo");
    let mut inpatient = base();
    inpatient.insert("patientType".into(), json!("2"));
    inpatient.remove("iptNo");
    let report = validate(&json!([outpatient, inpatient]));
    let named = |i| problems_of(&report, i, "iptNo")[0]["severity"].clone();
    assert_eq!(named(0), "warning");
    assert_eq!(named(1), "error");
}

#[test]
fn malformed_dates_are_rejected() {
    let cases = [
        ("brdy", "2023-02-30", "date_format"),
        ("brdy", "2023-2-3", "date_format"),
        ("brdy", "2023/02/03", "date_format"),
        ("brdy", "2021-01-01 00:00:00", "date_format"),
        ("examDate", "2023-02-30 08:00:00", "datetime_format"),
        ("examDate", "2023-2-3 08:00:00", "datetime_format"),
        ("chkDate", "2023-02-03T08:00:00", "datetime_format"),
        ("regTime", "2023-02-03", "datetime_format"),
        ("studyOrderTime", "2023-02-03 25:00:00", "datetime_format"),
    ];
    let records: Vec<Value> = cases
        .iter()
        .map(|(field, value, _)| {
            let mut r = base();
            r.insert(field.to_string(), json!(value));
            Value::Object(r)
        })
        .collect();
    let report = validate(&Value::Array(records));
    for (i, (field, value, rule)) in cases.iter().enumerate() {
        assert!(
            has_rule(&report, i, field, rule),
            "{field} = {value} not rejected: {report:#}"
        );
    }
    let mut leap = base();
    leap.insert("brdy".into(), json!("2024-02-29"));
    leap.insert("age".into(), json!("1"));
    let report = validate(&Value::Object(leap));
    assert!(problems_of(&report, 0, "brdy").is_empty());
}

#[test]
fn cross_field_sense_is_checked() {
    let exam = exam_time();
    let rules = [
        "exam_end_before_start",
        "audit_before_exam",
        "birth_after_exam",
        "age_mismatch",
        "certno_format",
        "certno_checksum",
    ];
    let records: Vec<Value> = rules
        .iter()
        .map(|rule| Value::Object(broken_record(rule, 3, exam).unwrap()))
        .collect();
    let report = validate(&Value::Array(records));
    for (i, rule) in rules.iter().enumerate() {
        assert!(
            problems(&report)
                .iter()
                .any(|p| p["record"] == json!(i) && p["rule"] == *rule),
            "{rule} not reported: {report:#}"
        );
    }
    // A passport number is not a resident ID: no checksum applies.
    let mut passport = base();
    passport.insert("psnCertType".into(), json!("414"));
    passport.insert("certno".into(), json!("E12345678"));
    // The insurance psn_cert_type 01 means resident ID too.
    let mut nhsa = base();
    nhsa.insert("psnCertType".into(), json!("01"));
    let good = nhsa["certno"].as_str().unwrap().to_owned();
    let bad_digit = if good.ends_with('1') { '2' } else { '1' };
    nhsa.insert(
        "certno".into(),
        json!(format!("{}{bad_digit}", &good[..17])),
    );
    let report = validate(&json!([passport, nhsa]));
    assert!(problems_of(&report, 0, "certno").is_empty());
    assert!(has_rule(&report, 1, "certno", "certno_checksum"));
}

#[test]
fn each_broken_record_is_named_by_its_rule() {
    let records: Vec<Value> = BROKEN
        .iter()
        .enumerate()
        .map(|(i, (rule, _))| Value::Object(broken_record(rule, i, exam_time()).unwrap()))
        .collect();
    let report = validate(&Value::Array(records));
    assert_eq!(report["conformant"], false);
    for (i, (rule, what)) in BROKEN.iter().enumerate() {
        assert!(
            problems(&report)
                .iter()
                .any(|p| p["record"] == json!(i) && p["rule"] == *rule),
            "record {i} ({what}) not reported as {rule}"
        );
        assert!(report["rules"][rule].as_u64().unwrap() >= 1);
    }
}

#[test]
fn personal_values_are_masked_in_problems() {
    let mut r = base();
    r.insert("tel".into(), json!(12345678901u64));
    r.insert("psnName".into(), json!("王小明"));
    r.insert("uname".into(), json!("王大明"));
    let id = r["certno"].as_str().unwrap().to_owned();
    let bad = format!("{}{}", &id[..17], if id.ends_with('0') { '1' } else { '0' });
    r.insert("certno".into(), json!(bad));
    let text = validate(&Value::Object(r)).to_string();
    assert!(text.contains("certno_checksum"));
    assert!(!text.contains(&bad), "ID number leaked: {text}");
    assert!(!text.contains("12345678901"), "phone leaked: {text}");
    assert!(
        !text.contains("王小明") && !text.contains("王大明"),
        "name leaked: {text}"
    );
}

#[test]
fn spec_sample_reply_is_parsed_with_its_aliases_reported() {
    // Verbatim, the sample is not JSON (a fullwidth colon, bare backslashes): say where and why.
    let (status, problems_json, error) = call_bytes(SAMPLE_REPLY.as_bytes());
    assert_eq!(status, MIIC_E_ARGUMENT);
    assert!(problems_json.is_none());
    assert!(
        error.contains("not valid") && error.contains("line") && error.contains("fullwidth"),
        "{error}"
    );

    // With those two typos fixed, it is a 4.1.2 reply using the sample's own names.
    let repaired = SAMPLE_REPLY
        .replace("\"：\"", "\":\"")
        .replace('\\', "\\\\");
    let (status, report, error) = call_bytes(repaired.as_bytes());
    assert_eq!(status, MIIC_OK, "{error}");
    let report = report.unwrap();
    assert_eq!(report["records"], 2);
    assert_eq!(report["envelope"]["code"], 0);
    let aliases: Vec<(String, String, u64)> = report["aliases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["alias"].as_str().unwrap().into(),
                a["field"].as_str().unwrap().into(),
                a["records"].as_u64().unwrap(),
            )
        })
        .collect();
    for (alias, field) in [
        ("uname", "psnName"),
        ("sex", "gend"),
        ("accessNumber", "accessionNo"),
        ("studyInstanceUId", "studyInstanceUid"),
        ("birthday", "brdy"),
        ("auditDatetime", "chkDate"),
    ] {
        assert!(
            aliases.contains(&(alias.into(), field.into(), 2)),
            "{alias} -> {field} not reported: {aliases:?}"
        );
    }
    // Every name of the sample is a table name, a known alias or a known sample-only name.
    let rules = &report["rules"];
    assert!(rules.get("unknown_field").is_none(), "{report:#}");
    for key in SAMPLE_REPLY_KEYS {
        assert!(
            miic::report::field(key).is_some()
                || aliases::resolve(key).is_some()
                || aliases::SAMPLE_ONLY.contains(key),
            "sample key {key} unmodelled"
        );
    }
    assert_eq!(report["extra_fields"]["dcmPath"], 2);
    // The sample's values break the dictionaries: sex "M", patientType "I", a datetime birthday.
    assert!(has_rule(&report, 0, "gend", "dictionary"));
    assert!(problems_of(&report, 0, "gend")[0]["message"]
        .as_str()
        .unwrap()
        .contains("1=男"));
    assert!(has_rule(&report, 1, "patientType", "dictionary"));
    assert!(has_rule(&report, 0, "brdy", "date_format"));
    assert!(has_rule(&report, 0, "imgExamType", "dictionary"));
    assert_eq!(report["conformant"], false);
}

#[test]
fn reply_envelope_code_must_be_zero() {
    let record = Value::Object(base());
    let ok = validate(&json!({"data": [record.clone()], "code": 0, "message": "成功"}));
    assert_eq!(ok["conformant"], true);
    let failed = validate(&json!({"data": [record.clone()], "code": 500, "message": "err"}));
    assert_eq!(failed["conformant"], false);
    assert_eq!(failed["problems"][0]["rule"], "envelope");
    assert!(failed["problems"][0]["record"].is_null());
    let bare = validate(&json!({"data": [record.clone()]}));
    assert_eq!(bare["records"], 1);
    assert!(problems(&bare)
        .iter()
        .any(|p| p["field"] == "code" && p["rule"] == "envelope"));
    let not_array = validate(&json!({"data": "x", "code": 0, "message": ""}));
    assert!(problems(&not_array)
        .iter()
        .any(|p| p["field"] == "data" && p["rule"] == "envelope"));
}

#[test]
fn wrong_json_types_are_reported_not_crashed_on() {
    let mut r = base();
    r.insert("age".into(), json!({"years": 3}));
    r.insert("accessionNo".into(), json!(12345));
    r.insert("imgExamItem".into(), json!(true));
    let report = validate(&json!([r, "not a record", 7]));
    assert!(problems_of(&report, 0, "age")
        .iter()
        .any(|p| p["rule"] == "type" && p["severity"] == "error"));
    assert!(problems_of(&report, 0, "accessionNo")
        .iter()
        .any(|p| p["rule"] == "type" && p["severity"] == "warning"));
    assert!(has_rule(&report, 0, "imgExamItem", "type"));
    assert!(
        !has_rule(&report, 0, "age", "required"),
        "a wrongly typed value is not also 'missing'"
    );
    assert!(problems(&report)
        .iter()
        .any(|p| p["record"] == 1 && p["rule"] == "record_type"));
    assert!(problems(&report)
        .iter()
        .any(|p| p["record"] == 2 && p["rule"] == "record_type"));
}

#[test]
fn unknown_fields_are_named_with_a_suggestion() {
    let mut r = base();
    r.insert("examDat".into(), json!("x"));
    r.insert("ReportSTatus".into(), json!("已审核"));
    let report = validate(&Value::Object(r));
    let p = problems_of(&report, 0, "examDat");
    assert!(
        p[0]["message"]
            .as_str()
            .unwrap()
            .contains("did you mean 'examDate'"),
        "{p:?}"
    );
    // A case-only difference maps (and is reported as an alias), it is not unknown.
    assert!(report["aliases"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["alias"] == "ReportSTatus" && a["kind"] == "letter_case"));
}

#[test]
fn huge_json_is_rejected_cleanly() {
    let huge = format!("[\"{}\"]", "x".repeat(65 * 1024 * 1024));
    let (status, problems_json, error) = call_bytes(huge.as_bytes());
    assert_eq!(status, MIIC_E_ARGUMENT);
    assert!(problems_json.is_none());
    assert!(error.contains("limit"), "{error}");
}

#[test]
fn deeply_nested_json_is_rejected_cleanly() {
    for depth in [200usize, 1_000_000] {
        let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let (status, _, error) = call_bytes(nested.as_bytes());
        assert_eq!(status, MIIC_E_ARGUMENT, "depth {depth}");
        assert!(error.contains("nested too deeply"), "{error}");
        let objects = format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth));
        let (status, _, _) = call_bytes(objects.as_bytes());
        assert_eq!(status, MIIC_E_ARGUMENT);
    }
    // Nesting below the limit inside a field is a type problem, not a failure.
    let mut r = base();
    r.insert(
        "remark".into(),
        serde_json::from_str(&format!("{}{}", "[".repeat(100), "]".repeat(100))).unwrap(),
    );
    let report = validate(&Value::Object(r));
    assert!(has_rule(&report, 0, "remark", "type"));
}

#[test]
fn bad_arguments_get_clear_errors() {
    let mut out: *mut c_char = std::ptr::null_mut();
    let status = unsafe { miic_report_validate(std::ptr::null(), &mut out) };
    assert_eq!(status, MIIC_E_ARGUMENT);
    assert!(last_error().contains("report_json"));
    let input = CString::new("{}").unwrap();
    let status = unsafe { miic_report_validate(input.as_ptr(), std::ptr::null_mut()) };
    assert_eq!(status, MIIC_E_ARGUMENT);
    assert!(last_error().contains("problems_out"));

    let (status, _, error) = call_bytes(b"{\"psnName\":\"\xff\xfe\"}");
    assert_eq!(status, MIIC_E_ENCODING, "{error}");
    for text in ["", "nul", "42", "\"record\"", "{\"a\":1,}"] {
        let (status, out, error) = call_bytes(text.as_bytes());
        assert_eq!(status, MIIC_E_ARGUMENT, "{text:?}");
        assert!(out.is_none() && !error.is_empty());
    }
}
