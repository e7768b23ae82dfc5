//! The validator's entry points and the input's shape: one record, an array of records, or the
//! 4.1.2 reply envelope `{data, code, message}`, whose `code` and `data` are checked here.
//!
//! Uses: validate::{types, fields}, error.

use super::fields::check_record;
use super::types::{json_kind, AliasUse, Problem, Report, Severity, MAX_INPUT_BYTES};
use crate::error::{Error, Result};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

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
