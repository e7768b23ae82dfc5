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

pub use crate::error::{
    MIIC_E_ARGUMENT, MIIC_E_CONFIG, MIIC_E_CRYPTO, MIIC_E_DICOM, MIIC_E_ENCODING, MIIC_E_INTERNAL,
    MIIC_E_IO, MIIC_E_NETWORK, MIIC_E_PROTOCOL, MIIC_E_SERVER, MIIC_E_STATE, MIIC_E_TIMEOUT,
    MIIC_OK, MIIC_QUEUED,
};
pub use boundary::{miic_last_error, MiicStatus};
