//! `miic-cli watch`: the PACS DICOM service watchdog of spec 4.2 for hospital IT. C-ECHO on a
//! schedule (through the library's C ABI), restart the service after N consecutive failures,
//! confirm recovery, back off, give up with an alert. The decisions live in [`Machine`], a pure
//! struct fed with echo results and times; [`run`] drives it with real time, processes and files.

use miic::ffi::{MIIC_E_ARGUMENT, MIIC_E_CONFIG};
use miic_cli::abi::{Client, Failure};
use serde_json::json;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant, SystemTime};

#[derive(Debug, Clone, clap::Args)]
pub struct WatchArgs {
    /// The client config with its [dicom] section (path or inline JSON).
    #[arg(long, short, default_value = "miic.toml")]
    pub config: String,
    /// Time between two C-ECHOs (e.g. 30s, 500ms, 1m).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub every: Duration,
    /// Consecutive failed echoes (refused, timeout, association rejected) before a restart.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    pub fail_after: u32,
    /// Shell command that restarts the PACS DICOM service (sh -c on Unix, cmd /C on Windows).
    #[arg(long)]
    pub restart: String,
    /// The restart budget's window: at most --max-restarts restarts in any window this long.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub cooldown: Duration,
    /// Restarts allowed per --cooldown window; when they did not help, the watchdog gives up.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_restarts: u32,
    /// Shell command run once when the watchdog gives up; the message is in env MIIC_WATCH_MESSAGE
    /// (and in $1 on Unix).
    #[arg(long)]
    pub alert: Option<String>,
    /// JSON status file rewritten atomically at each check (for monitoring tools).
    #[arg(long)]
    pub status_file: Option<PathBuf>,
    /// Timeout of one C-ECHO (default: the config's timeout_ms).
    #[arg(long, value_parser = parse_duration)]
    pub echo_timeout: Option<Duration>,
    /// Wait after a restart command before the echo that confirms recovery (default: --every).
    #[arg(long, value_parser = parse_duration)]
    pub settle: Option<Duration>,
    /// A restart or alert command still running after this long is killed and counts as failed.
    #[arg(long, default_value = "2m", value_parser = parse_duration)]
    pub command_timeout: Duration,
}

/// `humantime` reads what people write (`30s`, `5m`, `500ms`, `1h 30m`); zero makes no sense here.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(text.trim())
        .map_err(|e| format!("'{text}' is not a duration like 30s, 5m or 500ms: {e}"))?;
    if d.is_zero() {
        return Err(format!("'{text}': the duration must be more than zero"));
    }
    // Bounded so that adding it to a clock reading can never overflow.
    if d > Duration::from_secs(366 * 24 * 3600) {
        return Err(format!("'{text}': the duration must be at most a year"));
    }
    Ok(d)
}

/// Where the watched service stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Before the first echo.
    Starting,
    Up,
    /// At least one echo failed, fewer than --fail-after or the next restart is backing off.
    Failing,
    /// A restart command was started; the next echo confirms (or not) the recovery.
    Restarting,
    /// The restart budget of the window is spent and the alert went out; echoes go on, and
    /// restarts resume when the window has room again.
    GaveUp,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::Starting => "starting",
            State::Up => "up",
            State::Failing => "failing",
            State::Restarting => "restarting",
            State::GaveUp => "gave_up",
        }
    }
}

/// What the driver must do after a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Run the restart command, report its end with [`Machine::restart_finished`], wait the
    /// settle time, then echo.
    Restart,
    /// Run the alert command with this message.
    Alert(String),
}

#[derive(Debug, Clone)]
pub struct Policy {
    pub fail_after: u32,
    pub max_restarts: u32,
    pub cooldown: Duration,
    /// The wait before a second restart in a window; it doubles with each further one.
    pub backoff: Duration,
}

/// A state change, for the log: from, to, how long the old state lasted, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub from: State,
    pub to: State,
    pub lasted: Duration,
    pub why: String,
}

