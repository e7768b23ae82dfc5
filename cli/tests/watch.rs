//! `miic-cli watch` as a process against dcmtk's dcmqrscp on loopback: a killed PACS is
//! restarted by the test's own script and the state returns to up; a hung PACS (SIGSTOP) is
//! caught by the echo timeout; a failing restart command backs off, stays within its budget and
//! ends in one alert; SIGTERM exits 0 promptly. Detection and recovery times are printed.

#![cfg(unix)]

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_miic-cli");
const DCMQRSCP: &str = "/usr/bin/dcmqrscp";

/// A new outbox file for one config: the per-user default is shared by every test and run.
fn fresh_outbox() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("outbox-{}-{n}.sqlite", std::process::id()))
        .to_string_lossy()
        .into_owned()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A scratch folder; the PACS processes the test's script started (their PIDs are in
/// `pids`) are SIGKILLed on drop, and nothing else.
struct Site {
    dir: PathBuf,
    port: u16,
}

impl Site {
    fn new(name: &str) -> Site {
        assert!(
            Path::new(DCMQRSCP).exists(),
            "{DCMQRSCP} missing: scripts/test.sh installs dcmtk"
        );
        let dir = std::env::temp_dir().join(format!("miic-watch-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("db")).unwrap();
        let port = free_port();
        std::fs::write(
            dir.join("dcmqrscp.cfg"),
            format!(
                "NetworkTCPPort = {port}\nMaxPDUSize = 16384\nMaxAssociations = 16\n\
                 HostTable BEGIN\nHostTable END\nVendorTable BEGIN\nVendorTable END\n\
                 AETable BEGIN\nPACS {} RW (10, 10mb) ANY\nAETable END\n",
                dir.join("db").display()
            ),
        )
        .unwrap();
        // The "service restart" hospital IT would write: stop what is left (our own recorded
        // PID only), start dcmqrscp again on the same port, return once it listens.
        std::fs::write(
            dir.join("restart.sh"),
            format!(
                "#!/bin/bash\n\
                 cd '{dir}'\n\
                 echo \"$(date +%s.%N)\" >> restarts.log\n\
                 [ -s pid ] && kill -9 \"$(cat pid)\" 2>/dev/null\n\
                 {DCMQRSCP} --fork -c dcmqrscp.cfg {port} >/dev/null 2>&1 </dev/null &\n\
                 echo $! > pid\n\
                 echo $! >> pids\n\
                 for i in $(seq 100); do\n\
                   (exec 3<>/dev/tcp/127.0.0.1/{port}) 2>/dev/null && exit 0\n\
                   sleep 0.05\n\
                 done\n\
                 exit 1\n",
                dir = dir.display()
            ),
        )
        .unwrap();
        Site { dir, port }
    }

    fn restart_command(&self) -> String {
        format!("bash '{}'", self.dir.join("restart.sh").display())
    }

    fn start_pacs(&self) {
        let status = Command::new("bash")
            .arg(self.dir.join("restart.sh"))
            .status()
            .unwrap();
        assert!(status.success(), "the test's PACS did not start");
    }

    fn pacs_pid(&self) -> i32 {
        std::fs::read_to_string(self.dir.join("pid"))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }

    fn signal_pacs(&self, sig: i32) {
        // SAFETY: a plain kill(2) on the PID our own script recorded.
        unsafe { libc::kill(self.pacs_pid(), sig) };
    }

    fn restarts(&self) -> Vec<f64> {
        std::fs::read_to_string(self.dir.join("restarts.log"))
            .unwrap_or_default()
            .lines()
            .map(|l| l.trim().parse().unwrap())
            .collect()
    }

    fn config(&self, timeout_ms: u32) -> String {
        serde_json::json!({
            "base_url": "http://127.0.0.1:9",
            "hospital_id": "H1",
            "timeout_ms": timeout_ms,
            "outbox": {"path": fresh_outbox()},
            "dicom": {"local_ae": "MIIC", "peer_ae": "PACS", "host": "127.0.0.1", "port": self.port}
        })
        .to_string()
    }

    /// In folders that do not exist yet: the watchdog makes them.
    fn status_path(&self) -> PathBuf {
        self.dir.join("monitoring").join("miic").join("status.json")
    }

    fn status(&self) -> Option<serde_json::Value> {
        let text = std::fs::read_to_string(self.status_path()).ok()?;
        Some(serde_json::from_str(&text).expect("status file is always whole JSON"))
    }

    /// Poll the status file until `pred` holds; every state seen on the way is pushed to `seen`.
    fn wait_status(
        &self,
        limit: Duration,
        seen: &mut Vec<String>,
        pred: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(s) = self.status() {
                let state = s["state"].as_str().unwrap().to_owned();
                if seen.last() != Some(&state) {
                    seen.push(state);
                }
                if pred(&s) {
                    return s;
                }
            }
            assert!(
                Instant::now() < deadline,
                "status file never matched; states seen {seen:?}, last {:?}",
                self.status()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        for pid in std::fs::read_to_string(self.dir.join("pids"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse::<i32>().ok())
        {
            // SAFETY: kill(2) of a PID our own script started and recorded.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The watchdog process; killed on drop if the test did not stop it.
struct Watch(Child);

impl Watch {
    fn start(site: &Site, timeout_ms: u32, extra: &[&str]) -> Watch {
        let child = Command::new(BIN)
            .args(["watch", "--config", &site.config(timeout_ms)])
            .args(["--status-file", site.status_path().to_str().unwrap()])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        Watch(child)
    }

    /// SIGTERM, then the exit status, how long it took, and the log.
    fn terminate(mut self) -> (Option<i32>, Duration, String) {
        let t = Instant::now();
        // SAFETY: kill(2) of the watchdog this test started.
        unsafe { libc::kill(self.0.id() as i32, libc::SIGTERM) };
        let deadline = t + Duration::from_secs(15);
        let status = loop {
            if let Some(s) = self.0.try_wait().unwrap() {
                break s;
            }
            assert!(Instant::now() < deadline, "watch did not exit on SIGTERM");
            std::thread::sleep(Duration::from_millis(5));
        };
        let took = t.elapsed();
        let mut log = String::new();
        self.0
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut log)
            .unwrap();
        (status.code(), took, log)
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn killed_pacs_is_restarted_by_the_restart_command_and_state_returns_to_up() {
    let site = Site::new("killed");
    site.start_pacs();
    let watch = Watch::start(
        &site,
        1000,
        &[
            "--every",
            "200ms",
            "--fail-after",
            "2",
            "--restart",
            &site.restart_command(),
            "--cooldown",
            "1m",
            "--max-restarts",
            "2",
            "--settle",
            "100ms",
        ],
    );
    let mut seen = Vec::new();
    let up = site.wait_status(Duration::from_secs(10), &mut seen, |s| s["state"] == "up");
    assert!(up["last_rtt_ms"].as_u64().is_some(), "{up}");
    assert_eq!(up["consecutive_failures"], 0);
    assert_eq!(up["restarts_in_window"], 0);
    assert_eq!(up["last_error"], serde_json::Value::Null);

    site.signal_pacs(libc::SIGKILL);
    let killed = Instant::now();
    let failing = site.wait_status(Duration::from_secs(10), &mut seen, |s| {
        s["state"] == "failing"
    });
    let detected = killed.elapsed();
    assert_eq!(failing["consecutive_failures"], 1, "{failing}");
    assert!(
        failing["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("MIIC_E_")),
        "{failing}"
    );
    let restarting = site.wait_status(Duration::from_secs(10), &mut seen, |s| {
        s["state"] == "restarting"
    });
    assert_eq!(restarting["restarts_in_window"], 1, "{restarting}");
    let back = site.wait_status(Duration::from_secs(10), &mut seen, |s| s["state"] == "up");
    let recovered = killed.elapsed();
    assert_eq!(back["restarts_in_window"], 1, "{back}");
    assert_eq!(back["consecutive_failures"], 0);
    assert_eq!(site.restarts().len(), 2, "initial start + one restart");
    assert_eq!(seen, ["up", "failing", "restarting", "up"]);
    println!(
        "PACS killed: failure detected in {} ms, service up again in {} ms (every 200ms, fail-after 2)",
        detected.as_millis(),
        recovered.as_millis()
    );

    let (code, _, log) = watch.terminate();
    assert_eq!(code, Some(0), "{log}");
    for change in [
        "starting → up",
        "up → failing",
        "failing → restarting",
        "restarting → up",
    ] {
        assert!(log.contains(change), "log lacks '{change}':\n{log}");
    }
    assert!(log.contains("down for"), "recovery time logged:\n{log}");
}

#[test]
fn hung_pacs_is_detected_through_the_echo_timeout_and_restarted() {
    let site = Site::new("hung");
    site.start_pacs();
    let watch = Watch::start(
        &site,
        5000,
        &[
            "--every",
            "200ms",
            "--echo-timeout",
            "400ms",
            "--fail-after",
            "2",
            "--restart",
            &site.restart_command(),
            "--settle",
            "100ms",
        ],
    );
    let mut seen = Vec::new();
    site.wait_status(Duration::from_secs(10), &mut seen, |s| s["state"] == "up");
    site.signal_pacs(libc::SIGSTOP);
    let hung = Instant::now();
    let failing = site.wait_status(Duration::from_secs(10), &mut seen, |s| {
        s["state"] == "failing"
    });
    let detected = hung.elapsed();
    let error = failing["last_error"].as_str().unwrap_or_default();
    assert!(error.contains("MIIC_E_TIMEOUT"), "{failing}");
    // The echo's own 400 ms timeout, not the config's 5 s, bounded the detection.
    assert!(detected < Duration::from_millis(2500), "{detected:?}");
    site.wait_status(Duration::from_secs(10), &mut seen, |s| s["state"] == "up");
    let recovered = hung.elapsed();
    assert_eq!(seen, ["up", "failing", "restarting", "up"]);
    println!(
        "PACS hung (SIGSTOP): detected in {} ms (echo timeout 400ms), up again in {} ms",
        detected.as_millis(),
        recovered.as_millis()
    );
    let (code, _, log) = watch.terminate();
    assert_eq!(code, Some(0), "{log}");
}

#[test]
fn failing_restart_command_backs_off_within_its_budget_then_alerts_with_a_message() {
    // Nothing listens on the port: every echo is refused, every restart fails.
    let site = Site::new("giveup");
    let alert_file = site.dir.join("alert.txt");
    let restart = format!(
        "echo \"$(date +%s.%N)\" >> '{}'; exit 3",
        site.dir.join("restarts.log").display()
    );
    let alert = format!(
        "printf '%s|%s|%s\\n' \"$MIIC_WATCH_STATE\" \"$MIIC_WATCH_MESSAGE\" \"$1\" >> '{}'",
        alert_file.display()
    );
    let started = Instant::now();
    let watch = Watch::start(
        &site,
        1000,
        &[
            "--every",
            "100ms",
            "--fail-after",
            "2",
            "--restart",
            &restart,
            "--cooldown",
            "1m",
            "--max-restarts",
            "3",
            "--alert",
            &alert,
        ],
    );
    let mut seen = Vec::new();
    let gave_up = site.wait_status(Duration::from_secs(20), &mut seen, |s| {
        s["state"] == "gave_up"
    });
    let gave_up_after = started.elapsed();
    assert_eq!(gave_up["restarts_in_window"], 3, "{gave_up}");
    assert!(
        gave_up["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("MIIC_E_")),
        "{gave_up}"
    );
    // Keep watching for a while: no restart storm, no second alert.
    std::thread::sleep(Duration::from_millis(1500));
    let still = site.status().unwrap();
    assert_eq!(still["state"], "gave_up", "{still}");
    let restarts = site.restarts();
    assert_eq!(restarts.len(), 3, "at most --max-restarts: {restarts:?}");
    // Backoff: restart k+1 waits every·2^(k-1) after restart k (100 ms, then 200 ms); lower
    // bounds only, a loaded machine may stretch any gap.
    let gaps: Vec<f64> = restarts.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps[0] >= 0.09 && gaps[1] >= 0.19, "{gaps:?}");
    let alerts = std::fs::read_to_string(&alert_file).unwrap();
    let lines: Vec<&str> = alerts.lines().collect();
    assert_eq!(lines.len(), 1, "one alert: {alerts}");
    let parts: Vec<&str> = lines[0].split('|').collect();
    assert_eq!(parts[0], "gave_up");
    assert!(parts[1].contains("3 restart(s)"), "{alerts}");
    assert!(
        parts[1].contains("MIIC_E_"),
        "message carries the last error: {alerts}"
    );
    assert_eq!(parts[1], parts[2], "the message is also $1");
    println!(
        "failing restart: gave up after {} ms with restarts {:?} s apart",
        gave_up_after.as_millis(),
        gaps
    );
    let (code, _, log) = watch.terminate();
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("restart command failed"), "{log}");
    assert!(log.contains("exit status: 3"), "{log}");
    assert!(log.contains("→ gave_up"), "{log}");
    assert_eq!(seen.first().map(String::as_str), Some("failing"));
}

#[test]
fn sigterm_exits_zero_promptly_and_marks_the_status_stopped() {
    let site = Site::new("term");
    site.start_pacs();
    let watch = Watch::start(
        &site,
        1000,
        &["--every", "30s", "--restart", &site.restart_command()],
    );
    let mut seen = Vec::new();
    site.wait_status(Duration::from_secs(10), &mut seen, |s| s["state"] == "up");
    let (code, took, log) = watch.terminate();
    assert_eq!(code, Some(0), "{log}");
    // It was sleeping out a 30 s interval: the signal ends the wait at once.
    assert!(took < Duration::from_secs(2), "took {took:?}");
    let status = site.status().unwrap();
    assert_eq!(status["state"], "stopped", "{status}");
    assert!(log.contains("stopped after"), "{log}");
    // The PACS was not the watchdog's to stop.
    assert!(TcpStream::connect(("127.0.0.1", site.port)).is_ok());
    println!("SIGTERM: exited 0 in {} ms", took.as_millis());
}

#[test]
fn sigterm_during_a_restart_command_waits_for_it_and_kills_nothing_else() {
    // The restart command starts a long-lived child of its own (the "service") and then takes
    // a while; SIGTERM arrives while it runs.
    let site = Site::new("termrestart");
    let svc_pid = site.dir.join("svc.pid");
    let restart = format!(
        "sleep 30 >/dev/null 2>&1 </dev/null & echo $! > '{}'; sleep 0.5; exit 0",
        svc_pid.display()
    );
    let watch = Watch::start(
        &site,
        500,
        &[
            "--every",
            "100ms",
            "--fail-after",
            "1",
            "--restart",
            &restart,
        ],
    );
    let mut seen = Vec::new();
    site.wait_status(Duration::from_secs(10), &mut seen, |s| {
        s["state"] == "restarting"
    });
    let (code, took, log) = watch.terminate();
    assert_eq!(code, Some(0), "{log}");
    assert!(
        log.contains("restart command done"),
        "it was waited for: {log}"
    );
    assert!(took < Duration::from_secs(3), "took {took:?}");
    let pid: i32 = std::fs::read_to_string(&svc_pid)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // SAFETY: signal 0 only probes the process our command started; then we end it ourselves.
    let alive = unsafe { libc::kill(pid, 0) } == 0;
    unsafe { libc::kill(pid, libc::SIGKILL) };
    assert!(
        alive,
        "the service the restart command started was left running"
    );
}

#[test]
fn config_without_a_dicom_peer_exits_with_the_key_and_never_restarts() {
    let site = Site::new("badconfig");
    let marker = site.dir.join("restarted");
    let out = Command::new(BIN)
        .args([
            "watch",
            "--config",
            &serde_json::json!({"base_url": "http://127.0.0.1:9", "hospital_id": "H1",
                                "outbox": {"path": fresh_outbox()}})
            .to_string(),
        ])
        .args(["--every", "100ms", "--fail-after", "1"])
        .args(["--restart", &format!("touch '{}'", marker.display())])
        .args(["--status-file", site.status_path().to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("MIIC_E_CONFIG") && err.contains("dicom."),
        "{err}"
    );
    assert!(!marker.exists(), "a config fault must not restart the PACS");
    assert_eq!(site.status().unwrap()["state"], "stopped");
}

#[test]
fn status_file_folders_that_do_not_exist_are_created() {
    let site = Site::new("folders");
    let folder = site.status_path().parent().unwrap().to_path_buf();
    assert!(!folder.exists());
    site.start_pacs();
    let watch = Watch::start(
        &site,
        1000,
        &["--every", "30s", "--restart", &site.restart_command()],
    );
    let mut seen = Vec::new();
    site.wait_status(Duration::from_secs(10), &mut seen, |s| s["state"] == "up");
    let (code, _, log) = watch.terminate();
    assert_eq!(code, Some(0), "{log}");
    assert!(!log.contains("cannot write"), "{log}");
    assert_eq!(site.status().unwrap()["state"], "stopped");
}
