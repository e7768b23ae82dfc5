//! The 4.1 record validator: one record, an array of records, or the 4.1.2 reply envelope
//! `{data, code, message}` in; a [`Report`] of problems out.

use super::aliases::{self, AliasKind};
use super::schema::{self, Dict, Domain, FieldSpec, Kind};
use super::tables::FIELDS;
use crate::error::{Error, Result};
use chrono::{Datelike, NaiveDate, NaiveDateTime};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// Largest JSON text accepted (a day of reports is far below; a runaway reply is not).
pub const MAX_INPUT_BYTES: usize = 64 * 1024 * 1024;
/// Problems listed in the JSON output; counts per rule stay complete beyond it.
pub const MAX_LISTED_PROBLEMS: usize = 10_000;

/// Certificate types meaning "resident ID card": GA/T 2000.156 `111` (the spec's standard) and
/// the national medical-insurance psn_cert_type `01` that many HIS systems send instead.
pub const RESIDENT_ID_TYPES: &[&str] = &["111", "01"];

/// Fields whose values are personal: shown masked in every message.
const PERSONAL: &[&str] = &[
    "psnName",
    "spelling",
    "certno",
    "tel",
    "fmAddr",
    "medicareNo",
    "elecHlCardNo",
    "companyAddress",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The record breaks the spec: the cloud may reject it.
    Error,
    /// Suspicious or lenient: worth fixing, not a breach of the table.
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// Every rule the validator applies: (name, what it checks).
pub const RULES: &[(&str, &str)] = &[
    ("envelope", "4.1.2 reply is {data: [...], code: 0, message}"),
    ("record_type", "each record is a JSON object"),
    (
        "required",
        "a required field (必选=是) is present and not blank",
    ),
    (
        "required_by_patient_type",
        "iptNo/outpatientNo/pepatientNo matching patientType is present",
    ),
    (
        "required_if_critical",
        "criticalNotifyTime/riticalNotiryDoctor are present when critical",
    ),
    (
        "type",
        "a value is a JSON string (or number for BigDecimal)",
    ),
    (
        "datetime_format",
        "datetime is yyyy-MM-dd HH:mm:ss and a real calendar time",
    ),
    ("date_format", "date is yyyy-MM-dd and a real calendar date"),
    ("decimal", "BigDecimal fields hold a decimal number"),
    (
        "number",
        "imageCount, patientHeight, patientWeight hold numbers",
    ),
    ("range", "numbers are in a plausible range"),
    (
        "dictionary",
        "a code is in its section-5 (or inline) dictionary",
    ),
    (
        "list_format",
        "`|`-separated code lists: no blanks, duplicates or other separators",
    ),
    (
        "code_shape",
        "examPart/examItemCode codes are 9 uppercase letters/digits",
    ),
    (
        "code_unlisted",
        "a well-shaped exam code is not in the 5.1 table",
    ),
    (
        "uid_format",
        "studyInstanceUid is a DICOM UID (digits and dots, <= 64)",
    ),
    (
        "exam_end_before_start",
        "executeEndTime is not before examDate",
    ),
    ("audit_before_exam", "chkDate is not before examDate"),
    ("report_before_exam", "rptDate is not before examDate"),
    ("order_after_exam", "studyOrderTime is not after examDate"),
    ("birth_after_exam", "brdy is not after examDate"),
    (
        "symptom_end_before_start",
        "sympEnddate is not before sympBegndate",
    ),
    (
        "age_mismatch",
        "age agrees with brdy at examDate (within a year)",
    ),
    (
        "certno_format",
        "a resident ID (psnCertType 111/01) is 18 characters",
    ),
    (
        "certno_checksum",
        "a resident ID's check digit (GB 11643, ISO 7064 MOD 11-2)",
    ),
    (
        "certno_mismatch",
        "a resident ID's birth date and sex agree with brdy and gend",
    ),
    (
        "alias_conflict",
        "a field given under two names carries one value",
    ),
    (
        "unknown_field",
        "a field name is neither in the table nor a known alias",
    ),
];

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Index of the record in the input (None: the envelope).
    pub record: Option<usize>,
    /// The table's field name (or the unknown name as sent).
    pub field: String,
    pub rule: &'static str,
    pub severity: Severity,
    /// Names the field and shows the value (masked when personal).
    pub message: String,
}

/// How often an alias was used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliasUse {
    pub alias: String,
    pub field: &'static str,
    pub kind: &'static str,
    pub records: usize,
}

