//! The local-file checks: the outbox (path, writable, free disk space, pending and rejected
//! counts, age of the oldest pending notification) and the log folder (writable, today's size).
//! A folder that does not exist yet is judged where miic would create it: its nearest existing
//! parent must be a writable folder. The probe file written there is removed at once.
//!
//! Uses: config, outbox::store, diagnose::report.

use super::report::{text, Check, Outcome, Text};
use crate::config::Config;
use crate::outbox::store::{default_path, now_ms, Store};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

const MIB: u64 = 1 << 20;
/// Less free space than this fails: SQLite and the logs need room to write at all.
const FREE_FAILED: u64 = 50 * MIB;
const FREE_WARNING: u64 = 500 * MIB;
/// A notification pending this long has met many retries (backoff is capped at 5 minutes).
const PENDING_WARNING: Duration = Duration::from_secs(10 * 60);
const PENDING_FAILED: Duration = Duration::from_secs(60 * 60);
/// Log files together beyond this: old ones are worth deleting.
const LOGS_WARNING: u64 = 1024 * MIB;

/// One finding of a check with several parts; the check reports the worst.
struct Finding {
    outcome: Outcome,
    summary: Text,
    fix: Option<Text>,
}

fn finish(mut check: Check, findings: Vec<Finding>) -> Check {
    let worst = findings
        .iter()
        .map(|f| f.outcome)
        .max()
        .unwrap_or(Outcome::Ok);
    let summary = text(
        findings
            .iter()
            .map(|f| f.summary.zh.as_str())
            .collect::<Vec<_>>()
            .join("；"),
        findings
            .iter()
            .map(|f| f.summary.en.as_str())
            .collect::<Vec<_>>()
            .join("; "),
    );
    let fix = findings
        .into_iter()
        .find(|f| f.outcome == worst)
        .and_then(|f| f.fix);
    check.outcome = worst;
    check.summary = summary;
    check.fix = fix;
    check
}

fn ok(zh: String, en: String) -> Finding {
    Finding {
        outcome: Outcome::Ok,
        summary: text(zh, en),
        fix: None,
    }
}

fn bad(outcome: Outcome, summary: Text, fix: Text) -> Finding {
    Finding {
        outcome,
        summary,
        fix: Some(fix),
    }
}

/// The folder itself if it exists, else its nearest existing parent; `Err` names a parent
/// that is a file (so the folder can never be made).
fn existing_folder(dir: &Path) -> Result<PathBuf, PathBuf> {
    let mut at = if dir.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        dir.to_path_buf()
    };
    loop {
        match std::fs::metadata(&at) {
            Ok(m) if m.is_dir() => return Ok(at),
            Ok(_) => return Err(at),
            Err(_) => match at.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => at = parent.to_path_buf(),
                _ => return Ok(PathBuf::from(".")),
            },
        }
    }
}

