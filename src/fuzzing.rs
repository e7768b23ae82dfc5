//! Entry points for the fuzz targets in fuzz/: parsers of untrusted input that are internal to
//! the library otherwise. Hidden from the docs and free to change; hosts use the crate root.
//!
//! Uses: http, cloud::encode, dicom::http_fetch.

pub use crate::cloud::encode::{dollar, undollar};
pub use crate::dicom::http_fetch::parse_dcm_path;
pub use crate::http::CloudReply;
