//! SM2 decryption of the ID-card numbers, in whatever layout the simulator is told to expect.

use base64::Engine as _;
use sm2::pke::DecryptingKey;

/// The built-in TEST private key (documented in docs/simulator.md). Never use it in production.
pub const TEST_PRIVATE_KEY: &str =
    "3945208f7b2144b13f36e38ac6d39f95889393692860b51a42fb81ef4df7c5b8";

/// Order of the ciphertext parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CipherMode {
    C1c3c2,
    C1c2c3,
}

/// Text form of the ciphertext.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CipherEncoding {
    Hex,
    Base64,
}

/// Length of C1 without the 04 byte, and of C3 (an SM3 digest).
const C1: usize = 64;
const C3: usize = 32;

pub struct Decrypter {
    key: DecryptingKey,
    mode: CipherMode,
    encoding: CipherEncoding,
    prefix_04: bool,
}

impl Decrypter {
    /// `private_hex`: the 32-byte private scalar as 64 hex digits.
    pub fn new(
        private_hex: &str,
        mode: CipherMode,
        encoding: CipherEncoding,
        prefix_04: bool,
    ) -> Result<Decrypter, String> {
        let bytes = hex::decode(private_hex.trim())
            .map_err(|e| format!("--private-key is not hex: {e}"))?;
        if bytes.len() != 32 {
            return Err(format!(
                "--private-key has {} bytes; an SM2 private key has 32 (64 hex digits)",
                bytes.len()
            ));
        }
        let key = DecryptingKey::from_slice(&bytes)
            .map_err(|_| "--private-key is not a valid SM2 private scalar".to_string())?;
        Ok(Decrypter {
            key,
            mode,
            encoding,
            prefix_04,
        })
    }

    /// The matching public key, `04‖x‖y` as lowercase hex (what a client's `sm2.public_key` takes).
    pub fn public_key_hex(&self) -> String {
        hex::encode(self.key.encrypting_key().to_sec1_bytes())
    }

    pub fn describe(&self) -> String {
        format!(
            "{}, {}, {}",
            match self.mode {
                CipherMode::C1c3c2 => "C1C3C2",
                CipherMode::C1c2c3 => "C1C2C3",
            },
            match self.encoding {
                CipherEncoding::Hex => "hex",
                CipherEncoding::Base64 => "base64",
            },
            if self.prefix_04 {
                "with 04"
            } else {
                "without 04"
            }
        )
    }

    /// Decrypt one ciphertext field; the error says why in words a vendor can act on.
    pub fn decrypt(&self, text: &str) -> Result<String, String> {
        let bytes = match self.encoding {
            CipherEncoding::Hex => hex::decode(text)
                .map_err(|_| "is not hex (the simulator expects hex ciphertexts)".to_string())?,
            CipherEncoding::Base64 => base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|_| {
                    "is not base64 (the simulator expects base64 ciphertexts)".to_string()
                })?,
        };
        let body = if self.prefix_04 {
            match bytes.split_first() {
                Some((0x04, rest)) => rest,
                _ => return Err("does not start with 04 (C1 as an uncompressed point)".into()),
            }
        } else {
            &bytes[..]
        };
        if body.len() <= C1 + C3 {
            return Err(format!(
                "is {} bytes, too short for an SM2 ciphertext",
                bytes.len()
            ));
        }
        let (c1, rest) = body.split_at(C1);
        let (c3, c2) = match self.mode {
            CipherMode::C1c3c2 => (&rest[..C3], &rest[C3..]),
            CipherMode::C1c2c3 => (&rest[rest.len() - C3..], &rest[..rest.len() - C3]),
        };
        // RustCrypto's decrypter reads 04‖C1‖C3‖C2.
        let mut standard = Vec::with_capacity(1 + body.len());
        standard.push(0x04);
        standard.extend_from_slice(c1);
        standard.extend_from_slice(c3);
        standard.extend_from_slice(c2);
        let plain = self.key.decrypt(&standard).map_err(|_| {
            format!(
                "does not decrypt with the simulator's private key as {} (wrong key, part order or 04 prefix?)",
                self.describe()
            )
        })?;
        String::from_utf8(plain).map_err(|_| "decrypts to bytes that are not UTF-8".into())
    }
}

/// An ID-card number as the cloud expects: 18 characters (17 digits and a digit or X), or the
/// old 15 digits. The checksum is not checked, so made-up test numbers pass.
pub fn looks_like_id_card(s: &str) -> bool {
    let b = s.as_bytes();
    match b.len() {
        15 => b.iter().all(u8::is_ascii_digit),
        18 => {
            b[..17].iter().all(u8::is_ascii_digit)
                && (b[17].is_ascii_digit() || b[17] == b'X' || b[17] == b'x')
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use miic::sm2::{encrypt, CipherEncoding as E, CipherFormat, CipherMode as M, Sm2Key};

    fn client_format(mode: M, encoding: E, prefix_04: bool) -> CipherFormat {
        CipherFormat {
            mode,
            encoding,
            prefix_04,
        }
    }

    #[test]
    fn decrypts_every_layout_the_library_writes() {
        for (m, cm) in [
            (M::C1c3c2, CipherMode::C1c3c2),
            (M::C1c2c3, CipherMode::C1c2c3),
        ] {
            for (e, ce) in [
                (E::Hex, CipherEncoding::Hex),
                (E::Base64, CipherEncoding::Base64),
            ] {
                for prefix in [true, false] {
                    let d = Decrypter::new(TEST_PRIVATE_KEY, cm, ce, prefix).unwrap();
                    let pk = Sm2Key::parse(&d.public_key_hex()).unwrap();
                    let c =
                        encrypt(&pk, "11010119900307777X", client_format(m, e, prefix)).unwrap();
                    assert_eq!(
                        d.decrypt(&c).unwrap(),
                        "11010119900307777X",
                        "{cm:?} {ce:?} {prefix}"
                    );
                }
            }
        }
    }

    #[test]
    fn wrong_part_order_fails_the_c3_check() {
        let d = Decrypter::new(
            TEST_PRIVATE_KEY,
            CipherMode::C1c3c2,
            CipherEncoding::Hex,
            true,
        )
        .unwrap();
        let pk = Sm2Key::parse(&d.public_key_hex()).unwrap();
        let c = encrypt(
            &pk,
            "110101199003077777",
            client_format(M::C1c2c3, E::Hex, true),
        )
        .unwrap();
        assert!(d.decrypt(&c).unwrap_err().contains("C1C3C2"));
    }

    #[test]
    fn id_card_shapes() {
        assert!(looks_like_id_card("110101199003077777"));
        assert!(looks_like_id_card("11010119900307777X"));
        assert!(looks_like_id_card("110101900307777"));
        assert!(!looks_like_id_card("1101011990030777"));
        assert!(!looks_like_id_card("11010119900307777Y"));
    }
}
