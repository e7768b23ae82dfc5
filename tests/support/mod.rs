pub mod ffi;
pub mod orthanc;
pub mod pacs;
pub mod study;
