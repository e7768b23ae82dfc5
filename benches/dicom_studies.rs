//! Benchmark (not a test): C-GET of the generated realistic study (38 objects in 15 series,
//! mixed transfer syntaxes, ~3 MB; scripts/make_study.py) from Orthanc as packaged, miic vs
//! dcmtk's getscu in the same run. Best of N runs each; miic's time as a ratio of getscu's.
//! getscu gets every object in explicit VR LE (Orthanc transcodes within getscu's one context
//! per class); miic gets each as stored. Also getscu with TCP_NODELAY=1 (dcmtk honours it).
//! Run: `cargo bench --bench dicom_studies` (env MIIC_BENCH_RUNS to change the run count).

#[path = "../tests/support/ffi.rs"]
mod ffi;
#[path = "../tests/support/orthanc.rs"]
mod orthanc;
#[path = "../tests/support/pacs.rs"]
mod pacs;
#[path = "../tests/support/study.rs"]
mod study;

use ffi::{cstr, last_error, take_string, ClientHandle};
use miic::ffi::miic_dicom_retrieve;
use orthanc::{Orthanc, ORTHANC_AE};
use pacs::Scratch;
use std::ffi::c_char;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use study::Study;

fn best(runs: usize, label: &str, expected: usize, mut f: impl FnMut(&Path)) -> Duration {
    let mut best = Duration::MAX;
    for i in 0..runs {
        let out = Scratch::new(&format!("bench-studies-{label}-{i}"));
        let started = Instant::now();
        f(out.path());
        best = best.min(started.elapsed());
        let n = std::fs::read_dir(out.path()).unwrap().count();
        assert_eq!(n, expected, "{label}: {n} files instead of {expected}");
    }
    best
}

fn getscu(orthanc: &Orthanc, study_uid: &str, out: &Path, env: &[(&str, &str)]) {
    let status = Command::new("/usr/bin/getscu")
        .envs(env.iter().copied())
        .args(["-S", "-aet", "GETSCU", "-aec", ORTHANC_AE, "-od"])
        .arg(out)
        .args(["-k", "QueryRetrieveLevel=STUDY", "-k"])
        .arg(format!("StudyInstanceUID={study_uid}"))
        .args(["127.0.0.1", &orthanc.dicom_port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "getscu failed");
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("dicom_studies: run with `cargo bench --bench dicom_studies`");
        return;
    }
    let runs = std::env::var("MIIC_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let dir = Scratch::new("bench-study");
    let uid = format!("1.2.826.0.1.3680043.9.7433.3.{}", std::process::id());
    let study = Study::generate(&dir.path().join("study"), &uid, "realistic");
    let n = study.objects.len();
    let bytes: u64 = study
        .objects
        .iter()
        .map(|o| std::fs::metadata(study.dir.join(&o.file)).unwrap().len())
        .sum();
    let orthanc = Orthanc::start("bench");
    for o in &study.objects {
        orthanc.upload(&study.dir.join(&o.file));
    }
    let config = orthanc.config("get", 10_000);
    let miic = best(runs, "miic", n, |out| {
        let client = ClientHandle::open(&config);
        let mut manifest: *mut c_char = std::ptr::null_mut();
        let status = unsafe {
            miic_dicom_retrieve(
                client.0,
                cstr(&uid).as_ptr(),
                cstr(out.to_str().unwrap()).as_ptr(),
                &mut manifest,
            )
        };
        take_string(manifest);
        assert_eq!(status, 0, "miic: {}", last_error());
    });
    let packaged = best(runs, "getscu", n, |out| getscu(&orthanc, &uid, out, &[]));
    let nodelay = best(runs, "getscu-nodelay", n, |out| {
        getscu(&orthanc, &uid, out, &[("TCP_NODELAY", "1")])
    });
    println!(
        "Realistic study: {n} objects, {:.1} MB as stored, Orthanc 1.10 on loopback, best of {runs} runs",
        bytes as f64 / 1e6
    );
    println!("| C-GET from Orthanc | time | miic / anchor |");
    println!("|---|---:|---:|");
    println!(
        "| miic (each object as stored) | {:.0} ms | |",
        miic.as_secs_f64() * 1000.0
    );
    for (what, t) in [
        ("getscu as packaged (all explicit VR LE)", packaged),
        ("getscu, TCP_NODELAY=1", nodelay),
    ] {
        println!(
            "| {what} | {:.0} ms | {:.2} |",
            t.as_secs_f64() * 1000.0,
            miic.as_secs_f64() / t.as_secs_f64()
        );
    }
}
