//! Benchmark (not a test): fetching one study of 300 CT objects (~0.5 MB each) from dcmqrscp on
//! loopback, miic vs dcmtk in the same run:
//!   miic C-GET / C-MOVE   vs  /usr/bin/getscu / /usr/bin/movescu
//!   (dcmtk as packaged, and with TCP_NODELAY=1 in the environment of dcmqrscp and of
//!   getscu/movescu, which dcmtk honours)
//!   miic HTTP fetch       vs  curl -Z (both 4 parallel transfers, same http.server)
//! Prints one table: best of N runs each, and miic's time as a ratio of the anchor's.
//! Run: `cargo bench --bench dicom_fetch` (env MIIC_BENCH_FILES, MIIC_BENCH_RUNS to change size).

#[path = "../tests/support/ffi.rs"]
mod ffi;
#[path = "../tests/support/pacs.rs"]
mod pacs;

use ffi::{cstr, last_error, take_string, ClientHandle};
use miic::ffi::{miic_dicom_fetch_http, miic_dicom_retrieve};
use pacs::{free_port, Pacs, Scratch, LOCAL_AE, PACS_AE};
use std::ffi::c_char;
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn count_files(dir: &Path) -> usize {
    walk(dir)
        .iter()
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .count()
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Best wall time of `runs` runs of `f` (each into a fresh folder), checking the file count.
fn best(runs: usize, expected: usize, label: &str, mut f: impl FnMut(&Path)) -> Duration {
    let mut best = Duration::MAX;
    for i in 0..runs {
        let out = Scratch::new(&format!("bench-out-{}-{i}", label.replace(' ', "-")));
        let started = Instant::now();
        f(out.path());
        let took = started.elapsed();
        let n = count_files(out.path());
        assert_eq!(n, expected, "{label}: {n} files instead of {expected}");
        best = best.min(took);
    }
    best
}

fn miic_retrieve(pacs: &Pacs, method: &str, out: &Path) {
    let client = ClientHandle::open(&pacs.config(method, LOCAL_AE, 10_000));
    let mut manifest: *mut c_char = std::ptr::null_mut();
    let status = unsafe {
        miic_dicom_retrieve(
            client.0,
            cstr(&pacs.study_uid).as_ptr(),
            cstr(out.to_str().unwrap()).as_ptr(),
            &mut manifest,
        )
    };
    take_string(manifest);
    assert_eq!(status, 0, "miic {method}: {}", last_error());
}

fn run(cmd: &mut Command, what: &str) {
    let output = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn getscu(pacs: &Pacs, out: &Path, env: &[(&str, &str)]) {
    run(
        Command::new("/usr/bin/getscu")
            .envs(env.iter().copied())
            .args(["-S", "-aet", LOCAL_AE, "-aec", PACS_AE, "-od"])
            .arg(out)
            .args(["-k", "QueryRetrieveLevel=STUDY", "-k"])
            .arg(format!("StudyInstanceUID={}", pacs.study_uid))
            .args(["127.0.0.1", &pacs.port.to_string()]),
        "getscu",
    );
}

fn movescu(pacs: &Pacs, out: &Path, env: &[(&str, &str)]) {
    run(
        Command::new("/usr/bin/movescu")
            .envs(env.iter().copied())
            .args([
                "-S", "-aet", "MOVESCU", "-aec", PACS_AE, "-aem", "MOVESCU", "--port",
            ])
            .arg((pacs.move_port.wrapping_add(1)).to_string())
            .arg("-od")
            .arg(out)
            .args(["-k", "QueryRetrieveLevel=STUDY", "-k"])
            .arg(format!("StudyInstanceUID={}", pacs.study_uid))
            .args(["127.0.0.1", &pacs.port.to_string()]),
        "movescu",
    );
}

struct Row {
    what: String,
    miic: Duration,
    anchor_name: String,
    anchor: Duration,
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing useful: only run
    // the (slow) benchmark when asked for.
    if !std::env::args().any(|a| a == "--bench") {
        println!("dicom_fetch: run with `cargo bench --bench dicom_fetch`");
        return;
    }
    let files = env_usize("MIIC_BENCH_FILES", 300);
    let runs = env_usize("MIIC_BENCH_RUNS", 3);
    let rows_px = 512u16; // 512×512×16 bit = 0.5 MB of pixels per object
    let mut rows = Vec::new();
    let mut study_bytes = 0u64;
    // MIIC_BENCH_MODE=packaged|nodelay runs one of the two dcmtk set-ups only.
    let only = std::env::var("MIIC_BENCH_MODE").unwrap_or_default();
    for (mode, env) in [
        ("packaged", vec![]),
        ("+ TCP_NODELAY=1", vec![("TCP_NODELAY", "1")]),
    ] {
        if (only == "packaged" && !env.is_empty()) || (only == "nodelay" && env.is_empty()) {
            continue;
        }
        let pacs = Pacs::start_with(&format!("bench{}", env.len()), files, rows_px, &env, true);
        study_bytes = pacs
            .originals
            .iter()
            .map(|o| std::fs::metadata(&o.path).unwrap().len())
            .sum();
        let get = best(runs, files, "miic get", |out| {
            miic_retrieve(&pacs, "get", out)
        });
        let get_anchor = best(runs, files, "getscu", |out| getscu(&pacs, out, &env));
        rows.push(Row {
            what: format!("C-GET, dcmtk {mode}"),
            miic: get,
            anchor_name: "getscu".into(),
            anchor: get_anchor,
        });
        let mv = best(runs, files, "miic move", |out| {
            miic_retrieve(&pacs, "move", out)
        });
        let mv_anchor = best(runs, files, "movescu", |out| movescu(&pacs, out, &env));
        rows.push(Row {
            what: format!("C-MOVE, dcmtk {mode}"),
            miic: mv,
            anchor_name: "movescu".into(),
            anchor: mv_anchor,
        });
        if env.is_empty() {
            rows.push(http_row(&pacs, files, runs));
        }
    }
    println!();
    println!(
        "One study: {files} CT objects, {:.1} MB, loopback, best of {runs} runs",
        study_bytes as f64 / 1e6
    );
    println!("| transfer | miic | anchor | anchor time | miic / anchor | miic MB/s |");
    println!("|---|---:|---|---:|---:|---:|");
    for r in &rows {
        println!(
            "| {} | {:.0} ms | {} | {:.0} ms | {:.2} | {:.0} |",
            r.what,
            r.miic.as_secs_f64() * 1000.0,
            r.anchor_name,
            r.anchor.as_secs_f64() * 1000.0,
            r.miic.as_secs_f64() / r.anchor.as_secs_f64(),
            study_bytes as f64 / 1e6 / r.miic.as_secs_f64()
        );
    }
}

fn http_row(pacs: &Pacs, files: usize, runs: usize) -> Row {
    let root = pacs.scratch.path().join("db");
    let python = std::env::var("MIIC_PYTHON").unwrap_or_else(|_| "python3".into());
    let port = free_port();
    let mut server = Command::new(python)
        .args([
            "-m",
            "http.server",
            "--bind",
            "127.0.0.1",
            &port.to_string(),
            "--directory",
        ])
        .arg(&root)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        std::thread::sleep(Duration::from_millis(20));
    }
    let names: Vec<String> = pacs
        .originals
        .iter()
        .map(|o| o.path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let dcm_path = names
        .iter()
        .map(|n| format!(r"\{n}"))
        .collect::<Vec<_>>()
        .join(",");
    let config = serde_json::json!({
        "base_url": "http://127.0.0.1:9", "hospital_id": "H1", "timeout_ms": 10000,
        "dicom_http": {"base_url": format!("http://127.0.0.1:{port}")}
    })
    .to_string();
    let miic = best(runs, files, "miic http", |out| {
        let client = ClientHandle::open(&config);
        let mut manifest: *mut c_char = std::ptr::null_mut();
        let status = unsafe {
            miic_dicom_fetch_http(
                client.0,
                cstr(&dcm_path).as_ptr(),
                cstr(out.to_str().unwrap()).as_ptr(),
                &mut manifest,
            )
        };
        take_string(manifest);
        assert_eq!(status, 0, "miic http: {}", last_error());
    });
    let curl = best(runs, files, "curl", |out| {
        let list = out.join("curl.cfg");
        let text: String = names
            .iter()
            .map(|n| {
                format!(
                    "url = \"http://127.0.0.1:{port}/{n}\"\noutput = \"{}/{n}\"\n",
                    out.display()
                )
            })
            .collect();
        std::fs::write(&list, text).unwrap();
        run(
            Command::new("curl")
                .args(["-s", "-f", "-Z", "--parallel-max", "4", "-K"])
                .arg(&list),
            "curl",
        );
        std::fs::remove_file(&list).unwrap();
    });
    let _ = server.kill();
    let _ = server.wait();
    Row {
        what: "HTTP, 4 parallel (python http.server)".into(),
        miic,
        anchor_name: "curl -Z".into(),
        anchor: curl,
    }
}
