//! HTTP download of the images named in `dcmPath` (spec 4.2): a comma-separated list of
//! Windows-style paths (`\wadocloud\2025\1\1\0A9C2648`) joined to `[dicom_http] base_url`.
//! Bounded parallelism over keep-alive connections; each body must be DICOM Part 10; files land
//! whole (temp file, then rename); files already complete are kept (resume); no path leaves
//! `dest_dir`. Each file is bounded (`dicom_http.max_file_mb`) and the disk keeps
//! `dicom.min_free_mb` free: below it every download stops and the call is `MIIC_E_IO`.
//!
//! Uses: config, http (agent), resolve, dicom::manifest, dicom::progress, dicom::store, error,
//! fs.

use super::manifest::{inspect_part10, FileEntry, Manifest};
use super::progress::Progress;
use super::store::{land, DISK_CHECK_BYTES};
use crate::config::Config;
use crate::error::{connection_status, http_status, Error, Result, Status};
use crate::fs::{DiskReserve, TempFile};
use crate::resolve::Resolver;
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use std::io::{Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Parallel downloads: enough to hide latency on a LAN, few enough not to swamp a PACS web server.
pub const MAX_PARALLEL: usize = 4;

/// Characters escaped in a URL path segment (RFC 3986 pchar, conservatively).
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'/')
    .add(b'\\')
    .add(b'^')
    .add(b'|')
    .add(b'[')
    .add(b']');

/// One `dcmPath` entry: the text as given, and its safe relative path (or why it has none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub raw: String,
    pub segments: std::result::Result<Vec<String>, String>,
}

/// Split `dcmPath` on commas (ASCII or full-width), trim, drop empty items and duplicates.
pub fn parse_dcm_path(list: &str) -> Vec<Entry> {
    let mut entries: Vec<Entry> = Vec::new();
    for raw in list.split([',', '，']) {
        let raw = raw.trim();
        let segments = safe_segments(raw);
        // `\a\b` and `/a/b` are one file: two workers must never write the same temp file.
        let duplicate = entries
            .iter()
            .any(|e| e.raw == raw || (segments.is_ok() && same_file(&e.segments, &segments)));
        if raw.is_empty() || duplicate {
            continue;
        }
        entries.push(Entry {
            raw: raw.to_owned(),
            segments,
        });
    }
    entries
}

