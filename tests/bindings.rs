//! The C#, Delphi and C++ bindings, compiled by real compilers (mono's mcs, Free Pascal in Delphi
//! mode, g++) and run against `miic-cli sim` on loopback: each example's doctor workflow must reach
//! the simulator intact (Chinese names, decryptable ID numbers), and a cloud that is down must
//! surface as the language's exception carrying MIIC_E_NETWORK.
//!
//! Needs `target/debug/libmiic.so` and `target/debug/miic-cli` (scripts/test.sh builds the
//! workspace first) and the compilers scripts/deps/apt.txt installs. Missing tools fail the test.

mod common;
mod support;

use common::{cdylib, closed_port, repo_root as root, target_dir as build_dir, Sim};
use serde_json::Value;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use support::pacs::{free_port, read_pixels, Pacs};

const HOSPITAL_ID: &str = "H4403001";
const DOCTOR_ID: &str = "11010519491231002X";
const PATIENT_ID: &str = "440301199001011234";
const RUN_LIMIT: Duration = Duration::from_secs(60);

fn lib_path() -> PathBuf {
    let p = cdylib();
    assert!(
        p.exists(),
        "{} is missing: run `cargo build --workspace` (scripts/test.sh does)",
        p.display()
    );
    p
}

fn start_sim() -> Sim {
    Sim::start(&["--hospital-id", HOSPITAL_ID])
}

/// A fresh scratch directory under target/, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = build_dir()
            .join("bindings-tests")
            .join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// A TOML config file for a client of this simulator.
fn sim_config(sim: &Sim, dir: &Path, name: &str, gbk: bool) -> PathBuf {
    write_config(dir, name, &sim.url, &sim.public_key, gbk)
}

/// A TOML config; its outbox lives beside it (`<name>.outbox`), and `sections` are appended.
fn write_config_with(
    dir: &Path,
    name: &str,
    base_url: &str,
    public_key: &str,
    gbk: bool,
    sections: &str,
) -> PathBuf {
    let path = dir.join(name);
    let outbox = dir.join(format!("{name}.outbox"));
    let encoding = if gbk { "text_encoding = \"gbk\"\n" } else { "" };
    std::fs::write(
        &path,
        format!(
            "base_url = \"{base_url}\"\nhospital_id = \"{HOSPITAL_ID}\"\ntimeout_ms = 5000\n{encoding}\n[sm2]\npublic_key = \"{public_key}\"\n\n[outbox]\npath = \"{}\"\n{sections}",
            outbox.display()
        ),
    )
    .unwrap();
    path
}

fn write_config(dir: &Path, name: &str, base_url: &str, public_key: &str, gbk: bool) -> PathBuf {
    write_config_with(dir, name, base_url, public_key, gbk, "")
}

/// A config whose front-end machine is down: a loopback port nobody listens on.
fn cloud_down_config(dir: &Path, public_key: &str) -> PathBuf {
    let url = format!("http://127.0.0.1:{}", closed_port());
    write_config(dir, "down.toml", &url, public_key, false)
}

/// Run a command to completion (bounded), returning its output.
fn run(cmd: &mut Command) -> Output {
    let what = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run {what}: {e} (scripts/test.sh installs the compilers)")
        });
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if start.elapsed() > RUN_LIMIT {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("{what} did not finish within {RUN_LIMIT:?}\n{}", show(&out));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn show(out: &Output) -> String {
    format!(
        "status: {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Run and require success.
fn run_ok(cmd: &mut Command) -> Output {
    let out = run(cmd);
    assert!(out.status.success(), "{cmd:?} failed\n{}", show(&out));
    out
}

fn field<'a>(req: &'a Value, group: &str, key: &str) -> &'a str {
    req[group][key]
        .as_str()
        .unwrap_or_else(|| panic!("request has no {group}.{key}: {req}"))
}

/// Every request was accepted by the strict simulator: no problems, code 200.
fn assert_all_accepted(reqs: &[Value]) {
    for r in reqs {
        assert_eq!(
            r["problems"],
            Value::Array(vec![]),
            "simulator found problems: {r}"
        );
        assert_eq!(r["code"], 200, "simulator refused: {r}");
    }
}

fn by_path<'a>(reqs: &'a [Value], path: &str) -> Vec<&'a Value> {
    reqs.iter().filter(|r| r["path"] == path).collect()
}

