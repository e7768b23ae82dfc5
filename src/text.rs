//! Host text: UTF-8, or GBK for old ANSI hosts (Delphi 7, PowerBuilder). The wire is always UTF-8.
//!
//! Uses: error.

use crate::error::{Error, Result};
use serde::Deserialize;

/// How a client's host passes text in and reads text out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum TextEncoding {
    #[default]
    #[serde(rename = "utf-8", alias = "utf8", alias = "UTF-8")]
    Utf8,
    #[serde(rename = "gbk", alias = "GBK", alias = "gb18030", alias = "GB18030")]
    Gbk,
}

impl TextEncoding {
    /// Host bytes to a Rust string; `field` names the value in the error.
    pub fn decode(self, bytes: &[u8], field: &str) -> Result<String> {
        match self {
            TextEncoding::Utf8 => std::str::from_utf8(bytes).map(str::to_owned).map_err(|e| {
                Error::encoding(format!(
                    "'{field}' is not valid UTF-8 (bad byte at offset {})",
                    e.valid_up_to()
                ))
            }),
            TextEncoding::Gbk => {
                // GB18030 is a superset of GBK: every GBK byte string decodes the same way.
                let (text, had_errors) = encoding_rs::GB18030
                    .decode_without_bom_handling_and_without_replacement(bytes)
                    .map(|t| (t, false))
                    .unwrap_or_else(|| (std::borrow::Cow::Borrowed(""), true));
                if had_errors {
                    Err(Error::encoding(format!("'{field}' is not valid GBK text")))
                } else {
                    Ok(text.into_owned())
                }
            }
        }
    }

    /// A Rust string to host bytes (without the NUL).
    pub fn encode(self, text: &str) -> Vec<u8> {
        match self {
            TextEncoding::Utf8 => text.as_bytes().to_vec(),
            TextEncoding::Gbk => {
                // Characters GBK cannot hold become numeric character references rather than
                // failing: outputs are URLs and messages, and must always reach the host.
                let (bytes, _, _) = encoding_rs::GB18030.encode(text);
                bytes.into_owned()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gbk_round_trips_chinese_name() {
        let gbk = TextEncoding::Gbk.encode("张医生");
        assert_eq!(gbk, vec![0xD5, 0xC5, 0xD2, 0xBD, 0xC9, 0xFA]);
        assert_eq!(
            TextEncoding::Gbk.decode(&gbk, "doctorName").unwrap(),
            "张医生"
        );
    }

    #[test]
    fn invalid_utf8_names_the_field() {
        let e = TextEncoding::Utf8
            .decode(b"\xff\xfe", "patientName")
            .unwrap_err();
        assert_eq!(e.status, crate::error::Status::Encoding);
        assert!(e.message.contains("patientName"));
    }

    #[test]
    fn invalid_gbk_names_the_field() {
        let e = TextEncoding::Gbk.decode(b"\xd5", "doctorName").unwrap_err();
        assert!(e.message.contains("doctorName"));
    }
}
