//! Generated 4.1 records: conformant ones, and ones broken on purpose, one per rule. The
//! simulator's PACS side serves them, the tests and the benchmark feed them to the validator,
//! and a vendor can read one as a worked example of a conformant record.
//!
//! Uses: report::validate.

use super::validate::resident_id_checksum_ok;
use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime};
use serde_json::{json, Map, Value};

const DT: &str = "%Y-%m-%d %H:%M:%S";

/// A resident ID for a birth date and sex with a correct check digit.
pub fn resident_id(birth: NaiveDate, seq: u32, male: bool) -> String {
    let seq = (seq % 500) * 2 + u32::from(male);
    let body = format!("110105{}{:03}", birth.format("%Y%m%d"), seq);
    (0..=9)
        .map(|d| format!("{body}{d}"))
        .chain(std::iter::once(format!("{body}X")))
        .find(|id| resident_id_checksum_ok(id))
        .expect("one check digit fits")
}

/// Conformant record number `i`, examined at `exam`.
pub fn valid_record(i: usize, exam: NaiveDateTime) -> Map<String, Value> {
    let n = i as u32;
    let birth = NaiveDate::from_ymd_opt(1950 + (n % 60) as i32, 1 + n % 12, 1 + n % 28)
        .expect("valid date");
    let mut age = exam.year() - birth.year();
    if (exam.month(), exam.day()) < (birth.month(), birth.day()) {
        age -= 1;
    }
    let male = i % 2 == 0;
    let patient_type = ["1", "2", "3", "4"][i % 4];
    let critical = i % 10 == 9;
    let at = |minutes: i64| (exam + Duration::minutes(minutes)).format(DT).to_string();
    let uid = format!("1.2.156.112605.{}.{}", exam.format("%Y%m%d%H%M%S"), i + 1);
    let mut map = Map::new();
    let mut put = |key: &str, value: Value| {
        map.insert(key.to_owned(), value);
    };
    put("accessionNo", json!(format!("A{:09}", i)));
    put("patnId", json!(format!("P{:08}", i)));
    put("studyInstanceUid", json!(uid));
    put("studyOrderId", json!(format!("O{:08}", i)));
    put("studyOrderTime", json!(at(-30)));
    put("examDate", json!(at(0)));
    put("executeEndTime", json!(at(12)));
    put("imgExamItem", json!("胸部 CT 普通扫描"));
    put("examItemCode", json!("BW23ZYZZZ"));
    put(
        "psnName",
        json!(format!("测试{}", ["甲", "乙", "丙", "丁"][i % 4])),
    );
    put("gend", json!(if male { "1" } else { "2" }));
    put("age", json!(age.to_string()));
    put("brdy", json!(birth.format("%Y-%m-%d").to_string()));
    put("tel", json!(format!("139{:08}", i % 100_000_000)));
    put("patientType", json!(patient_type));
    put("imgExamType", json!("2"));
    put("examPart", json!("BW23ZYZZZ"));
    put("certno", json!(resident_id(birth, n, male)));
    put("psnCertType", json!("111"));
    put("iptNo", json!(format!("Z{:07}", i)));
    put("outpatientNo", json!(format!("M{:07}", i)));
    put("pepatientNo", json!(format!("T{:07}", i)));
    put("examDeptName", json!("放射科"));
    put("reportDepName", json!("放射科"));
    put("examWay", json!("1"));
    put("examDevType", json!("CT"));
    put("deviceSN", json!("SN-CT-0001"));
    put("examRsltCode", json!("1"));
    put("rptDate", json!(at(60)));
    put("chkDate", json!(at(90)));
    put("examDrCode", json!("D0001"));
    put("bilgDrCode", json!("D0002"));
    put("prfs", json!("90"));
    put("examInseqi", json!("CT01"));
    put("examTecnName", json!("技师甲"));
    put("price", json!("150.00"));
    put("chargeType", json!("02"));
    put("patientHeight", json!("170"));
    put("patientWeight", json!("65"));
    put("examSuggestions", json!("定期复查"));
    put("imageCount", json!("120"));
    put("regTime", json!(at(-60)));
    put("criticalValue", json!(if critical { "1" } else { "0" }));
    put("criticalFlag", json!(if critical { "1" } else { "0" }));
    put("infectionName", json!("0"));
    put("deleteFlag", json!("0"));
    put(
        "dcmPath",
        json!(format!("/wado/{}/{}", exam.format("%Y/%m/%d"), i)),
    );
    if critical {
        put("criticalNotifyTime", json!(at(95)));
        put("riticalNotiryDoctor", json!("医师乙"));
    }
    map
}