/// The outcome of a validation.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub records: usize,
    /// `code` and `message` of a 4.1.2 reply envelope, when the input was one.
    pub envelope: Option<(Value, Value)>,
    pub problems: Vec<Problem>,
    pub aliases: Vec<AliasUse>,
    /// Names carried but not in the table (sample-only names such as `dcmPath`), with counts.
    pub extra_fields: BTreeMap<String, usize>,
}

impl Report {
    pub fn errors(&self) -> usize {
        self.problems
            .iter()
            .filter(|p| p.severity == Severity::Error)
            .count()
    }

    pub fn warnings(&self) -> usize {
        self.problems.len() - self.errors()
    }

    /// No errors (warnings and aliases allowed).
    pub fn conformant(&self) -> bool {
        self.errors() == 0
    }

    /// Problems per rule, every severity.
    pub fn rule_counts(&self) -> BTreeMap<&'static str, usize> {
        let mut counts = BTreeMap::new();
        for p in &self.problems {
            *counts.entry(p.rule).or_insert(0) += 1;
        }
        counts
    }

    /// The JSON handed to hosts by `miic_report_validate`.
    pub fn to_json(&self) -> Value {
        let listed: Vec<Value> = self
            .problems
            .iter()
            .take(MAX_LISTED_PROBLEMS)
            .map(|p| {
                json!({
                    "record": p.record,
                    "field": p.field,
                    "rule": p.rule,
                    "severity": p.severity.as_str(),
                    "message": p.message,
                })
            })
            .collect();
        let aliases: Vec<Value> = self
            .aliases
            .iter()
            .map(|a| json!({"alias": a.alias, "field": a.field, "kind": a.kind, "records": a.records}))
            .collect();
        json!({
            "conformant": self.conformant(),
            "records": self.records,
            "envelope": self.envelope.as_ref().map(|(code, message)| json!({"code": code, "message": message})),
            "errors": self.errors(),
            "warnings": self.warnings(),
            "rules": self.rule_counts(),
            "aliases": aliases,
            "extra_fields": self.extra_fields,
            "problems": listed,
            "truncated": self.problems.len() > MAX_LISTED_PROBLEMS,
        })
    }
}

/// Parse and validate JSON text. Errors (`MIIC_E_ARGUMENT`) are for input that is not a report
/// at all: too large, not JSON, nested too deep, or neither an object nor an array.
pub fn validate_json(text: &str) -> Result<Report> {
    if text.len() > MAX_INPUT_BYTES {
        return Err(Error::argument(format!(
            "report JSON is {} bytes; the limit is {} bytes (validate one reply or window at a time)",
            text.len(),
            MAX_INPUT_BYTES
        )));
    }
    // serde_json stops at 128 levels of nesting, so hostile depth cannot overflow the stack.
    let value: Value = serde_json::from_str(text).map_err(|e| json_error(text, &e))?;
    validate_value(&value)
}

fn json_error(text: &str, e: &serde_json::Error) -> Error {
    let mut message = format!("report JSON is not valid: {e}");
    if e.to_string().contains("recursion limit") {
        message = format!("report JSON is nested too deeply (more than 128 levels): {e}");
    }
    // Copying the spec's sample brings its fullwidth punctuation and bare backslashes along.
    if let Some(line) = text.lines().nth(e.line().saturating_sub(1)) {
        // serde_json counts columns in bytes; look at a few bytes either side of the error.
        let bytes = line.as_bytes();
        let at = e.column().min(bytes.len());
        let near = String::from_utf8_lossy(&bytes[at.saturating_sub(8)..(at + 4).min(bytes.len())]);
        if near.contains(['：', '，', '“', '”']) {
            message.push_str(" (fullwidth punctuation ：，“” found: JSON needs ASCII : , \")");
        } else if near.contains('\\') {
            message.push_str(" (a backslash in a string must be written \\\\)");
        }
    }
    Error::argument(message)
}

/// Validate a parsed value (record, array of records, or reply envelope).
pub fn validate_value(value: &Value) -> Result<Report> {
    let mut report = Report::default();
    let mut alias_counts: BTreeMap<(String, &'static str, &'static str), usize> = BTreeMap::new();
    match value {
        Value::Array(records) => validate_records(records, &mut report, &mut alias_counts),
        Value::Object(map) if is_envelope(map) => {
            envelope(map, &mut report);
            match map.get("data") {
                Some(Value::Array(records)) => validate_records(records, &mut report, &mut alias_counts),
                Some(Value::Object(_)) => {
                    validate_records(std::slice::from_ref(&map["data"]), &mut report, &mut alias_counts)
                }
                _ => {}
            }
        }
        Value::Object(_) => validate_records(std::slice::from_ref(value), &mut report, &mut alias_counts),
        other => {
            return Err(Error::argument(format!(
                "report JSON must be a record object, an array of records or a {{data, code, message}} reply, not {}",
                json_kind(other)
            )))
        }
    }
    report.aliases = alias_counts
        .into_iter()
        .map(|((alias, field, kind), records)| AliasUse {
            alias,
            field,
            kind,
            records,
        })
        .collect();
    Ok(report)
}

