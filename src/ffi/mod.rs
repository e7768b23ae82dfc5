//! The C surface. Everything `unsafe` in miic lives in this module: pointers, C strings, handles,
//! and the panic boundary that every export goes through.
#![allow(non_camel_case_types)]

pub mod boundary;
pub mod client;
pub mod cloud;
pub mod dicom;
pub mod handles;
pub mod outbox;
pub mod params;
pub mod qr_image;
pub mod report;
pub mod version;

pub use boundary::{miic_last_error, MiicStatus};