/// The watchdog's decisions, with time passed in (unit-testable without sleeping).
#[derive(Debug)]
pub struct Machine {
    policy: Policy,
    pub state: State,
    pub since: Instant,
    pub consecutive_failures: u32,
    pub last_rtt: Option<Duration>,
    pub last_error: Option<String>,
    /// Start times of the restarts inside the current cooldown window.
    restarts: VecDeque<Instant>,
    /// When the current outage began (first failed echo), to report the recovery time.
    down_since: Option<Instant>,
    changes: Vec<Change>,
}

impl Machine {
    pub fn new(policy: Policy, now: Instant) -> Machine {
        Machine {
            policy,
            state: State::Starting,
            since: now,
            consecutive_failures: 0,
            last_rtt: None,
            last_error: None,
            restarts: VecDeque::new(),
            down_since: None,
            changes: Vec::new(),
        }
    }

    /// Restarts whose start lies inside the window ending now.
    pub fn restarts_in_window(&mut self, now: Instant) -> u32 {
        while let Some(&first) = self.restarts.front() {
            if now.saturating_duration_since(first) >= self.policy.cooldown {
                self.restarts.pop_front();
            } else {
                break;
            }
        }
        self.restarts.len() as u32
    }

    /// State changes since the last call (the driver logs them).
    pub fn take_changes(&mut self) -> Vec<Change> {
        std::mem::take(&mut self.changes)
    }

    fn go(&mut self, to: State, now: Instant, why: String) {
        if to != self.state {
            self.changes.push(Change {
                from: self.state,
                to,
                lasted: now.saturating_duration_since(self.since),
                why,
            });
            self.state = to;
            self.since = now;
        }
    }

    /// One echo's result: its round-trip time, or the error text.
    pub fn echo(&mut self, now: Instant, result: Result<Duration, String>) -> Option<Action> {
        match result {
            Ok(rtt) => {
                self.last_rtt = Some(rtt);
                self.consecutive_failures = 0;
                let why = match self.down_since.take() {
                    Some(t) => format!(
                        "echo answered in {} ms; down for {} ms",
                        rtt.as_millis(),
                        now.saturating_duration_since(t).as_millis()
                    ),
                    None => format!("echo answered in {} ms", rtt.as_millis()),
                };
                self.go(State::Up, now, why);
                None
            }
            Err(error) => {
                self.consecutive_failures = self.consecutive_failures.saturating_add(1);
                self.down_since.get_or_insert(now);
                self.last_error = Some(error.clone());
                let used = self.restarts_in_window(now);
                if self.state == State::Restarting && used >= self.policy.max_restarts {
                    let message = format!(
                        "PACS DICOM service still not answering C-ECHO after {used} restart(s) in {}; \
                         giving up until the window has room. Last error: {error}",
                        humantime::format_duration(self.policy.cooldown)
                    );
                    self.go(State::GaveUp, now, format!("restart did not help: {error}"));
                    return Some(Action::Alert(message));
                }
                if self.state == State::GaveUp && used >= self.policy.max_restarts {
                    return None;
                }
                let due = self.consecutive_failures >= self.policy.fail_after
                    || self.state == State::Restarting;
                if due && self.backoff_over(now, used) {
                    self.restarts.push_back(now);
                    self.consecutive_failures = 0;
                    let why = format!(
                        "restart {} of {} in the window: {error}",
                        used + 1,
                        self.policy.max_restarts
                    );
                    // A restart that did not help is one restart after another: log it as such.
                    if self.state == State::Restarting {
                        self.go(
                            State::Failing,
                            now,
                            format!("restart did not help: {error}"),
                        );
                    }
                    self.go(State::Restarting, now, why);
                    return Some(Action::Restart);
                }
                self.go(State::Failing, now, error);
                None
            }
        }
    }

    /// Restart k+1 (k ≥ 1 in the window) waits backoff·2^(k-1) after restart k.
    fn backoff_over(&self, now: Instant, used: u32) -> bool {
        match self.restarts.back() {
            Some(&last) if used > 0 => {
                let wait = self
                    .policy
                    .backoff
                    .saturating_mul(1u32 << (used - 1).min(16));
                now.saturating_duration_since(last) >= wait
            }
            _ => true,
        }
    }

