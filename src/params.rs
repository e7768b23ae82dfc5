//! The params bag: the spec's field names mapped to values, as the host gave them.
//!
//! Values set by `miic_params_set` are kept as raw bytes and decoded with the encoding of the
//! client that uses them; values parsed from JSON are already Unicode (JSON is UTF-8 by definition).
//!
//! Uses: error, text.

use crate::error::{Error, Result};
use crate::text::TextEncoding;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    Host(Vec<u8>),
    Unicode(String),
}

/// Largest params JSON accepted; a request has a few dozen short fields.
const MAX_JSON_BYTES: usize = 1 << 20;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    values: BTreeMap<String, Value>,
}

impl Params {
    pub fn new() -> Self {
        Self::default()
    }

    /// Store a value as the host passed it; keys must be ASCII field names.
    pub fn set_raw(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        let key = check_key(key)?;
        self.values.insert(key, Value::Host(value.to_vec()));
        Ok(())
    }

    /// Store a Unicode value (from JSON or from Rust code).
    pub fn set(&mut self, key: &str, value: impl Into<String>) -> Result<()> {
        let key = check_key(key.as_bytes())?;
        self.values.insert(key, Value::Unicode(value.into()));
        Ok(())
    }

    /// Parse a flat JSON object of strings (numbers and booleans are taken as their text).
    pub fn from_json(json: &[u8]) -> Result<Params> {
        if json.len() > MAX_JSON_BYTES {
            return Err(Error::argument(format!(
                "params JSON is {} bytes, more than the {MAX_JSON_BYTES} allowed",
                json.len()
            )));
        }
        let text = TextEncoding::Utf8.decode(json, "json")?;
        let value: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| Error::argument(format!("params JSON is malformed: {e}")))?;
        let object = value
            .as_object()
            .ok_or_else(|| Error::argument("params JSON must be an object of field names"))?;
        let mut params = Params::new();
        for (key, value) in object {
            let text = match value {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                serde_json::Value::Null => continue,
                _ => {
                    return Err(Error::argument(format!(
                        "params field '{key}' must be a string, number or boolean"
                    )))
                }
            };
            params.set(key.trim(), text)?;
        }
        Ok(params)
    }

    /// The value of `key` as text, decoded in the client's encoding; `None` when absent.
    pub fn get(&self, key: &str, encoding: TextEncoding) -> Result<Option<String>> {
        match self.values.get(key) {
            None => Ok(None),
            Some(Value::Unicode(s)) => Ok(Some(s.clone())),
            Some(Value::Host(bytes)) => encoding.decode(bytes, key).map(Some),
        }
    }

    /// Like [`Params::get`], treating an empty or blank value as absent.
    pub fn get_nonempty(&self, key: &str, encoding: TextEncoding) -> Result<Option<String>> {
        Ok(self
            .get(key, encoding)?
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty()))
    }

    /// A required field: absent or blank is `MIIC_E_ARGUMENT` naming it.
    pub fn require(&self, key: &str, encoding: TextEncoding) -> Result<String> {
        self.get_nonempty(key, encoding)?
            .ok_or_else(|| Error::missing(key))
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.values.keys().map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

fn check_key(key: &[u8]) -> Result<String> {
    let key = std::str::from_utf8(key)
        .map_err(|_| Error::argument("params key is not ASCII text"))?
        .trim();
    if key.is_empty() {
        return Err(Error::argument("params key is empty"));
    }
    if key.len() > 64 || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(Error::argument(format!(
            "params key '{}' is not a field name (ASCII letters, digits, '_')",
            key.escape_debug()
        )));
    }
    Ok(key.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_values_ignore_host_encoding() {
        let p = Params::from_json("{\"patientName \":\"测试\",\"age\":7}".as_bytes()).unwrap();
        assert_eq!(
            p.get("patientName", TextEncoding::Gbk).unwrap().unwrap(),
            "测试"
        );
        assert_eq!(p.get("age", TextEncoding::Utf8).unwrap().unwrap(), "7");
    }

    #[test]
    fn raw_values_decode_with_client_encoding() {
        let mut p = Params::new();
        p.set_raw(b"doctorName", &[0xD5, 0xC5]).unwrap();
        assert_eq!(
            p.get("doctorName", TextEncoding::Gbk).unwrap().unwrap(),
            "张"
        );
        let e = p.get("doctorName", TextEncoding::Utf8).unwrap_err();
        assert!(e.message.contains("doctorName"));
    }

    #[test]
    fn require_names_missing_and_blank_fields() {
        let mut p = Params::new();
        p.set("accessNumber", "  ").unwrap();
        p.set("hospitalId", " H1 ").unwrap();
        for absent_or_blank in ["accessNumber", "patientId"] {
            let e = p.require(absent_or_blank, TextEncoding::Utf8).unwrap_err();
            assert_eq!(
                e.status,
                crate::error::Status::Argument,
                "{absent_or_blank}"
            );
            assert_eq!(
                e.message,
                format!("missing required field '{absent_or_blank}'")
            );
        }
        assert_eq!(p.require("hospitalId", TextEncoding::Utf8).unwrap(), "H1");
    }

    #[test]
    fn bad_keys_and_nested_json_are_rejected() {
        assert!(Params::new().set_raw(b"a b", b"x").is_err());
        assert!(Params::from_json(b"{\"a\":{\"b\":1}}").is_err());
        assert!(Params::from_json(b"[1]").is_err());
    }
}
