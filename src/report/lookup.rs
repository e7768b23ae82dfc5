//! Lookups over the generated tables: a field of the 4.1 table by name, a 5.1 exam code, and a
//! field's effective domain (the table's remark plus the decisions where it is silent).
//!
//! Uses: report::{schema, tables}.

use super::schema::{Domain, ExamCode, FieldSpec};
use super::tables::{EXAM_CODES, FIELDS, FLAG, SEX};
use std::collections::HashMap;
use std::sync::OnceLock;

impl FieldSpec {
    /// The field's effective domain: the table's remark, plus decisions where the table is
    /// silent (`gend` takes the 5.2 sex dictionary; `criticalFlag` is a 0/1 flag like
    /// `criticalValue`).
    pub fn domain(&self) -> Domain {
        match self.name {
            "gend" => Domain::Dict(&SEX),
            "criticalFlag" => Domain::Dict(&FLAG),
            _ => self.domain,
        }
    }
}

/// A field of the 4.1 table by its (trimmed) name.
pub fn field(name: &str) -> Option<&'static FieldSpec> {
    static INDEX: OnceLock<HashMap<&'static str, &'static FieldSpec>> = OnceLock::new();
    INDEX
        .get_or_init(|| FIELDS.iter().map(|f| (f.name, f)).collect())
        .get(name)
        .copied()
}

/// The 5.1 entry for a code (the first, where the spec prints a code twice).
pub fn exam_code(code: &str) -> Option<&'static ExamCode> {
    static INDEX: OnceLock<HashMap<&'static str, &'static ExamCode>> = OnceLock::new();
    INDEX
        .get_or_init(|| {
            let mut map = HashMap::new();
            for entry in EXAM_CODES {
                map.entry(entry.code).or_insert(entry);
            }
            map
        })
        .get(code)
        .copied()
}
