//! Images (spec 4.2): fetching a study from the hospital PACS over DICOM (C-ECHO, C-FIND,
//! C-GET, C-MOVE on `dicom-ul`) or over HTTP from the paths in `dcmPath`, into a folder, with a
//! manifest of what landed.
//!
//! Uses: its submodules only.

pub(crate) mod classes;
pub(crate) mod dimse;
pub(crate) mod http_fetch;
pub(crate) mod manifest;
pub(crate) mod plan;
pub(crate) mod progress;
pub(crate) mod retrieve;
pub(crate) mod scu;
pub(crate) mod store;