/// No 4.1 field is called `data`, `code` or `message`: an object with `data`, or with both
/// `code` and `message`, is a reply, not a record.
fn is_envelope(map: &Map<String, Value>) -> bool {
    map.contains_key("data") || (map.contains_key("code") && map.contains_key("message"))
}

fn envelope(map: &Map<String, Value>, report: &mut Report) {
    let code = map.get("code").cloned().unwrap_or(Value::Null);
    let message = map.get("message").cloned().unwrap_or(Value::Null);
    let mut problem = |severity, message: String| {
        report.problems.push(Problem {
            record: None,
            field: "code".into(),
            rule: "envelope",
            severity,
            message,
        })
    };
    match &code {
        Value::Number(n) if n.as_i64() == Some(0) => {}
        Value::String(s) if s == "0" => problem(
            Severity::Warning,
            "reply 'code' is the string \"0\"; the sample sends the number 0".into(),
        ),
        Value::Number(n) if n.as_i64() == Some(200) => problem(
            Severity::Warning,
            "reply 'code' is 200; the 4.1.2.4 sample answers success with 0".into(),
        ),
        Value::Null => problem(
            Severity::Error,
            "reply has no 'code' (the sample answers {data, code: 0, message})".into(),
        ),
        other => problem(
            Severity::Error,
            format!("reply 'code' is {other}, not 0 (success)"),
        ),
    }
    if !matches!(message, Value::String(_)) {
        report.problems.push(Problem {
            record: None,
            field: "message".into(),
            rule: "envelope",
            severity: Severity::Warning,
            message: "reply 'message' is missing or not a string".into(),
        });
    }
    let data_problem = match map.get("data") {
        Some(Value::Array(_)) => None,
        Some(Value::Object(_)) => {
            Some("reply 'data' is one object; the sample sends an array of records")
        }
        Some(Value::Null) | None if !matches!(code, Value::Number(ref n) if n.as_i64() == Some(0)) => {
            None
        }
        _ => Some("reply 'data' must be an array of records"),
    };
    if let Some(text) = data_problem {
        report.problems.push(Problem {
            record: None,
            field: "data".into(),
            rule: "envelope",
            severity: Severity::Error,
            message: text.into(),
        });
    }
    report.envelope = Some((code, message));
}

fn validate_records(
    records: &[Value],
    report: &mut Report,
    aliases: &mut BTreeMap<(String, &'static str, &'static str), usize>,
) {
    let base = report.records;
    for (i, record) in records.iter().enumerate() {
        let index = base + i;
        match record {
            Value::Object(map) => check_record(index, map, report, aliases),
            other => report.problems.push(Problem {
                record: Some(index),
                field: String::new(),
                rule: "record_type",
                severity: Severity::Error,
                message: format!("record {index} is {}, not an object", json_kind(other)),
            }),
        }
    }
    report.records += records.len();
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Where a field's value came from.
struct Slot<'a> {
    value: &'a Value,
    key: &'a str,
}

/// A field's value as text, after the type check.
enum Got<'a> {
    Absent,
    /// Present with a JSON type that cannot carry the field (already reported).
    Unusable,
    Text(std::borrow::Cow<'a, str>),
}

struct Ctx<'a> {
    index: usize,
    slots: Vec<Option<Slot<'a>>>,
    problems: Vec<Problem>,
}

impl<'a> Ctx<'a> {
    fn push(&mut self, field: &str, rule: &'static str, severity: Severity, message: String) {
        self.problems.push(Problem {
            record: Some(self.index),
            field: field.to_owned(),
            rule,
            severity,
            message,
        });
    }
}

fn field_index(name: &str) -> Option<usize> {
    use std::collections::HashMap;
    use std::sync::OnceLock;
    static INDEX: OnceLock<HashMap<&'static str, usize>> = OnceLock::new();
    INDEX
        .get_or_init(|| {
            FIELDS
                .iter()
                .enumerate()
                .map(|(i, f)| (f.name, i))
                .collect()
        })
        .get(name)
        .copied()
}

fn lower_index(name: &str) -> Option<usize> {
    let lower = name.trim().to_ascii_lowercase();
    FIELDS
        .iter()
        .position(|f| f.name.to_ascii_lowercase() == lower)
}