    /// The restart command ended (`Err`: it failed to start, exited non-zero or timed out).
    /// The confirming echo decides the state; a failed command is kept as the last error.
    pub fn restart_finished(&mut self, result: Result<(), String>) {
        if let Err(e) = result {
            self.last_error = Some(format!("restart command: {e}"));
        }
    }
}

/// Run a command line through the platform's shell, with extra environment and, on Unix, the
/// first extra argument as `$1`.
fn shell(command: &str, env: &[(&str, &str)], arg: Option<&str>) -> std::io::Result<Child> {
    #[cfg(windows)]
    let mut cmd = {
        use std::os::windows::process::CommandExt;
        let _ = arg; // cmd /C has no positional parameters: the environment carries it.
        let mut c = Command::new("cmd");
        // Passed verbatim: std's argv quoting (backslash escapes) is not cmd's. `/S` with the
        // whole line in quotes makes cmd strip exactly that pair, so inner quotes such as
        // `net stop "PACS DICOM"` survive.
        c.args(["/S", "/C"]).raw_arg(format!("\"{command}\""));
        c
    };
    #[cfg(not(windows))]
    let mut cmd = {
        let mut c = Command::new("sh");
        c.arg("-c").arg(command).arg("miic-watch");
        c.args(arg);
        c
    };
    cmd.envs(env.iter().copied())
        .stdin(std::process::Stdio::null());
    cmd.spawn()
}

/// Ctrl-C / SIGTERM / SIGHUP (console close on Windows), as a channel the loop can wait on.
struct Stop {
    rx: Receiver<()>,
    stopped: bool,
}

impl Stop {
    /// Ctrl-C, SIGTERM/SIGHUP, or the Windows console's close events stop the watch.
    fn on_termination() -> Result<Stop, String> {
        let (tx, rx) = mpsc::channel();
        ctrlc::set_handler(move || {
            let _ = tx.send(());
        })
        .map_err(|e| format!("cannot install the Ctrl-C/SIGTERM handler: {e}"))?;
        Ok(Stop { rx, stopped: false })
    }

    /// Sleep `d` unless a stop arrives; true when stopping.
    fn wait(&mut self, d: Duration) -> bool {
        if !self.stopped {
            match self.rx.recv_timeout(d) {
                Ok(()) | Err(RecvTimeoutError::Disconnected) => self.stopped = true,
                Err(RecvTimeoutError::Timeout) => {}
            }
        }
        self.stopped
    }
}

/// After a stop request a running command gets this long to finish (a service stopped but not
/// yet started again is worse than waiting), then only that process is killed.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// Wait for a command we started: bounded by `timeout`, and by STOP_GRACE once a stop arrives.
/// Kills only `child` (not its descendants: a service it launched is the PACS, not ours).
fn wait_command(mut child: Child, timeout: Duration, stop: &mut Stop) -> Result<(), String> {
    let started = Instant::now();
    let mut stop_at: Option<Instant> = None;
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => return Err(format!("exited with {status}")),
            Ok(None) => {}
            Err(e) => return Err(format!("cannot wait for it: {e}")),
        }
        let now = Instant::now();
        if stop.wait(Duration::from_millis(50)) && stop_at.is_none() {
            log(&format!(
                "stop requested; waiting up to {} s for the running command",
                STOP_GRACE.as_secs()
            ));
            stop_at = Some(now);
        }
        let over_time = now.duration_since(started) >= timeout;
        let over_grace = stop_at.is_some_and(|t| now.duration_since(t) >= STOP_GRACE);
        if over_time || over_grace {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "killed after {} ms (still running)",
                now.duration_since(started).as_millis()
            ));
        }
    }
}

fn log(line: &str) {
    eprintln!(
        "{} miic-cli watch: {line}",
        chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ")
    );
}

