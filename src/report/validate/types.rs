//! What a validation finds: problems, their severity and rule, the report handed to hosts, and
//! the limits of the input. No rule lives here.
//!
//! Uses: serde_json.

use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Largest JSON text accepted (a day of reports is far below; a runaway reply is not).
pub const MAX_INPUT_BYTES: usize = 64 * 1024 * 1024;
/// Problems listed in the JSON output; counts per rule stay complete beyond it.
pub const MAX_LISTED_PROBLEMS: usize = 10_000;

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

/// How a JSON value is named in messages.
pub fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