fn check_record(
    index: usize,
    map: &Map<String, Value>,
    report: &mut Report,
    alias_counts: &mut BTreeMap<(String, &'static str, &'static str), usize>,
) {
    let mut ctx = Ctx {
        index,
        slots: (0..FIELDS.len()).map(|_| None).collect(),
        problems: Vec::new(),
    };
    for (key, value) in map {
        let (slot_index, alias_kind) = if let Some(i) = field_index(key) {
            (i, None)
        } else if let Some((name, kind)) = aliases::resolve(key) {
            let kind = match kind {
                AliasKind::Sample => "sample",
                AliasKind::Corrected => "corrected_spelling",
            };
            (
                field_index(name).expect("alias targets a table field"),
                Some(kind),
            )
        } else if aliases::SAMPLE_ONLY.contains(&key.as_str()) {
            *report.extra_fields.entry(key.clone()).or_insert(0) += 1;
            continue;
        } else if let Some(i) = lower_index(key) {
            (
                i,
                Some(if key.trim() != key {
                    "whitespace"
                } else {
                    "letter_case"
                }),
            )
        } else {
            let suggestion = suggest(key)
                .map(|s| format!(" (did you mean '{s}'?)"))
                .unwrap_or_default();
            ctx.push(
                key,
                "unknown_field",
                Severity::Warning,
                format!("'{key}' is not a field of the 4.1 table nor a known alias{suggestion}"),
            );
            continue;
        };
        if let Some(kind) = alias_kind {
            *alias_counts
                .entry((key.clone(), FIELDS[slot_index].name, kind))
                .or_insert(0) += 1;
        }
        let slot = Slot { value, key };
        match ctx.slots[slot_index].as_ref().map(|e| (e.key, e.value)) {
            None => ctx.slots[slot_index] = Some(slot),
            Some((existing_key, existing_value)) => {
                let field = FIELDS[slot_index].name;
                if !same_value(existing_value, value) {
                    let message =
                        format!("'{field}' is given as '{existing_key}' and as '{key}' with different values");
                    ctx.push(field, "alias_conflict", Severity::Error, message);
                }
                // The table's own name wins over an alias.
                if existing_key != field && key == field {
                    ctx.slots[slot_index] = Some(slot);
                }
            }
        }
    }

    let patient_type = text_of(&ctx.slots, "patientType");
    let critical = ["criticalValue", "criticalFlag"]
        .iter()
        .any(|f| text_of(&ctx.slots, f).as_deref() == Some("1"));
    for (i, spec) in FIELDS.iter().enumerate() {
        match typed(&mut ctx, i, spec) {
            Got::Absent => {
                if spec.required {
                    missing(&mut ctx, spec, patient_type.as_deref(), critical);
                }
            }
            Got::Unusable => {}
            Got::Text(text) => check_value(&mut ctx, spec, &text),
        }
    }
    cross_field(&mut ctx);
    report.problems.append(&mut ctx.problems);
}

fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => x.trim() == y.trim(),
        (Value::Number(x), Value::String(y)) | (Value::String(y), Value::Number(x)) => {
            x.to_string() == y.trim()
        }
        _ => a == b,
    }
}

fn suggest(key: &str) -> Option<&'static str> {
    let lower = key.to_ascii_lowercase();
    FIELDS
        .iter()
        .map(|f| f.name)
        .chain(aliases::ALIASES.iter().map(|(a, _, _)| *a))
        .map(|name| (edit_distance(&lower, &name.to_ascii_lowercase()), name))
        .filter(|(d, name)| *d <= 2.max(name.len() / 5))
        .min()
        .map(|(_, name)| name)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (row[j + 1] + 1)
                .min(row[j] + 1)
                .min(prev + usize::from(ca != *cb));
            prev = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// The slot's value as trimmed text, or absent (null, blank). Wrong JSON types are reported.
fn typed<'a>(ctx: &mut Ctx<'a>, i: usize, spec: &FieldSpec) -> Got<'a> {
    let Some(slot) = &ctx.slots[i] else {
        return Got::Absent;
    };
    let value: &'a Value = slot.value;
    match value {
        Value::Null => Got::Absent,
        Value::String(s) => {
            let t = s.trim();
            if t.is_empty() {
                Got::Absent
            } else {
                Got::Text(std::borrow::Cow::Borrowed(t))
            }
        }
        Value::Number(n) => {
            if spec.kind != Kind::Decimal {
                let message = format!(
                    "'{}' is the JSON number {}; the table types it {} (send a string)",
                    spec.name,
                    shown(spec.name, &n.to_string()),
                    spec.spec_type
                );
                ctx.push(spec.name, "type", Severity::Warning, message);
            }
            Got::Text(std::borrow::Cow::Owned(n.to_string()))
        }
        other => {
            let message = format!(
                "'{}' is {}; the table types it {}",
                spec.name,
                json_kind(other),
                spec.spec_type
            );
            ctx.push(spec.name, "type", Severity::Error, message);
            Got::Unusable
        }
    }
}

