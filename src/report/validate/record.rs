//! One record being checked: each table field's value (and the key it came under), the problems
//! found so far, and how values are shown in messages (masked when personal). Shared by the field
//! rules and the cross-field rules.
//!
//! Uses: report::tables, validate::{types, parse}, log (masking).

use super::parse::parse_datetime;
use super::types::{Problem, Severity};
use crate::report::tables::FIELDS;
use chrono::NaiveDateTime;
use serde_json::Value;

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

/// Where a field's value came from.
pub struct Slot<'a> {
    pub value: &'a Value,
    pub key: &'a str,
}

/// A field's value as text, after the type check.
pub enum Got<'a> {
    Absent,
    /// Present with a JSON type that cannot carry the field (already reported).
    Unusable,
    Text(std::borrow::Cow<'a, str>),
}

pub struct Ctx<'a> {
    pub index: usize,
    pub slots: Vec<Option<Slot<'a>>>,
    pub problems: Vec<Problem>,
}

impl<'a> Ctx<'a> {
    pub fn push(&mut self, field: &str, rule: &'static str, severity: Severity, message: String) {
        self.problems.push(Problem {
            record: Some(self.index),
            field: field.to_owned(),
            rule,
            severity,
            message,
        });
    }
}

pub fn field_index(name: &str) -> Option<usize> {
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

pub fn lower_index(name: &str) -> Option<usize> {
    let lower = name.trim().to_ascii_lowercase();
    FIELDS
        .iter()
        .position(|f| f.name.to_ascii_lowercase() == lower)
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

pub fn text_of(slots: &[Option<Slot>], name: &str) -> Option<String> {
    let slot = slots[field_index(name)?].as_ref()?;
    match slot.value {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

pub fn datetime_of(slots: &[Option<Slot>], name: &str) -> Option<NaiveDateTime> {
    parse_datetime(&text_of(slots, name)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn personal_values_are_masked() {
        assert_eq!(shown("psnName", "张三丰"), "张**");
        assert_eq!(shown("tel", "15395092817"), "153******17");
        assert_eq!(shown("accessionNo", "A1"), "A1");
    }
}
