//! The shapes the generated tables (`tables`) are made of: field rows, kinds, dictionaries,
//! domains, exam codes. Lookups over the tables are in `lookup`.
//!
//! Uses: nothing.

/// How a field's value is written, from the table's 类型 column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `String`: text.
    Text,
    /// `TEXT`: long text (a database TEXT column).
    LongText,
    /// `datetime` / `DateTime`: `yyyy-MM-dd HH:mm:ss`.
    DateTime,
    /// `Date`: `yyyy-MM-dd`.
    Date,
    /// `BigDecimal`: a decimal number (a JSON number or a numeric string).
    Decimal,
}

/// A code dictionary of section 5 (or an inline one of the 4.1 table).
#[derive(Debug)]
pub struct Dict {
    pub name: &'static str,
    pub title: &'static str,
    /// (code, name), in code order.
    pub entries: &'static [(&'static str, &'static str)],
}

impl Dict {
    pub fn contains(&self, code: &str) -> bool {
        self.entries.iter().any(|(c, _)| *c == code)
    }

    /// `1=门诊, 2=住院, …` for messages.
    pub fn describe(&self) -> String {
        let codes: Vec<String> = self
            .entries
            .iter()
            .map(|(c, n)| format!("{c}={n}"))
            .collect();
        codes.join(", ")
    }
}

/// What values a field may take beyond its kind.
#[derive(Debug, Clone, Copy)]
pub enum Domain {
    Free,
    /// One code of the dictionary.
    Dict(&'static Dict),
    /// One or more codes joined by `|`.
    DictList(&'static Dict),
    /// 5.1 exam technique code(s): 9 uppercase letters/digits (WS/T 364.8-2023).
    ExamCode,
}

/// One row of the 4.1 table.
#[derive(Debug)]
pub struct FieldSpec {
    /// The name to send (the table's, trimmed).
    pub name: &'static str,
    /// The name exactly as printed (`deleteFlag ` carries a trailing space).
    pub spec_name: &'static str,
    pub meaning: &'static str,
    /// The 类型 column as printed.
    pub spec_type: &'static str,
    pub kind: Kind,
    pub required: bool,
    pub remark: &'static str,
    /// From the remark; [`FieldSpec::domain`] adds the bindings the table leaves implicit.
    pub domain: Domain,
    /// Line of the row in the spec text.
    pub line: u32,
}

/// A 5.1 entry as printed.
#[derive(Debug)]
pub struct ExamCode {
    pub code: &'static str,
    pub name: &'static str,
    pub line: u32,
}

/// The 9-character shape the spec prescribes for exam technique codes.
pub fn is_code_shape(code: &str) -> bool {
    code.len() == 9
        && code
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}
