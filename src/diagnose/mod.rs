//! The diagnosis of a workstation's whole set-up (`miic_diagnose`, `miic-cli doctor`): the
//! config, the front-end machine, the clock, the SM2 key, the outbox, the log folder, the PACS
//! and the image server, each check bounded in time, with a fix in Chinese and English for what
//! fails. It composes the lower parts without opening a client, so it works on a config
//! `miic_open` refuses, and says why.
//!
//! Uses: its submodules only.

mod dicom_check;
mod files;
mod network;
pub(crate) mod report;
mod run;
mod setup;
mod sm2_check;

pub use run::diagnose;
