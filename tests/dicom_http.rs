//! `dcmPath` download over HTTP, through the C export, from a real HTTP server on loopback
//! (Python's http.server serving generated DICOM files, an HTML page, and nothing for a 404).

mod common;
mod support;

use miic::ffi::miic_dicom_fetch_http;
use std::ffi::c_char;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::ffi::{cstr, last_error, take_string, ClientHandle};
use support::pacs::{free_mb, free_port, make_study, read_pixels, Original, Scratch};

/// Downloads the library runs at once (`MAX_PARALLEL` of src/dicom/http_fetch.rs).
const MAX_PARALLEL: usize = 4;

const MIIC_OK: i32 = 0;
const MIIC_E_NETWORK: i32 = -5;
const MIIC_E_TIMEOUT: i32 = -6;
const MIIC_E_DICOM: i32 = -10;

struct HttpServer {
    child: Child,
    port: u16,
}

impl HttpServer {
    fn serve(dir: &Path) -> HttpServer {
        let python = std::env::var("MIIC_PYTHON").unwrap_or_else(|_| "python3".into());
        let port = free_port();
        let child = Command::new(python)
            .args([
                "-m",
                "http.server",
                "--bind",
                "127.0.0.1",
                &port.to_string(),
                "--directory",
            ])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python for http.server (scripts/test.sh sets MIIC_PYTHON)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "http.server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        HttpServer { child, port }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn config(port: u16, timeout_ms: u32) -> String {
    serde_json::json!({
        "base_url": "http://127.0.0.1:9",
        "hospital_id": "H1",
        "timeout_ms": timeout_ms,
        "outbox": {"path": common::fresh_outbox_path()},
        "dicom_http": {"base_url": format!("http://127.0.0.1:{port}/")}
    })
    .to_string()
}

fn fetch(client: &ClientHandle, dcm_path: &str, dest: &Path) -> (i32, Option<serde_json::Value>) {
    let mut out: *mut c_char = std::ptr::null_mut();
    let status = unsafe {
        miic_dicom_fetch_http(
            client.0,
            cstr(dcm_path).as_ptr(),
            cstr(dest.to_str().unwrap()).as_ptr(),
            &mut out,
        )
    };
    (
        status,
        take_string(out).map(|s| serde_json::from_str(&s).unwrap()),
    )
}

/// Served files under `wadocloud\2025\1\1\`, and the dcmPath naming them Windows-style.
fn served_study(root: &Path, count: usize) -> (Vec<Original>, String) {
    let dir = root.join("wadocloud/2025/1/1");
    let originals = make_study(&dir, "1.2.826.0.1.3680043.9.7433.77", count, 32);
    let dcm_path = originals
        .iter()
        .map(|o| {
            format!(
                r"\wadocloud\2025\1\1\{}",
                o.path.file_name().unwrap().to_string_lossy()
            )
        })
        .collect::<Vec<_>>()
        .join(",");
    (originals, dcm_path)
}

fn assert_landed(originals: &[Original], dest: &Path) {
    for o in originals {
        let path = dest
            .join("wadocloud/2025/1/1")
            .join(o.path.file_name().unwrap());
        let (uid, pixels) = read_pixels(&path);
        assert_eq!(uid, o.sop_instance_uid);
        assert!(pixels == o.pixels, "pixels of {} differ", path.display());
    }
    let leftovers: Vec<_> = std::fs::read_dir(dest.join("wadocloud/2025/1/1"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".part"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn http_fetch_downloads_every_file_valid_and_resumes() {
    let root = Scratch::new("http-ok");
    let dest = Scratch::new("http-ok-dest");
    let (originals, dcm_path) = served_study(root.path(), 6);
    let server = HttpServer::serve(root.path());
    let client = ClientHandle::open(&config(server.port, 15000));
    let (status, manifest) = fetch(&client, &dcm_path, dest.path());
    let manifest = manifest.expect("manifest");
    assert_eq!(status, MIIC_OK, "{} {manifest:#}", last_error());
    assert_eq!(manifest["completed"], 6);
    assert_eq!(manifest["failed"], 0);
    assert_eq!(manifest["method"], "http");
    assert_eq!(
        manifest["study_instance_uid"],
        "1.2.826.0.1.3680043.9.7433.77"
    );
    for file in manifest["files"].as_array().unwrap() {
        assert_eq!(file["modality"], "CT");
        assert!(file["sop_instance_uid"]
            .as_str()
            .unwrap()
            .starts_with("1.2.826.0.1.3680043.9.7433.77.1."));
        assert!(file.get("resumed").is_none());
    }
    assert_landed(&originals, dest.path());

    // A second run finds every file complete and downloads nothing.
    drop(server);
    let (status, manifest) = fetch(&client, &dcm_path, dest.path());
    let manifest = manifest.unwrap();
    assert_eq!(status, MIIC_OK, "{} {manifest:#}", last_error());
    assert!(
        manifest["files"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["resumed"] == true),
        "{manifest:#}"
    );
}

#[test]
fn http_fetch_reports_404_non_dicom_and_traversal_per_file() {
    let root = Scratch::new("http-bad");
    let scratch = Scratch::new("http-bad-dest");
    // dest_dir two levels down: `\..\..\outside.dcm` would land in the scratch folder.
    let dest = scratch.path().join("in/here");
    std::fs::create_dir_all(&dest).unwrap();
    let (originals, dcm_path) = served_study(root.path(), 3);
    std::fs::write(
        root.path().join("wadocloud/error.html"),
        "<html><body>500 内部错误</body></html>",
    )
    .unwrap();
    // A real DICOM file that an unchecked traversal would fetch: HTTP clients and http.server
    // resolve `/../../outside.dcm` to `/outside.dcm`.
    std::fs::copy(&originals[0].path, root.path().join("outside.dcm")).unwrap();
    let list = format!(
        r"{dcm_path},\wadocloud\2025\1\1\missing.dcm,\wadocloud\error.html,\..\..\outside.dcm,C:\Windows\win.ini,\\server\share\x.dcm"
    );
    let server = HttpServer::serve(root.path());
    let client = ClientHandle::open(&config(server.port, 15000));
    let (status, manifest) = fetch(&client, &list, &dest);
    let manifest = manifest.expect("manifest even on partial failure");
    assert_eq!(status, MIIC_E_DICOM, "{manifest:#}");
    assert!(
        last_error().contains("5 of 8 files failed"),
        "{}",
        last_error()
    );
    assert_eq!(manifest["completed"], 3);
    assert_eq!(manifest["failed"], 5);
    let error_of = |source: &str| {
        manifest["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["source"] == source)
            .and_then(|f| f["error"].as_str())
            .unwrap_or_else(|| panic!("no error for {source}: {manifest:#}"))
            .to_owned()
    };
    assert!(error_of(r"\wadocloud\2025\1\1\missing.dcm").contains("HTTP 404"));
    assert!(error_of(r"\wadocloud\error.html").contains("not DICOM Part 10"));
    assert!(error_of(r"\..\..\outside.dcm").contains("path rejected"));
    assert!(error_of(r"C:\Windows\win.ini").contains("path rejected"));
    assert!(error_of(r"\\server\share\x.dcm").contains("path rejected"));
    assert_landed(&originals, &dest);
    assert!(!dest.join("wadocloud/error.html").exists());
    assert!(!scratch.path().join("outside.dcm").exists());
}

#[test]
fn http_fetch_from_closed_port_is_network_error() {
    let dest = Scratch::new("http-refused-dest");
    let client = ClientHandle::open(&config(free_port(), 2000));
    let (status, manifest) = fetch(&client, r"\a\b.dcm", dest.path());
    assert_eq!(status, MIIC_E_NETWORK, "{} {manifest:?}", last_error());
}

#[test]
fn http_fetch_from_hung_server_times_out_once_for_files_fetched_side_by_side() {
    let dest = Scratch::new("http-hung-dest");
    // Accepts connections (the kernel's backlog) but never answers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let client = ClientHandle::open(&config(port, 1000));
    // As many files as downloads run at once: one after the other they would take 4 × 1,000 ms.
    let list = (0..MAX_PARALLEL)
        .map(|i| format!(r"\a\{i}.dcm"))
        .collect::<Vec<_>>()
        .join(",");
    let started = Instant::now();
    let (status, manifest) = fetch(&client, &list, dest.path());
    let elapsed = started.elapsed();
    assert_eq!(status, MIIC_E_TIMEOUT, "{}", last_error());
    let manifest = manifest.expect("manifest");
    assert_eq!(manifest["failed"], MAX_PARALLEL, "{manifest:#}");
    // Not before timeout_ms of silence; and well under the sequential 4,000 ms, with room for a
    // loaded machine.
    assert!(elapsed >= Duration::from_millis(950), "{elapsed:?}");
    assert!(elapsed < Duration::from_millis(3000), "{elapsed:?}");
    drop(listener);
}

#[test]
fn http_fetch_without_base_url_names_the_key() {
    let config = serde_json::json!({
        "base_url": "http://127.0.0.1:9", "hospital_id": "H1",
        "outbox": {"path": common::fresh_outbox_path()},
    });
    let client = ClientHandle::open(&config.to_string());
    let dest = Scratch::new("http-nocfg");
    let (status, manifest) = fetch(&client, r"\a\b.dcm", dest.path());
    assert_eq!(status, -3);
    assert!(manifest.is_none());
    assert!(
        last_error().contains("dicom_http.base_url"),
        "{}",
        last_error()
    );
}

#[test]
fn http_fetch_flags_a_file_of_another_study_as_warning() {
    let root = Scratch::new("http-mix");
    let dest = Scratch::new("http-mix-dest");
    let (_, dcm_path) = served_study(root.path(), 3);
    make_study(
        &root.path().join("other"),
        "1.2.826.0.1.3680043.9.7433.88",
        1,
        8,
    );
    let list = format!(r"{dcm_path},\other\img0001.dcm");
    let server = HttpServer::serve(root.path());
    let client = ClientHandle::open(&config(server.port, 15000));
    let (status, manifest) = fetch(&client, &list, dest.path());
    let manifest = manifest.unwrap();
    assert_eq!(status, MIIC_OK, "{} {manifest:#}", last_error());
    assert_eq!(manifest["completed"], 3);
    assert_eq!(manifest["warning"], 1);
    assert_eq!(manifest["study_uid_mismatch"], true);
    assert_eq!(
        manifest["study_instance_uid"],
        "1.2.826.0.1.3680043.9.7433.77"
    );
    assert_eq!(manifest["studies"].as_array().unwrap().len(), 2);
    let other = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["source"] == r"\other\img0001.dcm")
        .unwrap();
    assert_eq!(other["status"], "warning");
    assert!(other["warning"]
        .as_str()
        .unwrap()
        .contains("1.2.826.0.1.3680043.9.7433.88"));
}

#[test]
fn dicom_exports_reject_null_arguments_naming_them() {
    use miic::ffi::{miic_dicom_echo, miic_dicom_retrieve, miic_set_progress_callback};
    let client = ClientHandle::open(&config(free_port(), 1000));
    let mut out: *mut c_char = std::ptr::null_mut();
    let dest = cstr("/tmp/x");
    let status =
        unsafe { miic_dicom_fetch_http(client.0, std::ptr::null(), dest.as_ptr(), &mut out) };
    assert_eq!(status, -1);
    assert!(last_error().contains("dcm_path"), "{}", last_error());
    let status = unsafe {
        miic_dicom_fetch_http(
            client.0,
            cstr(r"\a").as_ptr(),
            dest.as_ptr(),
            std::ptr::null_mut(),
        )
    };
    assert_eq!(status, -1);
    assert!(last_error().contains("manifest_out"), "{}", last_error());
    let status = unsafe {
        miic_dicom_retrieve(client.0, cstr("1.2.3").as_ptr(), std::ptr::null(), &mut out)
    };
    assert_eq!(status, -1);
    assert!(last_error().contains("dest_dir"), "{}", last_error());
    assert!(out.is_null());
    assert_eq!(miic_dicom_echo(std::ptr::null_mut()), -1);
    assert_eq!(
        miic_set_progress_callback(std::ptr::null_mut(), None, std::ptr::null_mut()),
        -1
    );
}

/// A server that sends a file larger than `[dicom_http] max_file_mb` (or one that never ends)
/// costs at most that much: the download stops there, names the key, and leaves no file.
#[test]
fn http_fetch_stops_a_file_larger_than_max_file_mb() {
    let root = Scratch::new("http-cap");
    let dest = Scratch::new("http-cap-dest");
    let (originals, dcm_path) = served_study(root.path(), 2);
    // One 2 MiB object (1024² 16-bit pixels) beside the small ones.
    let big = make_study(
        &root.path().join("wadocloud/big"),
        "1.2.826.0.1.3680043.9.7433.78",
        1,
        1024,
    );
    let list = format!(
        r"{dcm_path},\wadocloud\big\{}",
        big[0].path.file_name().unwrap().to_string_lossy()
    );
    let server = HttpServer::serve(root.path());
    let mut capped: serde_json::Value = serde_json::from_str(&config(server.port, 15000)).unwrap();
    capped["dicom_http"]["max_file_mb"] = 1.into();
    let client = ClientHandle::open(&capped.to_string());
    let (status, manifest) = fetch(&client, &list, dest.path());
    let manifest = manifest.expect("manifest");
    assert_eq!(status, MIIC_E_DICOM, "{manifest:#}");
    assert_eq!(manifest["completed"], 2, "{manifest:#}");
    let failed = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["status"] == "failed")
        .expect("the big file failed");
    let error = failed["error"].as_str().unwrap();
    assert!(error.contains("dicom_http.max_file_mb = 1"), "{error}");
    assert_landed(&originals, dest.path());
    let big_dir = dest.path().join("wadocloud/big");
    let left: Vec<_> = std::fs::read_dir(&big_dir)
        .map(|d| d.map(|e| e.unwrap().file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "nothing of the big file stays: {left:?}");

    // A server that announces no length and sends without end: stopped at the bound too.
    let endless = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = endless.local_addr().unwrap().port();
    let sender = std::thread::spawn(move || {
        use std::io::{Read, Write};
        let (mut socket, _) = endless.accept().unwrap();
        let mut head = [0u8; 4096];
        let _ = socket.read(&mut head);
        let mut preamble = vec![0u8; 132];
        preamble[128..].copy_from_slice(b"DICM");
        let _ = socket.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
        let _ = socket.write_all(&preamble);
        let chunk = vec![0u8; 64 * 1024];
        let mut sent = 0usize;
        // At most 64 MiB, so a miic without a bound fails this test instead of filling a disk.
        while sent < 64 << 20 && socket.write_all(&chunk).is_ok() {
            sent += chunk.len();
        }
        sent
    });
    let mut endless_config: serde_json::Value = serde_json::from_str(&config(port, 15000)).unwrap();
    endless_config["dicom_http"]["max_file_mb"] = 1.into();
    let client = ClientHandle::open(&endless_config.to_string());
    let (status, manifest) = fetch(&client, r"\endless.dcm", dest.path());
    let manifest = manifest.expect("manifest");
    assert_eq!(status, MIIC_E_DICOM, "{manifest:#}");
    let error = manifest["files"][0]["error"].as_str().unwrap_or_default();
    assert!(error.contains("dicom_http.max_file_mb = 1"), "{manifest:#}");
    let sent = sender.join().unwrap();
    assert!(sent < 32 << 20, "miic read {sent} bytes of an endless body");
    assert!(!dest.path().join("endless.dcm").exists());
}

fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else {
            found.push(path);
        }
    }
    found
}

/// `dcmPath` downloads keep `[dicom] min_free_mb` free on dest's disk like a retrieve: below
/// it nothing is written and the call is `MIIC_E_IO` naming the key.
#[test]
fn http_fetch_stops_with_miic_e_io_before_the_disk_reserve() {
    const MIIC_E_IO: i32 = -11;
    let root = Scratch::new("http-reserve");
    let dest = Scratch::new("http-reserve-dest");
    let (originals, dcm_path) = served_study(root.path(), 3);
    let server = HttpServer::serve(root.path());
    let mut low: serde_json::Value = serde_json::from_str(&config(server.port, 15000)).unwrap();
    // More than the disk has: the first file already would eat into the reserve.
    low["dicom"] = serde_json::json!({"min_free_mb": free_mb(dest.path()) + 1024});
    let client = ClientHandle::open(&low.to_string());
    let (status, manifest) = fetch(&client, &dcm_path, dest.path());
    let error = last_error();
    let manifest = manifest.expect("manifest");
    assert_eq!(status, MIIC_E_IO, "{error} {manifest:#}");
    assert!(error.contains("dicom.min_free_mb"), "{error}");
    assert_eq!(manifest["completed"], 0, "{manifest:#}");
    assert_eq!(files_under(dest.path()), Vec::<std::path::PathBuf>::new());

    // A reserve the disk has: the same download lands whole.
    low["dicom"] = serde_json::json!({"min_free_mb": 1});
    let client = ClientHandle::open(&low.to_string());
    let (status, manifest) = fetch(&client, &dcm_path, dest.path());
    assert_eq!(status, MIIC_OK, "{} {manifest:#?}", last_error());
    assert_landed(&originals, dest.path());
}
