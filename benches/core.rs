//! Core benchmark: `miic_qr_url` through the C ABI against the simulator, next to the anchor —
//! a bare keep-alive HTTP/1.1 loop on a std TcpStream sending the same request — in one run;
//! and the return time of `miic_patient_reminder_async` while the cloud hangs.
//! Run with `scripts/bench.sh` (builds the release simulator first). Prints a Markdown table.

use std::ffi::{CStr, CString};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Instant;

use miic::ffi::client::{miic_close, miic_open};
use miic::ffi::cloud::{miic_login, miic_patient_reminder_async, miic_qr_url};
use miic::ffi::params::{miic_params_free, miic_params_from_json};
use miic::ffi::version::miic_string_free;

const CALLS: usize = 2000;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn summary(mut samples: Vec<f64>) -> (f64, f64, f64) {
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (
        percentile(&samples, 0.5),
        percentile(&samples, 0.99),
        samples.iter().sum::<f64>() / samples.len() as f64,
    )
}

fn params(json: &str) -> *mut miic::ffi::params::miic_params {
    let json = CString::new(json).unwrap();
    let mut p = std::ptr::null_mut();
    assert_eq!(unsafe { miic_params_from_json(json.as_ptr(), &mut p) }, 0);
    p
}

fn main() {
    let target = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    let mut sim = Command::new(target.join("miic-cli"))
        .args(["sim", "--host", "127.0.0.1", "--port", "0"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("target/release/miic-cli (run scripts/bench.sh)");
    let mut line = String::new();
    BufReader::new(sim.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .to_owned();
    let key = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("public_key="))
        .unwrap()
        .to_owned();
    let config = CString::new(format!(
        r#"{{"base_url":"{url}","hospital_id":"H4401","timeout_ms":3000,"sm2":{{"public_key":"{key}"}}}}"#
    ))
    .unwrap();
    let client = unsafe { miic_open(config.as_ptr()) };
    assert!(!client.is_null());
    let exam = params(r#"{"accessNumber":"202305010001","modality":"CT"}"#);

    // miic_qr_url
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

    // Anchor: the same GET on one keep-alive TcpStream, reading Content-Length bytes.
    let authority = url.trim_start_matches("http://");
    let request = format!(
        "GET /getway/reportAndFilm/api/qrurl?accessNumber=202305010001&modality=CT&hospitalId=H4401 HTTP/1.1\r\nHost: {authority}\r\n\r\n"
    );
    let mut stream = TcpStream::connect(authority).unwrap();
    stream.set_nodelay(true).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut plain_ms = Vec::with_capacity(CALLS);
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
        let took = t.elapsed().as_secs_f64() * 1e3;
        if i >= 100 {
            plain_ms.push(took);
        }
    }

    // Async reminder with the cloud hung.
    let doctor = params(
        r#"{"hisUserId":"1001","doctorName":"张医生","department":"放射科","departmentCode":"FSK01","doctorSex":"1","doctorType":"1","doctorCode":"D1","doctorIdCardNo":"11010119800101123X"}"#,
    );
    miic_login(client, doctor);
    let patient = params(
        r#"{"idCardNo":"440101199001011234","patientName":"李小明","mobilePhone":"15395092817","patientType":"1","accessNumber":"A1"}"#,
    );
    ureq::post(&format!("{url}/__sim/fault"))
        .header("Content-Type", "application/json")
        .send(r#"{"mode":"hang"}"#)
        .unwrap();
    let mut async_us = Vec::new();
    for _ in 0..2000 {
        let t = Instant::now();
        let rc = miic_patient_reminder_async(client, patient);
        async_us.push(t.elapsed().as_secs_f64() * 1e6);
        assert_eq!(rc, 0);
    }
    let t = Instant::now();
    miic_close(client);
    let close_ms = t.elapsed().as_secs_f64() * 1e3;
    for p in [exam, doctor, patient] {
        miic_params_free(p);
    }
    let _ = sim.kill();
    let _ = sim.wait();

    let (m50, m99, mavg) = summary(miic_ms);
    let (p50, p99, pavg) = summary(plain_ms);
    let (a50, a99, _) = summary(async_us);
    println!("| measure ({CALLS} calls, loopback simulator) | p50 | p99 | mean |");
    println!("|---|---|---|---|");
    println!(
        "| `miic_qr_url` (C ABI, ureq keep-alive) | {m50:.3} ms | {m99:.3} ms | {mavg:.3} ms |"
    );
    println!(
        "| anchor: bare keep-alive TcpStream GET | {p50:.3} ms | {p99:.3} ms | {pavg:.3} ms |"
    );
    println!(
        "| ratio miic / anchor | {:.2} | {:.2} | {:.2} |",
        m50 / p50,
        m99 / p99,
        mavg / pavg
    );
    println!(
        "| `miic_patient_reminder_async`, cloud hung (2000 calls) | {a50:.1} µs | {a99:.1} µs | |"
    );
    println!("| `miic_close` with a reminder in flight | {close_ms:.1} ms | | |");
}