/// The examples' workflow as the simulator saw it: login, reminder, QR URL, delete, logout,
/// in that order, Chinese names intact and ID numbers decrypting to what the example sent.
fn assert_doctor_workflow(reqs: &[Value]) {
    assert_all_accepted(reqs);
    let paths: Vec<&str> = reqs.iter().map(|r| r["path"].as_str().unwrap()).collect();
    assert_eq!(
        paths,
        [
            "/hrball/",
            "/iuWorkStation/swipingIdCardNo",
            "/getway/reportAndFilm/api/qrurl",
            "/getway/reportAndFilm/api/qrurl",
            "/standardInterface/standardHttp/deleteDicom",
            "/hrball/"
        ],
        "requests: {reqs:?}"
    );
    let (login, reminder, qr, delete, logout) = (&reqs[0], &reqs[1], &reqs[2], &reqs[4], &reqs[5]);
    assert_eq!(
        reqs[3]["params"], qr["params"],
        "the QR picture is of the same exam"
    );
    assert_eq!(field(login, "params", "type"), "1");
    assert_eq!(field(login, "params", "doctorName"), "张医生");
    assert_eq!(field(login, "params", "department"), "放射科");
    assert_eq!(field(login, "params", "hospitalId"), HOSPITAL_ID);
    assert_eq!(field(login, "decrypted", "doctorIdCardNo"), DOCTOR_ID);
    assert_eq!(field(reminder, "params", "patientName"), "李四");
    assert_eq!(field(reminder, "params", "hisUserName"), "张医生");
    assert_eq!(field(reminder, "params", "accessNumber"), "ACC20240001");
    assert_eq!(field(reminder, "decrypted", "idCardNo"), PATIENT_ID);
    assert_eq!(field(reminder, "decrypted", "doctorIdCardNo"), DOCTOR_ID);
    assert_eq!(field(qr, "params", "accessNumber"), "ACC20240001");
    assert_eq!(field(qr, "params", "modality"), "CT");
    assert_eq!(field(delete, "params", "patientName"), "李四");
    assert_eq!(field(delete, "params", "operateDoctorName"), "张医生");
    assert_eq!(
        field(delete, "params", "deleteDateTime"),
        "2024-05-06 07:08:09"
    );
    assert_eq!(field(logout, "params", "type"), "2");
}

/// The example's own output: every step reported, the QR URL printed as the cloud gave it, the
/// outbox empty after a delivered delete, the report record's broken exam date named. The QR PNG
/// in `out_dir` encodes that URL.
fn assert_example_output(out: &Output, out_dir: &Path) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    for step in [
        "login ok",
        "reminder ok",
        "qr url http",
        "qr png ",
        "delete MIIC_OK",
        "outbox pending 0, rejected 0",
        "report conformant ",
        "error examDate: ",
        "logout ok",
    ] {
        assert!(
            stdout.contains(step),
            "example output lacks {step:?}\n{}",
            show(out)
        );
    }
    assert_eq!(
        decode_qr(&out_dir.join("qr-ACC20240001.png")),
        printed(out, "qr url")
    );
}

/// Cloud down: the example catches the language's exception and prints its status fields.
fn assert_network_failure(out: &Output) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(2),
        "example should exit 2 on a miic error\n{}",
        show(out)
    );
    assert!(
        stdout.contains("miic error status=-5 MIIC_E_NETWORK"),
        "expected the exception to carry MIIC_E_NETWORK (-5)\n{}",
        show(out)
    );
}

/// A command for a compiled program that finds libmiic only where the test put it (cargo's
/// LD_LIBRARY_PATH for tests would otherwise win over an rpath or the exe's folder).
fn program(exe: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut cmd = Command::new(exe);
    cmd.env_remove("LD_LIBRARY_PATH");
    cmd
}

fn lib_dir() -> PathBuf {
    lib_path().parent().unwrap().to_path_buf()
}

