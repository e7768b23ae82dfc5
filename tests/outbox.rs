//! Delete notifications are never lost: the durable outbox through the C ABI, against the cloud
//! simulator. Host processes are the C program tests/c/outbox_child.c (killed with SIGKILL,
//! run two at a time, run with a file-size limit); in-process cases call the exports directly.

mod common;
#[path = "support/ffi.rs"]
mod ffi;

use common::{closed_port, fresh_outbox_path, Sim};
use ffi::{last_error, ClientHandle, ParamsHandle};
use miic::ffi::{
    miic_delete_notify, miic_outbox_dead_count, miic_outbox_flush, miic_outbox_pending,
};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const DELETE_PATH: &str = "/standardInterface/standardHttp/deleteDicom";
const MIIC_OK: i32 = 0;
const MIIC_QUEUED: i32 = 1;
const MIIC_E_TIMEOUT: i32 = -6;
const MIIC_E_SERVER: i32 = -7;
const MIIC_E_IO: i32 = -11;

fn child_binary() -> PathBuf {
    common::c_program(
        "outbox_child",
        "tests/c/outbox_child.c",
        &["-lpthread"],
        true,
    )
}

fn child(args: &[&str], config: &str) -> Command {
    let mut cmd = Command::new(child_binary());
    cmd.args(args)
        .env("LD_LIBRARY_PATH", common::cdylib().parent().unwrap())
        .env("MIIC_TEST_CONFIG", config)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

fn run_child(args: &[&str], config: &str) -> String {
    let out = child(args, config).output().expect("run outbox_child");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "outbox_child {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// `"outbox":{"path":…}` for a config.
fn outbox_key(path: &Path) -> String {
    format!(
        r#""outbox":{{"path":{}}}"#,
        Value::from(path.to_str().unwrap())
    )
}

/// A config whose cloud is a loopback port nobody listens on.
fn cloud_down_config(outbox: &Path) -> String {
    format!(
        r#"{{"base_url":"http://127.0.0.1:{}","hospital_id":"H4401","timeout_ms":1000,{}}}"#,
        closed_port(),
        outbox_key(outbox)
    )
}

/// Notification key (accessionNo, operateDateTime) of each call that returned MIIC_OK or
/// MIIC_QUEUED, from a child's "R <accession> <datetime> <rc>" lines.
fn acknowledged(stdout: &str) -> Vec<(String, String)> {
    stdout
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            match f.as_slice() {
                ["R", acc, date, time, rc] if matches!(*rc, "0" | "1") => {
                    Some((acc.to_string(), format!("{date} {time}")))
                }
                _ => None,
            }
        })
        .collect()
}

/// The "F <rc> <pending> <ms>" line of a child.
fn flush_line(stdout: &str) -> (i32, u32, u64) {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("F "))
        .unwrap_or_else(|| panic!("no flush line in {stdout}"));
    let f: Vec<&str> = line.split(' ').collect();
    (
        f[1].parse().unwrap(),
        f[2].parse().unwrap(),
        f[3].parse().unwrap(),
    )
}