/// Whether two entries name the same local file (Windows folders ignore case).
fn same_file(
    a: &std::result::Result<Vec<String>, String>,
    b: &std::result::Result<Vec<String>, String>,
) -> bool {
    match (a, b) {
        (Ok(a), Ok(b)) if cfg!(windows) => {
            a.len() == b.len()
                && a.iter()
                    .zip(b)
                    .all(|(x, y)| x.to_lowercase() == y.to_lowercase())
        }
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// The path's segments, refusing anything that could leave `dest_dir` on Windows or Unix:
/// `..`, `.`, drive letters (`C:`), UNC (`\\server\share`), device names, `:` (alternate
/// streams), and percent-encoded dots. One leading `\` or `/` means "from the server root".
pub fn safe_segments(raw: &str) -> std::result::Result<Vec<String>, String> {
    let normalised = raw.replace('\\', "/");
    if normalised.starts_with("//") {
        return Err("UNC paths (\\\\server\\share) are not allowed".into());
    }
    if normalised.contains(':') {
        return Err("drive letters and ':' are not allowed".into());
    }
    if normalised.chars().any(|c| c.is_control()) {
        return Err("control characters are not allowed".into());
    }
    let body = normalised.strip_prefix('/').unwrap_or(&normalised);
    let mut segments = Vec::new();
    for segment in body.split('/') {
        let decoded = percent_encoding::percent_decode_str(segment).decode_utf8_lossy();
        if segment.is_empty() {
            return Err("empty path segment".into());
        }
        if matches!(decoded.as_ref(), "." | "..") || decoded.contains(['/', '\\']) {
            return Err("'.' and '..' segments are not allowed".into());
        }
        if segment.contains(['<', '>', '"', '|', '?', '*']) || segment.ends_with([' ', '.']) {
            return Err(format!("segment '{segment}' is not a valid file name"));
        }
        let stem = segment.split('.').next().unwrap_or("").to_ascii_uppercase();
        let reserved = matches!(stem.as_str(), "CON" | "PRN" | "AUX" | "NUL")
            || ((stem.starts_with("COM") || stem.starts_with("LPT"))
                && stem.len() == 4
                && stem.as_bytes()[3].is_ascii_digit());
        if reserved {
            return Err(format!("segment '{segment}' is a Windows device name"));
        }
        segments.push(segment.to_owned());
    }
    Ok(segments)
}

fn join_url(base_url: &str, segments: &[String]) -> String {
    let mut url = base_url.trim_end_matches('/').to_owned();
    for segment in segments {
        url.push('/');
        url.extend(utf8_percent_encode(segment, SEGMENT));
    }
    url
}

/// Download every entry of `dcm_path` under `dest_dir`. Returns the manifest and the outcome.
pub fn fetch(
    config: &Config,
    resolver: &Arc<Resolver>,
    dcm_path: &str,
    dest_dir: &Path,
    progress: &Progress,
) -> Result<(Manifest, Result<Status>)> {
    let base_url = config.dicom_http_base_url.as_deref().ok_or_else(|| {
        Error::config("config key 'dicom_http.base_url' is required for miic_dicom_fetch_http")
    })?;
    let entries = parse_dcm_path(dcm_path);
    if entries.is_empty() {
        return Err(Error::argument("'dcm_path' holds no path"));
    }
    std::fs::create_dir_all(dest_dir).map_err(|e| {
        Error::io(format!(
            "cannot create dest_dir '{}': {e}",
            dest_dir.display()
        ))
    })?;
    let started = Instant::now();
    let agent_config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        // As for the front-end: never a proxy from the environment.
        .proxy(None)
        .user_agent(concat!("miic/", env!("CARGO_PKG_VERSION")))
        .max_idle_connections_per_host(MAX_PARALLEL)
        // The image server's name: the client's lookup (kept per TTL), waited for this long.
        .timeout_resolve(Some(config.timeout))
        .timeout_connect(Some(config.timeout))
        .timeout_recv_response(Some(config.timeout))
        // A hung server surfaces after timeout_ms of silence; a long file may take longer.
        .timeout_per_read(Some(config.timeout))
        .build();
    let agent = crate::http::agent(agent_config, resolver);
    progress.set_total(entries.len() as u32);
    let results: Mutex<Vec<Option<FileOutcome>>> = Mutex::new(vec![None; entries.len()]);
    let next = AtomicUsize::new(0);
    let low_disk: Mutex<Option<Error>> = Mutex::new(None);
    let job = Job {
        agent: &agent,
        base_url,
        dest: dest_dir,
        timeout: config.timeout,
        max_file_bytes: config.dicom_http_max_file_bytes,
        reserve: DiskReserve {
            dir: dest_dir.to_path_buf(),
            keep: config.dicom.min_free_bytes,
        },
        low_disk: &low_disk,
        progress,
    };
    std::thread::scope(|scope| {
        for _ in 0..MAX_PARALLEL.min(entries.len()) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(entry) = entries.get(i) else { break };
                if job.disk_is_low() {
                    break; // the rest stays "not attempted"
                }
                let file = job.one(entry);
                progress.file_done();
                if let Ok(mut r) = results.lock() {
                    r[i] = Some(file);
                }
            });
        }
    });
    let mut manifest = Manifest::new("http", None, dest_dir);
    let (files, failures): (Vec<FileEntry>, Vec<Option<Status>>) = results
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .zip(&entries)
        .map(|(f, e)| {
            f.unwrap_or_else(|| {
                (
                    FileEntry::failed(Some(e.raw.clone()), "not attempted"),
                    None,
                )
            })
        })
        .unzip();
    manifest.files = files;
    manifest.finish(started.elapsed());
    let low_disk = low_disk.into_inner().unwrap_or_else(|p| p.into_inner());
    // Below the disk reserve the call fails as such, whatever landed before.
    let transfer = if let Some(e) = low_disk {
        Err(e)
    } else if manifest.completed + manifest.warning == 0 {
        // Nothing landed and every failure was the connection: report it as such.
        transport_failure(&manifest, &failures)
    } else {
        Ok(())
    };
    if let Err(e) = &transfer {
        manifest.error = Some(e.message.clone());
    }
    let outcome = manifest.outcome(transfer);
    log::info!(
        "HTTP fetch of {} paths: {} completed, {} warning, {} failed in {} ms",
        entries.len(),
        manifest.completed,
        manifest.warning,
        manifest.failed,
        manifest.elapsed_ms
    );
    Ok((manifest, outcome))
}