/// Compile the C++ example with warnings as errors, linked to the libmiic.so in `lib_dir`.
fn build_cpp(dir: &Path, lib_dir: &Path) -> PathBuf {
    build_cpp_program(dir, &root().join("examples/cpp/example.cpp"), lib_dir)
}

fn build_cpp_program(dir: &Path, source: &Path, lib_dir: &Path) -> PathBuf {
    let exe = dir.join(source.file_stem().unwrap());
    run_ok(
        Command::new("g++")
            .args(["-std=c++17", "-Wall", "-Wextra", "-Werror", "-pedantic"])
            .arg("-I")
            .arg(root().join("include"))
            .arg("-I")
            .arg(root().join("bindings/cpp"))
            .arg(source)
            .arg("-o")
            .arg(&exe)
            .arg(format!("-L{}", lib_dir.display()))
            .arg(format!("-Wl,-rpath,{}", lib_dir.display()))
            .arg("-lmiic"),
    );
    exe
}

#[test]
fn cpp_example_runs_doctor_workflow_and_throws_network_error_when_cloud_down() {
    let sim = start_sim();
    let dir = Scratch::new("cpp");
    let exe = build_cpp(dir.path(), &lib_dir());

    let out = run_ok(
        program(&exe)
            .arg(sim_config(&sim, dir.path(), "miic.toml", false))
            .arg(dir.path()),
    );
    assert_example_output(&out, dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("[miic 3]"),
        "the log callback saw no info line\n{}",
        show(&out)
    );
    assert_doctor_workflow(&sim.requests());

    assert_network_failure(&run(
        program(&exe).arg(cloud_down_config(dir.path(), &sim.public_key))
    ));
}

/// The C++ program validates a broken report record and finds the fields named (examDate's
/// date, gend's dictionary), gets non-JSON as miic::Error with MIIC_E_ARGUMENT, and drives the
/// image, QR, outbox and JSON calls; its progress handler is a std::function the client owns. A
/// GBK client's manifest (GBK JSON with a `\` trail byte in a folder name) is read right.
#[test]
fn cpp_validates_a_broken_report_record_naming_the_field_and_wraps_every_new_call() {
    let sim = start_sim();
    let peers = ImagePeers::start("cpp-calls");
    let dir = Scratch::new("cpp-calls");
    let exe = build_cpp_program(
        dir.path(),
        &root().join("tests/bindings/cpp_calls.cpp"),
        &lib_dir(),
    );
    let out = run_ok(
        program(&exe)
            .arg(peers.config(&sim, dir.path(), "miic.toml", false))
            .arg(dir.path())
            .args(peers.args())
            .arg(peers.config(&sim, dir.path(), "gbk.toml", true)),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("calls ok"), "{}", show(&out));
    peers.assert_study_landed(&dir.path().join("gbk-影像淺"));
    assert!(
        stdout.contains("report error examDate: ")
            && stdout.contains("report of non-JSON MIIC_E_ARGUMENT: "),
        "{}",
        show(&out)
    );
    assert!(
        stdout.contains("diagnose config fix: 在 inline JSON 中删除或改正拼写错误的键 'retries'"),
        "{}",
        show(&out)
    );
    peers.assert_study_landed(&dir.path().join("study"));
    assert_eq!(
        decode_qr(&dir.path().join("exam.png")),
        printed(&out, "exam url")
    );
    for png in ["render.png", "small.png"] {
        assert_eq!(
            decode_qr(&dir.path().join(png)),
            "https://example.org/cpp",
            "{png}"
        );
    }
    assert!(!dir.path().join("bad.png").exists());
}

/// Compile Miic.cs + a program with mono's mcs at C# 5 (what .NET Framework 4.x's csc.exe
/// accepts), put libmiic.so next to the .exe as a vendor would put miic.dll.
fn build_csharp(dir: &Path, program: &Path, lib: &Path) -> PathBuf {
    let stem = program.file_stem().unwrap().to_str().unwrap();
    let exe = dir.join(format!("{stem}.exe"));
    run_ok(
        Command::new("mcs")
            .args(["-langversion:5", "-warnaserror", "-nologo"])
            // Its JSON reader (manifests, report checks); .NET Framework's csc.rsp references it too.
            .arg("-r:System.Runtime.Serialization")
            .arg(format!("-out:{}", exe.display()))
            .arg(program)
            .arg(root().join("bindings/csharp/Miic.cs")),
    );
    std::fs::copy(lib, dir.join("libmiic.so")).unwrap();
    exe
}