/// Deliveries the simulator answered with code 200, in arrival order.
fn delivered(sim: &Sim) -> Vec<(String, String)> {
    sim.requests()
        .iter()
        .filter(|r| r["path"] == DELETE_PATH && r["code"] == 200)
        .map(|r| {
            (
                r["params"]["accessionNo"].as_str().unwrap().to_owned(),
                r["params"]["operateDateTime"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn counts(items: &[(String, String)]) -> HashMap<(String, String), usize> {
    let mut m = HashMap::new();
    for k in items {
        *m.entry(k.clone()).or_insert(0) += 1;
    }
    m
}

/// A client opened in this process, closed on drop.
struct Host {
    client: ClientHandle,
}

impl Host {
    fn open(config: &str) -> Result<Host, String> {
        ClientHandle::try_open(config).map(|client| Host { client })
    }

    fn notify(&self, accession: &str, datetime: &str) -> (i32, String) {
        let p = ParamsHandle::json(
            &json!({"patientName": "王五", "accessionNo": accession,
                    "operateDoctorName": "张医生", "operateDateTime": datetime})
            .to_string(),
        );
        let rc = miic_delete_notify(self.client.0, p.0);
        (rc, last_error())
    }

    fn pending(&self) -> u32 {
        let mut n = u32::MAX;
        assert_eq!(unsafe { miic_outbox_pending(self.client.0, &mut n) }, 0);
        n
    }

    fn dead(&self) -> u32 {
        let mut n = u32::MAX;
        assert_eq!(unsafe { miic_outbox_dead_count(self.client.0, &mut n) }, 0);
        n
    }

    fn flush(&self, ms: u32) -> (i32, String) {
        let rc = miic_outbox_flush(self.client.0, ms);
        (rc, last_error())
    }
}

fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    done()
}

/// A tiny xorshift for kill instants (no test-only dependency).
fn next_random(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn sigkilled_hosts_lose_no_acknowledged_delete_notification() {
    // At least 24 rounds and 300 acknowledged notifications, more rounds on a slow machine.
    const MIN_ROUNDS: usize = 24;
    const MIN_ACKED: usize = 300;
    const MAX_ROUNDS: usize = 80;
    const PER_ROUND: usize = 100;
    let sim = Sim::start(&[]);
    sim.fault(json!({"mode": "reset"})); // the cloud refuses every notification
    let outbox = fresh_outbox_path();
    let config = sim.config(&outbox_key(&outbox));
    let mut seed = (u64::from(std::process::id()) * 0x9E37_79B9) | 1;
    let mut acked = Vec::new();
    let (mut killed_mid_run, mut attempted) = (0, 0);
    let mut rounds = 0;
    while rounds < MIN_ROUNDS || (acked.len() < MIN_ACKED && rounds < MAX_ROUNDS) {
        let round = rounds;
        rounds += 1;
        let prefix = format!("K{round:02}");
        let n = PER_ROUND.to_string();
        let mut child = child(&["enqueue", &prefix, &n, "3"], &config)
            .spawn()
            .unwrap();
        let kill_after = Duration::from_millis(20 + next_random(&mut seed) % 400);
        let started = Instant::now();
        while started.elapsed() < kill_after && child.try_wait().unwrap().is_none() {
            std::thread::sleep(Duration::from_millis(2));
        }
        if child.try_wait().unwrap().is_none() {
            killed_mid_run += 1;
        }
        let _ = child.kill(); // SIGKILL
        child.wait().unwrap();
        let mut stdout = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut stdout)
            .unwrap();
        if let Some(line) = stdout.lines().find(|l| l.starts_with("O ")) {
            panic!("round {round}: open failed: {line}");
        }
        attempted += stdout.lines().filter(|l| l.starts_with("R ")).count();
        acked.extend(acknowledged(&stdout));
    }
    let acked_count = acked.len();
    assert!(
        killed_mid_run >= rounds / 2,
        "only {killed_mid_run} of {rounds} rounds were killed mid-run"
    );
    assert!(
        acked_count >= MIN_ACKED,
        "only {acked_count} notifications acknowledged in {rounds} rounds"
    );

    // A fresh host with the cloud up drains what the killed ones left.
    sim.reset();
    let started = Instant::now();
    let out = run_child(&["drain", "60000"], &config);
    let drain = started.elapsed();
    let (rc, pending, _) = flush_line(&out);
    assert_eq!((rc, pending), (MIIC_OK, 0), "drain: {out}");

    let arrived = counts(&delivered(&sim));
    let lost: Vec<_> = acked.iter().filter(|k| !arrived.contains_key(*k)).collect();
    assert!(
        lost.is_empty(),
        "acknowledged but never delivered: {lost:?}"
    );
    let duplicates: usize = arrived.values().map(|n| n - 1).sum();
    let stored_unacked = arrived.len() - counts(&acked).len();
    println!(
        "crash test: {rounds} rounds ({killed_mid_run} killed mid-run), {attempted} calls returned, \
         {acked_count} acknowledged (MIIC_OK/MIIC_QUEUED), 0 lost, {duplicates} duplicate \
         deliveries, {stored_unacked} stored before the kill cut their call short and delivered \
         too; drain of {} items took {} ms",
        arrived.len(),
        drain.as_millis()
    );
}

#[test]
fn cloud_down_then_back_delivers_everything_in_order_per_accession_after_backoff() {
    let sim = Sim::start(&[]);
    sim.fault(json!({"mode": "reset"}));
    let host = Host::open(&sim.config("")).unwrap();
    let mut made = Vec::new();
    for i in 0..6 {
        let accession = format!("DOWN-{}", i % 3);
        let datetime = format!("2023-05-08 10:00:{i:02}");
        let (rc, err) = host.notify(&accession, &datetime);
        assert_eq!(rc, MIIC_QUEUED, "{err}");
        made.push((accession, datetime));
    }
    assert_eq!(host.pending(), 6);

    // Watch the worker's attempts against the refusing cloud for a while.
    let mut seen = sim.requests().len();
    let mut arrivals = Vec::new();
    let watch = Instant::now();
    while watch.elapsed() < Duration::from_secs(11) {
        let now = sim.requests().len();
        for _ in seen..now {
            arrivals.push(watch.elapsed());
        }
        seen = now;
        std::thread::sleep(Duration::from_millis(25));
    }
    let gaps: Vec<u128> = arrivals
        .windows(2)
        .map(|w| (w[1] - w[0]).as_millis())
        .collect();
    println!(
        "cloud down 11 s: {} worker attempts, gaps (ms) {gaps:?}",
        arrivals.len()
    );
    // Backoff: 1 s doubling, each delay jittered within its upper half, so retry k+1 comes at
    // least 2^k × 0.5 s after retry k; a late attempt only lengthens its gap. Only those lower
    // bounds are checked (less 100 ms: polling the simulator blurs each arrival), as they hold on
    // any load: a worker without backoff fails the first, one with a constant delay the third.
    // A worker without backoff would also retry hundreds of times in 10 s.
    assert!(
        (4..=10).contains(&arrivals.len()),
        "attempts while down: {arrivals:?}"
    );
    for (k, gap) in gaps.iter().take(3).enumerate() {
        let least = (500u128 << k) - 100;
        assert!(
            *gap >= least,
            "retry {} came {gap} ms after the one before, under backoff step {k}'s {least} ms: {gaps:?}",
            k + 1
        );
    }
    assert_eq!(
        host.pending(),
        6,
        "nothing may leave while the cloud is down"
    );

    sim.fault(json!({"mode": "none"}));
    let back = Instant::now();
    assert!(
        wait_until(Duration::from_secs(40), || host.pending() == 0),
        "still {} pending 40 s after the cloud came back",
        host.pending()
    );
    println!(
        "cloud back: all delivered by the worker within {} ms",
        back.elapsed().as_millis()
    );
    let got = delivered(&sim);
    assert_eq!(counts(&got).len(), 6, "{got:?}");
    let mut per_accession: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (acc, at) in &got {
        per_accession.entry(acc).or_default().push(at);
    }
    for (acc, times) in per_accession {
        let expected: Vec<&str> = made
            .iter()
            .filter(|(a, _)| a == acc)
            .map(|(_, t)| t.as_str())
            .collect();
        assert_eq!(times, expected, "order of {acc}");
    }
}

#[test]
fn a_callers_delivery_ends_the_workers_backoff_and_what_waits_goes_out_at_once() {
    let sim = Sim::start(&[]);
    sim.fault(json!({"mode": "reset"}));
    let host = Host::open(&sim.config("")).unwrap();
    let (rc, err) = host.notify("WAITING-1", "2023-05-08 11:00:00");
    assert_eq!(rc, MIIC_QUEUED, "{err}");
    // The caller's own try, then the worker's: after its 4th failure in a row the worker
    // pauses backoff(4), at least 4 s, before it tries again.
    assert!(
        wait_until(Duration::from_secs(30), || sim.requests().len() >= 5),
        "the worker did not retry 4 times: {} requests",
        sim.requests().len()
    );
    let paused_at = Instant::now();
    sim.fault(json!({"mode": "none"}));
    let (rc, err) = host.notify("BACK-1", "2023-05-08 11:00:01");
    assert_eq!(rc, MIIC_OK, "{err}");
    // The caller's success tells the paused worker the cloud is back: the waiting one goes
    // out now, not when the pause ends (a worker not told would leave it there 4 s or more).
    assert!(
        wait_until(Duration::from_secs(3), || host.pending() == 0),
        "still {} pending {} ms after a caller's delivery ended the outage",
        host.pending(),
        paused_at.elapsed().as_millis()
    );
    println!(
        "the waiting notification went out {} ms after the cloud answered a caller",
        paused_at.elapsed().as_millis()
    );
    assert_eq!(counts(&delivered(&sim)).len(), 2);
}

#[test]
fn cloud_code_400_fails_at_once_is_not_retried_and_is_listed_dead() {
    let sim = Sim::start(&[]);
    let outbox = fresh_outbox_path();
    let host = Host::open(&sim.config(&outbox_key(&outbox))).unwrap();

    // Rejected on the caller's own try: MIIC_E_SERVER at once.
    sim.fault(json!({"mode": "code400", "count": 1}));
    let (rc, err) = host.notify("REJ-1", "2023-05-08 11:00:00");
    assert_eq!(rc, MIIC_E_SERVER, "{err}");
    assert!(err.contains("400") && err.contains("REJ-1"), "{err}");

    // Rejected later, when already queued: to the dead list by flush.
    sim.fault(json!({"mode": "reset"}));
    let (rc, err) = host.notify("REJ-2", "2023-05-08 11:00:01");
    assert_eq!(rc, MIIC_QUEUED, "{err}");
    sim.fault(json!({"mode": "code400", "count": 1}));
    let (rc, err) = host.flush(5000);
    assert_eq!(rc, MIIC_OK, "{err}");
    assert_eq!((host.pending(), host.dead()), (0, 2));

    // Nothing is retried: the worker and a flush leave them alone.
    sim.fault(json!({"mode": "none"}));
    let before = sim.requests().len();
    assert_eq!(host.flush(1000).0, MIIC_OK);
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(
        sim.requests().len(),
        before,
        "a rejected notification was sent again"
    );
    // Each accession's last request is the one the cloud rejected.
    for acc in ["REJ-1", "REJ-2"] {
        let last = sim
            .requests()
            .into_iter()
            .rfind(|r| r["path"] == DELETE_PATH && r["params"]["accessionNo"] == acc)
            .unwrap_or_else(|| panic!("{acc} never reached the simulator"));
        assert_eq!(last["code"], 400, "{acc}: {last}");
    }

    // Hospital IT sees both, with the cloud's reason.
    let out = Command::new(common::cli_binary())
        .args(["outbox", "dead", "--path"])
        .arg(&outbox)
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{table}");
    for acc in ["REJ-1", "REJ-2"] {
        assert!(table.contains(acc), "{acc} missing from:\n{table}");
    }
    assert!(
        table.contains("code 400") && table.contains("王*"),
        "{table}"
    );
    assert!(!table.contains("王五"), "patient name not masked:\n{table}");

    // Purging forgets them for good.
    let out = Command::new(common::cli_binary())
        .args(["outbox", "purge-dead", "--path"])
        .arg(&outbox)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("2 rejected notification(s) removed"),
        "{text}"
    );
    assert_eq!((host.pending(), host.dead()), (0, 0));
}

#[test]
fn two_processes_sharing_one_outbox_deliver_everything_without_concurrent_double_sends() {
    let sim = Sim::start(&[]);
    // The first 40 notifications fail (code 500), so both processes retry through one file.
    sim.fault(json!({"mode": "code500", "count": 40, "path": DELETE_PATH}));
    let outbox = fresh_outbox_path();
    let config = sim.config(&outbox_key(&outbox));
    let spawn = |prefix: &str| {
        child(&["enqueue", prefix, "100", "4", "30000"], &config)
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn("PA"), spawn("PB"));
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let mut acked = Vec::new();
    for out in [&a, &b] {
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let (rc, pending, _) = flush_line(&stdout);
        assert_eq!((rc, pending), (MIIC_OK, 0), "{stdout}");
        acked.extend(acknowledged(&stdout));
    }
    assert_eq!(acked.len(), 200);
    let got = delivered(&sim);
    let arrived = counts(&got);
    let lost: Vec<_> = acked.iter().filter(|k| !arrived.contains_key(*k)).collect();
    assert!(lost.is_empty(), "lost: {lost:?}");
    let duplicates: Vec<_> = arrived.iter().filter(|(_, n)| **n > 1).collect();
    assert!(duplicates.is_empty(), "sent twice: {duplicates:?}");
    // Per accession, in the order the host made them.
    let mut last: HashMap<&str, &str> = HashMap::new();
    for (acc, at) in &got {
        if let Some(prev) = last.insert(acc, at) {
            assert!(prev < at.as_str(), "{acc}: {at} arrived after {prev}");
        }
    }
    let failed = sim.requests().iter().filter(|r| r["code"] == 500).count();
    println!("two processes: 200 notifications, {failed} code-500 failures retried, 0 lost, 0 duplicates");
}

#[test]
fn delivered_notification_returns_ok_and_leaves_the_outbox() {
    let sim = Sim::start(&[]);
    let host = Host::open(&sim.config("")).unwrap();
    let (rc, err) = host.notify("OK-1", "2023-05-08 12:00:00");
    assert_eq!(rc, MIIC_OK, "{err}");
    assert_eq!((host.pending(), host.dead()), (0, 0));
    assert_eq!(delivered(&sim).len(), 1);
}

#[test]
fn flush_with_the_cloud_down_times_out_naming_what_remains() {
    let outbox = fresh_outbox_path();
    let host = Host::open(&cloud_down_config(&outbox)).unwrap();
    assert_eq!(host.notify("T-1", "2023-05-08 13:00:00").0, MIIC_QUEUED);
    let started = Instant::now();
    let (rc, err) = host.flush(1500);
    let took = started.elapsed();
    assert_eq!(rc, MIIC_E_TIMEOUT, "{err}");
    assert!(
        err.contains("1 delete notification") && err.contains(outbox.to_str().unwrap()),
        "{err}"
    );
    assert!(took < Duration::from_millis(2500), "flush took {took:?}");
    assert_eq!(host.pending(), 1);
}

#[test]
fn close_is_prompt_while_the_worker_waits_on_a_hung_cloud() {
    let sim = Sim::start(&[]);
    let config = sim
        .config("")
        .replace(r#""timeout_ms":1000"#, r#""timeout_ms":20000"#);
    let host = Host::open(&config).unwrap();
    sim.fault(json!({"mode": "reset", "count": 1}));
    assert_eq!(host.notify("H-1", "2023-05-08 14:00:00").0, MIIC_QUEUED);
    sim.fault(json!({"mode": "hang"}));
    // The worker's retry (after ~1 s of backoff) now hangs for up to 20 s.
    assert!(wait_until(Duration::from_secs(5), || sim.requests().len() >= 2));
    let started = Instant::now();
    drop(host);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(2), "miic_close took {took:?}");
}

#[test]
fn corrupt_outbox_file_fails_open_with_an_error_naming_it_and_is_left_untouched() {
    let path = fresh_outbox_path();
    let garbage: Vec<u8> = (0..8192u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&path, &garbage).unwrap();
    let err = Host::open(&cloud_down_config(&path))
        .err()
        .expect("open must fail");
    assert!(err.contains(path.to_str().unwrap()), "{err}");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        garbage,
        "the user's file was changed"
    );
}

#[test]
fn unwritable_outbox_folder_fails_open_with_an_error_naming_the_file() {
    // /proc refuses new folders even to root; a regular file cannot hold a folder either.
    let blocker = fresh_outbox_path();
    std::fs::write(&blocker, b"a file, not a folder").unwrap();
    for path in [
        PathBuf::from("/proc/miic-no-such-dir/outbox.sqlite"),
        blocker.join("outbox.sqlite"),
    ] {
        let err = Host::open(&cloud_down_config(&path))
            .err()
            .expect("open must fail");
        assert!(err.contains(path.to_str().unwrap()), "{err}");
    }
}

#[test]
fn full_disk_at_enqueue_fails_with_miic_e_io_naming_the_file_and_keeps_what_was_stored() {
    let outbox = fresh_outbox_path();
    let config = cloud_down_config(&outbox);
    let out = run_child(&["fsize", "131072", "500"], &config);
    let stored = acknowledged(&out).len();
    let error = out
        .lines()
        .find(|l| l.starts_with("E "))
        .unwrap_or_else(|| panic!("no call failed under the size limit:\n{out}"));
    assert!(error.starts_with(&format!("E {MIIC_E_IO} ")), "{error}");
    assert!(error.contains(outbox.to_str().unwrap()), "{error}");
    assert!(stored > 0, "{out}");
    // Without the limit, a new host finds every acknowledged notification still pending (the
    // failed call's own may or may not have reached the disk: an I/O error cannot tell).
    let host = Host::open(&config).unwrap();
    let pending = host.pending() as usize;
    assert!(
        pending == stored || pending == stored + 1,
        "{pending} pending:\n{out}"
    );
    println!("disk full after {stored} stored notifications: {error}");
}

#[test]
fn cli_lists_pending_masked_and_retry_with_config_delivers_them() {
    let outbox = fresh_outbox_path();
    {
        let host = Host::open(&cloud_down_config(&outbox)).unwrap();
        assert_eq!(host.notify("CLI-1", "2023-05-08 16:00:00").0, MIIC_QUEUED);
        assert_eq!(host.notify("CLI-1", "2023-05-08 16:00:01").0, MIIC_QUEUED);
    }
    let cli = |args: &[&str]| {
        let out = Command::new(common::cli_binary())
            .arg("outbox")
            .args(args)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{args:?}: {text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    };
    let path = outbox.to_str().unwrap();
    let table = cli(&["list", "--path", path]);
    assert!(table.starts_with("2 pending in "), "{table}");
    for needle in [
        "ACCESSION",
        "PATIENT",
        "ATTEMPTS",
        "NEXT TRY",
        "LAST ERROR",
        "CLI-1",
        "王*",
    ] {
        assert!(table.contains(needle), "{needle} missing from:\n{table}");
    }
    assert!(
        table.contains("onnection refused") || table.contains("onnection failed"),
        "{table}"
    );
    assert!(!table.contains("王五"), "patient name not masked:\n{table}");

    let sim = Sim::start(&[]);
    let out = cli(&["retry", "--config", &sim.config(&outbox_key(&outbox))]);
    assert!(out.contains("outbox empty"), "{out}");
    let got = delivered(&sim);
    assert_eq!(
        got.iter().map(|(_, t)| t.as_str()).collect::<Vec<_>>(),
        ["2023-05-08 16:00:00", "2023-05-08 16:00:01"]
    );
    assert!(cli(&["list", "--path", path]).starts_with("0 pending"));
}

#[test]
fn notifications_left_by_an_exited_host_go_out_after_the_next_open_without_a_flush() {
    let sim = Sim::start(&[]);
    sim.fault(json!({"mode": "reset"}));
    let outbox = fresh_outbox_path();
    let config = sim.config(&outbox_key(&outbox));
    let out = run_child(&["enqueue", "RES", "6", "2"], &config);
    let acked = acknowledged(&out);
    assert_eq!(acked.len(), 6, "{out}");
    sim.reset(); // the cloud is back; nobody runs until the next miic_open
    let host = Host::open(&config).unwrap();
    assert!(
        wait_until(Duration::from_secs(20), || host.pending() == 0),
        "the retry worker did not resume: {} pending",
        host.pending()
    );
    let arrived = counts(&delivered(&sim));
    assert!(acked.iter().all(|k| arrived.contains_key(k)), "{arrived:?}");
}

/// A host that retries `miic_open` after an outbox error must not collect log folders: each
/// failed open's `[log] dir` is dropped with it, so no later line lands there.
#[test]
fn failed_open_leaves_no_log_folder_behind() {
    let logs = common::target_dir().join(format!("failed-open-logs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&logs);
    let blocker = fresh_outbox_path();
    std::fs::write(&blocker, b"a file, not a folder").unwrap();
    let mut config: Value =
        serde_json::from_str(&cloud_down_config(&blocker.join("o.sqlite"))).unwrap();
    config["log"] = json!({"dir": logs.to_str().unwrap(), "level": "info"});
    let read_logs = || -> String {
        std::fs::read_dir(&logs)
            .map(|d| {
                d.map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
                    .collect()
            })
            .unwrap_or_default()
    };
    for _ in 0..3 {
        assert!(Host::open(&config.to_string()).is_err(), "open must fail");
    }
    let after_failures = read_logs();
    assert!(
        after_failures.contains("o.sqlite"),
        "each failed open says why in its own folder: {after_failures}"
    );
    // Another client opens and closes: none of its lines may reach the failed clients' folder.
    drop(Host::open(&cloud_down_config(&fresh_outbox_path())).unwrap());
    assert_eq!(read_logs(), after_failures);
    let _ = std::fs::remove_dir_all(&logs);
}

/// `miic_delete_notify` racing `miic_close` on another thread: once both returned, no retry
/// worker of that client is left running (nobody would join it).
#[test]
fn delete_racing_close_leaves_no_worker_thread() {
    let out = run_child(&["race", "60"], &cloud_down_config(&fresh_outbox_path()));
    assert!(out.contains("T 0\n"), "{out}");
}
