//! The `sm2` check: the configured public key is a point on the SM2 curve, a test encryption in
//! the configured layout comes out whole, and which library families read that layout. The key
//! itself is never shown: only its form and fingerprint (the first 8 bytes of SM3 over the point).
//!
//! Uses: config, sm2, diagnose::report, diagnose::setup.

use super::report::{ms, text, Check};
use super::setup::KeyText;
use crate::config::Config;
use crate::sm2::{encrypt, CipherEncoding, CipherFormat, CipherMode, Sm2Key};
use base64::Engine as _;
use serde_json::json;
use sm3::Digest as _;
use std::time::Instant;

/// Encrypted as the test: not a personal value, and no ID number.
const TEST_PLAINTEXT: &str = "miic-diagnose";

pub fn check(config: &Config, key: &KeyText) -> Check {
    let mut check = Check::new("sm2");
    let sm2 = &config.sm2;
    let format = CipherFormat {
        mode: sm2.mode,
        encoding: sm2.encoding,
        prefix_04: sm2.prefix_04,
    };
    check
        .measure("mode", mode_name(format.mode))
        .measure("encoding", encoding_name(format.encoding))
        .measure("prefix_04", format.prefix_04);
    let text_key = match key {
        KeyText::Absent => {
            return check.warning(
                text(
                    "未配置 [sm2] public_key：登录、登出和患者提醒无法加密身份证号",
                    "no [sm2] public_key: login, logout and patient reminders cannot encrypt ID numbers",
                ),
                text(
                    "在 [sm2] public_key 填入医保影像云运维方为本医院提供的 SM2 公钥。",
                    "Set [sm2] public_key to the SM2 public key the imaging cloud's operator gave this hospital.",
                ),
            )
        }
        KeyText::NotText => {
            return check.failed(
                text(
                    "[sm2] public_key 不是文本",
                    "[sm2] public_key is not text",
                ),
                text(
                    "把 public_key 写成带引号的文本，例如 public_key = \"04…\"。",
                    "Write public_key as quoted text, e.g. public_key = \"04…\".",
                ),
            )
        }
        KeyText::Text(t) => t.trim(),
    };
    let (form_zh, form_en, private) = form(text_key);
    check.measure("key_form", form_en.clone());
    let key = match Sm2Key::parse(text_key) {
        Ok(key) => key,
        Err(e) => {
            let fix = if private {
                text(
                    format!("这里填的像是私钥或单个坐标（{form_zh}），不是公钥：请填入运维方给的 SM2 公钥（以 04 开头的 130 位十六进制），切勿使用私钥。"),
                    format!("This looks like a private key or a single coordinate ({form_en}), not a public key: paste the SM2 public key the operator gave (130 hex digits starting with 04), never the private key."),
                )
            } else {
                text(
                    "按运维方提供的原样粘贴 SM2 公钥：以 04 开头的 130 位十六进制（或以 02/03 开头的 66 位、无前缀的 128 位、其 base64，或 PEM 格式的 PUBLIC KEY），不要截断或加空格。",
                    "Paste the SM2 public key exactly as the operator gave it: 130 hex digits starting with 04 (or 66 starting with 02/03, 128 without prefix, their base64, or a PEM 'PUBLIC KEY' block), not cut short and without spaces.",
                )
            };
            return check.failed(
                text(
                    format!("public_key（{form_zh}）不是 SM2 公钥：{}", e.message),
                    format!(
                        "public_key ({form_en}) is not an SM2 public key: {}",
                        e.message
                    ),
                ),
                fix,
            );
        }
    };
    let point = hex::decode(key.to_hex()).unwrap_or_default();
    let fingerprint = hex::encode(&sm3::Sm3::digest(&point)[..8]);
    check.measure("fingerprint", format!("sm3:{fingerprint}"));
    let started = Instant::now();
    let cipher =
        match encrypt(&key, TEST_PLAINTEXT, format) {
            Ok(cipher) => cipher,
            Err(e) => return check.failed(
                text(
                    format!("测试加密失败：{}", e.message),
                    format!("the test encryption failed: {}", e.message),
                ),
                text(
                    "本机无法提供随机数：请把此报告交给 miic 支持。",
                    "This machine gave no randomness for SM2: send this report to miic's support.",
                ),
            ),
        };
    check.measure("test_encrypt_ms", ms(started.elapsed()));
    let bytes = match format.encoding {
        CipherEncoding::Hex => hex::decode(&cipher).ok(),
        CipherEncoding::Base64 => base64::engine::general_purpose::STANDARD
            .decode(&cipher)
            .ok(),
    };
    let c1 = if format.prefix_04 { 65 } else { 64 };
    let expected = c1 + 32 + TEST_PLAINTEXT.len();
    let whole = bytes
        .as_ref()
        .is_some_and(|b| b.len() == expected && (!format.prefix_04 || b[0] == 0x04));
    check.measure("test_cipher_bytes", bytes.as_ref().map_or(0, Vec::len));
    if !whole {
        return check.failed(
            text(
                format!("测试密文长度不对（应为 {expected} 字节）"),
                format!("the test ciphertext is not {expected} bytes as it must be"),
            ),
            text(
                "这是 miic 的缺陷：请把此报告交给 miic 支持。",
                "This is a bug in miic: send this report to miic's support.",
            ),
        );
    }
    let families = families(format);
    let readers: Vec<&str> = families
        .iter()
        .filter(|f| f.1 != "no")
        .map(|f| f.0)
        .collect();
    check.measure(
        "families",
        families
            .iter()
            .map(|(name, reads, how)| json!({"library": name, "reads": reads, "how": how}))
            .collect::<Vec<_>>(),
    );
    let layout = layout_name(format);
    if readers.is_empty() {
        return check.warning(
            text(
                format!("公钥有效（指纹 sm3:{fingerprint}）；密文格式 {layout} 不是常见库（BouncyCastle、Hutool、sm-crypto）能直接读的格式"),
                format!("key valid (fingerprint sm3:{fingerprint}); the layout {layout} is one no common library (BouncyCastle, Hutool, sm-crypto) reads as is"),
            ),
            text(
                "向云平台运维方确认其解密方式，并相应设置 [sm2] mode、encoding 和 prefix_04（Hutool/BouncyCastle：prefix_04 = true；sm-crypto：encoding = \"hex\"，prefix_04 = false）。",
                "Ask the cloud's operator how it decrypts, and set [sm2] mode, encoding and prefix_04 to match (Hutool/BouncyCastle: prefix_04 = true; sm-crypto: encoding = \"hex\", prefix_04 = false).",
            ),
        );
    }
    check.ok(text(
        format!("公钥有效（{form_zh}，指纹 sm3:{fingerprint}）；测试加密 {layout} 正常；可读此格式：{}", readers.join("、")),
        format!("key valid ({form_en}, fingerprint sm3:{fingerprint}); test encryption in {layout} whole; read by {}", readers.join(", ")),
    ))
}