fn missing(ctx: &mut Ctx, spec: &FieldSpec, patient_type: Option<&str>, critical: bool) {
    let which = if ctx.slots[field_index(spec.name).unwrap_or(0)].is_some() {
        "is blank"
    } else {
        "is missing"
    };
    let conditional = match spec.name {
        "iptNo" => Some(("2", "住院")),
        "outpatientNo" => Some(("1|4", "门诊/急诊")),
        "pepatientNo" => Some(("3", "体检")),
        _ => None,
    };
    if let Some((types, label)) = conditional {
        // Only one of the three numbers exists for a visit; the one matching patientType is owed.
        let owed = patient_type.is_some_and(|t| types.split('|').any(|x| x == t));
        let severity = if owed {
            Severity::Error
        } else {
            Severity::Warning
        };
        let message = format!(
            "required field '{}' ({}) {which}{}",
            spec.name,
            spec.meaning,
            if owed {
                format!(" and patientType says {label}")
            } else {
                String::from(" (not owed for this patientType, but the table marks it required)")
            }
        );
        ctx.push(spec.name, "required_by_patient_type", severity, message);
        return;
    }
    if matches!(spec.name, "criticalNotifyTime" | "riticalNotiryDoctor") && !critical {
        let message = format!(
            "required field '{}' ({}) {which} (no critical value flagged, but the table marks it required)",
            spec.name, spec.meaning
        );
        ctx.push(
            spec.name,
            "required_if_critical",
            Severity::Warning,
            message,
        );
        return;
    }
    let message = format!("required field '{}' ({}) {which}", spec.name, spec.meaning);
    ctx.push(spec.name, "required", Severity::Error, message);
}

/// A value for messages: masked for personal fields.
pub fn shown(field: &str, value: &str) -> String {
    if !PERSONAL.contains(&field) {
        return value.chars().take(80).collect();
    }
    if matches!(field, "psnName" | "spelling") {
        return crate::log::mask_name(value);
    }
    let chars: Vec<char> = value.chars().collect();
    if chars.len() <= 5 {
        return "*".repeat(chars.len());
    }
    let mut out: String = chars[..3].iter().collect();
    out.extend(std::iter::repeat_n('*', chars.len() - 5));
    out.extend(&chars[chars.len() - 2..]);
    out
}

fn check_value(ctx: &mut Ctx, spec: &FieldSpec, text: &str) {
    let name = spec.name;
    match spec.kind {
        Kind::DateTime => {
            if let Err(why) = parse_datetime(text) {
                let message = format!(
                    "'{name}' = '{}' {why}; expected yyyy-MM-dd HH:mm:ss",
                    shown(name, text)
                );
                ctx.push(name, "datetime_format", Severity::Error, message);
            }
        }
        Kind::Date => {
            if let Err(why) = parse_date(text) {
                let message = format!(
                    "'{name}' = '{}' {why}; expected yyyy-MM-dd",
                    shown(name, text)
                );
                ctx.push(name, "date_format", Severity::Error, message);
            }
        }
        Kind::Decimal => match parse_decimal(text) {
            None => {
                let message = format!(
                    "'{name}' = '{}' is not a decimal number (BigDecimal)",
                    shown(name, text)
                );
                ctx.push(name, "decimal", Severity::Error, message);
            }
            Some(v) if v < 0.0 || (name == "age" && v > 150.0) => {
                let message = format!("'{name}' = '{}' is out of range", shown(name, text));
                ctx.push(name, "range", Severity::Error, message);
            }
            Some(_) => {}
        },
        Kind::Text | Kind::LongText => {}
    }
    match spec.domain() {
        Domain::Free => {}
        Domain::Dict(dict) => {
            if !dict.contains(text) {
                dictionary_problem(ctx, spec, text, dict);
            }
        }
        Domain::DictList(dict) => check_list(ctx, spec, text, dict),
        Domain::ExamCode => check_exam_codes(ctx, spec, text),
    }
    match name {
        "imageCount" if !text.bytes().all(|b| b.is_ascii_digit()) => {
            let message = format!("'imageCount' = '{text}' is not a whole number of images");
            ctx.push(name, "number", Severity::Error, message);
        }
        "patientHeight" | "patientWeight" => {
            let (low, high, unit) = if name == "patientHeight" {
                (20.0, 260.0, "cm")
            } else {
                (0.3, 400.0, "kg")
            };
            match parse_decimal(text) {
                None => {
                    let message = format!("'{name}' = '{text}' is not a number of {unit}");
                    ctx.push(name, "number", Severity::Warning, message);
                }
                Some(v) if !(low..=high).contains(&v) => {
                    let message = format!("'{name}' = '{text}' is outside {low}..{high} {unit}");
                    ctx.push(name, "range", Severity::Warning, message);
                }
                Some(_) => {}
            }
        }
        "studyInstanceUid" if !is_dicom_uid(text) => {
            let message = format!("'studyInstanceUid' = '{}' is not a DICOM UID (digits and dots, at most 64, no leading zeros)", shown(name, text));
            ctx.push(name, "uid_format", Severity::Error, message);
        }
        _ => {}
    }
}

