//! Core benchmark, printed as Markdown table rows (scripts/bench.sh adds the other-language
//! anchors and writes BENCHMARKS.md):
//! - `miic_qr_url` through the C ABI against `MIIC_BENCH_URL` (nginx with a fixed reply in
//!   scripts/bench.sh) or else the simulator, next to a bare keep-alive TcpStream loop sending the
//!   same request in the same run;
//! - `miic_sm2_encrypt` encryptions per second;
//! - `miic_patient_reminder_async` return time while the cloud hangs (simulator), and the time
//!   `miic_close` takes with a reminder in flight;
//! - resident memory of an idle client.

use std::ffi::{CStr, CString};
use std::io::{BufRead, BufReader, Read, Write};

#[path = "support/mod.rs"]
mod support;
use std::net::TcpStream;
use std::time::Instant;
use support::{start_sim, summary};

use miic::ffi::miic_string_free;
use miic::ffi::{miic_close, miic_open, miic_sm2_encrypt};
use miic::ffi::{miic_login, miic_patient_reminder_async, miic_qr_url};
use miic::ffi::{miic_params, miic_params_free, miic_params_from_json};

const CALLS: usize = 2000;

fn params(json: &str) -> *mut miic_params {
    let json = CString::new(json).unwrap();
    let mut p = std::ptr::null_mut();
    assert_eq!(unsafe { miic_params_from_json(json.as_ptr(), &mut p) }, 0);
    p
}

fn open(url: &str, key: &str) -> *mut miic::ffi::miic_client {
    let config = CString::new(format!(
        r#"{{"base_url":"{url}","hospital_id":"H4401","timeout_ms":3000,"sm2":{{"public_key":"{key}"}}}}"#
    ))
    .unwrap();
    let client = unsafe { miic_open(config.as_ptr()) };
    assert!(!client.is_null());
    client
}

fn rss_kib() -> i64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(-1)
}

/// The bare anchor: one keep-alive TcpStream, request written by hand, Content-Length read.
fn bare_loop(url: &str, path_and_query: &str) -> Vec<f64> {
    let authority = url.trim_start_matches("http://");
    let request = format!("GET {path_and_query} HTTP/1.1\r\nHost: {authority}\r\n\r\n");
    let mut stream = TcpStream::connect(authority).unwrap();
    stream.set_nodelay(true).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut samples = Vec::with_capacity(CALLS);
    for i in 0..CALLS + 100 {
        let t = Instant::now();
        stream.write_all(request.as_bytes()).unwrap();
        let mut length = 0usize;
        loop {
            let mut header = String::new();
            reader.read_line(&mut header).unwrap();
            if header == "\r\n" {
                break;
            }
            if let Some(v) = header.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        if i >= 100 {
            samples.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    samples
}

fn main() {
    let (mut sim, sim_url, key) = start_sim();
    let qr_url = std::env::var("MIIC_BENCH_URL").unwrap_or_else(|_| sim_url.clone());
    let peer = if qr_url == sim_url {
        "simulator"
    } else {
        "nginx"
    };

    // miic_qr_url through the C ABI.
    let client = open(&qr_url, &key);
    let exam = params(r#"{"accessNumber":"202305010001","modality":"CT"}"#);
    let mut miic_ms = Vec::with_capacity(CALLS);
    for i in 0..CALLS + 100 {
        let mut out = std::ptr::null_mut();
        let t = Instant::now();
        let rc = unsafe { miic_qr_url(client, exam, &mut out) };
        let took = t.elapsed().as_secs_f64() * 1e3;
        assert_eq!(rc, 0, "{:?}", unsafe {
            CStr::from_ptr(miic::ffi::miic_last_error())
        });
        unsafe { miic_string_free(out) };
        if i >= 100 {
            miic_ms.push(took);
        }
    }
    let bare_ms = bare_loop(
        &qr_url,
        "/getway/reportAndFilm/api/qrurl?accessNumber=202305010001&modality=CT&hospitalId=H4401",
    );

    // SM2 encryptions per second (same plaintext and key as the BouncyCastle anchor).
    let plain = CString::new("11010119800101123X").unwrap();
    let started = Instant::now();
    let mut encryptions = 0u64;
    while started.elapsed().as_secs_f64() < 3.0 {
        let mut out = std::ptr::null_mut();
        assert_eq!(
            unsafe { miic_sm2_encrypt(client, plain.as_ptr(), &mut out) },
            0
        );
        unsafe { miic_string_free(out) };
        encryptions += 1;
    }
    let sm2_per_s = encryptions as f64 / started.elapsed().as_secs_f64();
    miic_close(client);

    // Async reminder with the simulator hanging.
    let client = open(&sim_url, &key);
    let doctor = params(
        r#"{"hisUserId":"1001","doctorName":"张医生","department":"放射科","departmentCode":"FSK01","doctorSex":"1","doctorType":"1","doctorCode":"D1","doctorIdCardNo":"11010119800101123X"}"#,
    );
    miic_login(client, doctor);
    let patient = params(
        r#"{"idCardNo":"440101199001011234","patientName":"李小明","mobilePhone":"15395092817","patientType":"1","accessNumber":"A1","clientIp":"127.0.0.1","mac":"F4:EE:08:0B:9A:54"}"#,
    );
    ureq::post(&format!("{sim_url}/__sim/fault"))
        .header("Content-Type", "application/json")
        .send(r#"{"mode":"hang"}"#)
        .unwrap();
    let mut async_us = Vec::new();
    for _ in 0..CALLS {
        let t = Instant::now();
        let rc = miic_patient_reminder_async(client, patient);
        async_us.push(t.elapsed().as_secs_f64() * 1e6);
        assert_eq!(rc, 0);
    }
    let t = Instant::now();
    miic_close(client);
    let close_ms = t.elapsed().as_secs_f64() * 1e3;

    // Idle clients: resident memory per open client (100 clients, nothing in flight).
    let before = rss_kib();
    let clients: Vec<_> = (0..100).map(|_| open(&sim_url, &key)).collect();
    let per_client_kib = (rss_kib() - before) as f64 / 100.0;
    for c in clients {
        miic_close(c);
    }
    for p in [exam, doctor, patient] {
        miic_params_free(p);
    }
    let _ = sim.kill();
    let _ = sim.wait();

    let (m50, m99, mavg) = summary(miic_ms);
    let (b50, b99, bavg) = summary(bare_ms);
    let (a50, a99, _) = summary(async_us);
    println!("| `miic_qr_url` via C ABI ({peer}, {CALLS} calls) | {m50:.3} ms | {m99:.3} ms | {mavg:.3} ms | 1.00 |");
    println!(
        "| anchor: bare keep-alive TcpStream loop ({peer}) | {b50:.3} ms | {b99:.3} ms | {bavg:.3} ms | {:.2} |",
        b50 / m50
    );
    println!("| `miic_sm2_encrypt` | {sm2_per_s:.0} /s | | | 1.00 |");
    println!("| `miic_patient_reminder_async`, cloud hung ({CALLS} calls) | {a50:.1} µs | {a99:.1} µs | | |");
    println!("| `miic_close` with a reminder in flight | {close_ms:.1} ms | | | |");
    println!("| idle client resident memory (mean of 100) | {per_client_kib:.1} KiB | | | |");
    println!("SM2_PER_S={sm2_per_s:.0}");
    println!("QR_P50_MS={m50:.3}");
    println!("SM2_KEY={key}");
}
