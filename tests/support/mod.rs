pub mod ffi;
pub mod pacs;
