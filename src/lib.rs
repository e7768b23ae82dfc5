//! miic: the medical-insurance imaging cloud (医保影像云) interface as one C-ABI library.
//!
//! Data flows one way: `ffi` → an interface module (`cloud::*`) → `client`/`params` →
//! `http`/`sm2`/`text` → `error`. Only `ffi` holds `unsafe` code.

pub mod client;
pub mod cloud;
pub mod config;
pub mod context;
pub mod dicom;
pub mod error;
pub mod ffi;
pub mod fs;
pub mod http;
pub mod log;
pub mod outbox;
pub mod params;
pub mod qr_image;
pub mod report;
pub mod session;
pub mod sm2;
pub mod text;
pub mod worker;

pub use client::Client;
pub use error::{Error, Result, Status};
pub use params::Params;
