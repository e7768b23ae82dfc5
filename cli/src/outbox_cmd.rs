//! `miic-cli outbox`: the delete notifications' outbox for hospital IT — what waits, what the
//! cloud rejected, retry now, forget rejected ones. Patient names are masked in every table.

use chrono::TimeZone as _;
use miic::outbox::{self, default_path, Store};
use miic::Config;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct OutboxArgs {
    /// miic config (.toml / .json file, or inline JSON): gives the outbox path, and the cloud
    /// for `retry`.
    #[arg(long, global = true)]
    pub config: Option<String>,
    /// The outbox file (default: `[outbox] path` of --config, else the per-user default).
    #[arg(long, global = true)]
    pub path: Option<PathBuf>,
    #[command(subcommand)]
    pub command: OutboxCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum OutboxCommand {
    /// Pending notifications: accession, patient (masked), attempts, last error, next try.
    List,
    /// Notifications the cloud rejected (code 400), with its reason; never retried by miic.
    Dead,
    /// Make every pending notification due now (a running PACS sends them within seconds);
    /// with --config, also send them from here and wait at most --timeout-ms.
    Retry {
        /// Also put rejected notifications back in the queue: all, or the ids given.
        #[arg(long, num_args = 0..)]
        dead: Option<Vec<i64>>,
        #[arg(long, default_value_t = 10_000)]
        timeout_ms: u32,
    },
    /// Forget rejected notifications: the ids given, or all of them.
    PurgeDead { ids: Vec<i64> },
}

pub fn run(args: &OutboxArgs) -> Result<(), String> {
    let config = args
        .config
        .as_deref()
        .map(Config::load)
        .transpose()
        .map_err(|e| e.to_string())?;
    let path = match args
        .path
        .clone()
        .or_else(|| config.as_ref().and_then(|c| c.outbox_path.clone()))
    {
        Some(p) => p,
        None => default_path().map_err(|e| e.to_string())?,
    };
    if !path.exists() {
        return Err(format!("no outbox at '{}'", path.display()));
    }
    let store = Store::open(&path).map_err(|e| e.to_string())?;
    match &args.command {
        OutboxCommand::List => list(&store, &path)?,
        OutboxCommand::Dead => dead(&store, &path)?,
        OutboxCommand::Retry { dead, timeout_ms } => {
            if let Some(ids) = dead {
                let ids = (!ids.is_empty()).then_some(ids.as_slice());
                let n = store.requeue_dead(ids).map_err(|e| e.to_string())?;
                println!("{n} rejected notification(s) queued again");
            }
            let n = store.retry_now().map_err(|e| e.to_string())?;
            println!("{n} waiting notification(s) due now");
            if let Some(config) = config {
                outbox::flush(
                    &config,
                    &store,
                    Duration::from_millis(u64::from(*timeout_ms)),
                )
                .map_err(|e| e.to_string())?;
                println!("outbox empty: every notification delivered or rejected");
            }
        }
        OutboxCommand::PurgeDead { ids } => {
            let ids = (!ids.is_empty()).then_some(ids.as_slice());
            let n = store.purge_dead(ids).map_err(|e| e.to_string())?;
            println!("{n} rejected notification(s) removed");
        }
    }
    Ok(())
}

/// `outbox list`: what waits, masked.
fn list(store: &Store, path: &Path) -> Result<(), String> {
    let rows = store.list_pending().map_err(|e| e.to_string())?;
    println!("{} pending in {}", rows.len(), path.display());
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.id.to_string(),
                r.accession_no.clone(),
                miic::mask_name(&r.patient_name),
                r.attempts.to_string(),
                if r.in_flight {
                    "sending now".into()
                } else {
                    local_time(r.next_try_at)
                },
                r.last_error.as_deref().map(clean).unwrap_or_default(),
            ]
        })
        .collect();
    print_table(
        &[
            "ID",
            "ACCESSION",
            "PATIENT",
            "ATTEMPTS",
            "NEXT TRY",
            "LAST ERROR",
        ],
        &table,
    );
    Ok(())
}

/// `outbox dead`: what the cloud rejected, with its reason.
fn dead(store: &Store, path: &Path) -> Result<(), String> {
    let rows = store.list_dead().map_err(|e| e.to_string())?;
    println!("{} rejected in {}", rows.len(), path.display());
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.id.to_string(),
                r.accession_no.clone(),
                miic::mask_name(&r.patient_name),
                r.attempts.to_string(),
                local_time(r.failed_at),
                clean(&r.reason),
            ]
        })
        .collect();
    print_table(
        &[
            "ID",
            "ACCESSION",
            "PATIENT",
            "ATTEMPTS",
            "REJECTED AT",
            "REASON",
        ],
        &table,
    );
    Ok(())
}

fn local_time(unix_ms: i64) -> String {
    chrono::Local
        .timestamp_millis_opt(unix_ms)
        .single()
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| unix_ms.to_string())
}

/// One line, at most 80 characters, ID and phone numbers masked.
fn clean(text: &str) -> String {
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(80)
        .collect();
    miic::mask_line(&one_line)
}

/// Left-aligned columns; CJK characters count as two columns, as terminals show them.
fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let width = |s: &str| -> usize {
        s.chars()
            .map(|c| if (c as u32) >= 0x1100 { 2 } else { 1 })
            .sum()
    };
    let mut widths: Vec<usize> = header.iter().map(|h| width(h)).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(width(cell));
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            out.push_str(cell);
            if i + 1 < cells.len() {
                out.push_str(&" ".repeat(w - width(cell) + 2));
            }
        }
        println!("{}", out.trim_end());
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}
