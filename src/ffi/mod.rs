//! The C surface. Everything `unsafe` in miic lives in this module: pointers, C strings, handles,
//! and the panic boundary that every export goes through. Each export calls the client (or a
//! stateless interface module) and turns its result into a status.
//!
//! Uses: client, params, report, qr_image, dicom, diagnose, resolve, log, text, error.
#![allow(non_camel_case_types)]

mod boundary;
mod client;
mod cloud;
mod diagnose;
mod dicom;
mod handles;
mod loaded;
mod outbox;
mod params;
mod qr_image;
mod report;
mod version;

pub use crate::error::{
    MIIC_E_ARGUMENT, MIIC_E_CONFIG, MIIC_E_CRYPTO, MIIC_E_DICOM, MIIC_E_ENCODING, MIIC_E_INTERNAL,
    MIIC_E_IO, MIIC_E_NETWORK, MIIC_E_PROTOCOL, MIIC_E_SERVER, MIIC_E_STATE, MIIC_E_TIMEOUT,
    MIIC_OK, MIIC_QUEUED,
};
pub use boundary::{miic_last_error, miic_last_status, MiicStatus};
pub use client::{
    miic_client, miic_close, miic_log_fn, miic_open, miic_set_log_callback, miic_sm2_encrypt,
};
pub use cloud::{
    miic_delete_notify, miic_login, miic_logout, miic_patient_reminder,
    miic_patient_reminder_async, miic_plugin_url, miic_qr_url,
};
pub use diagnose::miic_diagnose;
pub use dicom::{
    miic_dicom_echo, miic_dicom_fetch_http, miic_dicom_find, miic_dicom_retrieve, miic_progress_fn,
    miic_set_progress_callback,
};
pub use outbox::{miic_outbox_dead_count, miic_outbox_flush, miic_outbox_pending};
pub use params::{
    miic_params, miic_params_free, miic_params_from_json, miic_params_new, miic_params_set,
};
pub use qr_image::{miic_qr_image, miic_qr_render};
pub use report::miic_report_validate;
pub use version::{
    miic_abi_version, miic_status_name, miic_string_free, miic_version, MIIC_ABI_VERSION,
};
