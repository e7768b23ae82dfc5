//! Query-string encodings of the spec.
//!
//! Uses: nothing in the crate.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// What JavaScript's `encodeURIComponent` leaves alone: `A-Z a-z 0-9 - _ . ! ~ * ' ( )`.
const URI_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

/// Percent-encode as `encodeURIComponent` does (UTF-8).
pub fn uri_component(value: &str) -> String {
    utf8_percent_encode(value, URI_COMPONENT).to_string()
}

/// The spec's `$`-encoding (4.4.3.1): `encodeURIComponent`, then every `%` becomes `$`.
/// A literal `$` in a value is itself encoded first (`$24`), so decoding is unambiguous.
pub fn dollar(value: &str) -> String {
    uri_component(value).replace('%', "$")
}

/// Inverse of [`dollar`]: `$XX` back to bytes, which must be UTF-8. `None` when malformed.
pub fn undollar(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'$' {
            let hex = value.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// `key=value&…` with each value `$`-encoded, keys as given (they are ASCII field names).
pub fn dollar_query(pairs: &[(&str, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", dollar(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// `key=value&…` with each value percent-encoded.
pub fn query(pairs: &[(&str, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", uri_component(v)))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dollar_encoding_matches_the_spec_example() {
        assert_eq!(dollar("张医生"), "$E5$BC$A0$E5$8C$BB$E7$94$9F");
        assert_eq!(
            dollar_query(&[("hisUserId", "1001".into()), ("type", "1".into())]),
            "hisUserId=1001&type=1"
        );
    }

    #[test]
    fn dollar_encoding_keeps_reserved_characters_unambiguous() {
        assert_eq!(dollar("a&b=c $d"), "a$26b$3Dc$20$24d");
        assert_eq!(dollar("A-z_0.9!~*'()"), "A-z_0.9!~*'()");
    }

    #[test]
    fn undollar_inverts_dollar_and_rejects_malformed_escapes() {
        for text in ["张医生", "a&b=c $d", "", "$$"] {
            assert_eq!(undollar(&dollar(text)).unwrap(), text);
        }
        assert_eq!(undollar("$E5$BC"), None, "truncated UTF-8");
        assert_eq!(undollar("$G1"), None);
        assert_eq!(undollar("$4"), None);
    }
}