fn dictionary_problem(ctx: &mut Ctx, spec: &FieldSpec, text: &str, dict: &Dict) {
    let hint = match (spec.name, text) {
        ("gend", "M" | "m") => " (M means 1=男)",
        ("gend", "F" | "f") => " (F means 2=女)",
        ("gend", "O" | "U") => " (use 0=未知 or 9=未说明性别)",
        ("patientType", "O") => " (HL7 O = outpatient: 1)",
        ("patientType", "I") => " (HL7 I = inpatient: 2)",
        ("patientType", "E") => " (HL7 E = emergency: 4)",
        ("imgExamType", "DX" | "CR" | "DR" | "MG" | "RF" | "XA") => " (X-ray modalities are 1)",
        ("imgExamType", "CT") => " (CT is 2)",
        ("imgExamType", "MR") => " (MR is 3)",
        ("imgExamType", "US") => " (US is 4)",
        ("imgExamType", "NM" | "PT") => " (NM/PET is 5)",
        ("chargeType", "1" | "2" | "3") => " (codes are two digits: 01, 02, 03)",
        _ => "",
    };
    let message = format!(
        "'{}' = '{}' is not in {} ({}){hint}",
        spec.name,
        shown(spec.name, text),
        dict.title,
        dict.describe()
    );
    ctx.push(spec.name, "dictionary", Severity::Error, message);
}

fn check_list(ctx: &mut Ctx, spec: &FieldSpec, text: &str, dict: &Dict) {
    let name = spec.name;
    if let Some(sep) = [',', '，', '、', ';', '；', '/', ' ']
        .into_iter()
        .find(|c| text.contains(*c))
    {
        let message = format!(
            "'{name}' = '{text}' separates codes with '{sep}'; the spec separates them with '|'"
        );
        ctx.push(name, "list_format", Severity::Error, message);
        return;
    }
    let mut seen: Vec<&str> = Vec::new();
    for code in text.split('|') {
        if code.is_empty() {
            let message = format!("'{name}' = '{text}' has an empty element between '|'");
            ctx.push(name, "list_format", Severity::Error, message);
        } else if seen.contains(&code) {
            let message = format!("'{name}' = '{text}' lists '{code}' twice");
            ctx.push(name, "list_format", Severity::Warning, message);
        } else if !dict.contains(code) {
            dictionary_problem(ctx, spec, code, dict);
        }
        seen.push(code);
    }
}

/// examPart / examItemCode: one code, or several (a multi-item exam) joined by `|` or `,`.
fn check_exam_codes(ctx: &mut Ctx, spec: &FieldSpec, text: &str) {
    let name = spec.name;
    for code in text.split(['|', ',', '，']).map(str::trim) {
        if code.is_empty() {
            let message = format!("'{name}' = '{text}' has an empty element");
            ctx.push(name, "list_format", Severity::Error, message);
        } else if !schema::is_code_shape(code) {
            let printed = schema::exam_code(code)
                .map(|e| {
                    format!(
                        " (5.1 prints '{code}' for {} at spec line {}, a misprint)",
                        e.name, e.line
                    )
                })
                .unwrap_or_default();
            let message =
                format!("'{name}' code '{code}' is not 9 uppercase letters/digits (WS/T 364.8-2023){printed}");
            ctx.push(name, "code_shape", Severity::Error, message);
        } else if schema::exam_code(code).is_none() {
            let message = format!("'{name}' code '{code}' is well formed but not in the 5.1 table");
            ctx.push(name, "code_unlisted", Severity::Warning, message);
        }
    }
}

