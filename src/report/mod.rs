//! Report data (spec 4.1): the record every PACS owes the cloud, its dictionaries (section 5),
//! and a validator that tells a vendor before go-live which records the cloud would refuse.
//!
//! `tables` is generated from the spec text by `scripts/gen_report_tables.py`.

pub mod aliases;
pub mod lookup;
pub mod sample;
pub mod schema;
#[rustfmt::skip]
pub mod tables;
pub mod validate;

pub use validate::{validate_json, validate_value, Problem, Report, Severity};
