//! `miic_report_validate` called from a C program compiled against include/miic.h and linked
//! to the cdylib built with these tests.

use std::path::PathBuf;
use std::process::Command;

#[test]
fn c_host_validates_report_data_through_the_header() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    // The cdylib of this build sits beside the test binary (target/<profile>/deps).
    let deps = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    assert!(
        deps.join("libmiic.so").exists(),
        "libmiic.so not found in {}",
        deps.display()
    );
    let exe = deps.join(format!("report_validate_c_{}", std::process::id()));
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let out = Command::new(&cc)
        .arg(root.join("tests/c/report_validate.c"))
        .arg("-I")
        .arg(root.join("include"))
        .arg("-L")
        .arg(&deps)
        .arg("-lmiic")
        .arg(format!("-Wl,-rpath,{}", deps.display()))
        .args(["-Wall", "-Werror", "-o"])
        .arg(&exe)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cc}: {e}"));
    assert!(
        out.status.success(),
        "compile failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let record = r#"{"uname":"张三","brdy":"2023-02-30","accessNumber":"A1"}"#;
    let run = Command::new(&exe).arg(record).output().unwrap();
    let _ = std::fs::remove_file(&exe);
    assert!(
        run.status.success(),
        "C checks failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
}