fn is_dicom_uid(uid: &str) -> bool {
    uid.len() <= 64
        && uid.split('.').all(|part| {
            !part.is_empty()
                && part.bytes().all(|b| b.is_ascii_digit())
                && (part == "0" || !part.starts_with('0'))
        })
}

fn parse_decimal(text: &str) -> Option<f64> {
    let body = text.strip_prefix('-').unwrap_or(text);
    let (int, frac) = body.split_once('.').unwrap_or((body, "0"));
    let ok = !int.is_empty()
        && !frac.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit());
    if ok {
        text.parse().ok()
    } else {
        None
    }
}

fn digits(bytes: &[u8]) -> Option<u32> {
    bytes.iter().try_fold(0u32, |acc, b| {
        b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0'))
    })
}

/// `yyyy-MM-dd`, zero-padded, a real date.
pub fn parse_date(text: &str) -> std::result::Result<NaiveDate, &'static str> {
    let b = text.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return Err(if text.len() == 19 {
            "has a time part"
        } else {
            "is not shaped yyyy-MM-dd"
        });
    }
    let (Some(y), Some(m), Some(d)) = (digits(&b[0..4]), digits(&b[5..7]), digits(&b[8..10]))
    else {
        return Err("is not shaped yyyy-MM-dd");
    };
    NaiveDate::from_ymd_opt(y as i32, m, d).ok_or("is not a calendar date")
}

/// `yyyy-MM-dd HH:mm:ss`, zero-padded, a real time.
pub fn parse_datetime(text: &str) -> std::result::Result<NaiveDateTime, &'static str> {
    let b = text.as_bytes();
    if b.len() != 19 || b[10] != b' ' || b[13] != b':' || b[16] != b':' {
        return Err(if b.len() == 10 {
            "has no time part"
        } else {
            "is not shaped yyyy-MM-dd HH:mm:ss"
        });
    }
    let date = parse_date(&text[..10])?;
    let (Some(h), Some(mi), Some(s)) = (digits(&b[11..13]), digits(&b[14..16]), digits(&b[17..19]))
    else {
        return Err("is not shaped yyyy-MM-dd HH:mm:ss");
    };
    date.and_hms_opt(h, mi, s).ok_or("is not a clock time")
}