/// The C# example also retrieves the study from dcmqrscp when the config has `[dicom]`, printing
/// a progress line per file.
#[test]
fn csharp_example_runs_doctor_workflow_and_throws_network_error_when_cloud_down() {
    let sim = start_sim();
    let peers = ImagePeers::start("cs-example");
    let dir = Scratch::new("csharp");
    let exe = build_csharp(
        dir.path(),
        &root().join("examples/csharp/Example.cs"),
        &lib_path(),
    );

    let out = run_ok(
        program("mono")
            .arg(&exe)
            .arg(peers.config(&sim, dir.path(), "miic.toml", false))
            .arg(dir.path())
            .arg(&peers.pacs.study_uid),
    );
    assert_example_output(&out, dir.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    for line in [
        "dicom echo ok".to_owned(),
        format!("progress {STUDY_OBJECTS}/{STUDY_OBJECTS} files, "),
        format!("retrieved {STUDY_OBJECTS} files into "),
    ] {
        assert!(stdout.contains(&line), "lacks {line:?}\n{}", show(&out));
    }
    peers.assert_study_landed(&dir.path().join("study"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("[miic 3]"),
        "the log callback saw no info line\n{}",
        show(&out)
    );
    assert_doctor_workflow(&sim.requests());

    assert_network_failure(&run(program("mono")
        .arg(&exe)
        .arg(cloud_down_config(dir.path(), &sim.public_key))));
}

/// One client shared by four threads: every call reaches the simulator, each thread reads its own
/// error (miic_last_error is per thread; two threads on a barrier read theirs only after the other
/// failed differently), and the log delegate survives a garbage collection and is called from
/// miic's worker thread.
#[test]
fn csharp_client_shared_by_threads_keeps_errors_per_thread_and_log_delegate_alive() {
    let sim = start_sim();
    let dir = Scratch::new("csharp-threads");
    let exe = build_csharp(
        dir.path(),
        &root().join("tests/bindings/csharp_threads.cs"),
        &lib_path(),
    );
    let out = run_ok(program("mono").arg(&exe).arg(sim_config(
        &sim,
        dir.path(),
        "miic.toml",
        false,
    )));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("threads ok"),
        "{}",
        show(&out)
    );
    let reqs = sim.requests();
    assert_all_accepted(&reqs);
    let qr = by_path(&reqs, "/getway/reportAndFilm/api/qrurl");
    assert_eq!(qr.len(), 20, "4 threads x 5 QR calls: {reqs:?}");
    let reminders = by_path(&reqs, "/iuWorkStation/swipingIdCardNo");
    assert_eq!(reminders.len(), 1, "{reqs:?}");
    assert_eq!(field(reminders[0], "params", "patientName"), "钱七");
    assert_eq!(field(reminders[0], "params", "hisUserName"), "赵医生");
}

/// Python's http.server over a folder on a loopback port: the `[dicom_http]` peer for
/// `dcmPath` downloads. Killed by its PID on drop.
struct FileServer {
    child: Child,
    url: String,
}

impl FileServer {
    fn serve(dir: &Path) -> FileServer {
        let port = free_port();
        let child = Command::new("python3")
            .args(["-m", "http.server", "--bind", "127.0.0.1", "--directory"])
            .arg(dir)
            .arg(port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 -m http.server");
        let server = FileServer {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "http.server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Objects of the study the DICOM peers hold, and how many of them `DCM_PATH` names.
const STUDY_OBJECTS: usize = 8;
const DCM_PATH: &str = "\\img0001.dcm,\\img0002.dcm";
const DCM_PATH_FILES: usize = 2;

/// The peers of the image calls: dcmqrscp (one process per association, so a program may make
/// several calls) with a generated study, and an HTTP server of the same files for `dcmPath`.
struct ImagePeers {
    pacs: Pacs,
    files: FileServer,
}

impl ImagePeers {
    fn start(name: &str) -> ImagePeers {
        let pacs = Pacs::start_with(name, STUDY_OBJECTS, 32, &[], true);
        let files = FileServer::serve(&pacs.scratch.path().join("db"));
        ImagePeers { pacs, files }
    }

    /// `[dicom]` and `[dicom_http]` sections for a client of these peers.
    fn sections(&self) -> String {
        format!(
            "\n[dicom]\nlocal_ae = \"{}\"\npeer_ae = \"{}\"\nhost = \"127.0.0.1\"\nport = {}\nretrieve = \"get\"\nmove_port = {}\n\n[dicom_http]\nbase_url = \"{}\"\n",
            support::pacs::LOCAL_AE,
            support::pacs::PACS_AE,
            self.pacs.port,
            self.pacs.move_port,
            self.files.url
        )
    }

    /// A config for the simulator as the cloud and these peers for images.
    fn config(&self, sim: &Sim, dir: &Path, name: &str, gbk: bool) -> PathBuf {
        write_config_with(dir, name, &sim.url, &sim.public_key, gbk, &self.sections())
    }

    /// The program's arguments after the config: study uid, object count, dcmPath, its count.
    fn args(&self) -> [String; 4] {
        [
            self.pacs.study_uid.clone(),
            STUDY_OBJECTS.to_string(),
            DCM_PATH.to_owned(),
            DCM_PATH_FILES.to_string(),
        ]
    }

    /// Every object of the study landed in `dest` with the PACS's pixel bytes.
    fn assert_study_landed(&self, dest: &Path) {
        for original in &self.pacs.originals {
            let file = dest.join(format!("{}.dcm", original.sop_instance_uid));
            assert!(file.exists(), "{} was not retrieved", file.display());
            let (uid, pixels) = read_pixels(&file);
            assert_eq!(uid, original.sop_instance_uid);
            assert!(
                pixels == original.pixels,
                "{} pixels differ",
                file.display()
            );
        }
    }
}

/// The text of the QR code in a PNG, read by zbar (an independent decoder).
fn decode_qr(png: &Path) -> String {
    let out = run_ok(Command::new("zbarimg").args(["--quiet", "--raw"]).arg(png));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The value printed after `label ` on a line of the program's output.
fn printed(out: &Output, label: &str) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{label} ")).map(str::to_owned))
        .unwrap_or_else(|| panic!("no `{label}` line\n{}", show(out)))
}

/// The C# program retrieves a whole study from dcmqrscp while its progress handler forces garbage
/// collections (the native delegate must survive them), downloads a dcmPath, draws QR PNGs, reads
/// the outbox, validates a report and builds a request from JSON; failures arrive as
/// MiicException / MiicDicomException with their statuses.
#[test]
fn csharp_retrieves_a_study_with_progress_events_across_a_forced_gc() {
    let sim = start_sim();
    let peers = ImagePeers::start("cs-calls");
    let dir = Scratch::new("csharp-calls");
    let exe = build_csharp(
        dir.path(),
        &root().join("tests/bindings/csharp_calls.cs"),
        &lib_path(),
    );
    let config = peers.config(&sim, dir.path(), "miic.toml", false);
    let out = run_ok(
        program("mono")
            .arg(&exe)
            .arg(&config)
            .arg(dir.path())
            .args(peers.args()),
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("calls ok"),
        "{}",
        show(&out)
    );
    peers.assert_study_landed(&dir.path().join("study"));
    for name in ["img0001.dcm", "img0002.dcm"] {
        assert!(dir.path().join("http").join(name).exists(), "{name}");
    }
    assert_eq!(
        decode_qr(&dir.path().join("exam.png")),
        printed(&out, "exam url")
    );
    assert_eq!(
        decode_qr(&dir.path().join("render.png")),
        "https://example.org/film?id=1"
    );
    assert!(!dir.path().join("bad.png").exists());
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("diagnose config fix: 在 inline JSON 中删除或改正拼写错误的键 'retries'"),
        "{}",
        show(&out)
    );
}

/// Compile a Delphi program with Free Pascal: `-Mdelphi` (string = AnsiString, as Delphi 7) or
/// `-Mdelphiunicode` (string = UnicodeString, as Delphi 2009+). Warnings are errors in ANSI mode;
/// FPC's own RTL is not Unicode, so its conversions warn in Unicode mode where Delphi's would not.
fn build_delphi(dir: &Path, program: &Path, mode: &str, lib_dir: &Path) -> PathBuf {
    let mut cmd = Command::new("fpc");
    cmd.arg(mode).arg("-vw");
    if mode == "-Mdelphi" {
        cmd.arg("-Sew");
    }
    run_ok(
        cmd.arg(format!("-Fu{}", root().join("bindings/delphi").display()))
            .arg(format!("-Fl{}", lib_dir.display()))
            .arg(format!("-FU{}", dir.display()))
            .arg(format!("-FE{}", dir.display()))
            .arg(program),
    );
    let name = program.file_stem().unwrap().to_str().unwrap();
    dir.join(name)
}

fn delphi_command(exe: &Path, lib_dir: &Path) -> Command {
    let mut cmd = program(exe);
    // The host's ANSI code page must hold Chinese (GBK on Windows, UTF-8 here).
    cmd.env("LANG", "C.UTF-8").env("LC_ALL", "C.UTF-8");
    cmd.env("LD_LIBRARY_PATH", lib_dir);
    cmd
}

fn delphi_example(mode: &str) {
    let sim = start_sim();
    let dir = Scratch::new(&format!("delphi{mode}"));
    let exe = build_delphi(
        dir.path(),
        &root().join("examples/delphi/Example.dpr"),
        mode,
        &lib_dir(),
    );

    let out = run_ok(
        delphi_command(&exe, &lib_dir())
            .arg(sim_config(&sim, dir.path(), "miic.toml", false))
            .arg(dir.path()),
    );
    assert_example_output(&out, dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("[miic 3]"),
        "the log callback saw no info line\n{}",
        show(&out)
    );
    assert_doctor_workflow(&sim.requests());

    assert_network_failure(&run(
        delphi_command(&exe, &lib_dir()).arg(cloud_down_config(dir.path(), &sim.public_key))
    ));
}

#[test]
fn delphi_ansi_example_runs_doctor_workflow_and_raises_emiic_when_cloud_down() {
    delphi_example("-Mdelphi");
}

#[test]
fn delphi_unicode_example_runs_doctor_workflow_and_raises_emiic_when_cloud_down() {
    delphi_example("-Mdelphiunicode");
}

/// The Delphi program's image, QR, report and JSON calls, in Delphi 7 mode also through a
/// `text_encoding = "gbk"` client: QR PNGs and retrieved studies land under GBK-given Chinese
/// names (二维码.png, 影像/, and 影像淺/, whose GBK holds a `\` byte the manifest reader must step
/// over). With the cloud down a delete is stored and counted in the outbox and a flush fails as
/// EMiic with MIIC_E_TIMEOUT; here a client with the cloud up then delivers it.
fn delphi_calls(mode: &str) {
    let sim = start_sim();
    let peers = ImagePeers::start(&format!("pas-calls{mode}"));
    let dir = Scratch::new(&format!("delphi-calls{mode}"));
    let exe = build_delphi(
        dir.path(),
        &root().join("tests/bindings/delphi_calls.dpr"),
        mode,
        &lib_dir(),
    );
    let down_url = format!("http://127.0.0.1:{}", closed_port());
    let down = write_config(dir.path(), "down.toml", &down_url, &sim.public_key, false);
    let out = run_ok(
        delphi_command(&exe, &lib_dir())
            .arg(peers.config(&sim, dir.path(), "utf8.toml", false))
            .arg(peers.config(&sim, dir.path(), "gbk.toml", true))
            .arg(&down)
            .arg(dir.path())
            .args(peers.args()),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("calls ok"), "{}", show(&out));
    assert!(
        stdout.contains("outbox pending 1, rejected 0") && stdout.contains("flush MIIC_E_TIMEOUT"),
        "{}",
        show(&out)
    );
    assert!(
        stdout.contains(
            "diagnose config fix: In inline JSON, remove or correct the misspelt key 'retries'"
        ),
        "{}",
        show(&out)
    );

    let url = printed(&out, "qr url");
    assert_eq!(decode_qr(&dir.path().join("二维码.png")), url);
    assert_eq!(
        decode_qr(&dir.path().join("render-二维码.png")),
        "https://example.org/pas"
    );
    peers.assert_study_landed(&dir.path().join("影像"));
    if mode == "-Mdelphi" {
        assert_eq!(decode_qr(&dir.path().join("gbk-二维码.png")), url);
        peers.assert_study_landed(&dir.path().join("gbk-影像淺"));
    }

    // The stored notification is not lost: a client of the same outbox with the cloud up sends it.
    sim.reset();
    let config = serde_json::json!({
        "base_url": sim.url,
        "hospital_id": HOSPITAL_ID,
        "sm2": {"public_key": sim.public_key},
        "outbox": {"path": dir.path().join("down.toml.outbox")},
    });
    let client = support::ffi::ClientHandle::open(&config.to_string());
    assert_eq!(miic::ffi::miic_outbox_flush(client.0, 5000), 0);
    drop(client);
    let reqs = sim.requests();
    let deletes = by_path(&reqs, "/standardInterface/standardHttp/deleteDicom");
    assert_eq!(deletes.len(), 1, "{reqs:?}");
    assert_eq!(field(deletes[0], "params", "patientName"), "李四");
    assert_eq!(field(deletes[0], "params", "accessionNo"), "ACC-DOWN-1");
}

#[test]
fn delphi_ansi_calls_write_gbk_named_files_and_count_the_outbox_when_cloud_down() {
    delphi_calls("-Mdelphi");
}

#[test]
fn delphi_unicode_calls_fetch_images_and_count_the_outbox_when_cloud_down() {
    delphi_calls("-Mdelphiunicode");
}

/// A Delphi 7 host on Chinese Windows: GBK AnsiStrings, once with a `text_encoding = "gbk"` client
/// (bytes pass through) and once with a UTF-8 client (Miic.pas converts via code page 936). The
/// program itself checks GBK error messages, a log line from miic's worker thread, IsMultiThread,
/// and that FPU exceptions are masked during calls and the host's mask restored after them; here
/// we check the cloud received proper Chinese.
#[test]
fn delphi_gbk_host_strings_reach_the_cloud_as_chinese() {
    let sim = start_sim();
    let dir = Scratch::new("delphi-gbk");
    let exe = build_delphi(
        dir.path(),
        &root().join("tests/bindings/delphi_gbk.dpr"),
        "-Mdelphi",
        &lib_dir(),
    );
    let out = run_ok(
        delphi_command(&exe, &lib_dir())
            .arg(sim_config(&sim, dir.path(), "gbk.toml", true))
            .arg(sim_config(&sim, dir.path(), "utf8.toml", false)),
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("gbk ok"),
        "{}",
        show(&out)
    );

    let reqs = sim.requests();
    assert_all_accepted(&reqs);
    let logins: Vec<_> = by_path(&reqs, "/hrball/")
        .into_iter()
        .filter(|r| r["params"]["type"] == "1")
        .collect();
    assert_eq!(logins.len(), 2, "{reqs:?}");
    for (login, user) in logins.iter().zip(["G1", "U1"]) {
        assert_eq!(field(login, "params", "hisUserId"), user);
        assert_eq!(field(login, "params", "doctorName"), "张医生");
        assert_eq!(field(login, "params", "department"), "放射科");
        assert_eq!(field(login, "decrypted", "doctorIdCardNo"), DOCTOR_ID);
    }
    let reminders = by_path(&reqs, "/iuWorkStation/swipingIdCardNo");
    let names: Vec<&str> = reminders
        .iter()
        .map(|r| field(r, "params", "patientName"))
        .collect();
    assert_eq!(names, ["李四", "王五"], "{reqs:?}");
    for r in &reminders {
        assert_eq!(field(r, "params", "hisUserName"), "张医生");
        assert_eq!(field(r, "decrypted", "idCardNo"), PATIENT_ID);
    }
    let deletes = by_path(&reqs, "/standardInterface/standardHttp/deleteDicom");
    let names: Vec<&str> = deletes
        .iter()
        .map(|r| field(r, "params", "patientName"))
        .collect();
    assert_eq!(names, ["李四", "王五"], "{reqs:?}");
    for d in &deletes {
        assert_eq!(field(d, "params", "operateDoctorName"), "张医生");
    }
}

/// A libmiic.so that exports every function of include/miic.h but reports another ABI version:
/// what a vendor gets by pairing a binding with the wrong DLL. Generated from the header, so it
/// follows new exports by itself.
fn build_other_abi_library(dir: &Path) -> PathBuf {
    let header = std::fs::read_to_string(root().join("include/miic.h")).unwrap();
    let mut c = String::from("#include \"miic.h\"\n");
    // Declarations start at column 0 and may continue on indented lines (cbindgen wraps long ones).
    let mut decls: Vec<String> = Vec::new();
    let mut open = false;
    for line in header.lines() {
        let line = line.trim_end();
        if open {
            decls.last_mut().unwrap().push_str(line.trim_start());
        } else if !line.starts_with([' ', '#', '/', '}'])
            && !line.starts_with("typedef")
            && line.contains('(')
        {
            decls.push(line.to_owned());
        } else {
            continue;
        }
        open = !line.ends_with(';');
    }
    for decl in &decls {
        if !decl.ends_with(");") {
            continue;
        }
        let decl = decl.trim_end_matches(';');
        let Some(open) = decl.find('(') else { continue };
        let head = &decl[..open];
        let Some(at) = head.rfind("miic_") else {
            continue;
        };
        let (ret, name) = (head[..at].trim(), &head[at + "miic_".len()..]);
        let body = match (name, ret) {
            ("abi_version", _) => "return MIIC_ABI_VERSION + 1;",
            (_, "void") => "",
            (_, r) if r.ends_with('*') && r.contains("char") => "return \"MIIC_E_INTERNAL\";",
            (_, r) if r.ends_with('*') => "return 0;",
            _ => "return MIIC_E_INTERNAL;",
        };
        c.push_str(&format!("{decl} {{ {body} }}\n"));
    }
    assert!(
        c.contains("miic_abi_version(void) { return MIIC_ABI_VERSION + 1; }"),
        "{c}"
    );
    let src = dir.join("other_abi.c");
    std::fs::write(&src, c).unwrap();
    let lib_dir = dir.join("other-abi");
    std::fs::create_dir_all(&lib_dir).unwrap();
    run_ok(
        Command::new("gcc")
            .args(["-shared", "-fPIC", "-w", "-I"])
            .arg(root().join("include"))
            .arg(&src)
            .arg("-o")
            .arg(lib_dir.join("libmiic.so")),
    );
    lib_dir
}

/// The binding's own check, before any real call: its exception, MIIC_E_INTERNAL, naming both versions.
fn assert_abi_refused(out: &Output) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{}", show(out));
    assert!(
        stdout.contains("miic error status=-99") && stdout.contains("ABI version 2 does not match"),
        "expected the ABI check to refuse the library\n{}",
        show(out)
    );
}

#[test]
fn every_binding_refuses_a_library_with_another_abi_version() {
    let dir = Scratch::new("other-abi");
    let other = build_other_abi_library(dir.path());
    // Any config: the check comes first.
    let config = "{}";

    let cpp = Scratch::new("other-abi-cpp");
    assert_abi_refused(&run(program(build_cpp(cpp.path(), &other)).arg(config)));

    let cs = Scratch::new("other-abi-csharp");
    let exe = build_csharp(
        cs.path(),
        &root().join("examples/csharp/Example.cs"),
        &other.join("libmiic.so"),
    );
    assert_abi_refused(&run(program("mono").arg(exe).arg(config)));

    let pas = Scratch::new("other-abi-delphi");
    let exe = build_delphi(
        pas.path(),
        &root().join("examples/delphi/Example.dpr"),
        "-Mdelphi",
        &other,
    );
    assert_abi_refused(&run(delphi_command(&exe, &other).arg(config)));
}
