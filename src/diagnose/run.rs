//! Runs the whole diagnosis: the config read past its problems, then every other check on the
//! usable part of it. The three network checks (front-end, PACS, image server) run side by side
//! on threads of this call, all joined before it returns, so the whole run takes about one
//! `timeout_ms` plus the local checks, whatever is down.
//!
//! Uses: config, http, error, text, diagnose::{report, setup, network, sm2_check, files,
//! dicom_check}.

use super::report::{text, Check, Report, CHECKS};
use super::{dicom_check, files, network, setup, sm2_check};
use crate::config::{Config, DEFAULT_TIMEOUT_MS};
use crate::error::Error;
use crate::http::Http;
use crate::text::TextEncoding;
use std::time::{Duration, Instant};

/// Diagnose the set-up `source` describes (a config as `miic_open` takes it; `Err` when the
/// host's text could not even be decoded). `abi_version` is the C ABI's, reported as such.
pub fn diagnose(source: Result<&str, Error>, abi_version: u32) -> Report {
    let started = Instant::now();
    let started_at = chrono::Local::now()
        .format("%Y-%m-%d %H:%M:%S%:z")
        .to_string();
    let config_started = Instant::now();
    let (mut config_check, setup) = setup::check(source);
    config_check.elapsed = config_started.elapsed();
    let mut checks = vec![library(abi_version, setup.config.as_ref()), config_check];
    match &setup.config {
        None => {
            for (id, _, _) in CHECKS.iter().skip(2) {
                checks.push(Check::new(id).skipped(text(
                    "配置无法读取（见 config 检查），未检查",
                    "not checked: the config cannot be read (see the config check)",
                )));
            }
        }
        Some(config) => checks.extend(with_config(config, &setup)),
    }
    let report = Report {
        config: setup.label.clone(),
        timeout: setup
            .config
            .as_ref()
            .map_or(Duration::from_millis(u64::from(DEFAULT_TIMEOUT_MS)), |c| {
                c.timeout
            }),
        started_at,
        elapsed: started.elapsed(),
        checks,
    };
    let failed: Vec<&str> = report
        .checks
        .iter()
        .filter(|c| c.outcome == super::report::Outcome::Failed)
        .map(|c| c.id)
        .collect();
    log::info!(
        "diagnosis of {}: {} in {} ms{}",
        report.config,
        report.outcome().name(),
        report.elapsed.as_millis(),
        if failed.is_empty() {
            String::new()
        } else {
            format!(" (failed: {})", failed.join(", "))
        }
    );
    report
}

fn with_config(config: &Config, setup: &setup::Setup) -> Vec<Check> {
    let base_url_usable = !setup.unusable.contains(&"base_url");
    // One agent and one resolver for both HTTP probes, closed before the report is returned.
    let http = Http::new(config.timeout);
    let http = &http;
    let (front_end, echo, image_server) = std::thread::scope(|scope| {
        let front_end = spawn(scope, "miic-diag-front", move || {
            base_url_usable.then(|| {
                let started = Instant::now();
                let (mut check, probe) = network::front_end(config, http);
                check.elapsed = started.elapsed();
                (check, probe)
            })
        });
        let echo = spawn(scope, "miic-diag-dicom", move || {
            timed(|| dicom_check::echo_check(config))
        });
        let image_server = spawn(scope, "miic-diag-http", move || {
            timed(|| network::dicom_http(config, http))
        });
        (front_end.join(), echo.join(), image_server.join())
    });
    http.shutdown();
    http.join();
    let (front_end, probe) = match front_end {
        Ok(Some((check, probe))) => (check, Some(probe)),
        Ok(None) => (
            Check::new("front_end").skipped(text(
                "base_url 不可用（见 config 检查），未探测",
                "not probed: base_url is not usable (see the config check)",
            )),
            None,
        ),
        Err(e) => (internal("front_end", &e), None),
    };
    let clock = timed(|| network::clock(probe.as_ref()));
    vec![
        front_end,
        clock,
        timed(|| sm2_check::check(config, &setup.public_key)),
        timed(|| files::outbox(config)),
        timed(|| files::log(config)),
        echo.unwrap_or_else(|e| internal("dicom_echo", &e)),
        timed(|| dicom_check::move_port_check(config)),
        image_server.unwrap_or_else(|e| internal("dicom_http", &e)),
    ]
}

/// Run `f` on a thread of `scope`, or here when no thread can be had.
fn spawn<'scope, T: Send + 'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    name: &str,
    f: impl FnOnce() -> T + Send + 'scope,
) -> Joined<'scope, T> {
    let f = std::sync::Mutex::new(Some(f));
    let f = std::sync::Arc::new(f);
    let on_thread = std::sync::Arc::clone(&f);
    match std::thread::Builder::new()
        .name(name.into())
        .spawn_scoped(scope, move || {
            let f = on_thread.lock().ok().and_then(|mut f| f.take());
            f.map(|f| f())
        }) {
        Ok(handle) => Joined::Thread(handle),
        Err(_) => {
            let f = f.lock().ok().and_then(|mut f| f.take());
            Joined::Here(f.map(|f| f()))
        }
    }
}

enum Joined<'scope, T> {
    Thread(std::thread::ScopedJoinHandle<'scope, Option<T>>),
    Here(Option<T>),
}

impl<T> Joined<'_, T> {
    fn join(self) -> Result<T, String> {
        let value = match self {
            Joined::Thread(handle) => handle.join().map_err(|panic| {
                panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown".into())
            })?,
            Joined::Here(value) => value,
        };
        value.ok_or_else(|| "the check did not run".into())
    }
}

fn internal(id: &'static str, why: &str) -> Check {
    Check::new(id).failed(
        text(
            format!("检查本身出错：{why}"),
            format!("the check itself failed: {why}"),
        ),
        text(
            "这是 miic 的缺陷：请把此报告交给 miic 支持。",
            "This is a bug in miic: send this report to miic's support.",
        ),
    )
}

fn timed(f: impl FnOnce() -> Check) -> Check {
    let started = Instant::now();
    let mut check = f();
    check.elapsed = started.elapsed();
    check
}

/// The `library` check: what was loaded, as support asks for it first.
fn library(abi_version: u32, config: Option<&Config>) -> Check {
    let version = env!("CARGO_PKG_VERSION");
    let bits = usize::BITS;
    let (os, arch) = (std::env::consts::OS, std::env::consts::ARCH);
    let encoding = match config.map(|c| c.text_encoding) {
        Some(TextEncoding::Gbk) => "gbk",
        _ => "utf-8",
    };
    let mut check = Check::new("library");
    check
        .measure("version", version)
        .measure("abi_version", abi_version)
        .measure("bits", bits)
        .measure("os", os)
        .measure("arch", arch)
        .measure("text_encoding", encoding)
        .measure(
            "build",
            if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            },
        );
    check.elapsed = Duration::ZERO;
    check.ok(text(
        format!(
            "miic {version}，ABI {abi_version}，{bits} 位，{os} {arch}，宿主文本编码 {encoding}"
        ),
        format!("miic {version}, ABI {abi_version}, {bits}-bit, {os} {arch}, host text {encoding}"),
    ))
}
