//! SM2 interop: ciphertexts made by miic through the C ABI decrypt with gmssl (Python, PyPI),
//! an independent implementation, in every configured layout.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

/// The simulator's built-in TEST key pair (docs/simulator.md).
const TEST_PRIVATE_KEY: &str = "3945208f7b2144b13f36e38ac6d39f95889393692860b51a42fb81ef4df7c5b8";
const PLAINS: [&str; 3] = ["11010119800101123X", "440101199001011234", "张医生 ID"];

fn c_ciphertexts(config: &str) -> Vec<String> {
    let exe = common::c_program("abi_test", "tests/c/abi_test.c", &["-lpthread"], true);
    let out = common::run_c(
        &exe,
        &["sm2_encrypt_lines"],
        &[("MIIC_TEST_CONFIG", config.to_owned())],
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{stdout}");
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("CIPHER="))
        .map(str::to_owned)
        .collect()
}

fn gmssl_decrypt(ciphers: &[String], mode: &str, encoding: &str, prefix: bool) -> Vec<String> {
    let mut child = Command::new(common::python())
        .arg(common::repo_root().join("tests/py/sm2_decrypt.py"))
        .args([
            TEST_PRIVATE_KEY,
            mode,
            encoding,
            if prefix { "1" } else { "0" },
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python with gmssl");
    let mut stdin = child.stdin.take().unwrap();
    for c in ciphers {
        writeln!(stdin, "{c}").unwrap();
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "gmssl decrypt failed");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn config(public_key: &str, sm2_extra: &str) -> String {
    let outbox = serde_json::Value::from(common::fresh_outbox_path().to_string_lossy());
    format!(
        r#"{{"base_url":"http://127.0.0.1:9","hospital_id":"H","sm2":{{"public_key":"{public_key}"{sm2_extra}}},"outbox":{{"path":{outbox}}}}}"#
    )
}

fn test_public_key() -> String {
    // Start nothing: derive the public key the simulator would print, via the sim itself.
    let sim = common::Sim::start(&[]);
    sim.public_key.clone()
}

#[test]
fn default_c1c3c2_hex_with_04_decrypts_with_gmssl() {
    let pk = test_public_key();
    let ciphers = c_ciphertexts(&config(&pk, ""));
    assert_eq!(ciphers.len(), 3);
    assert!(ciphers.iter().all(|c| c.starts_with("04")
        && c.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())));
    assert_eq!(gmssl_decrypt(&ciphers, "c1c3c2", "hex", true), PLAINS);
    // gmssl never checks C3: reading them as C1C2C3 yields garbage, which proves the layout.
    assert_ne!(gmssl_decrypt(&ciphers, "c1c2c3", "hex", true), PLAINS);
}

#[test]
fn c1c2c3_mode_decrypts_with_gmssl_old_order() {
    let pk = test_public_key();
    let ciphers = c_ciphertexts(&config(&pk, r#","mode":"c1c2c3""#));
    assert_eq!(gmssl_decrypt(&ciphers, "c1c2c3", "hex", true), PLAINS);
    assert_ne!(gmssl_decrypt(&ciphers, "c1c3c2", "hex", true), PLAINS);
}

#[test]
fn base64_without_04_prefix_decrypts_with_gmssl() {
    let pk = test_public_key();
    let ciphers = c_ciphertexts(&config(&pk, r#","encoding":"base64","prefix_04":false"#));
    assert_eq!(gmssl_decrypt(&ciphers, "c1c3c2", "base64", false), PLAINS);
}

#[test]
fn public_key_given_as_base64_point_or_bare_xy_encrypts_the_same_way() {
    let pk = test_public_key();
    let bytes: Vec<u8> = (0..pk.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&pk[i..i + 2], 16).unwrap())
        .collect();
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
    // SubjectPublicKeyInfo (id-ecPublicKey, curve sm2p256v1) as Java's Hutool/BouncyCastle export it.
    let mut spki = vec![
        0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08,
        0x2a, 0x81, 0x1c, 0xcf, 0x55, 0x01, 0x82, 0x2d, 0x03, 0x42, 0x00,
    ];
    spki.extend_from_slice(&bytes);
    let spki_b64 = base64::engine::general_purpose::STANDARD.encode(&spki);
    let pem = format!(
        "-----BEGIN PUBLIC KEY-----\\n{}\\n{}\\n-----END PUBLIC KEY-----",
        &spki_b64[..64],
        &spki_b64[64..]
    );
    for key in [b64.as_str(), &pk[2..], spki_b64.as_str(), pem.as_str()] {
        let ciphers = c_ciphertexts(&config(key, ""));
        assert_eq!(
            gmssl_decrypt(&ciphers, "c1c3c2", "hex", true),
            PLAINS,
            "key form {key}"
        );
    }
}
