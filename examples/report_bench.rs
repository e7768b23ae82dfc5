//! Validator throughput on 100,000 generated 4.1 records (a benchmark, not a test):
//! `cargo run --release --example report_bench`. The anchor is serde_json parsing the same text
//! (the floor any validator of JSON pays); the ratio shows what the checks add on top.

use miic::ffi::miic_report_validate;
use miic::report::sample::{broken_record, valid_record, BROKEN};
use serde_json::Value;
use std::ffi::{c_char, CString};
use std::time::Instant;

extern "C" {
    fn miic_string_free(s: *mut c_char);
}

const RECORDS: usize = 100_000;
const BATCH: usize = 1_000;

fn main() {
    let exam = chrono::NaiveDate::from_ymd_opt(2025, 3, 14)
        .unwrap()
        .and_hms_opt(8, 0, 0)
        .unwrap();
    // One broken record in ten, so the problem paths are measured too.
    let batches: Vec<CString> = (0..RECORDS / BATCH)
        .map(|b| {
            let records: Vec<Value> = (0..BATCH)
                .map(|k| {
                    let i = b * BATCH + k;
                    let record = if i % 10 == 7 {
                        broken_record(BROKEN[i / 10 % BROKEN.len()].0, i, exam).unwrap()
                    } else {
                        valid_record(i, exam)
                    };
                    Value::Object(record)
                })
                .collect();
            let reply = serde_json::json!({"data": records, "code": 0, "message": "成功"});
            CString::new(reply.to_string()).unwrap()
        })
        .collect();
    let bytes: usize = batches.iter().map(|b| b.as_bytes().len()).sum();

    let started = Instant::now();
    let mut parsed = 0;
    for batch in &batches {
        let value: Value = serde_json::from_slice(batch.as_bytes()).unwrap();
        parsed += value["data"].as_array().unwrap().len();
    }
    let parse = started.elapsed();

    let started = Instant::now();
    let mut problems_bytes = 0;
    for batch in &batches {
        let mut out: *mut c_char = std::ptr::null_mut();
        let status = unsafe { miic_report_validate(batch.as_ptr(), &mut out) };
        assert_eq!(status, 0);
        problems_bytes += unsafe { std::ffi::CStr::from_ptr(out) }.to_bytes().len();
        unsafe { miic_string_free(out) };
    }
    let validate = started.elapsed();
    assert_eq!(parsed, RECORDS);

    let rate = |d: std::time::Duration| RECORDS as f64 / d.as_secs_f64();
    println!(
        "{RECORDS} records in {} replies of {BATCH}, {:.1} MiB of JSON, 10% broken",
        RECORDS / BATCH,
        bytes as f64 / 1048576.0
    );
    println!(
        "{:<46} {:>10} {:>14} {:>7}",
        "", "seconds", "records/s", "ratio"
    );
    println!(
        "{:<46} {:>10.3} {:>14.0} {:>7.2}",
        "serde_json parse only (anchor)",
        parse.as_secs_f64(),
        rate(parse),
        1.0
    );
    println!(
        "{:<46} {:>10.3} {:>14.0} {:>7.2}",
        "miic_report_validate (parse+check+problems)",
        validate.as_secs_f64(),
        rate(validate),
        validate.as_secs_f64() / parse.as_secs_f64()
    );
    println!(
        "problems JSON returned: {:.1} MiB",
        problems_bytes as f64 / 1048576.0
    );
}