fn text_of(slots: &[Option<Slot>], name: &str) -> Option<String> {
    let slot = slots[field_index(name)?].as_ref()?;
    match slot.value {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn datetime_of(slots: &[Option<Slot>], name: &str) -> Option<NaiveDateTime> {
    parse_datetime(&text_of(slots, name)?).ok()
}

fn cross_field(ctx: &mut Ctx) {
    let exam = datetime_of(&ctx.slots, "examDate");
    let before = |ctx: &mut Ctx,
                  later: &str,
                  earlier_time: Option<NaiveDateTime>,
                  rule,
                  severity,
                  what: &str| {
        if let (Some(t), Some(e)) = (datetime_of(&ctx.slots, later), earlier_time) {
            if t < e {
                ctx.push(
                    later,
                    rule,
                    severity,
                    format!("'{later}' {t} is before {what} {e}"),
                );
            }
        }
    };
    before(
        ctx,
        "executeEndTime",
        exam,
        "exam_end_before_start",
        Severity::Error,
        "examDate",
    );
    before(
        ctx,
        "chkDate",
        exam,
        "audit_before_exam",
        Severity::Error,
        "examDate",
    );
    before(
        ctx,
        "rptDate",
        exam,
        "report_before_exam",
        Severity::Warning,
        "examDate",
    );
    let symptom_start = datetime_of(&ctx.slots, "sympBegndate");
    before(
        ctx,
        "sympEnddate",
        symptom_start,
        "symptom_end_before_start",
        Severity::Warning,
        "sympBegndate",
    );
    if let (Some(order), Some(e)) = (datetime_of(&ctx.slots, "studyOrderTime"), exam) {
        if order > e {
            ctx.push(
                "studyOrderTime",
                "order_after_exam",
                Severity::Warning,
                format!("'studyOrderTime' {order} is after examDate {e}"),
            );
        }
    }
    let birth = text_of(&ctx.slots, "brdy").and_then(|t| parse_date(&t).ok());
    if let (Some(b), Some(e)) = (birth, exam) {
        if b > e.date() {
            ctx.push(
                "brdy",
                "birth_after_exam",
                Severity::Error,
                format!("'brdy' {b} is after examDate {e}"),
            );
        } else if let Some(age) = text_of(&ctx.slots, "age").and_then(|a| parse_decimal(&a)) {
            let years = full_years(b, e.date());
            if (age - f64::from(years)).abs() > 1.0 {
                ctx.push(
                    "age",
                    "age_mismatch",
                    Severity::Error,
                    format!(
                        "'age' {age} disagrees with brdy {b}: {years} full years at examDate {}",
                        e.date()
                    ),
                );
            }
        }
    }
    certno(ctx, birth);
}

fn full_years(birth: NaiveDate, at: NaiveDate) -> i32 {
    let mut years = at.year() - birth.year();
    if (at.month(), at.day()) < (birth.month(), birth.day()) {
        years -= 1;
    }
    years
}

fn certno(ctx: &mut Ctx, birth: Option<NaiveDate>) {
    let cert_type = text_of(&ctx.slots, "psnCertType");
    if !cert_type
        .as_deref()
        .is_some_and(|t| RESIDENT_ID_TYPES.contains(&t))
    {
        return;
    }
    let Some(id) = text_of(&ctx.slots, "certno") else {
        return;
    };
    let shown_id = shown("certno", &id);
    let b = id.as_bytes();
    if b.len() == 15 && b.iter().all(u8::is_ascii_digit) {
        ctx.push("certno", "certno_format", Severity::Warning, format!("'certno' {shown_id} is a 15-digit first-generation ID (retired); send the 18-digit number"));
        return;
    }
    if b.len() != 18
        || !b[..17].iter().all(u8::is_ascii_digit)
        || !(b[17].is_ascii_digit() || b[17] == b'X' || b[17] == b'x')
    {
        ctx.push("certno", "certno_format", Severity::Error, format!("'certno' {shown_id} is not an 18-character resident ID (17 digits and a digit or X), yet psnCertType says resident ID"));
        return;
    }
    if !resident_id_checksum_ok(&id) {
        ctx.push(
            "certno",
            "certno_checksum",
            Severity::Error,
            format!("'certno' {shown_id} fails the resident-ID check digit (GB 11643)"),
        );
        return;
    }
    let id_birth = parse_date(&format!("{}-{}-{}", &id[6..10], &id[10..12], &id[12..14])).ok();
    match (id_birth, birth) {
        (None, _) => ctx.push(
            "certno",
            "certno_mismatch",
            Severity::Error,
            format!("'certno' {shown_id} holds no valid birth date"),
        ),
        (Some(a), Some(b)) if a != b => ctx.push(
            "certno",
            "certno_mismatch",
            Severity::Warning,
            "'certno' birth date disagrees with 'brdy'".into(),
        ),
        _ => {}
    }
    let male = (b[16] - b'0') % 2 == 1;
    match text_of(&ctx.slots, "gend").as_deref() {
        Some("1") if !male => ctx.push(
            "certno",
            "certno_mismatch",
            Severity::Warning,
            "'certno' sex digit says female, 'gend' says 1=男".into(),
        ),
        Some("2") if male => ctx.push(
            "certno",
            "certno_mismatch",
            Severity::Warning,
            "'certno' sex digit says male, 'gend' says 2=女".into(),
        ),
        _ => {}
    }
}

/// GB 11643-1999 check digit (ISO 7064 MOD 11-2) of an 18-character resident ID.
pub fn resident_id_checksum_ok(id: &str) -> bool {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: &[u8; 11] = b"10X98765432";
    let b = id.as_bytes();
    if b.len() != 18 {
        return false;
    }
    let sum: u32 = b[..17]
        .iter()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    CHECK[(sum % 11) as usize] == b[17].to_ascii_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_must_be_zero_padded_calendar_dates() {
        assert!(parse_date("2023-02-28").is_ok());
        assert_eq!(parse_date("2023-02-30"), Err("is not a calendar date"));
        assert!(parse_date("2023-2-3").is_err());
        assert!(parse_datetime("2024-02-29 23:59:59").is_ok());
        assert!(parse_datetime("2023-02-29 00:00:00").is_err());
        assert!(parse_datetime("2023-01-01T00:00:00").is_err());
        assert!(parse_datetime("2023-01-01 24:00:00").is_err());
    }

    #[test]
    fn resident_id_check_digit_follows_gb11643() {
        assert!(resident_id_checksum_ok("11010519491231002X"));
        assert!(!resident_id_checksum_ok("110105194912310021"));
    }

    #[test]
    fn personal_values_are_masked() {
        assert_eq!(shown("psnName", "张三丰"), "张**");
        assert_eq!(shown("tel", "15395092817"), "153******17");
        assert_eq!(shown("accessionNo", "A1"), "A1");
    }
}