fn utc(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t)
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// The config with `timeout_ms` replaced (inline JSON for miic_open), so one echo has its own
/// timeout whatever the other calls use.
fn with_timeout(config: &str, timeout: Duration) -> Result<String, String> {
    let trimmed = config.trim_start_matches('\u{feff}').trim();
    let (text, toml) = if trimmed.starts_with('{') {
        (trimmed.to_owned(), false)
    } else {
        let text = std::fs::read_to_string(trimmed)
            .map_err(|e| format!("cannot read config file '{trimmed}': {e}"))?;
        let text = text.trim_start_matches('\u{feff}').to_owned();
        let toml =
            !trimmed.to_ascii_lowercase().ends_with(".json") && !text.trim_start().starts_with('{');
        (text, toml)
    };
    let mut value: serde_json::Value = if toml {
        toml::from_str(&text).map_err(|e| format!("config '{trimmed}': {e}"))?
    } else {
        serde_json::from_str(&text).map_err(|e| format!("config '{trimmed}': {e}"))?
    };
    let object = value
        .as_object_mut()
        .ok_or_else(|| format!("config '{trimmed}' is not a table"))?;
    let ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
    object.insert("timeout_ms".into(), json!(ms));
    Ok(value.to_string())
}

/// The status file: what monitoring tools read (documented in the README).
fn status_json(m: &mut Machine, state: &str, last_change: SystemTime) -> serde_json::Value {
    json!({
        "state": state,
        "last_rtt_ms": m.last_rtt.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        "consecutive_failures": m.consecutive_failures,
        "restarts_in_window": m.restarts_in_window(Instant::now()),
        "last_change": utc(last_change),
        "last_error": m.last_error,
        "checked_at": utc(SystemTime::now()),
        "pid": std::process::id(),
    })
}

/// MIIC_E_ARGUMENT, MIIC_E_ENCODING, MIIC_E_CONFIG: faults of this side that no restart of the
/// PACS can cure (e.g. no `dicom.port`); everything else (refused, timeout, rejected) is the PACS.
fn is_local_fault(f: &Failure) -> bool {
    matches!(f.status, MIIC_E_CONFIG..=MIIC_E_ARGUMENT)
}

fn describe(f: &Failure) -> String {
    format!("{}: {}", f.name, f.message)
}

pub fn run(args: &WatchArgs) -> Result<(), String> {
    let config = match args.echo_timeout {
        Some(t) => with_timeout(&args.config, t)?,
        None => args.config.clone(),
    };
    let client = Client::open(&config).map_err(|f| describe(&f))?;
    let mut stop = Stop::on_termination()?;
    let settle = args.settle.unwrap_or(args.every);
    let started = Instant::now();
    let mut machine = Machine::new(
        Policy {
            fail_after: args.fail_after,
            max_restarts: args.max_restarts,
            cooldown: args.cooldown,
            backoff: args.every,
        },
        started,
    );
    let mut last_change = SystemTime::now();
    log(&format!(
        "watching every {}, restart after {} failure(s), at most {} restart(s) per {}",
        humantime::format_duration(args.every),
        args.fail_after,
        args.max_restarts,
        humantime::format_duration(args.cooldown)
    ));
    loop {
        let checked = Instant::now();
        let result = match client.dicom_echo() {
            Ok(_) => Ok(checked.elapsed()),
            // Our own config is wrong, not the PACS: restarting it would only hurt.
            Err(f) if is_local_fault(&f) => {
                write_status(args, &mut machine, "stopped", SystemTime::now());
                return Err(format!("cannot check the PACS: {}", describe(&f)));
            }
            Err(f) => Err(describe(&f)),
        };
        let action = machine.echo(Instant::now(), result);
        if log_changes(&mut machine) {
            last_change = SystemTime::now();
        }
        let state = machine.state.name();
        write_status(args, &mut machine, state, last_change);
        let mut next = checked + args.every;
        match action {
            Some(Action::Restart) => {
                let result = run_restart(args, &mut stop);
                machine.restart_finished(result);
                let state = machine.state.name();
                write_status(args, &mut machine, state, last_change);
                next = Instant::now() + settle;
            }
            Some(Action::Alert(message)) => run_alert(args, &message, &mut stop),
            None => {}
        }
        if stop.wait(next.saturating_duration_since(Instant::now())) {
            break;
        }
    }
    // Monitoring tools see that the watchdog itself stopped, not a stale "up".
    write_status(args, &mut machine, "stopped", SystemTime::now());
    log(&format!(
        "stopped after {} s",
        started.elapsed().as_secs_f32().round()
    ));
    Ok(())
}

