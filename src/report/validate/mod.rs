//! The 4.1 record validator: one record, an array of records, or the 4.1.2 reply envelope in; a
//! [`Report`] of problems out. Split by concern: the results (`types`), the input's shape
//! (`envelope`), one record's context (`record`), the field rules (`fields`), the cross-field
//! rules (`cross`) and the value parsers (`parse`).
//!
//! Uses: report::{tables, schema, lookup, aliases}, error, log.

mod cross;
mod envelope;
mod fields;
mod parse;
mod record;
mod types;

pub use cross::resident_id_checksum_ok;
pub use envelope::{validate_json, validate_value};
pub use parse::{parse_date, parse_datetime};
pub use types::{AliasUse, Problem, Report, Severity, MAX_INPUT_BYTES, MAX_LISTED_PROBLEMS, RULES};
