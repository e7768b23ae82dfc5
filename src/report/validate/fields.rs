//! Field rules of a 4.1 record: each key mapped to its table field (aliases, letter case,
//! unknown names, conflicting duplicates), then each field's presence, JSON type, format,
//! dictionary and range. The cross-field rules run last, on the same record.
//!
//! Uses: validate::{record, types, parse, cross}, report::{tables, schema, lookup, aliases}.

use super::cross::cross_field;
use super::parse::{is_dicom_uid, parse_date, parse_datetime, parse_decimal};
use super::record::{field_index, lower_index, shown, text_of, Ctx, Got, Slot};
use super::types::{json_kind, Report, Severity};
use crate::report::aliases::{self, AliasKind};
use crate::report::lookup;
use crate::report::schema::{self, Dict, Domain, FieldSpec, Kind};
use crate::report::tables::FIELDS;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

pub fn check_record(
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
            let printed = lookup::exam_code(code)
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
        } else if lookup::exam_code(code).is_none() {
            let message = format!("'{name}' code '{code}' is well formed but not in the 5.1 table");
            ctx.push(name, "code_unlisted", Severity::Warning, message);
        }
    }
}