/// `failures[i]`: the status of file `i`'s failed download, if that is how it failed.
fn transport_failure(manifest: &Manifest, failures: &[Option<Status>]) -> Result<()> {
    let failed: Vec<(&str, Option<Status>)> = manifest
        .files
        .iter()
        .zip(failures)
        .filter_map(|(f, status)| f.error.as_deref().map(|e| (e, *status)))
        .collect();
    let Some((first, _)) = failed.first() else {
        return Ok(());
    };
    if failed.iter().all(|(_, s)| *s == Some(Status::Timeout)) {
        return Err(Error::timeout(format!(
            "every download timed out (first: {first})"
        )));
    }
    if failed.iter().all(|(_, s)| *s == Some(Status::Network)) {
        return Err(Error::network(format!(
            "every download failed (first: {first})"
        )));
    }
    Ok(())
}

/// A file's manifest entry, and the status of the error its download failed with, if any
/// (what [`transport_failure`] reads).
type FileOutcome = (FileEntry, Option<Status>);

struct Job<'a> {
    agent: &'a ureq::Agent,
    base_url: &'a str,
    dest: &'a Path,
    timeout: Duration,
    max_file_bytes: u64,
    /// Free space kept on dest's disk; the first download to go below it records why here.
    reserve: DiskReserve,
    low_disk: &'a Mutex<Option<Error>>,
    progress: &'a Progress,
}

