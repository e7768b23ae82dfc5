//! Outbox benchmark, each row next to its anchor in the same run:
//! - storing a delete notification: `miic_delete_notify` with the cloud down (commit with fsync,
//!   one refused connection, `MIIC_QUEUED`) vs a bare rusqlite INSERT in WAL mode with
//!   `synchronous = FULL` (the fsync any durable queue pays);
//! - draining a 10,000-item backlog with `miic_outbox_flush` against the simulator vs the same
//!   10,000 POSTs sent by a bare keep-alive ureq agent (the HTTP any sender pays).
//!
//! Run with `scripts/bench.sh` (builds the release simulator first). Prints a Markdown table.

use std::ffi::{CStr, CString};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[path = "support/mod.rs"]
mod support;
use support::percentile;

use miic::ffi::miic_delete_notify;
use miic::ffi::{miic_close, miic_open};
use miic::ffi::{miic_outbox_flush, miic_outbox_pending};
use miic::ffi::{miic_params_free, miic_params_from_json};
use miic::outbox::Store;

const STORES: usize = 1000;
const BACKLOG: usize = 10_000;
const DELETE_PATH: &str = "/standardInterface/standardHttp/deleteDicom";

fn p50_p99(mut samples: Vec<f64>) -> (f64, f64) {
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (percentile(&samples, 0.5), percentile(&samples, 0.99))
}

fn body(i: usize) -> String {
    format!(
        r#"{{"patientName":"王五","accessionNo":"B{i}","hospitalId":"H4401","operateDoctorName":"张医生","operateDateTime":"2023-05-08 15:00:01","deleteDateTime":"2023-05-08 15:00:01"}}"#
    )
}

fn open(config: &str) -> *mut miic::ffi::miic_client {
    let config = CString::new(config).unwrap();
    let client = unsafe { miic_open(config.as_ptr()) };
    assert!(!client.is_null(), "{:?}", unsafe {
        CStr::from_ptr(miic::ffi::miic_last_error())
    });
    client
}

fn fresh(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    path
}

fn main() {
    let target = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    let dir = target.join("bench-outbox");
    std::fs::create_dir_all(&dir).unwrap();

    // ---- storing: miic_delete_notify with the cloud down vs a bare fsync'ed INSERT ----
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let down_box = fresh(&dir, "down.sqlite");
    let client = open(&format!(
        r#"{{"base_url":"http://127.0.0.1:{port}","hospital_id":"H4401","timeout_ms":3000,"outbox":{{"path":{}}}}}"#,
        serde_json::Value::from(down_box.to_str().unwrap())
    ));
    let mut miic_ms = Vec::with_capacity(STORES);
    for i in 0..STORES {
        let json = CString::new(format!(
            r#"{{"patientName":"王五","accessionNo":"S{i}","operateDoctorName":"张医生"}}"#
        ))
        .unwrap();
        let mut p = std::ptr::null_mut();
        assert_eq!(unsafe { miic_params_from_json(json.as_ptr(), &mut p) }, 0);
        let t = Instant::now();
        let rc = miic_delete_notify(client, p);
        miic_ms.push(t.elapsed().as_secs_f64() * 1e3);
        assert_eq!(rc, 1, "expected MIIC_QUEUED");
        miic_params_free(p);
    }
    miic_close(client);

    let anchor_box = fresh(&dir, "anchor.sqlite");
    let conn = rusqlite::Connection::open(&anchor_box).unwrap();
    let _: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .unwrap();
    conn.pragma_update(None, "synchronous", "FULL").unwrap();
    conn.execute_batch("CREATE TABLE q (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
        .unwrap();
    let mut sqlite_ms = Vec::with_capacity(STORES);
    for i in 0..STORES {
        let t = Instant::now();
        conn.execute("INSERT INTO q (body) VALUES (?1)", [body(i)])
            .unwrap();
        sqlite_ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    drop(conn);

    // ---- draining a backlog: miic_outbox_flush vs bare keep-alive POSTs ----
    let (mut sim, url, _key) = support::start_sim();

    let backlog_box = fresh(&dir, "backlog.sqlite");
    let store = Store::open(&backlog_box).unwrap();
    let fill = Instant::now();
    for i in 0..BACKLOG {
        store
            .enqueue(&format!("B{i}"), "王五", &body(i), Duration::ZERO)
            .unwrap();
    }
    let fill_s = fill.elapsed().as_secs_f64();
    drop(store);
    std::thread::sleep(Duration::from_millis(5)); // the enqueue leases (0 ms) are over
    let client = open(&format!(
        r#"{{"base_url":"{url}","hospital_id":"H4401","timeout_ms":3000,"outbox":{{"path":{}}}}}"#,
        serde_json::Value::from(backlog_box.to_str().unwrap())
    ));
    let t = Instant::now();
    let rc = miic_outbox_flush(client, 600_000);
    let drain_s = t.elapsed().as_secs_f64();
    let mut left = u32::MAX;
    unsafe { miic_outbox_pending(client, &mut left) };
    assert_eq!((rc, left), (0, 0), "flush did not empty the outbox");
    miic_close(client);

    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(3)))
        .build()
        .into();
    let t = Instant::now();
    for i in 0..BACKLOG {
        let reply = agent
            .post(&format!("{url}{DELETE_PATH}"))
            .header("Content-Type", "application/json;charset=UTF-8")
            .send(body(i))
            .unwrap()
            .into_body()
            .read_to_string()
            .unwrap();
        assert!(reply.contains("200"), "{reply}");
    }
    let plain_s = t.elapsed().as_secs_f64();
    let _ = sim.kill();
    let _ = sim.wait();

    let (m50, m99) = p50_p99(miic_ms);
    let (s50, s99) = p50_p99(sqlite_ms);
    let miic_rate = BACKLOG as f64 / drain_s;
    let plain_rate = BACKLOG as f64 / plain_s;
    println!("| measure | miic | anchor | ratio |");
    println!("|---|---|---|---|");
    println!(
        "| store a delete notification, cloud down, p50 / p99 (ms) ({STORES} calls; anchor: bare fsync'ed SQLite INSERT) | {m50:.2} / {m99:.2} | {s50:.2} / {s99:.2} | {:.1}x / {:.1}x |",
        m50 / s50,
        m99 / s99
    );
    println!(
        "| drain a {BACKLOG}-item backlog against the simulator (items/s; anchor: bare keep-alive POSTs) | {miic_rate:.0} | {plain_rate:.0} | {:.2}x |",
        miic_rate / plain_rate
    );
    println!(
        "| fill the backlog through Store::enqueue (items/s, one fsync each) | {:.0} | | |",
        BACKLOG as f64 / fill_s
    );
}