/// Create, write and remove a probe file in `dir`.
fn can_write(dir: &Path) -> std::io::Result<()> {
    use std::io::Write as _;
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let probe = dir.join(format!(
        ".miic-diagnose-{}-{}.tmp",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let result = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .and_then(|mut f| f.write_all(b"miic").and_then(|()| f.sync_all()));
    let _ = std::fs::remove_file(&probe);
    result
}

/// Writable folder and free space of `folder` (which may not exist yet); `None` when it can
/// hold no file at all (then the finding says why).
fn folder_findings(
    check: &mut Check,
    folder: &Path,
    what: &Text,
    unwritable_fix: &Text,
    findings: &mut Vec<Finding>,
) -> bool {
    let shown = folder.display().to_string();
    let existing = match existing_folder(folder) {
        Ok(existing) => existing,
        Err(file) => {
            let file = file.display().to_string();
            findings.push(bad(
                Outcome::Failed,
                text(
                    format!("{}无法创建：{file} 是文件，不是文件夹", what.zh),
                    format!(
                        "the {} cannot be created: {file} is a file, not a folder",
                        what.en
                    ),
                ),
                unwritable_fix.clone(),
            ));
            return false;
        }
    };
    check.measure("folder_exists", existing.as_path() == folder);
    if let Err(e) = can_write(&existing) {
        let at = existing.display().to_string();
        check.measure("write_error", e.to_string());
        findings.push(bad(
            Outcome::Failed,
            text(
                format!("无法在 {at} 中写文件：{e}"),
                format!("cannot write a file in {at}: {e}"),
            ),
            unwritable_fix.clone(),
        ));
        return false;
    }
    if existing.as_path() == folder {
        findings.push(ok(format!("{shown} 可写"), format!("{shown} is writable")));
    } else {
        let at = existing.display().to_string();
        findings.push(ok(
            format!("{shown} 尚不存在（miic 会创建），{at} 可写"),
            format!("{shown} does not exist yet (miic creates it); {at} is writable"),
        ));
    }
    match fs4::available_space(&existing) {
        Ok(free) => {
            check.measure("free_mib", free / MIB);
            let (zh, en) = (
                format!("磁盘剩余 {} MiB", free / MIB),
                format!("{} MiB free on its disk", free / MIB),
            );
            if free < FREE_WARNING {
                let fix = text(
                    format!(
                        "清理 {shown} 所在磁盘，至少留出 {} MiB。",
                        FREE_WARNING / MIB
                    ),
                    format!(
                        "Free space on the disk of {shown}: leave at least {} MiB.",
                        FREE_WARNING / MIB
                    ),
                );
                let outcome = if free < FREE_FAILED {
                    Outcome::Failed
                } else {
                    Outcome::Warning
                };
                findings.push(bad(outcome, text(zh, en), fix));
            } else {
                findings.push(ok(zh, en));
            }
        }
        Err(e) => {
            check.measure("free_error", e.to_string());
        }
    }
    true
}

/// The `outbox` check.
pub fn outbox(config: &Config) -> Check {
    let mut check = Check::new("outbox");
    check.measure("configured", config.outbox_path.is_some());
    let path = match config.outbox_path.clone().map_or_else(default_path, Ok) {
        Ok(path) => path,
        Err(e) => {
            return check.failed(
                text(format!("找不到默认位置：{}", e.message), e.message.clone()),
                text(
                    "在配置中设置 [outbox] path，指向本用户可写的本地文件夹中的文件。",
                    "Set [outbox] path to a file in a local folder this user can write.",
                ),
            )
        }
    };
    let shown = path.display().to_string();
    check.measure("path", shown.clone());
    let unwritable = text(
        format!("把 [outbox] path 设为本 Windows 用户可写的本地文件夹中的文件（默认的 %LOCALAPPDATA%\\miic\\outbox.sqlite 即可），或给该用户 {shown} 所在文件夹的写权限；只读共享或文件下面的路径放不了队列。"),
        format!("Set [outbox] path to a file in a local folder this Windows user can write (the default %LOCALAPPDATA%\\miic\\outbox.sqlite is), or let the user write the folder of {shown}; a read-only share or a path under a file cannot hold the outbox."),
    );
    let mut findings = Vec::new();
    let folder = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let what = text("队列文件夹", "outbox folder");
    if !folder_findings(&mut check, &folder, &what, &unwritable, &mut findings) {
        return finish(check, findings);
    }
    if path.is_dir() {
        findings.push(bad(
            Outcome::Failed,
            text(format!("{shown} 是文件夹"), format!("{shown} is a folder")),
            unwritable,
        ));
        return finish(check, findings);
    }
    if !path.exists() {
        check.measure("file_exists", false).measure("pending", 0);
        findings.push(ok(
            "队列文件尚不存在，首次 miic_open 时创建".into(),
            "the file does not exist yet; the first miic_open creates it".into(),
        ));
        return finish(check, findings);
    }
    check.measure("file_exists", true);
    let store = match Store::open(&path) {
        Ok(store) => store,
        Err(e) => {
            let fix = if e.message.contains("damaged") {
                text(
                    format!("{shown} 已损坏：把它移到别处保存（交给支持，其中有待发的通知），miic 会新建队列。"),
                    format!("{shown} is damaged: move it aside and keep it for support (its pending notifications are in it); miic starts a new one."),
                )
            } else if e.message.contains("newer miic") {
                text(
                    "该队列由更新版本的 miic 写入：请使用该版本的 miic.dll。",
                    "The outbox was written by a newer miic: use that version of miic.dll.",
                )
            } else {
                unwritable
            };
            findings.push(bad(
                Outcome::Failed,
                text(format!("无法打开队列：{}", e.message), e.message.clone()),
                fix,
            ));
            return finish(check, findings);
        }
    };
    let counts = store
        .pending()
        .and_then(|pending| Ok((pending, store.dead_count()?, store.oldest_pending()?)));
    let (pending, dead, oldest) = match counts {
        Ok(counts) => counts,
        Err(e) => {
            findings.push(bad(
                Outcome::Failed,
                text(format!("无法读取队列：{}", e.message), e.message.clone()),
                unwritable,
            ));
            return finish(check, findings);
        }
    };
    check.measure("pending", pending).measure("dead", dead);
    let age =
        oldest.map(|created| Duration::from_millis(u64::try_from(now_ms() - created).unwrap_or(0)));
    check.measure("oldest_pending_age_s", age.map(|a| a.as_secs()));
    match age {
        Some(age) if age > PENDING_WARNING => {
            let (h, m) = (age.as_secs() / 3600, age.as_secs() / 60 % 60);
            let outcome = if age > PENDING_FAILED {
                Outcome::Failed
            } else {
                Outcome::Warning
            };
            findings.push(bad(
                outcome,
                text(
                    format!("{pending} 条删除通知待发，最早一条已等待 {h} 小时 {m} 分"),
                    format!("{pending} delete notification(s) pending, the oldest for {h} h {m} min"),
                ),
                text(
                    format!("删除通知已等待 {h} 小时 {m} 分仍未被前置机接收：先解决 front_end 检查的问题；miic-cli outbox list 显示每条的最后错误，miic-cli outbox retry 立即重发。"),
                    format!("Delete notifications have waited {h} h {m} min without the front-end machine taking them: fix what the front_end check reports first; `miic-cli outbox list` shows each one's last error and `miic-cli outbox retry` sends them now."),
                ),
            ));
        }
        Some(age) => findings.push(ok(
            format!("{pending} 条待发，最早 {} 秒前", age.as_secs()),
            format!("{pending} pending, the oldest {} s old", age.as_secs()),
        )),
        None => findings.push(ok("无待发通知".into(), "nothing pending".into())),
    }
    if dead > 0 {
        findings.push(bad(
            Outcome::Warning,
            text(
                format!("{dead} 条被云平台拒收（code 400）"),
                format!("{dead} rejected by the cloud (code 400)"),
            ),
            text(
                "miic-cli outbox dead 显示拒收原因：改正数据后 miic-cli outbox retry --dead 重发，或 miic-cli outbox purge-dead 清除。",
                "`miic-cli outbox dead` shows why they were rejected: correct the data and `miic-cli outbox retry --dead`, or clear them with `miic-cli outbox purge-dead`.",
            ),
        ));
    }
    finish(check, findings)
}

/// The `log` check.
pub fn log(config: &Config) -> Check {
    let mut check = Check::new("log");
    let Some(dir) = &config.log.dir else {
        return check.skipped(text(
            "未配置 [log] dir：miic 不写日志文件（只交给宿主的日志回调，如有）",
            "no [log] dir: miic writes no log files (only to the host's log callback, if any)",
        ));
    };
    let shown = dir.display().to_string();
    check.measure("dir", shown.clone()).measure(
        "level",
        config
            .log
            .level
            .unwrap_or(::log::LevelFilter::Info)
            .as_str()
            .to_lowercase(),
    );
    let unwritable = text(
        format!("把 [log] dir 设为本用户可写的本地文件夹，或给该用户 {shown} 的写权限。"),
        format!(
            "Set [log] dir to a local folder this user can write, or let the user write {shown}."
        ),
    );
    let mut findings = Vec::new();
    let what = text("日志文件夹", "log folder");
    if !folder_findings(&mut check, dir, &what, &unwritable, &mut findings) {
        return finish(check, findings);
    }
    let today = format!("miic-{}.log", chrono::Local::now().format("%Y-%m-%d"));
    let today_bytes = std::fs::metadata(dir.join(&today)).map_or(0, |m| m.len());
    let (mut files, mut total) = (0u64, 0u64);
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("miic-") && name.ends_with(".log") {
                files += 1;
                total += entry.metadata().map_or(0, |m| m.len());
            }
        }
    }
    check
        .measure("today_file", today.clone())
        .measure("today_bytes", today_bytes)
        .measure("log_files", files)
        .measure("log_files_mib", total / MIB);
    let summary = text(
        format!(
            "今天的 {today} {today_bytes} 字节；共 {files} 个日志文件 {} MiB",
            total / MIB
        ),
        format!(
            "today's {today} is {today_bytes} bytes; {files} log files, {} MiB in all",
            total / MIB
        ),
    );
    if total > LOGS_WARNING {
        findings.push(bad(
            Outcome::Warning,
            summary,
            text(
                format!("删除 {shown} 中较早的 miic-*.log 文件（miic 每天一个文件，不自动删除）。"),
                format!("Delete old miic-*.log files in {shown} (miic writes one a day and never deletes them)."),
            ),
        ));
    } else {
        findings.push(Finding {
            outcome: Outcome::Ok,
            summary,
            fix: None,
        });
    }
    finish(check, findings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("miic-diag-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn config(extra: &str) -> Config {
        Config::from_json(&format!(
            r#"{{"base_url":"http://a","hospital_id":"H"{extra}}}"#
        ))
        .unwrap()
    }

    #[test]
    fn folders_are_judged_where_they_would_be_created() {
        let dir = scratch("folders");
        assert_eq!(existing_folder(&dir.join("a/b")).unwrap(), dir);
        let file = dir.join("plain");
        std::fs::write(&file, "x").unwrap();
        assert_eq!(existing_folder(&file.join("sub")).unwrap_err(), file);
        assert!(can_write(&dir).is_ok());
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            1,
            "probe file left behind"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_outbox_under_a_file_fails_and_a_new_one_is_ok() {
        let dir = scratch("outbox");
        std::fs::write(dir.join("plain"), "x").unwrap();
        let under_file = dir.join("plain/outbox.sqlite");
        let c = outbox(&config(&format!(
            r#","outbox":{{"path":{}}}"#,
            serde_json::Value::from(under_file.to_string_lossy())
        )));
        assert_eq!(c.outcome, Outcome::Failed, "{:?}", c.summary);
        assert!(c.fix.unwrap().en.contains("[outbox] path"));
        let fresh = dir.join("new/outbox.sqlite");
        let c = outbox(&config(&format!(
            r#","outbox":{{"path":{}}}"#,
            serde_json::Value::from(fresh.to_string_lossy())
        )));
        assert_eq!(c.outcome, Outcome::Ok, "{:?}", c.summary);
        assert!(!fresh.exists(), "the diagnosis must not create the outbox");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_log_folder_reports_todays_size() {
        let dir = scratch("log");
        let today = format!("miic-{}.log", chrono::Local::now().format("%Y-%m-%d"));
        std::fs::write(dir.join(&today), "0123456789").unwrap();
        let c = log(&config(&format!(
            r#","log":{{"dir":{}}}"#,
            serde_json::Value::from(dir.to_string_lossy())
        )));
        assert_eq!(c.outcome, Outcome::Ok, "{:?}", c.summary);
        assert_eq!(c.measured["today_bytes"], 10);
        assert_eq!(log(&config("")).outcome, Outcome::Skipped);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
