//! Host text: UTF-8, or GBK for old ANSI hosts (Delphi 7, PowerBuilder). What miic sends is
//! always UTF-8; what servers answer is read in the charset their `Content-Type` names
//! ([`decode_reply`]), as Java and .NET front-end machines and PACS answer GBK or put a BOM first.
//!
//! The codecs are the `encoding` crate's, which dicom-rs links for DICOM's character sets anyway
//! (a second set of CJK tables would cost the DLL ~0.3 MB).
//!
//! Uses: error.

use crate::error::{Error, Result};
use encoding::{DecoderTrap, EncoderTrap, Encoding as _, EncodingRef};
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
            // GB18030 is a superset of GBK: every GBK byte string decodes the same way.
            TextEncoding::Gbk => strictly(encoding::all::GB18030, bytes)
                .ok_or_else(|| Error::encoding(format!("'{field}' is not valid GBK text"))),
        }
    }

    /// A Rust string to host bytes (without the NUL).
    pub fn encode(self, text: &str) -> Vec<u8> {
        match self {
            TextEncoding::Utf8 => text.as_bytes().to_vec(),
            TextEncoding::Gbk => {
                // GB18030 holds every character (those outside GBK in four bytes), so this
                // cannot fail; the trap would write a numeric character reference otherwise.
                encoding::all::GB18030
                    .encode(text, EncoderTrap::NcrEscape)
                    .unwrap_or_else(|_| text.as_bytes().to_vec())
            }
        }
    }
}

/// `bytes` in `encoding`, or `None` at the first malformed sequence (nothing is replaced).
fn strictly(encoding: &dyn encoding::Encoding, bytes: &[u8]) -> Option<String> {
    encoding.decode(bytes, DecoderTrap::Strict).ok()
}

/// The charsets replies are read in. GB2312 and GBK labels read as GBK; GB18030 extends both
/// (its decoder reads every GBK byte string the same way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyCharset {
    Utf8,
    Gbk,
    Gb18030,
}

impl ReplyCharset {
    pub fn name(self) -> &'static str {
        match self {
            ReplyCharset::Utf8 => "UTF-8",
            ReplyCharset::Gbk => "GBK",
            ReplyCharset::Gb18030 => "GB18030",
        }
    }

    fn encoding(self) -> EncodingRef {
        match self {
            ReplyCharset::Utf8 => encoding::all::UTF_8,
            // The WHATWG GBK decoder is the GB18030 one: a GBK label reads four-byte sequences too.
            ReplyCharset::Gbk | ReplyCharset::Gb18030 => encoding::all::GB18030,
        }
    }
}

/// What a `charset` label means to miic.
enum Label {
    Reads(ReplyCharset),
    /// A charset of another script that agrees with ASCII on ASCII bytes (ISO-8859-1, which
    /// Tomcat names when a servlet sets none, US-ASCII, windows-1252…).
    OtherAsciiCompatible,
    Unknown,
}

/// The charset labels servers send, by what they mean to miic: the WHATWG names of UTF-8, GBK
/// and GB18030, Windows' and Java's names of code page 936, and the charsets that agree with
/// ASCII on ASCII bytes. A table of its own rather than a codec library's label lookup: that
/// lookup links every codec it can return (Big5, EUC-JP, HZ…), ~0.15 MB of tables miic never
/// decodes with.
fn label_meaning(label: &str) -> Label {
    let label = label.trim().to_ascii_lowercase();
    let label = label.as_str();
    match label {
        "utf-8" | "utf8" | "unicode-1-1-utf-8" | "unicode11utf8" | "unicode20utf8"
        | "x-unicode20utf8" => Label::Reads(ReplyCharset::Utf8),
        "gbk" | "x-gbk" | "gb2312" | "gb_2312" | "gb_2312-80" | "chinese" | "csgb2312"
        | "csiso58gb231280" | "iso-ir-58" | "cp936" | "ms936" | "windows-936" => {
            Label::Reads(ReplyCharset::Gbk)
        }
        "gb18030" => Label::Reads(ReplyCharset::Gb18030),
        "us-ascii" | "ascii" | "ansi_x3.4-1968" | "latin1" | "l1" | "big5" | "big5-hkscs"
        | "euc-jp" | "shift_jis" | "sjis" | "ms_kanji" | "windows-31j" | "euc-kr"
        | "ks_c_5601-1987" | "koi8-r" | "koi8-u" | "ibm866" | "macintosh" | "tis-620" => {
            Label::OtherAsciiCompatible
        }
        // ISO-8859-*, windows-125x and their aliases (cp1252, iso8859-1, iso_8859-1…).
        _ if [
            "iso-8859-",
            "iso8859-",
            "iso_8859-",
            "windows-",
            "cp12",
            "x-mac-",
        ]
        .iter()
        .any(|prefix| label.starts_with(prefix)) =>
        {
            Label::OtherAsciiCompatible
        }
        // UTF-16/32, escape-sequence charsets (ISO-2022-*, HZ), UTF-7, and names nobody knows:
        // nothing of such a reply can be read as ASCII.
        _ => Label::Unknown,
    }
}

