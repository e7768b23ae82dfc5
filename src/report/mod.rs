//! Report data (spec 4.1): the record every PACS owes the cloud, its dictionaries (section 5),
//! and a validator that tells a vendor before go-live which records the cloud would refuse.
//!
//! `tables` is generated from the spec text by `scripts/gen_report_tables.py`; `schema` gives
//! its shapes and `lookup` searches it; `validate` checks records; `sample` builds records for
//! tests and the simulator; `aliases` maps the sample reply's other names to the table's.
//!
//! Uses: its submodules only.

/// The sample reply's other field names and the misspellings the validator accepts.
pub mod aliases;
mod lookup;
/// Generated records (valid, or broken one rule at a time) for hosts' tests and the simulator.
pub mod sample;
mod schema;
/// The 4.1 table and the section 5 dictionaries, generated from the spec text.
#[rustfmt::skip]
pub mod tables;
mod validate;

pub use lookup::{exam_code, field};
pub use schema::{is_code_shape, Dict, Domain, ExamCode, FieldSpec, Kind};
pub use validate::{
    parse_date, parse_datetime, validate_json, validate_value, AliasUse, Problem, Report, Severity,
    MAX_INPUT_BYTES, MAX_LISTED_PROBLEMS, RULES,
};