fn mode_name(mode: CipherMode) -> &'static str {
    match mode {
        CipherMode::C1c3c2 => "c1c3c2",
        CipherMode::C1c2c3 => "c1c2c3",
    }
}

fn encoding_name(encoding: CipherEncoding) -> &'static str {
    match encoding {
        CipherEncoding::Hex => "hex",
        CipherEncoding::Base64 => "base64",
    }
}

fn layout_name(f: CipherFormat) -> String {
    format!(
        "{} {}{}",
        mode_name(f.mode).to_uppercase(),
        encoding_name(f.encoding),
        if f.prefix_04 { " 04" } else { " no-04" }
    )
}

/// Which library families decrypt this layout: `(library, "default" | "option" | "no", how)`.
/// Hutool's `SM2` and BouncyCastle's `SM2Engine` want the `04` byte (the server decodes hex or
/// base64 itself); sm-crypto's `doDecrypt` takes hex without it.
fn families(f: CipherFormat) -> Vec<(&'static str, &'static str, &'static str)> {
    let c1c3c2 = f.mode == CipherMode::C1c3c2;
    let hutool = match (f.prefix_04, c1c3c2) {
        (false, _) => ("no", "Hutool needs the 04 byte: prefix_04 = true"),
        (true, true) => (
            "default",
            "new SM2(null, publicKey).decryptStr(cipher, KeyType.PrivateKey)",
        ),
        (true, false) => ("option", "sm2.setMode(SM2Engine.Mode.C1C2C3)"),
    };
    let bouncy = match (f.prefix_04, c1c3c2) {
        (false, _) => ("no", "SM2Engine needs the 04 byte: prefix_04 = true"),
        (true, true) => ("option", "new SM2Engine(SM2Engine.Mode.C1C3C2)"),
        (true, false) => ("default", "new SM2Engine()"),
    };
    let sm_crypto = match (f.prefix_04, f.encoding, c1c3c2) {
        (true, _, _) => ("no", "sm-crypto reads C1 without 04: prefix_04 = false"),
        (false, CipherEncoding::Base64, _) => ("no", "sm-crypto reads hex: encoding = \"hex\""),
        (false, CipherEncoding::Hex, true) => ("default", "sm2.doDecrypt(cipher, privateKey, 1)"),
        (false, CipherEncoding::Hex, false) => ("option", "sm2.doDecrypt(cipher, privateKey, 0)"),
    };
    vec![
        ("Hutool", hutool.0, hutool.1),
        ("BouncyCastle", bouncy.0, bouncy.1),
        ("sm-crypto", sm_crypto.0, sm_crypto.1),
    ]
}

