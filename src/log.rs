//! Logging: the `log` facade, routed to daily files under `[log] dir` and to a host callback.
//! Every line passes through [`mask_line`], so an ID-card or phone number never reaches a log.
//!
//! Uses: callback.

use crate::callback::Callback;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Mutex, Once};

/// A host's log sink: `(level 1=error … 5=trace, UTF-8 message)`.
pub type LogSink = Box<SinkFn>;
type SinkFn = dyn Fn(i32, &str) + Send + Sync;

struct Logger {
    sink: Callback<SinkFn>,
    /// Per-client log folders with their level; one process may hold several clients.
    dirs: Mutex<Vec<(u64, PathBuf, log::LevelFilter)>>,
}

static LOGGER: Logger = Logger {
    sink: Callback::new(),
    dirs: Mutex::new(Vec::new()),
};
static INSTALL: Once = Once::new();
const SINK_LEVEL: log::LevelFilter = log::LevelFilter::Info;

fn install() {
    INSTALL.call_once(|| {
        // Another Rust library in the host may own the global logger; then ours stays silent.
        let _ = log::set_logger(&LOGGER);
    });
    refresh_max_level();
}

fn refresh_max_level() {
    let mut level = log::LevelFilter::Off;
    if LOGGER.sink.is_set() {
        level = level.max(SINK_LEVEL);
    }
    if let Ok(dirs) = LOGGER.dirs.lock() {
        for (_, _, l) in dirs.iter() {
            level = level.max(*l);
        }
    }
    log::set_max_level(level);
}

/// Route log lines to the host (replacing any earlier sink); `None` removes it. Returns once
/// no call of the old sink is running; `false` (nothing changed) when called from inside a
/// miic callback, which would wait for itself.
pub fn set_sink(sink: Option<LogSink>) -> bool {
    if !LOGGER.sink.set(sink) {
        return false;
    }
    install();
    true
}

/// Write this client's lines to `dir/miic-YYYY-MM-DD.log` from now until [`remove_dir`].
pub fn add_dir(client_id: u64, dir: PathBuf, level: log::LevelFilter) {
    if let Ok(mut dirs) = LOGGER.dirs.lock() {
        dirs.push((client_id, dir, level));
    }
    install();
}

pub fn remove_dir(client_id: u64) {
    if let Ok(mut dirs) = LOGGER.dirs.lock() {
        dirs.retain(|(id, _, _)| *id != client_id);
    }
    refresh_max_level();
}

fn level_number(level: log::Level) -> i32 {
    match level {
        log::Level::Error => 1,
        log::Level::Warn => 2,
        log::Level::Info => 3,
        log::Level::Debug => 4,
        log::Level::Trace => 5,
    }
}

impl log::Log for Logger {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        // Only our own lines: a dependency's debug output is not the host's business.
        metadata.target().starts_with("miic")
    }

    fn log(&self, record: &log::Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let line = mask_line(&record.args().to_string());
        if record.level() <= SINK_LEVEL {
            self.sink
                .call(|sink| sink(level_number(record.level()), &line));
        }
        let dirs: Vec<PathBuf> = match self.dirs.lock() {
            Ok(dirs) => dirs
                .iter()
                .filter(|(_, _, l)| record.level() <= *l)
                .map(|(_, d, _)| d.clone())
                .collect(),
            Err(_) => return,
        };
        if dirs.is_empty() {
            return;
        }
        let now = chrono::Local::now();
        let text = format!(
            "{} {:5} [{:?}] {}\n",
            now.format("%Y-%m-%d %H:%M:%S%.3f"),
            record.level(),
            std::thread::current().id(),
            line
        );
        let name = format!("miic-{}.log", now.format("%Y-%m-%d"));
        for dir in dirs {
            // A full disk or a missing folder must never fail the doctor's call.
            let _ = std::fs::create_dir_all(&dir);
            if let Ok(mut f) = OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.join(&name))
            {
                let _ = f.write_all(text.as_bytes());
            }
        }
    }

    fn flush(&self) {}
}

/// Mask digit runs shaped like a mobile number (11 digits starting with 1) or an ID-card number
/// (15 digits, 18 digits, or 17 digits and `X`): keep the first 3 and last 2 characters.
/// Other numbers (accession numbers, timings) stay readable for hospital IT.
pub fn mask_line(line: &str) -> String {
    let chars: Vec<char> = line.chars().collect();
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            if i < chars.len() && (chars[i] == 'X' || chars[i] == 'x') && i - start == 17 {
                i += 1;
            }
            let run = &chars[start..i];
            let looks_personal =
                (run.len() == 11 && run[0] == '1') || run.len() == 15 || run.len() == 18;
            if looks_personal {
                out.extend(&run[..3]);
                out.extend(std::iter::repeat_n('*', run.len() - 5));
                out.extend(&run[run.len() - 2..]);
            } else {
                out.extend(run);
            }
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// A person's name as it may appear in logs: first character, the rest starred.
pub fn mask_name(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        None => String::new(),
        Some(first) => {
            let mut out = String::from(first);
            out.extend(chars.map(|_| '*'));
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_and_phone_numbers_are_masked() {
        assert_eq!(
            mask_line("id 11010119900307777X ok"),
            "id 110*************7X ok"
        );
        assert_eq!(mask_line("tel 15395092817"), "tel 153******17");
        assert_eq!(mask_line("acc 202305010001"), "acc 202305010001");
    }

    #[test]
    fn names_keep_only_first_character() {
        assert_eq!(mask_name("张医生"), "张**");
        assert_eq!(mask_name(""), "");
    }
}
