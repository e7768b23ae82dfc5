//! The front-end machine's HTTP calls, one file per spec interface.

pub(crate) mod delete;
pub(crate) mod dict;
pub(crate) mod encode;
pub(crate) mod login;
pub(crate) mod qr;
pub(crate) mod reminder;

/// `yyyy-MM-dd HH:mm:ss` in local time, the spec's DateTime format.
pub fn now_local() -> String {
    chrono::Local::now().format("%Y-%m-%d %H:%M:%S").to_string()
}

/// True when `text` is a real calendar `yyyy-MM-dd HH:mm:ss`.
pub fn is_datetime(text: &str) -> bool {
    text.len() == 19 && chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").is_ok()
}