/// The `charset` parameter of a `Content-Type` value, unquoted; `None` when absent or empty.
fn charset_label(content_type: &str) -> Option<&str> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        let value = value.trim().trim_matches('"').trim();
        (name.trim().eq_ignore_ascii_case("charset") && !value.is_empty()).then_some(value)
    })
}

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// A server's reply body as text, and how it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyText {
    /// The text, without a byte-order mark.
    pub text: String,
    /// The charset the text was read in.
    pub charset: ReplyCharset,
    /// The `charset` parameter of the reply's `Content-Type`, as sent; `None` when it named none.
    pub label: Option<String>,
    /// The body began with a byte-order mark (dropped from `text`).
    pub bom: bool,
}

impl ReplyText {
    /// UTF-8 without a byte-order mark, and labelled so if labelled at all: JSON as RFC 8259
    /// says systems exchange it, and what every reader reads alike.
    pub fn is_plain_utf8(&self) -> bool {
        self.charset == ReplyCharset::Utf8
            && !self.bom
            && self
                .label
                .as_deref()
                .is_none_or(|l| matches!(label_meaning(l), Label::Reads(ReplyCharset::Utf8)))
    }

    /// How the reply came, for messages: `GBK (charset=GBK)`, `GB18030 (no charset, not UTF-8)`,
    /// `UTF-8 (charset=UTF-8, after a byte-order mark)`.
    pub fn describe(&self) -> String {
        let label = match &self.label {
            Some(l) => format!("charset={}", shown_label(l)),
            None if self.charset == ReplyCharset::Utf8 => "no charset".to_owned(),
            None => "no charset, not UTF-8".to_owned(),
        };
        let bom = if self.bom {
            ", after a byte-order mark"
        } else {
            ""
        };
        format!("{} ({label}{bom})", self.charset.name())
    }
}

/// A label as it may appear in a message: printable, and short.
fn shown_label(label: &str) -> String {
    label.chars().filter(|c| !c.is_control()).take(40).collect()
}

