//! The front-end machine's HTTP calls, one file per spec interface.
//!
//! Uses: its submodules only.

pub(crate) mod delete;
pub(crate) mod dict;
pub(crate) mod encode;
pub(crate) mod login;
pub(crate) mod qr;
pub(crate) mod reminder;