/// What the key text looks like, without showing it: (zh, en, looks like a private key).
fn form(t: &str) -> (String, String, bool) {
    if let Some(rest) = t.strip_prefix("-----BEGIN ") {
        let label = rest.split("-----").next().unwrap_or("").trim();
        let private = label.contains("PRIVATE");
        return (
            format!("PEM 块 '{label}'"),
            format!("PEM block '{label}'"),
            private,
        );
    }
    let digits = t.len();
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_hexdigit()) {
        let head = &t[..2.min(digits)];
        return (
            format!("十六进制 {digits} 位，以 {head} 开头"),
            format!("hex, {digits} digits, starting {head}"),
            digits == 64,
        );
    }
    match base64::engine::general_purpose::STANDARD.decode(t.replace(['\r', '\n', ' '], "")) {
        Ok(bytes) => (
            format!("base64，{} 字节", bytes.len()),
            format!("base64 of {} bytes", bytes.len()),
            bytes.len() == 32,
        ),
        Err(_) => (
            format!(
                "{} 个字符的文本，既非十六进制、base64，也非 PEM",
                t.chars().count()
            ),
            format!(
                "{} characters, neither hex, base64 nor PEM",
                t.chars().count()
            ),
            false,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::report::Outcome;

    // The simulator's TEST key pair's public point (docs/simulator.md).
    fn test_key() -> String {
        let sk = hex::decode("3945208f7b2144b13f36e38ac6d39f95889393692860b51a42fb81ef4df7c5b8")
            .unwrap();
        let dk = sm2::pke::DecryptingKey::from_slice(&sk).unwrap();
        Sm2Key::parse(&hex::encode(dk.encrypting_key().to_sec1_bytes()))
            .unwrap()
            .to_hex()
    }

    fn config(extra: &str) -> Config {
        Config::from_json(&format!(
            r#"{{"base_url":"http://a","hospital_id":"H"{extra}}}"#
        ))
        .unwrap()
    }

    #[test]
    fn a_valid_key_is_shown_only_by_fingerprint_with_its_readers() {
        let key = test_key();
        let c = check(&config(""), &KeyText::Text(key.clone()));
        assert_eq!(c.outcome, Outcome::Ok, "{:?}", c.summary);
        let all = serde_json::to_string(&c.measured).unwrap() + &c.summary.en + &c.summary.zh;
        assert!(!all.contains(&key[2..20]), "the key leaked: {all}");
        assert!(c.summary.en.contains("Hutool") && c.summary.en.contains("BouncyCastle"));
        assert!(!c.summary.en.contains("sm-crypto"), "{}", c.summary.en);
        assert!(c.measured["fingerprint"]
            .as_str()
            .unwrap()
            .starts_with("sm3:"));
        let c = check(
            &config(r#","sm2":{"prefix_04":false}"#),
            &KeyText::Text(key.clone()),
        );
        assert!(
            c.summary.en.contains("read by sm-crypto"),
            "{}",
            c.summary.en
        );
        let c = check(
            &config(r#","sm2":{"prefix_04":false,"encoding":"base64"}"#),
            &KeyText::Text(key),
        );
        assert_eq!(c.outcome, Outcome::Warning);
    }

    #[test]
    fn wrong_key_forms_fail_with_a_fix_naming_the_form() {
        let private = "3945208f7b2144b13f36e38ac6d39f95889393692860b51a42fb81ef4df7c5b8";
        let c = check(&config(""), &KeyText::Text(private.into()));
        assert_eq!(c.outcome, Outcome::Failed);
        assert!(c.fix.as_ref().unwrap().en.contains("private key"));
        assert!(!c.summary.en.contains(private));
        let pem = "-----BEGIN PRIVATE KEY-----\nMIGTAgEA\n-----END PRIVATE KEY-----";
        let c = check(&config(""), &KeyText::Text(pem.into()));
        assert!(c.fix.unwrap().en.contains("private key"));
        let c = check(
            &config(""),
            &KeyText::Text(format!("04{}", "1".repeat(128))),
        );
        assert_eq!(c.outcome, Outcome::Failed);
        assert!(c.summary.en.contains("hex, 130 digits"), "{}", c.summary.en);
        assert_eq!(
            check(&config(""), &KeyText::Absent).outcome,
            Outcome::Warning
        );
        assert_eq!(
            check(&config(""), &KeyText::NotText).outcome,
            Outcome::Failed
        );
    }
}