/// Read a reply `body` in the charset its `content_type` names (UTF-8, GBK, GB18030; GB2312 as
/// GBK). A leading byte-order mark is dropped. With no charset named, UTF-8 is tried first,
/// then GB18030 (logged at debug level). `what` names the reply in errors: an unknown charset,
/// or bytes that are not text in the charset, are `MIIC_E_PROTOCOL`.
pub fn decode_reply(what: &str, content_type: Option<&str>, body: &[u8]) -> Result<ReplyText> {
    let label = content_type.and_then(charset_label);
    let reply = |text: String, charset: ReplyCharset, bom: bool| {
        // GB18030 has a byte-order mark of its own (84 31 95 33), which decodes to U+FEFF.
        let (text, bom) = match text.strip_prefix('\u{feff}') {
            Some(rest) => (rest.to_owned(), true),
            None => (text, bom),
        };
        ReplyText {
            text,
            charset,
            label: label.map(str::to_owned),
            bom,
        }
    };
    let (bom, rest) = match body.strip_prefix(UTF8_BOM) {
        Some(rest) => (true, rest),
        None => (false, body),
    };
    // A UTF-8 byte-order mark says UTF-8 whatever the label (browsers read it so: a file saved
    // by Notepad, served under the server's default charset), unless what follows is not UTF-8:
    // then it is a stray mark before text in the labelled charset.
    if bom {
        if let Ok(text) = std::str::from_utf8(rest) {
            return Ok(reply(text.to_owned(), ReplyCharset::Utf8, true));
        }
    }
    let charset = match label.map(|l| (l, label_meaning(l))) {
        Some((_, Label::Reads(charset))) => charset,
        Some((l, Label::OtherAsciiCompatible)) if rest.is_ascii() => {
            log::debug!(
                "{what}: reply labelled charset={} is plain ASCII: read as is",
                shown_label(l)
            );
            ReplyCharset::Utf8
        }
        Some((l, Label::OtherAsciiCompatible)) => {
            return Err(Error::protocol(format!(
                "{what}: reply charset '{}' is not one miic reads (UTF-8, GBK, GB18030, GB2312), \
                 and the reply is not plain ASCII",
                shown_label(l)
            )))
        }
        Some((l, Label::Unknown)) => {
            return Err(Error::protocol(format!(
                "{what}: reply charset '{}' is unknown (miic reads UTF-8, GBK, GB18030, GB2312)",
                shown_label(l)
            )))
        }
        None => match std::str::from_utf8(rest) {
            Ok(text) => return Ok(reply(text.to_owned(), ReplyCharset::Utf8, bom)),
            Err(e) => {
                log::debug!(
                    "{what}: reply names no charset and is not UTF-8 (byte {}): read as GB18030",
                    e.valid_up_to()
                );
                ReplyCharset::Gb18030
            }
        },
    };
    let text = strictly(charset.encoding(), rest).ok_or_else(|| {
        let named = match label {
            Some(l) => format!("charset={}", shown_label(l)),
            None => "no charset, and not UTF-8 either".to_owned(),
        };
        let at = match (charset, std::str::from_utf8(rest)) {
            (ReplyCharset::Utf8, Err(e)) => format!("; bad byte at offset {}", e.valid_up_to()),
            _ => String::new(),
        };
        Error::protocol(format!(
            "{what}: reply is not {} text ({named}{at})",
            charset.name()
        ))
    })?;
    Ok(reply(text, charset, bom))
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

    fn gbk(text: &str) -> Vec<u8> {
        encoding_rs::GBK.encode(text).0.into_owned()
    }

    const REPLY: &str = r#"{"code":200,"message":"请求成功","data":"张医生"}"#;

    #[test]
    fn reply_in_the_charset_its_content_type_names() {
        for (content_type, charset) in [
            ("application/json;charset=GBK", ReplyCharset::Gbk),
            ("application/json; charset=gbk", ReplyCharset::Gbk),
            ("text/plain;charset=GB2312", ReplyCharset::Gbk),
            ("application/json;charset=cp936", ReplyCharset::Gbk),
            (
                "application/json; charset=\"GB18030\"",
                ReplyCharset::Gb18030,
            ),
        ] {
            let r = decode_reply("qrurl", Some(content_type), &gbk(REPLY)).unwrap();
            assert_eq!(
                (r.text.as_str(), r.charset),
                (REPLY, charset),
                "{content_type}"
            );
            assert!(!r.is_plain_utf8() && !r.bom);
            assert_eq!(
                r.label.as_deref().map(str::to_ascii_lowercase).as_deref(),
                content_type
                    .rsplit('=')
                    .next()
                    .map(|l| l.trim_matches('"').to_ascii_lowercase())
                    .as_deref()
            );
        }
        let r = decode_reply(
            "qrurl",
            Some("application/json;charset=UTF-8"),
            REPLY.as_bytes(),
        )
        .unwrap();
        assert_eq!((r.text.as_str(), r.charset), (REPLY, ReplyCharset::Utf8));
        assert!(r.is_plain_utf8());
    }

    #[test]
    fn gb18030_four_byte_characters_and_its_byte_order_mark() {
        // 𠀀 (U+20000) is outside GBK: GB18030 writes it in four bytes.
        let text = r#"{"message":"𠀀"}"#;
        let bytes = encoding_rs::GB18030
            .encode(&format!("\u{feff}{text}"))
            .0
            .into_owned();
        assert_eq!(&bytes[..4], b"\x84\x31\x95\x33");
        let r = decode_reply("x", Some("application/json;charset=GB18030"), &bytes).unwrap();
        assert_eq!((r.text.as_str(), r.bom), (text, true));
    }

    #[test]
    fn utf8_byte_order_mark_is_dropped_and_wins_over_the_label() {
        let bom = [UTF8_BOM, REPLY.as_bytes()].concat();
        for content_type in [
            None,
            Some("application/json;charset=UTF-8"),
            Some("text/html;charset=GBK"),
        ] {
            let r = decode_reply("x", content_type, &bom).unwrap();
            assert_eq!(
                (r.text.as_str(), r.charset, r.bom),
                (REPLY, ReplyCharset::Utf8, true)
            );
            assert!(!r.is_plain_utf8());
        }
        // A stray mark before GBK text: the text is read in its label's charset.
        let stray = [UTF8_BOM, &gbk(REPLY)].concat();
        let r = decode_reply("x", Some("application/json;charset=GBK"), &stray).unwrap();
        assert_eq!(
            (r.text.as_str(), r.charset, r.bom),
            (REPLY, ReplyCharset::Gbk, true)
        );
        assert!(r.describe().contains("byte-order mark"), "{}", r.describe());
    }

    #[test]
    fn no_charset_tries_utf8_then_gb18030() {
        let r = decode_reply("x", Some("application/json"), REPLY.as_bytes()).unwrap();
        assert_eq!((r.text.as_str(), r.charset), (REPLY, ReplyCharset::Utf8));
        assert!(r.is_plain_utf8());
        let r = decode_reply("x", None, &gbk(REPLY)).unwrap();
        assert_eq!((r.text.as_str(), r.charset), (REPLY, ReplyCharset::Gb18030));
        assert_eq!(r.describe(), "GB18030 (no charset, not UTF-8)");
        // UTF-8 BOM then GBK, no label: GB18030 after the mark.
        let r = decode_reply("x", None, &[UTF8_BOM, &gbk(REPLY)].concat()).unwrap();
        assert_eq!(
            (r.text.as_str(), r.charset, r.bom),
            (REPLY, ReplyCharset::Gb18030, true)
        );
    }

    #[test]
    fn unknown_charset_is_a_protocol_error_naming_it() {
        let e =
            decode_reply("qrurl", Some("application/json;charset=x-klingon"), b"{}").unwrap_err();
        assert_eq!(e.status, crate::error::Status::Protocol);
        assert!(
            e.message.contains("qrurl") && e.message.contains("'x-klingon'"),
            "{}",
            e.message
        );
    }

    #[test]
    fn charset_labels_are_read_by_their_whatwg_names() {
        let reads = |l: &str| match label_meaning(l) {
            Label::Reads(c) => Some(c.name()),
            _ => None,
        };
        for (label, charset) in [
            ("utf-8", "UTF-8"),
            ("UTF8", "UTF-8"),
            ("gb2312", "GBK"),
            ("GBK", "GBK"),
            ("x-gbk", "GBK"),
            ("CP936", "GBK"),
            ("GB18030", "GB18030"),
        ] {
            assert_eq!(reads(label), Some(charset), "{label}");
        }
        for unknown in [
            "utf-16",
            "UTF-16BE",
            "iso-2022-jp",
            "hz-gb-2312",
            "x-klingon",
            "",
        ] {
            assert!(
                matches!(label_meaning(unknown), Label::Unknown),
                "{unknown}"
            );
        }
        for western in [
            "iso-8859-1",
            "US-ASCII",
            "windows-1252",
            "big5",
            "shift_jis",
        ] {
            assert!(
                matches!(label_meaning(western), Label::OtherAsciiCompatible),
                "{western}"
            );
        }
    }

    #[test]
    fn western_labels_pass_plain_ascii_only() {
        let ascii = br#"{"code":200,"message":"success"}"#;
        let r = decode_reply("x", Some("application/json;charset=ISO-8859-1"), ascii).unwrap();
        assert_eq!(r.text.as_bytes(), ascii);
        assert!(!r.is_plain_utf8(), "labelled other than UTF-8");
        let e = decode_reply(
            "x",
            Some("application/json;charset=ISO-8859-1"),
            REPLY.as_bytes(),
        )
        .unwrap_err();
        assert!(
            e.message.contains("'ISO-8859-1'") && e.message.contains("ASCII"),
            "{}",
            e.message
        );
    }

    #[test]
    fn bytes_that_are_not_text_in_the_charset_are_protocol_errors() {
        let e =
            decode_reply("login", Some("application/json;charset=UTF-8"), &gbk(REPLY)).unwrap_err();
        assert_eq!(e.status, crate::error::Status::Protocol);
        assert!(
            e.message
                .contains("not UTF-8 text (charset=UTF-8; bad byte at offset 23)"),
            "{}",
            e.message
        );
        let e = decode_reply("login", None, b"{\"m\":\"\xff\xff\"}").unwrap_err();
        assert!(
            e.message
                .contains("not GB18030 text (no charset, and not UTF-8 either)"),
            "{}",
            e.message
        );
    }
}
