//! `miic-cli echo | find | retrieve | fetch-http` as processes against dcmqrscp (the library's
//! own PACS fixture): exit status, output and the files that land.

#[path = "../../tests/support/pacs.rs"]
mod pacs;

use pacs::{read_pixels, Pacs, Scratch, LOCAL_AE};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_miic-cli");

#[test]
fn cli_echo_reports_ok() {
    let pacs = Pacs::start("cli-echo", 1, 8);
    let out = Command::new(BIN)
        .args(["echo", "--config", &pacs.config("get", LOCAL_AE, 3000)])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("echo: MIIC_OK"));
}

#[test]
fn cli_echo_with_wrong_ae_fails_with_status_name() {
    let pacs = Pacs::start("cli-badae", 1, 8);
    let out = Command::new(BIN)
        .args(["echo", "--config", &pacs.config("get", "NOBODY", 3000)])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("MIIC_E_DICOM") && err.contains("rejected"),
        "{err}"
    );
}

#[test]
fn cli_retrieve_lands_the_study_and_prints_the_manifest() {
    let pacs = Pacs::start("cli-get", 4, 32);
    let dest = Scratch::new("cli-get-dest");
    let out = Command::new(BIN)
        .args(["retrieve", "--config", &pacs.config("get", LOCAL_AE, 3000)])
        .args([
            "--study",
            &pacs.study_uid,
            "--out",
            dest.path().to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let manifest: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(manifest["completed"], 4);
    for o in &pacs.originals {
        let (uid, pixels) = read_pixels(&dest.path().join(format!("{}.dcm", o.sop_instance_uid)));
        assert_eq!(uid, o.sop_instance_uid);
        assert!(pixels == o.pixels);
    }
}
