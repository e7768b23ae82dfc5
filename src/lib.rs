//! miic: the medical-insurance imaging cloud (医保影像云) interface as one C-ABI library.
//!
//! Dependencies point downward only (docs/architecture.md draws the layers, and
//! tests/architecture.rs keeps them so): `ffi` → `client` (composes) → the interface modules
//! (`cloud::*`, `dicom`, `report`, `qr_image`) → the shared parts (`context`, `session`,
//! `outbox::store`, `config`, `params`) → `http`/`sm2`/`text`/`log`/`fs`/`worker` → `error`.
//!
//! Modules are private; what hosts use is re-exported here. Rust hosts (miic-cli, the tests)
//! use this API or the C ABI in [`ffi`], like any other host.

// Pointers, C strings and exports are `ffi`'s alone; the compiler refuses `unsafe` elsewhere.
#![deny(unsafe_code)]

mod callback;
mod client;
mod cloud;
mod config;
mod context;
mod diagnose;
mod dicom;
mod error;
/// The C ABI: every export of include/miic.h, callable from Rust hosts as well.
#[allow(unsafe_code)]
pub mod ffi;
mod fs;
/// Internal parsers the fuzz targets (fuzz/) drive directly; not a supported API.
#[doc(hidden)]
pub mod fuzzing;
mod http;
mod log;
/// The delete notifications' outbox file, for operators' tools (`miic-cli outbox`).
pub mod outbox;
mod params;
mod qr_image;
/// Report data (4.1): the validator, the tables generated from the spec, and sample records.
pub mod report;
mod resolve;
mod session;
/// SM2 laid out as the cloud reads it, for hosts and simulators that encrypt or check ciphertexts.
pub mod sm2;
mod text;
mod worker;

pub use client::Client;
pub use config::Config;
pub use error::{Error, Result, Status};
pub use fs::write_atomically;
pub use log::{mask_line, mask_name};
pub use params::Params;
pub use text::{decode_reply, ReplyCharset, ReplyText, TextEncoding};