/// Log the machine's state changes since the last call; whether there were any.
fn log_changes(machine: &mut Machine) -> bool {
    let changes = machine.take_changes();
    for c in &changes {
        log(&format!(
            "{} → {} after {} ms: {}",
            c.from.name(),
            c.to.name(),
            c.lasted.as_millis(),
            c.why
        ));
    }
    !changes.is_empty()
}

/// `--status-file`, when given, rewritten whole.
fn write_status(args: &WatchArgs, m: &mut Machine, state: &str, last_change: SystemTime) {
    if let Some(path) = &args.status_file {
        let status = status_json(m, state, last_change);
        // Monitoring is often pointed at a folder nobody made yet (C:\ProgramData\miic\...).
        let folder = path.parent().filter(|p| !p.as_os_str().is_empty());
        let written = folder
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| miic::write_atomically(path, format!("{status:#}\n").as_bytes()));
        if let Err(e) = written {
            log(&format!("cannot write {}: {e}", path.display()));
        }
    }
}

/// Run `--restart` and wait for it (at most `--command-timeout`).
fn run_restart(args: &WatchArgs, stop: &mut Stop) -> Result<(), String> {
    log(&format!("running restart command: {}", args.restart));
    let t = Instant::now();
    let result = shell(&args.restart, &[], None)
        .map_err(|e| format!("cannot start it: {e}"))
        .and_then(|child| wait_command(child, args.command_timeout, stop));
    match &result {
        Ok(()) => log(&format!(
            "restart command done in {} ms",
            t.elapsed().as_millis()
        )),
        Err(e) => log(&format!(
            "restart command failed after {} ms: {e}",
            t.elapsed().as_millis()
        )),
    }
    result
}