/// Ways to break a record, one per rule the validator reports as an error or warning:
/// (rule, what is done).
pub const BROKEN: &[(&str, &str)] = &[
    ("required", "accessionNo removed"),
    ("required_by_patient_type", "inpatient without iptNo"),
    ("type", "psnName sent as an array"),
    ("datetime_format", "examDate 2023-2-3 08:00:00"),
    ("date_format", "brdy 2023-02-30"),
    ("decimal", "price 'ten'"),
    ("number", "imageCount 'many'"),
    ("range", "price -5"),
    ("dictionary", "patientType 'I'"),
    ("list_format", "imgExamType '2,3'"),
    ("code_shape", "examPart 'BF34'"),
    ("code_unlisted", "examItemCode 'B0ZZZZZZZ'"),
    ("uid_format", "studyInstanceUid '1.2.03.x'"),
    (
        "exam_end_before_start",
        "executeEndTime an hour before examDate",
    ),
    ("audit_before_exam", "chkDate a day before examDate"),
    ("birth_after_exam", "brdy after examDate"),
    ("age_mismatch", "age 3 for an adult"),
    ("certno_format", "certno '12345' with psnCertType 111"),
    ("certno_checksum", "certno check digit wrong"),
    ("alias_conflict", "uname differs from psnName"),
    ("unknown_field", "reportStauts (typo) sent"),
];

/// Record `i` broken the way `BROKEN` names for `rule`; None for an unknown rule.
pub fn broken_record(rule: &str, i: usize, exam: NaiveDateTime) -> Option<Map<String, Value>> {
    let mut r = valid_record(i, exam);
    let at = |minutes: i64| json!((exam + Duration::minutes(minutes)).format(DT).to_string());
    match rule {
        "required" => {
            r.remove("accessionNo");
        }
        "required_by_patient_type" => {
            r.insert("patientType".into(), json!("2"));
            r.remove("iptNo");
        }
        "type" => {
            r.insert("psnName".into(), json!(["测试"]));
        }
        "datetime_format" => {
            r.insert("examDate".into(), json!("2023-2-3 08:00:00"));
        }
        "date_format" => {
            r.insert("brdy".into(), json!("2023-02-30"));
        }
        "decimal" => {
            r.insert("price".into(), json!("ten"));
        }
        "number" => {
            r.insert("imageCount".into(), json!("many"));
        }
        "range" => {
            r.insert("price".into(), json!("-5"));
        }
        "dictionary" => {
            r.insert("patientType".into(), json!("I"));
        }
        "list_format" => {
            r.insert("imgExamType".into(), json!("2,3"));
        }
        "code_shape" => {
            r.insert("examPart".into(), json!("BF34"));
        }
        "code_unlisted" => {
            r.insert("examItemCode".into(), json!("B0ZZZZZZZ"));
        }
        "uid_format" => {
            r.insert("studyInstanceUid".into(), json!("1.2.03.x"));
        }
        "exam_end_before_start" => {
            r.insert("executeEndTime".into(), at(-60));
        }
        "audit_before_exam" => {
            r.insert("chkDate".into(), at(-24 * 60));
        }
        "birth_after_exam" => {
            r.insert(
                "brdy".into(),
                json!((exam + Duration::days(30)).format("%Y-%m-%d").to_string()),
            );
        }
        "age_mismatch" => {
            r.insert("age".into(), json!("3"));
        }
        "certno_format" => {
            r.insert("certno".into(), json!("12345"));
        }
        "certno_checksum" => {
            let id = r["certno"].as_str().unwrap_or_default().to_owned();
            let last = if id.ends_with('0') { '1' } else { '0' };
            r.insert("certno".into(), json!(format!("{}{last}", &id[..17])));
        }
        "alias_conflict" => {
            r.insert("uname".into(), json!("别人"));
        }
        "unknown_field" => {
            r.insert("reportStauts".into(), json!("已审核"));
        }
        _ => return None,
    }
    Some(r)
}
