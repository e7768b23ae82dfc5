//! SM2 public-key encryption of ID-card numbers (GM/T 0003), laid out the way the cloud reads it.
//!
//! Uses: error.

use crate::error::{Error, Result};
use base64::Engine as _;
use serde::Deserialize;
use sm2::elliptic_curve::sec1::ToSec1Point;
use sm2::pkcs8::DecodePublicKey;
use sm2::pke::{EncryptingKey, Mode};
use sm2::PublicKey;

/// Order of the ciphertext parts. C1C3C2 is GM/T 0003-2012's order, read by Hutool and
/// `SM2Engine(Mode.C1C3C2)`; C1C2C3 is the old order of BouncyCastle's default and gmssl.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CipherMode {
    #[default]
    C1c3c2,
    C1c2c3,
}

/// Text form of the ciphertext.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CipherEncoding {
    #[default]
    Hex,
    Base64,
}

/// A validated SM2 public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sm2Key(PublicKey);

impl Sm2Key {
    /// Accepts hex (`04…` uncompressed, `02…`/`03…` compressed, or bare 128-digit `x‖y`),
    /// base64 of such a point or of an SPKI DER, or an SPKI PEM block.
    pub fn parse(text: &str) -> Result<Sm2Key> {
        let text = text.trim();
        if text.starts_with("-----BEGIN") {
            return PublicKey::from_public_key_pem(text)
                .map(Sm2Key)
                .map_err(|e| Error::crypto(format!("not an SM2 SubjectPublicKeyInfo PEM: {e}")));
        }
        let is_hex = !text.is_empty() && text.bytes().all(|b| b.is_ascii_hexdigit());
        let bytes = if is_hex && (text.len() == 130 || text.len() == 66 || text.len() == 128) {
            let mut bytes =
                hex::decode(text).map_err(|e| Error::crypto(format!("bad hex: {e}")))?;
            if bytes.len() == 64 {
                bytes.insert(0, 0x04);
            }
            bytes
        } else if is_hex {
            return Err(Error::crypto(format!(
                "hex public key has {} digits; expected 130 (04…), 66 (02…/03…) or 128",
                text.len()
            )));
        } else {
            base64::engine::general_purpose::STANDARD
                .decode(text.replace(['\r', '\n', ' '], ""))
                .map_err(|_| Error::crypto("public key is neither hex, base64 nor PEM"))?
        };
        let key = match bytes.first() {
            Some(0x30) => PublicKey::from_public_key_der(&bytes)
                .map_err(|e| Error::crypto(format!("not an SM2 SubjectPublicKeyInfo: {e}")))?,
            _ => PublicKey::from_sec1_bytes(&bytes)
                .map_err(|_| Error::crypto("public key is not a point on the SM2 curve"))?,
        };
        Ok(Sm2Key(key))
    }

    /// The uncompressed point, `04‖x‖y`, as lowercase hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0.to_sec1_point(false).as_bytes())
    }
}

/// How ciphertexts are laid out and written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CipherFormat {
    pub mode: CipherMode,
    pub encoding: CipherEncoding,
    pub prefix_04: bool,
}

/// Encrypt `plain` (UTF-8 bytes) under `key` and write it in `format`.
pub fn encrypt(key: &Sm2Key, plain: &str, format: CipherFormat) -> Result<String> {
    if plain.is_empty() {
        return Err(Error::argument("SM2 plaintext is empty"));
    }
    let mut rng = getrandom::SysRng;
    let cipher = EncryptingKey::new_with_mode(key.0, Mode::C1C3C2)
        .encrypt_cipher::<_, sm3::Sm3>(&mut rng, plain.as_bytes())
        .map_err(|_| Error::crypto("SM2 encryption failed (no system randomness?)"))?;
    let (c1, c2, c3) = cipher_parts(&cipher);
    let c1 = c1.to_sec1_point(false);
    let c1 = c1.as_bytes();
    let c1 = if format.prefix_04 { c1 } else { &c1[1..] };
    let mut out = Vec::with_capacity(c1.len() + c2.len() + c3.len());
    out.extend_from_slice(c1);
    match format.mode {
        CipherMode::C1c3c2 => {
            out.extend_from_slice(c3);
            out.extend_from_slice(c2);
        }
        CipherMode::C1c2c3 => {
            out.extend_from_slice(c2);
            out.extend_from_slice(c3);
        }
    }
    Ok(match format.encoding {
        CipherEncoding::Hex => hex::encode(out),
        CipherEncoding::Base64 => base64::engine::general_purpose::STANDARD.encode(out),
    })
}

fn cipher_parts<'a>(
    cipher: &'a sm2::pke::Cipher<'a, sm2::Sm2, sm3::Sm3>,
) -> (&'a sm2::AffinePoint, &'a [u8], &'a [u8]) {
    (cipher.c1(), cipher.c2(), cipher.c3())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sm2::pke::DecryptingKey;

    // A fixed test key pair (private scalar below), used only in tests and the simulator's docs.
    const SK: &str = "3945208f7b2144b13f36e38ac6d39f95889393692860b51a42fb81ef4df7c5b8";

    fn key_pair() -> (DecryptingKey, Sm2Key) {
        let dk = DecryptingKey::from_slice(&hex::decode(SK).unwrap()).unwrap();
        let pk = Sm2Key::parse(&hex::encode(dk.encrypting_key().to_sec1_bytes())).unwrap();
        (dk, pk)
    }

    #[test]
    fn c1c3c2_hex_decrypts_with_rustcrypto() {
        let (dk, pk) = key_pair();
        let format = CipherFormat {
            mode: CipherMode::C1c3c2,
            encoding: CipherEncoding::Hex,
            prefix_04: true,
        };
        let c = encrypt(&pk, "110101199003077777", format).unwrap();
        assert!(c.starts_with("04"));
        assert_eq!(c.len(), 2 * (65 + 32 + 18));
        assert_eq!(
            dk.decrypt(&hex::decode(c).unwrap()).unwrap(),
            b"110101199003077777"
        );
    }

    #[test]
    fn c1c2c3_without_prefix_swaps_parts() {
        let (dk, pk) = key_pair();
        let format = CipherFormat {
            mode: CipherMode::C1c2c3,
            encoding: CipherEncoding::Base64,
            prefix_04: false,
        };
        let c = base64::engine::general_purpose::STANDARD
            .decode(encrypt(&pk, "abc", format).unwrap())
            .unwrap();
        assert_eq!(c.len(), 64 + 3 + 32);
        // Rebuild C1C3C2 with 04 for RustCrypto's decrypter.
        let mut std = vec![4u8];
        std.extend_from_slice(&c[..64]);
        std.extend_from_slice(&c[67..]);
        std.extend_from_slice(&c[64..67]);
        assert_eq!(dk.decrypt(&std).unwrap(), b"abc");
    }

    #[test]
    fn key_forms_parse_to_one_point() {
        let (_, pk) = key_pair();
        let hex04 = pk.to_hex();
        let bare = &hex04[2..];
        let b64 = base64::engine::general_purpose::STANDARD.encode(hex::decode(&hex04).unwrap());
        for form in [hex04.as_str(), bare, b64.as_str()] {
            assert_eq!(Sm2Key::parse(form).unwrap(), pk, "{form}");
        }
        assert!(Sm2Key::parse("04abcd").is_err());
        assert!(Sm2Key::parse(&format!("04{}", "0".repeat(128))).is_err());
    }
}
