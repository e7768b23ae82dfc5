//! Images (spec 4.2): fetching a study from the hospital PACS over DICOM (C-ECHO, C-FIND,
//! C-GET, C-MOVE on `dicom-ul`) or over HTTP from the paths in `dcmPath`, into a folder, with a
//! manifest of what landed.

pub mod classes;
pub mod dimse;
pub mod http_fetch;
pub mod manifest;
pub mod plan;
pub mod progress;
pub mod retrieve;
pub mod scu;
pub mod store;
