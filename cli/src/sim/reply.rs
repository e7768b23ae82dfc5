//! The charset the simulators answer JSON in: UTF-8 as the spec's front-end machine does, or
//! GBK / GB18030, with or without a byte-order mark, as Java, .NET and older servers answer
//! (`--reply-encoding`, `--reply-bom`, `--reply-charset`; the cloud simulator's
//! `POST /__sim/encoding`). Shared by `sim` and `sim-pacs`.

use serde_json::{json, Value};

/// The charsets a reply can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Charset {
    #[value(name = "utf-8", alias = "utf8")]
    Utf8,
    Gbk,
    Gb18030,
}

impl Charset {
    pub const ALL: [Charset; 3] = [Charset::Utf8, Charset::Gbk, Charset::Gb18030];

    /// The name as a `Content-Type` charset writes it.
    pub fn name(self) -> &'static str {
        match self {
            Charset::Utf8 => "UTF-8",
            Charset::Gbk => "GBK",
            Charset::Gb18030 => "GB18030",
        }
    }

    fn parse(name: &str) -> Option<Charset> {
        if name.eq_ignore_ascii_case("utf8") {
            return Some(Charset::Utf8);
        }
        Charset::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(name))
    }

    fn encode(self, text: &str) -> Vec<u8> {
        let encoding = match self {
            Charset::Utf8 => return text.as_bytes().to_vec(),
            Charset::Gbk => encoding_rs::GBK,
            Charset::Gb18030 => encoding_rs::GB18030,
        };
        encoding.encode(text).0.into_owned()
    }
}

/// Command-line switches of a simulator's reply charset.
#[derive(Debug, Clone, clap::Args)]
pub struct ReplyArgs {
    /// Charset the JSON replies are written in.
    #[arg(long, value_enum, default_value = "utf-8")]
    pub reply_encoding: Charset,
    /// Put a UTF-8 byte-order mark (EF BB BF) before every JSON reply, whatever its charset.
    #[arg(long)]
    pub reply_bom: bool,
    /// The `charset` written in `Content-Type` (default: the encoding's name; `none` writes
    /// none; any other text is sent as given, e.g. an unknown `x-klingon`).
    #[arg(long)]
    pub reply_charset: Option<String>,
}

impl Default for ReplyArgs {
    fn default() -> Self {
        ReplyArgs {
            reply_encoding: Charset::Utf8,
            reply_bom: false,
            reply_charset: None,
        }
    }
}

/// How JSON replies are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyEncoding {
    pub charset: Charset,
    pub bom: bool,
    /// The `charset` parameter of `Content-Type`; `None` writes `application/json` alone.
    pub label: Option<String>,
}

impl Default for ReplyEncoding {
    fn default() -> Self {
        ReplyEncoding::of(Charset::Utf8)
    }
}

impl ReplyEncoding {
    /// `charset`, labelled with its own name, without a byte-order mark.
    pub fn of(charset: Charset) -> ReplyEncoding {
        ReplyEncoding {
            charset,
            bom: false,
            label: Some(charset.name().to_owned()),
        }
    }

    pub fn from_args(args: &ReplyArgs) -> ReplyEncoding {
        ReplyEncoding {
            charset: args.reply_encoding,
            bom: args.reply_bom,
            label: label_of(args.reply_encoding, args.reply_charset.as_deref()),
        }
    }

    /// The body of `POST /__sim/encoding`: `{"encoding": "utf-8"|"gbk"|"gb18030", "bom": bool,
    /// "charset": "LABEL"|null}`; unknown keys and encodings are errors.
    pub fn from_json(body: &[u8]) -> Result<ReplyEncoding, String> {
        let value: Value =
            serde_json::from_slice(body).map_err(|e| format!("body is not JSON: {e}"))?;
        let obj = value.as_object().ok_or("body is not a JSON object")?;
        for key in obj.keys() {
            if !["encoding", "bom", "charset"].contains(&key.as_str()) {
                return Err(format!("unknown key '{key}' (encoding, bom, charset)"));
            }
        }
        let names = "utf-8|gbk|gb18030";
        let charset = match obj.get("encoding") {
            Some(Value::String(s)) => {
                Charset::parse(s).ok_or_else(|| format!("encoding '{s}' is not one of {names}"))?
            }
            None => Charset::Utf8,
            Some(_) => return Err(format!("'encoding' must be a string: {names}")),
        };
        let bom = match obj.get("bom") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err("'bom' must be true or false".into()),
        };
        let label = match obj.get("charset") {
            None => label_of(charset, None),
            Some(Value::Null) => None,
            Some(Value::String(s)) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic()) => {
                label_of(charset, Some(s))
            }
            Some(_) => {
                return Err("'charset' must be null or a label of printable ASCII".into());
            }
        };
        Ok(ReplyEncoding {
            charset,
            bom,
            label,
        })
    }

    pub fn to_json(&self) -> Value {
        json!({"encoding": self.charset.name(), "bom": self.bom, "charset": self.label})
    }

    /// `GBK, Content-Type application/json;charset=GBK, after a UTF-8 byte-order mark`.
    pub fn describe(&self) -> String {
        let bom = if self.bom {
            ", after a UTF-8 byte-order mark"
        } else {
            ""
        };
        format!(
            "{}, Content-Type {}{bom}",
            self.charset.name(),
            self.content_type()
        )
    }

    /// `application/json;charset=LABEL`, or `application/json` when no label is written.
    pub fn content_type(&self) -> String {
        match &self.label {
            Some(label) => format!("application/json;charset={label}"),
            None => "application/json".to_owned(),
        }
    }

    /// `reply` serialised in this charset, after the byte-order mark if one is written.
    pub fn body(&self, reply: &Value) -> Vec<u8> {
        let mut out = if self.bom {
            b"\xEF\xBB\xBF".to_vec()
        } else {
            Vec::new()
        };
        out.extend(self.charset.encode(&reply.to_string()));
        out
    }
}

/// The label written for `charset` when `given` (`none`: no label).
fn label_of(charset: Charset, given: Option<&str>) -> Option<String> {
    match given {
        None => Some(charset.name().to_owned()),
        Some(l) if l.eq_ignore_ascii_case("none") => None,
        Some(l) => Some(l.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gbk_reply_with_bom_and_its_content_type() {
        let e = ReplyEncoding::from_json(br#"{"encoding":"gbk","bom":true}"#).unwrap();
        assert_eq!(e.content_type(), "application/json;charset=GBK");
        let body = e.body(&json!({"message": "请求成功"}));
        assert_eq!(
            body,
            [
                b"\xEF\xBB\xBF{\"message\":\"".as_slice(),
                b"\xC7\xEB\xC7\xF3\xB3\xC9\xB9\xA6\"}"
            ]
            .concat()
        );
        let none = ReplyEncoding::from_json(br#"{"encoding":"gbk","charset":null}"#).unwrap();
        assert_eq!(none.content_type(), "application/json");
        assert_eq!(
            ReplyEncoding::default().content_type(),
            "application/json;charset=UTF-8"
        );
    }

    #[test]
    fn bad_encoding_bodies_name_the_problem() {
        for (body, needle) in [
            (r#"{"encoding":"big5"}"#, "big5"),
            (r#"{"encoding":"gbk","colour":1}"#, "colour"),
            (r#"{"bom":"yes"}"#, "bom"),
            (r#"{"charset":"a b"}"#, "charset"),
        ] {
            let err = ReplyEncoding::from_json(body.as_bytes()).unwrap_err();
            assert!(err.contains(needle), "{body}: {err}");
        }
    }
}