impl Job<'_> {
    fn disk_is_low(&self) -> bool {
        self.low_disk.lock().map(|l| l.is_some()).unwrap_or(true)
    }

    /// `Err` (and every download stops) once dest's disk is below `dicom.min_free_mb`.
    fn check_disk(&self) -> Result<()> {
        self.reserve.check().map_err(|why| {
            let e = Error::io(format!(
                "{why}; miic keeps dicom.min_free_mb = {} free: download stopped",
                self.reserve.keep >> 20
            ));
            if let Ok(mut slot) = self.low_disk.lock() {
                slot.get_or_insert_with(|| e.clone());
            }
            e
        })
    }

    fn one(&self, entry: &Entry) -> FileOutcome {
        let source = Some(entry.raw.clone());
        let segments = match &entry.segments {
            Ok(s) => s,
            Err(why) => {
                return (
                    FileEntry::failed(source, format!("path rejected: {why}")),
                    None,
                )
            }
        };
        let relative = segments.join("/");
        let final_path = segments
            .iter()
            .fold(self.dest.to_path_buf(), |p, s| p.join(s));
        // Resume: a file under its final name was renamed there whole by an earlier run.
        if final_path.is_file() {
            if let Ok(info) = inspect_part10(&final_path) {
                let size = std::fs::metadata(&final_path).map(|m| m.len()).unwrap_or(0);
                let mut file = FileEntry::landed(relative, source, info, size);
                file.resumed = true;
                return (file, None);
            }
        }
        match self.download(segments, &final_path) {
            Ok(size) => match inspect_part10(&final_path) {
                Ok(info) => (FileEntry::landed(relative, source, info, size), None),
                Err(e) => {
                    let _ = std::fs::remove_file(&final_path);
                    (FileEntry::failed(source, e.message), Some(e.status))
                }
            },
            Err(e) => (FileEntry::failed(source, e.message), Some(e.status)),
        }
    }

    fn download(&self, segments: &[String], final_path: &Path) -> Result<u64> {
        let url = join_url(self.base_url, segments);
        self.check_disk()?;
        let parent = final_path.parent().unwrap_or(self.dest);
        std::fs::create_dir_all(parent)
            .map_err(|e| Error::io(format!("cannot create '{}': {e}", parent.display())))?;
        let response = self.agent.get(&url).call().map_err(|e| self.map_error(e))?;
        let status = response.status().as_u16();
        if status != 200 {
            return Err(Error::server(format!("HTTP {status}")));
        }
        let declared = response
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if let Some(length) = declared.filter(|&n| n > self.max_file_bytes) {
            return Err(Error::dicom(format!(
                "the file is {length} bytes, more than dicom_http.max_file_mb = {}; not downloaded",
                self.max_file_bytes >> 20
            )));
        }
        let mut body = response.into_body().into_reader();
        // Check the Part 10 signature before writing: an HTML error page served with 200 fails here.
        let mut head = vec![0u8; 132];
        let got = read_full(&mut body, &mut head).map_err(|e| self.io_error(e))?;
        if got < 132 || &head[128..132] != b"DICM" {
            return Err(Error::dicom(format!(
                "not DICOM Part 10 (no 'DICM' at offset 128; starts with {:?})",
                String::from_utf8_lossy(&head[..got.min(40)])
            )));
        }
        let temp = TempFile::part(final_path);
        let temp_path = temp.path();
        let file = std::fs::File::create(temp_path)
            .map_err(|e| Error::io(format!("cannot create '{}': {e}", temp_path.display())))?;
        let mut out = std::io::BufWriter::with_capacity(256 * 1024, file);
        let write_err =
            |e: std::io::Error| Error::io(format!("cannot write '{}': {e}", temp_path.display()));
        out.write_all(&head).map_err(write_err)?;
        let mut size = head.len() as u64;
        self.progress.add_bytes(size);
        let mut buf = vec![0u8; 128 * 1024];
        let mut unchecked = 0u64;
        loop {
            let n = match body.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.io_error(e)),
            };
            size += n as u64;
            if size > self.max_file_bytes {
                // The temp file is removed on drop; nothing lands.
                return Err(Error::dicom(format!(
                    "the server sent more than dicom_http.max_file_mb = {} for this file; download stopped",
                    self.max_file_bytes >> 20
                )));
            }
            unchecked += n as u64;
            if unchecked >= DISK_CHECK_BYTES {
                unchecked = 0;
                self.check_disk()?;
            }
            out.write_all(&buf[..n]).map_err(write_err)?;
            self.progress.add_bytes(n as u64);
        }
        out.into_inner().map_err(|e| write_err(e.into_error()))?;
        land(temp, final_path)?;
        Ok(size)
    }

    fn map_error(&self, e: ureq::Error) -> Error {
        let status = http_status(&e);
        match e {
            ureq::Error::Io(io) => self.io_error(io),
            _ if status == Status::Timeout => self.timeout_error(),
            ureq::Error::HostNotFound => Error::network("connection failed: host not found"),
            _ if status == Status::Network => Error::network("connection failed"),
            other => Error::new(status, format!("HTTP: {other}")),
        }
    }

    fn io_error(&self, e: std::io::Error) -> Error {
        match connection_status(&e) {
            Status::Timeout => self.timeout_error(),
            status => Error::new(status, format!("connection failed: {e}")),
        }
    }

    fn timeout_error(&self) -> Error {
        Error::timeout(format!(
            "no data within timeout_ms = {}",
            self.timeout.as_millis()
        ))
    }
}

fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match reader.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_paths_become_segments() {
        assert_eq!(
            safe_segments(r"\wadocloud\2025\1\1\0A9C2648").unwrap(),
            ["wadocloud", "2025", "1", "1", "0A9C2648"]
        );
        assert_eq!(safe_segments("a/b.dcm").unwrap(), ["a", "b.dcm"]);
    }

    #[test]
    fn traversal_and_absolute_paths_are_rejected() {
        for bad in [
            r"\..\secret",
            "a/../../etc/passwd",
            r"C:\Windows\x.dcm",
            r"\\server\share\x.dcm",
            "//server/share",
            "a/%2e%2e/b",
            "a//b",
            r"a\CON",
            "a/b:stream",
            "a/./b",
        ] {
            assert!(safe_segments(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn list_is_split_trimmed_and_deduplicated() {
        let entries = parse_dcm_path(r" \a\1 ,\a\2，\a\1,, ,/a/2");
        let raws: Vec<&str> = entries.iter().map(|e| e.raw.as_str()).collect();
        assert_eq!(raws, [r"\a\1", r"\a\2"]);
    }

    #[test]
    fn urls_escape_segments() {
        assert_eq!(
            join_url("http://h:1/base/", &["a b".into(), "c#d".into()]),
            "http://h:1/base/a%20b/c%23d"
        );
    }
}
