//! The C#, Delphi and C++ bindings, compiled by real compilers (mono's mcs, Free Pascal in Delphi
//! mode, g++) and run against `miic-cli sim` on loopback: each example's doctor workflow must reach
//! the simulator intact (Chinese names, decryptable ID numbers), and a cloud that is down must
//! surface as the language's exception carrying MIIC_E_NETWORK.
//!
//! Needs `target/debug/libmiic.so` and `target/debug/miic-cli` (scripts/test.sh builds the
//! workspace first) and the compilers scripts/deps/apt.txt installs. Missing tools fail the test.

mod common;

use common::{cdylib, closed_port, repo_root as root, target_dir as build_dir, Sim};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

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

fn write_config(dir: &Path, name: &str, base_url: &str, public_key: &str, gbk: bool) -> PathBuf {
    let path = dir.join(name);
    let encoding = if gbk { "text_encoding = \"gbk\"\n" } else { "" };
    std::fs::write(
        &path,
        format!(
            "base_url = \"{base_url}\"\nhospital_id = \"{HOSPITAL_ID}\"\ntimeout_ms = 5000\n{encoding}\n[sm2]\npublic_key = \"{public_key}\"\n"
        ),
    )
    .unwrap();
    path
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
            "/standardInterface/standardHttp/deleteDicom",
            "/hrball/"
        ],
        "requests: {reqs:?}"
    );
    let (login, reminder, qr, delete, logout) = (&reqs[0], &reqs[1], &reqs[2], &reqs[3], &reqs[4]);
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

/// The example's own output: every step reported, the QR URL printed as the cloud gave it.
fn assert_example_output(out: &Output) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    for step in [
        "login ok",
        "reminder ok",
        "qr url http",
        "delete MIIC_OK",
        "logout ok",
    ] {
        assert!(
            stdout.contains(step),
            "example output lacks {step:?}\n{}",
            show(out)
        );
    }
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
    let exe = dir.join("example");
    run_ok(
        Command::new("g++")
            .args(["-std=c++17", "-Wall", "-Wextra", "-Werror", "-pedantic"])
            .arg("-I")
            .arg(root().join("include"))
            .arg("-I")
            .arg(root().join("bindings/cpp"))
            .arg(root().join("examples/cpp/example.cpp"))
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

    let out = run_ok(program(&exe).arg(sim_config(&sim, dir.path(), "miic.toml", false)));
    assert_example_output(&out);
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

/// Compile Miic.cs + a program with mono's mcs at C# 5 (what .NET Framework 4.x's csc.exe
/// accepts), put libmiic.so next to the .exe as a vendor would put miic.dll.
fn build_csharp(dir: &Path, program: &Path, lib: &Path) -> PathBuf {
    let stem = program.file_stem().unwrap().to_str().unwrap();
    let exe = dir.join(format!("{stem}.exe"));
    run_ok(
        Command::new("mcs")
            .args(["-langversion:5", "-warnaserror", "-nologo"])
            .arg(format!("-out:{}", exe.display()))
            .arg(program)
            .arg(root().join("bindings/csharp/Miic.cs")),
    );
    std::fs::copy(lib, dir.join("libmiic.so")).unwrap();
    exe
}

#[test]
fn csharp_example_runs_doctor_workflow_and_throws_network_error_when_cloud_down() {
    let sim = start_sim();
    let dir = Scratch::new("csharp");
    let exe = build_csharp(
        dir.path(),
        &root().join("examples/csharp/Example.cs"),
        &lib_path(),
    );

    let out = run_ok(program("mono").arg(&exe).arg(sim_config(
        &sim,
        dir.path(),
        "miic.toml",
        false,
    )));
    assert_example_output(&out);
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
/// error (miic_last_error is per thread), and the log delegate survives a garbage collection and
/// is called from miic's worker thread.
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

    let out = run_ok(delphi_command(&exe, &lib_dir()).arg(sim_config(
        &sim,
        dir.path(),
        "miic.toml",
        false,
    )));
    assert_example_output(&out);
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
    for line in header.lines() {
        let decl = line.trim_end();
        if decl.starts_with(' ') || decl.starts_with("typedef") || !decl.ends_with(");") {
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