/// The watchdog gave up: log it and run `--alert`, if given, with the message.
fn run_alert(args: &WatchArgs, message: &str, stop: &mut Stop) {
    log(&format!("gave up: {message}"));
    let Some(alert) = &args.alert else {
        return;
    };
    let t = Instant::now();
    let result = shell(
        alert,
        &[
            ("MIIC_WATCH_MESSAGE", message),
            ("MIIC_WATCH_STATE", State::GaveUp.name()),
        ],
        Some(message),
    )
    .map_err(|e| format!("cannot start it: {e}"))
    .and_then(|child| wait_command(child, args.command_timeout, stop));
    match result {
        Ok(()) => log(&format!(
            "alert command done in {} ms",
            t.elapsed().as_millis()
        )),
        Err(e) => log(&format!("alert command failed: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn machine(t0: Instant) -> Machine {
        Machine::new(
            Policy {
                fail_after: 3,
                max_restarts: 2,
                cooldown: Duration::from_secs(60),
                backoff: Duration::from_secs(1),
            },
            t0,
        )
    }

    fn fail(m: &mut Machine, t: Instant) -> Option<Action> {
        m.echo(t, Err("refused".into()))
    }

    #[test]
    fn restart_only_after_fail_after_consecutive_failures() {
        let t0 = Instant::now();
        let mut m = machine(t0);
        assert_eq!(m.echo(t0, Ok(5 * MS)), None);
        assert_eq!(m.state, State::Up);
        assert_eq!(fail(&mut m, t0 + 1000 * MS), None);
        assert_eq!(m.state, State::Failing);
        // One success in between resets the streak.
        assert_eq!(m.echo(t0 + 2000 * MS, Ok(5 * MS)), None);
        assert_eq!(fail(&mut m, t0 + 3000 * MS), None);
        assert_eq!(fail(&mut m, t0 + 4000 * MS), None);
        assert_eq!(fail(&mut m, t0 + 5000 * MS), Some(Action::Restart));
        assert_eq!(m.state, State::Restarting);
        assert_eq!(m.echo(t0 + 6000 * MS, Ok(7 * MS)), None);
        assert_eq!(m.state, State::Up);
        let states: Vec<_> = m.take_changes().iter().map(|c| c.to).collect();
        use State::*;
        assert_eq!(states, [Up, Failing, Up, Failing, Restarting, Up]);
    }

    #[test]
    fn unhelpful_restarts_back_off_then_give_up_with_one_alert() {
        let t0 = Instant::now();
        let mut m = machine(t0);
        let s = |n: u64| t0 + Duration::from_millis(n * 100);
        assert_eq!(fail(&mut m, s(0)), None);
        assert_eq!(fail(&mut m, s(1)), None);
        assert_eq!(fail(&mut m, s(2)), Some(Action::Restart));
        // The confirming echo fails, but the second restart waits the 1 s backoff.
        assert_eq!(fail(&mut m, s(3)), None);
        assert_eq!(m.state, State::Failing);
        assert_eq!(fail(&mut m, s(4)), None);
        assert_eq!(fail(&mut m, s(11)), None, "the 1 s backoff is not over");
        assert_eq!(fail(&mut m, s(12)), Some(Action::Restart));
        assert_eq!(m.restarts_in_window(s(12)), 2);
        match fail(&mut m, s(13)) {
            Some(Action::Alert(msg)) => assert!(msg.contains("2 restart(s)"), "{msg}"),
            other => panic!("expected an alert, got {other:?}"),
        }
        assert_eq!(m.state, State::GaveUp);
        for k in 14..100 {
            assert_eq!(
                fail(&mut m, s(k)),
                None,
                "no restart storm, no second alert"
            );
        }
        // The window (60 s after the first restart) has room again: restarts resume.
        assert_eq!(fail(&mut m, s(602)), Some(Action::Restart));
        // Recovering on its own while given up returns to up.
        let mut m = machine(t0);
        for k in 0..3 {
            fail(&mut m, s(k));
        }
        fail(&mut m, s(3));
        for k in 4..=12 {
            fail(&mut m, s(k));
        }
        fail(&mut m, s(13));
        assert_eq!(m.state, State::GaveUp);
        assert_eq!(m.echo(s(20), Ok(3 * MS)), None);
        assert_eq!(m.state, State::Up);
        assert_eq!(m.consecutive_failures, 0);
    }

    #[test]
    fn failed_restart_command_is_the_last_error() {
        let t0 = Instant::now();
        let mut m = machine(t0);
        for k in 0..3 {
            fail(&mut m, t0 + k * MS);
        }
        m.restart_finished(Err("exited with exit status: 3".into()));
        assert!(m.last_error.as_deref().unwrap().contains("restart command"));
    }

    #[test]
    fn echo_timeout_rewrites_timeout_ms_of_toml_and_json_configs() {
        let dir = std::env::temp_dir().join(format!("miic-watch-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let toml_path = dir.join("miic.toml");
        std::fs::write(
            &toml_path,
            "base_url = \"http://127.0.0.1:9\"\nhospital_id = \"H1\"\ntimeout_ms = 9000\n\
             [dicom]\npeer_ae = \"PACS\"\nport = 104\n",
        )
        .unwrap();
        let out = with_timeout(toml_path.to_str().unwrap(), Duration::from_millis(750)).unwrap();
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["timeout_ms"], 750);
        assert_eq!(v["dicom"]["port"], 104);
        let inline = with_timeout(r#"{"hospital_id":"H1","timeout_ms":1}"#, 2 * MS).unwrap();
        assert!(inline.contains(r#""timeout_ms":2"#), "{inline}");
        let missing = with_timeout(dir.join("nope.toml").to_str().unwrap(), MS).unwrap_err();
        assert!(missing.contains("nope.toml"), "{missing}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn durations_parse_as_written_and_reject_nonsense() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert!(parse_duration("0s").unwrap_err().contains("more than zero"));
        assert!(parse_duration("2000years").unwrap_err().contains("at most"));
        assert!(parse_duration("soon").unwrap_err().contains("'soon'"));
    }
}
