//! The Windows DLLs our users load, built by scripts/build-windows.sh into target/windows:
//! their export and import tables read with mingw's objdump, and the C-ABI programs compiled
//! with mingw and run under Wine (scripts/wine-setup.sh) against `miic-cli sim` on 127.0.0.1.
//!
//! Wine runs with the zh_CN.UTF-8 locale, so programs see code page 936 (GBK) as on a Chinese
//! workstation: paths a C program reads from its environment or argv are GBK bytes.
//! Tests that run the 32-bit DLL under Wine have `wine32` in their names: scripts/test.sh skips
//! them, and says so, when 32-bit Wine could not be installed. Run alone, they fail.

mod common;
mod support;

use common::{closed_port, repo_root, Sim};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use support::pacs::{free_port, make_study, read_pixels, Pacs, LOCAL_AE};

/// The profile scripts/build-windows.sh builds for the tests (release code, no LTO), unless
/// `MIIC_WINDOWS_PROFILE` names another (`release`: the LTO DLLs scripts/package.sh ships).
fn profile() -> String {
    std::env::var("MIIC_WINDOWS_PROFILE").unwrap_or_else(|_| "wintest".into())
}

#[derive(Clone, Copy, Debug)]
struct Arch {
    triple: &'static str,
    /// mingw-w64 tool prefix (`…-gcc`, `…-objdump`).
    tool: &'static str,
    /// Needs 32-bit Wine (wine32:i386) to run.
    wine32: bool,
}

const X64: Arch = Arch {
    triple: "x86_64-win7-windows-gnu",
    tool: "x86_64-w64-mingw32",
    wine32: false,
};
const X86: Arch = Arch {
    triple: "i686-win7-windows-gnu",
    tool: "i686-w64-mingw32",
    wine32: true,
};

fn windows_dir() -> PathBuf {
    repo_root().join("target/windows")
}

impl Arch {
    fn build_dir(self) -> PathBuf {
        let dir = windows_dir().join(self.triple).join(profile());
        for file in ["miic.dll", "libmiic.dll.a", "miic-cli.exe"] {
            assert!(
                dir.join(file).exists(),
                "{}/{file} is missing: run scripts/build-windows.sh (scripts/test.sh does)",
                dir.display()
            );
        }
        dir
    }

    fn dll(self) -> PathBuf {
        self.build_dir().join("miic.dll")
    }

    fn cli(self) -> PathBuf {
        self.build_dir().join("miic-cli.exe")
    }

    fn objdump(self, file: &Path) -> String {
        let out = Command::new(format!("{}-objdump", self.tool))
            .arg("-p")
            .arg(file)
            .output()
            .expect("mingw objdump (scripts/build-windows.sh installs binutils-mingw-w64)");
        assert!(out.status.success(), "objdump -p {}", file.display());
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

// ---- export and import tables ----

/// Names in the export table (`[Ordinal/Name Pointer] Table` of `objdump -p`).
fn exports(dump: &str) -> Vec<String> {
    dump.lines()
        .skip_while(|l| !l.starts_with("[Ordinal/Name Pointer] Table"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split(']').nth(1).map(|n| n.trim().to_owned()))
        .collect()
}

/// Imported functions per DLL (lower-cased DLL name).
fn imports(dump: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut by_dll: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut dll: Option<String> = None;
    for line in dump.lines() {
        if let Some(name) = line.trim().strip_prefix("DLL Name: ") {
            let name = name.trim().to_ascii_lowercase();
            by_dll.entry(name.clone()).or_default();
            dll = Some(name);
            continue;
        }
        if line.trim().is_empty() {
            dll = None;
            continue;
        }
        // "\t5fbfb8\t 1534  OpenProcessToken": address, hint, name.
        let Some(dll) = &dll else { continue };
        let fields: Vec<&str> = line.split_whitespace().collect();
        if let [addr, hint, name, ..] = fields.as_slice() {
            if addr.chars().all(|c| c.is_ascii_hexdigit()) && hint.parse::<u32>().is_ok() {
                by_dll.get_mut(dll).unwrap().insert((*name).to_owned());
            }
        }
    }
    by_dll
}

/// DLLs every Windows 7 SP1 has (and nothing that ships beside an application: no libgcc,
/// libwinpthread or VC runtime beyond msvcrt, no api-ms-win-* set, no combase).
const WINDOWS_7_DLLS: &[&str] = &[
    "kernel32.dll",
    "advapi32.dll",
    "ws2_32.dll",
    "userenv.dll",
    "iphlpapi.dll",
    "bcrypt.dll",
    "msvcrt.dll",
    "ntdll.dll",
    "shell32.dll",
    "ole32.dll",
    "user32.dll",
    "secur32.dll",
    "crypt32.dll",
];

/// Functions those DLLs only have from Windows 8 on (or Windows 10).
const NEWER_THAN_WINDOWS_7: &[&str] = &[
    "ProcessPrng",
    "WaitOnAddress",
    "WakeByAddressSingle",
    "WakeByAddressAll",
    "GetSystemTimePreciseAsFileTime",
    "CreateFile2",
    "CopyFile2",
    "GetCurrentThreadStackLimits",
    "SetThreadDescription",
    "GetThreadDescription",
    "GetOverlappedResultEx",
    "PrefetchVirtualMemory",
    "InitializeSynchronizationBarrier",
    "SetDefaultDllDirectories",
    "AddDllDirectory",
];

fn import_problems(file: &Path, by_dll: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let mut problems = Vec::new();
    for (dll, functions) in by_dll {
        if !WINDOWS_7_DLLS.contains(&dll.as_str()) {
            problems.push(format!(
                "{} imports {dll} ({}), which Windows 7 SP1 does not ship",
                file.display(),
                functions.iter().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
        for f in functions
            .iter()
            .filter(|f| NEWER_THAN_WINDOWS_7.contains(&f.as_str()))
        {
            problems.push(format!(
                "{} imports {dll}!{f}, which Windows 7 lacks",
                file.display()
            ));
        }
    }
    problems
}

#[test]
fn both_dlls_export_every_header_function_under_its_plain_name_and_nothing_else() {
    let header: BTreeSet<String> = common::header_functions()
        .into_iter()
        .map(|f| f.name)
        .collect();
    for arch in [X86, X64] {
        let exported = exports(&arch.objdump(&arch.dll()));
        let exported_set: BTreeSet<String> = exported.iter().cloned().collect();
        assert_eq!(exported.len(), exported_set.len(), "{arch:?}: {exported:?}");
        let missing: Vec<_> = header.difference(&exported_set).collect();
        let extra: Vec<_> = exported_set.difference(&header).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{arch:?} miic.dll: header functions not exported under their plain names: \
             {missing:?}; exports the header does not declare (or decorated names): {extra:?}"
        );
        println!("{}: {} exports, all plain", arch.triple, exported.len());
    }
}

#[test]
fn dlls_and_cli_import_only_what_windows_7_sp1_ships() {
    let mut problems = Vec::new();
    for arch in [X86, X64] {
        for file in [arch.dll(), arch.cli()] {
            let by_dll = imports(&arch.objdump(&file));
            assert!(
                by_dll.contains_key("kernel32.dll"),
                "no import table read from {}",
                file.display()
            );
            problems.extend(import_problems(&file, &by_dll));
            let summary: Vec<String> = by_dll
                .iter()
                .map(|(dll, f)| format!("{dll} ({})", f.len()))
                .collect();
            println!(
                "{} {}: {}",
                arch.triple,
                file.file_name().unwrap().to_string_lossy(),
                summary.join(", ")
            );
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn import_check_catches_what_windows_7_lacks() {
    // The check itself, on a table shaped like the ones that failed: combase, Windows 10 std.
    let dump = "\tDLL Name: combase.dll\n\tvma:  Hint/Ord Member-Name Bound-To\n\t5fc0f8\t   70  CoTaskMemFree\n\n\
                \tDLL Name: bcryptprimitives.dll\n\t5fc108\t    3  ProcessPrng\n\n\
                \tDLL Name: KERNEL32.dll\n\t5fc118\t  100  WaitOnAddress\n\t5fc120\t  101  CloseHandle\n\n\
                \tDLL Name: api-ms-win-core-synch-l1-2-0.dll\n\t5fc128\t    1  WakeByAddressAll\n\n\
                \tDLL Name: libgcc_s_dw2-1.dll\n\t5fc130\t    1  _Unwind_Resume\n";
    let problems = import_problems(Path::new("t.dll"), &imports(dump)).join("\n");
    for expected in [
        "combase.dll",
        "bcryptprimitives.dll",
        "kernel32.dll!WaitOnAddress",
        "api-ms-win-core-synch-l1-2-0.dll",
        "libgcc_s_dw2-1.dll",
    ] {
        assert!(
            problems.contains(expected),
            "{expected} not caught:\n{problems}"
        );
    }
    assert!(!problems.contains("CloseHandle"), "{problems}");
}

/// On x86 only cdecl leaves the arguments for the caller to pop: every export's first `ret`
/// must be a plain `ret`, not stdcall's `ret $N`. Read from the machine code, so it holds even
/// where 32-bit Wine is missing (the wine32 test calls each export).
#[test]
fn i686_exports_return_with_a_plain_ret_as_cdecl_functions_do() {
    let dll = X86.dll();
    let dump = X86.objdump(&dll);
    let base = dump
        .lines()
        .find_map(|l| l.strip_prefix("ImageBase"))
        .map(|v| u64::from_str_radix(v.trim(), 16).unwrap())
        .expect("ImageBase");
    // "[   0] +base[   1] 65e25 Export RVA", in the order of the name table.
    let rvas: Vec<u64> = dump
        .lines()
        .filter(|l| l.trim_end().ends_with("Export RVA"))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            u64::from_str_radix(f[f.len() - 3], 16).unwrap()
        })
        .collect();
    let names = exports(&dump);
    assert_eq!(rvas.len(), names.len(), "{dump}");
    // The name table is sorted; the address table is in ordinal order: map through ordinals.
    let ordinals: Vec<usize> = dump
        .lines()
        .skip_while(|l| !l.starts_with("[Ordinal/Name Pointer] Table"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .map(|l| {
            l.trim()
                .trim_start_matches('[')
                .split(']')
                .next()
                .unwrap()
                .trim()
                .parse()
                .unwrap()
        })
        .collect();
    for (name, ordinal) in names.iter().zip(ordinals) {
        let start = base + rvas[ordinal];
        let out = Command::new(format!("{}-objdump", X86.tool))
            .args(["-d", "--no-show-raw-insn"])
            .arg(format!("--start-address=0x{start:x}"))
            .arg(format!("--stop-address=0x{:x}", start + 0x4000))
            .arg(&dll)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let ret = text
            .lines()
            .find_map(|l| {
                let insn = l.split('\t').nth(1)?.trim();
                insn.starts_with("ret").then(|| insn.to_owned())
            })
            .unwrap_or_else(|| panic!("{name}: no ret found after 0x{start:x}"));
        assert_eq!(ret, "ret", "{name} returns with `{ret}`: not cdecl");
    }
}

// ---- C programs built with mingw ----

/// Compile a C program of the repo with mingw for `arch` (statically, so it needs no mingw
/// DLL), linked against miic's import library when `link_miic`; miic.dll is copied beside it.
fn mingw_program(
    arch: Arch,
    name: &str,
    source: &Path,
    extra: &[&str],
    link_miic: bool,
) -> PathBuf {
    static BUILT: Mutex<Option<HashMap<(String, &'static str), PathBuf>>> = Mutex::new(None);
    let mut built = BUILT.lock().unwrap_or_else(|p| p.into_inner());
    let key = (name.to_owned(), arch.triple);
    if let Some(exe) = built.get_or_insert_with(HashMap::new).get(&key) {
        return exe.clone();
    }
    let dir = windows_dir()
        .join(arch.triple)
        .join("c-tests")
        .join(std::process::id().to_string());
    std::fs::create_dir_all(&dir).unwrap();
    if !dir.join("miic.dll").exists() {
        std::fs::copy(arch.dll(), dir.join("miic.dll")).unwrap();
    }
    let exe = dir.join(format!("{name}.exe"));
    let mut cmd = Command::new(format!("{}-gcc", arch.tool));
    cmd.args([
        "-std=c11",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-D_POSIX_C_SOURCE=200809L",
        "-O1",
    ])
    .arg("-I")
    .arg(repo_root().join("include"))
    .arg(source);
    if link_miic {
        cmd.arg(arch.build_dir().join("libmiic.dll.a"));
    }
    let out = cmd
        .args(extra)
        .args(["-static", "-pthread", "-o"])
        .arg(&exe)
        .output()
        .expect("mingw gcc (scripts/build-windows.sh installs it)");
    assert!(
        out.status.success(),
        "{}-gcc failed on {}:\n{}",
        arch.tool,
        source.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    built.as_mut().unwrap().insert(key, exe.clone());
    exe
}

fn repo_program(arch: Arch, name: &str, source: &str) -> PathBuf {
    mingw_program(arch, name, &repo_root().join(source), &[], true)
}

/// The cdecl check, generated from the header so it follows new exports: each export is
/// looked up by its plain name and called through a pointer typed `__cdecl` with zero/NULL
/// arguments (every export accepts them), reading ESP before and after the call.
fn cdecl_program() -> PathBuf {
    let mut c = String::from(
        "#include <windows.h>\n#include <stdio.h>\n#include <stdint.h>\n#include <string.h>\n\
         #include \"miic.h\"\n\n#define READ_ESP(v) __asm__ __volatile__(\"movl %%esp, %0\" : \"=r\"(v) : : \"memory\")\n\n\
         int main(void) {\n    int failures = 0, calls = 0;\n    HMODULE dll = LoadLibraryA(\"miic.dll\");\n\
             if (!dll) { printf(\"FAIL LoadLibrary %lu\\n\", GetLastError()); return 1; }\n",
    );
    for f in common::header_functions() {
        let params = if f.params.is_empty() {
            "void".to_owned()
        } else {
            f.params.join(", ")
        };
        let zeros = vec!["0"; f.params.len()].join(", ");
        let call = if f.ret == "void" {
            format!("fn({zeros})")
        } else {
            format!("(void)fn({zeros})")
        };
        c.push_str(&format!(
            "    {{\n        typedef {ret} (__cdecl *fn_t)({params});\n\
             fn_t fn = (fn_t)(void (*)(void))GetProcAddress(dll, \"{name}\");\n\
             if (!fn) {{ printf(\"FAIL {name} is not exported under its plain name\\n\"); failures++; }}\n\
             else {{\n            uintptr_t before, after;\n            READ_ESP(before);\n            {call};\n            READ_ESP(after);\n\
             calls++;\n            if (before != after) {{ printf(\"FAIL {name}: ESP moved by %d\\n\", (int)(after - before)); failures++; }}\n\
             else printf(\"ok   {name}\\n\");\n        }}\n    }}\n",
            ret = f.ret,
            name = f.name,
        ));
    }
    // Arguments arrive where cdecl puts them: values, not only the stack depth.
    c.push_str(
        "    {\n        typedef const char *(__cdecl *name_t)(int32_t);\n\
         name_t name = (name_t)(void (*)(void))GetProcAddress(dll, \"miic_status_name\");\n\
         uintptr_t before, after;\n        READ_ESP(before);\n        const char *s = name(MIIC_E_TIMEOUT);\n        READ_ESP(after);\n\
         if (before != after || strcmp(s, \"MIIC_E_TIMEOUT\") != 0) { printf(\"FAIL miic_status_name(-6) = %s\\n\", s); failures++; }\n\
         typedef uint32_t (__cdecl *abi_t)(void);\n\
         abi_t abi = (abi_t)(void (*)(void))GetProcAddress(dll, \"miic_abi_version\");\n\
         if (abi() != MIIC_ABI_VERSION) { printf(\"FAIL abi version\\n\"); failures++; }\n    }\n\
         printf(\"%d exports called, %d failed\\n\", calls, failures);\n    return failures == 0 ? 0 : 1;\n}\n",
    );
    let dir = windows_dir().join(X86.triple).join("c-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let source = dir.join(format!("cdecl_check-{}.c", std::process::id()));
    std::fs::write(&source, c).unwrap();
    mingw_program(X86, "cdecl_check", &source, &[], false)
}

#[test]
fn mingw_programs_build_against_both_import_libraries() {
    for arch in [X86, X64] {
        repo_program(arch, "abi_test", "tests/c/abi_test.c");
        repo_program(arch, "outbox_child", "tests/c/outbox_child.c");
        repo_program(arch, "qr_image_test", "tests/c/qr_image_test.c");
        repo_program(arch, "doctor_workflow", "examples/c/doctor_workflow.c");
    }
    cdecl_program();
}

// ---- Wine ----

fn require_wine32() {
    let status = std::fs::read_to_string(windows_dir().join("wine32.txt"))
        .unwrap_or_else(|_| "scripts/wine-setup.sh has not run".into());
    assert!(
        status.trim() == "ok",
        "32-bit Wine is not available: {}. scripts/test.sh skips the wine32 tests (--skip wine32) \
         and says so",
        status.trim()
    );
}

/// `wine PROGRAM` in the test prefix, as a Chinese workstation (code page 936).
fn wine(arch: Arch, program: &Path) -> Command {
    if arch.wine32 {
        require_wine32();
    }
    let prefix = windows_dir().join("wine");
    assert!(
        prefix.join("system.reg").exists(),
        "no Wine prefix at {}: run scripts/wine-setup.sh (scripts/test.sh does)",
        prefix.display()
    );
    // One wineserver for the whole run, kept 30 s after its last client (it then leaves by
    // itself): with the default 3 s a test starting Wine as the server shuts down fails to
    // start its program ("ShellExecuteEx failed").
    static SERVER: std::sync::Once = std::sync::Once::new();
    SERVER.call_once(|| {
        let _ = Command::new("wineserver")
            .arg("-p30")
            .env("WINEPREFIX", &prefix)
            .status();
    });
    let mut cmd = Command::new("wine");
    cmd.arg(program)
        .env("WINEPREFIX", &prefix)
        .env("WINEDEBUG", "-all")
        .env("WINEDLLOVERRIDES", "mscoree,mshtml,winemenubuilder.exe=d")
        .env("LC_ALL", "zh_CN.UTF-8")
        .env_remove("DISPLAY")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

fn text(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().expect("start wine");
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}",
        out.status,
        text(&out)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A folder on the Wine C: drive, with a space and Chinese in its name; removed when the test
/// passed.
struct WinDir {
    windows: String,
    unix: PathBuf,
}

impl WinDir {
    fn new(arch: Arch, tag: &str) -> WinDir {
        let name = format!("{tag}-{}-{}", arch.triple, std::process::id());
        let unix = windows_dir().join("wine/drive_c/miic 测试").join(&name);
        let _ = std::fs::remove_dir_all(&unix);
        std::fs::create_dir_all(&unix).unwrap();
        WinDir {
            windows: format!("C:\\miic 测试\\{name}"),
            unix,
        }
    }

    /// `C:\…\rel` (rel with backslashes).
    fn win(&self, rel: &str) -> String {
        format!("{}\\{rel}", self.windows)
    }

    fn unix(&self, rel: &str) -> PathBuf {
        self.unix.join(rel.replace('\\', "/"))
    }
}

impl Drop for WinDir {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.unix);
        }
    }
}

fn outbox_key(path: &str) -> String {
    format!(r#""outbox":{{"path":{}}}"#, Value::from(path))
}

fn requests_to(sim: &Sim, path: &str) -> Vec<Value> {
    sim.requests()
        .into_iter()
        .filter(|r| r["path"] == path)
        .collect()
}

const LOGIN: &str = "/hrball/";
const REMINDER: &str = "/iuWorkStation/swipingIdCardNo";
const QR: &str = "/getway/reportAndFilm/api/qrurl";
const DELETE: &str = "/standardInterface/standardHttp/deleteDicom";
const DOCTOR_ID: &str = "11010119800101123X";
const PATIENT_ID: &str = "440101199001011234";

/// One case of tests/c/abi_test.c under Wine; its stdout. Panics with the output on failure.
fn abi_case(arch: Arch, case: &str, config: &str, env: &[(&str, &str)]) -> String {
    let exe = repo_program(arch, "abi_test", "tests/c/abi_test.c");
    run_ok(
        wine(arch, &exe)
            .arg(case)
            .env("MIIC_TEST_CONFIG", config)
            .envs(env.iter().copied()),
    )
}

fn workflow(arch: Arch) {
    let sim = Sim::start(&[]);
    let dir = WinDir::new(arch, "workflow");
    let out = abi_case(
        arch,
        "workflow",
        &sim.config(&outbox_key(&dir.win("发送箱\\outbox.sqlite"))),
        &[],
    );
    assert!(out.contains("workflow: 0 failed"), "{out}");
    let logins = requests_to(&sim, LOGIN);
    assert_eq!(logins.len(), 2, "login and logout: {logins:#?}");
    for (r, login_type) in logins.iter().zip(["1", "2"]) {
        assert_eq!(r["params"]["type"], login_type);
        assert_eq!(r["params"]["doctorName"], "张医生");
        assert_eq!(r["decrypted"]["doctorIdCardNo"], DOCTOR_ID);
        assert_eq!(r["problems"], json!([]), "{r:#?}");
    }
    let reminders = requests_to(&sim, REMINDER);
    assert_eq!(reminders.len(), 1);
    let p = &reminders[0]["params"];
    assert_eq!(p["patientName"], "李小明");
    assert_eq!(
        p["clientIp"], "127.0.0.1",
        "the address of the route to base_url"
    );
    assert!(
        p["mac"].as_str().is_some_and(|m| m.len() == 17),
        "the workstation's MAC (GetAdaptersAddresses): {p}"
    );
    assert_eq!(reminders[0]["decrypted"]["idCardNo"], PATIENT_ID);
    assert_eq!(reminders[0]["problems"], json!([]), "{:#?}", reminders[0]);
    assert_eq!(requests_to(&sim, QR).len(), 1);
    let deletes = requests_to(&sim, DELETE);
    assert_eq!(deletes.len(), 1);
    assert_eq!(deletes[0]["params"]["operateDoctorName"], "张医生");
    assert_eq!(deletes[0]["problems"], json!([]));
    assert!(
        dir.unix("发送箱/outbox.sqlite").exists(),
        "the outbox file is at its Windows path"
    );
}

/// Errors found before anything is sent: arguments, encodings, state, configs, stale handles,
/// plus the other exports' error paths (MIIC_E_IO, MIIC_E_CONFIG) and the version macros.
fn local_errors(arch: Arch) {
    let sim = Sim::start(&[]);
    let dir = WinDir::new(arch, "local");
    let config = sim.config(&outbox_key(&dir.win("outbox.sqlite")));
    for case in [
        "null_pointers",
        "missing_fields",
        "invalid_utf8",
        "no_session",
        "bad_configs",
        "versions",
        "other_exports",
    ] {
        let out = abi_case(arch, case, &config, &[]);
        assert!(out.contains(&format!("{case}: 0 failed")), "{out}");
    }
}

fn gbk_client(arch: Arch) {
    let sim = Sim::start(&[]);
    sim.fault(json!({"mode": "code202", "path": QR}));
    let dir = WinDir::new(arch, "gbk");
    let config = sim.config(&format!(
        r#""text_encoding":"gbk",{}"#,
        outbox_key(&dir.win("outbox.sqlite"))
    ));
    abi_case(arch, "gbk_client", &config, &[]);
    let logins = requests_to(&sim, LOGIN);
    assert_eq!(logins.len(), 1);
    assert_eq!(logins[0]["params"]["doctorName"], "张医生");
    assert_eq!(logins[0]["params"]["department"], "放射科");
}

/// An ANSI host's paths are GBK: the config file, the outbox and log folders it names, and the
/// QR picture all land under their Chinese names.
fn gbk_file_names(arch: Arch) {
    let sim = Sim::start(&[]);
    let dir = WinDir::new(arch, "gbk-paths");
    std::fs::create_dir_all(dir.unix("配置")).unwrap();
    let toml = format!(
        "base_url = \"{}\"\nhospital_id = \"H4401\"\ntimeout_ms = 3000\ntext_encoding = \"gbk\"\n\
         [sm2]\npublic_key = \"{}\"\n[outbox]\npath = '{}'\n[log]\ndir = '{}'\n",
        sim.url,
        sim.public_key,
        dir.win("影像发送箱\\待发.sqlite"),
        dir.win("日志")
    );
    std::fs::write(dir.unix("配置/医保影像云.toml"), toml).unwrap();
    let out = abi_case(
        arch,
        "gbk_file_names",
        "{}",
        &[
            ("MIIC_TEST_CONFIG_PATH", &dir.win("配置\\医保影像云.toml")),
            ("MIIC_TEST_PNG", &dir.win("报告二维码.png")),
        ],
    );
    assert!(out.contains("gbk_file_names: 0 failed"), "{out}");
    assert!(dir.unix("影像发送箱/待发.sqlite").exists(), "outbox file");
    assert_eq!(
        std::fs::read_dir(dir.unix("日志"))
            .map(|d| d.count())
            .unwrap_or(0),
        1,
        "one daily log file in 日志"
    );
    assert_eq!(zbarimg(&dir.unix("报告二维码.png")), qr_film_url(&sim));
    let deletes = requests_to(&sim, DELETE);
    assert_eq!(deletes.len(), 1);
    assert_eq!(deletes[0]["params"]["patientName"], "李小明");
}

/// The film URL the simulator answers for the abi_test exam.
fn qr_film_url(sim: &Sim) -> String {
    let r = requests_to(sim, QR);
    r.last().expect("a qrurl request")["reply"]["data"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("qrurl reply without data: {r:#?}"))
}

/// What Debian's zbarimg reads from a PNG (scripts/deps/apt.txt installs zbar-tools).
fn zbarimg(png: &Path) -> String {
    let out = Command::new("zbarimg")
        .args(["--raw", "-q"])
        .arg(png)
        .output()
        .expect("zbarimg");
    assert!(
        out.status.success(),
        "zbarimg found no code in {}",
        png.display()
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn async_reminder(arch: Arch) {
    let sim = Sim::start(&[]);
    sim.fault(json!({"mode": "hang"}));
    let dir = WinDir::new(arch, "async");
    let out = abi_case(
        arch,
        "async_reminder",
        &sim.config(&outbox_key(&dir.win("outbox.sqlite"))),
        &[],
    );
    println!(
        "{}",
        out.lines()
            .filter(|l| l.starts_with("ASYNC") || l.starts_with("CLOSE"))
            .collect::<Vec<_>>()
            .join(" ")
    );
}

/// Every cloud call under one fault returns `status` within timeout_ms + 200 ms; the delete
/// notification waits in the outbox.
fn fault(arch: Arch, fault: Option<Value>, refused: bool, status: i32) {
    let sim = Sim::start(&[]);
    if let Some(f) = fault {
        sim.fault(f);
    }
    let dir = WinDir::new(arch, &format!("fault{status}"));
    let mut config = sim.config(&outbox_key(&dir.win("outbox.sqlite")));
    if refused {
        config = config.replace(&sim.url, &format!("http://127.0.0.1:{}", closed_port()));
    }
    let out = abi_case(
        arch,
        "fault_matrix",
        &config,
        &[
            ("MIIC_TEST_EXPECT", &status.to_string()),
            ("MIIC_TEST_MAX_MS", "1200"),
        ],
    );
    println!(
        "{}",
        out.lines()
            .filter(|l| l.starts_with("CALL"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

fn logs(arch: Arch) {
    let sim = Sim::start(&[]);
    let dir = WinDir::new(arch, "logs");
    let config = sim.config(&format!(
        r#""log":{{"dir":{},"level":"debug"}},{}"#,
        Value::from(dir.win("日志 文件")),
        outbox_key(&dir.win("outbox.sqlite"))
    ));
    abi_case(arch, "logs_mask_personal_data", &config, &[]);
    let files: Vec<PathBuf> = std::fs::read_dir(dir.unix("日志 文件"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "one daily log file: {files:?}");
    let log = std::fs::read_to_string(&files[0]).unwrap();
    assert!(log.lines().count() > 3, "{log}");
    for secret in [
        DOCTOR_ID,
        PATIENT_ID,
        "15395092817",
        "13800138000",
        "李小明",
        "张医生",
    ] {
        assert!(!log.contains(secret), "log file holds {secret}:\n{log}");
    }
}

/// Login method 1: miic starts the plugin exe (here in a folder with a space and Chinese in its
/// name) with the parameter string as its one argument, once for login and once for logout.
fn plugin_exe(arch: Arch) {
    let sim = Sim::start(&[]);
    let dir = WinDir::new(arch, "plugin");
    let recorder = mingw_program(
        arch,
        "plugin_recorder",
        &repo_root().join("tests/c/plugin_recorder.c"),
        &["-municode"],
        false,
    );
    std::fs::create_dir_all(dir.unix("影像 插件")).unwrap();
    std::fs::copy(&recorder, dir.unix("影像 插件/plugin.exe")).unwrap();
    let config = sim.config(&format!(
        r#""plugin":{{"exe":{},"login_via":"exe"}},{}"#,
        Value::from(dir.win("影像 插件\\plugin.exe")),
        outbox_key(&dir.win("outbox.sqlite"))
    ));
    let out = abi_case(arch, "plugin_url_and_exe", &config, &[]);
    let url = out
        .lines()
        .find_map(|l| l.strip_prefix("PLUGIN_URL="))
        .unwrap()
        .to_owned();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut launches: Vec<Vec<String>> = Vec::new();
    while Instant::now() < deadline {
        launches = std::fs::read_dir(dir.unix("影像 插件"))
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "txt"))
            .map(|p| {
                std::fs::read_to_string(p)
                    .unwrap()
                    .lines()
                    .map(str::to_owned)
                    .collect()
            })
            .collect();
        if launches.len() >= 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(launches.len(), 2, "two launches: {launches:?}");
    assert!(
        launches.iter().all(|l| l.len() == 2 && l[0] == "1"),
        "one argument each: {launches:?}"
    );
    launches.sort_by_key(|l| l[1].contains("&type=2&"));
    let strip = |s: &str| {
        s.split('&')
            .filter(|kv| !kv.starts_with("doctorIdCardNo="))
            .collect::<Vec<_>>()
            .join("&")
    };
    assert_eq!(
        strip(url.strip_prefix("WYHT://").unwrap()),
        strip(&launches[0][1])
    );
    assert!(launches[1][1].contains("&type=2&"), "{launches:?}");
    assert!(
        requests_to(&sim, LOGIN).is_empty(),
        "exe login sends no HTTP"
    );
}

/// 4.3 from C: miic_qr_url, then miic_qr_image to a GBK path (argv of an ANSI program).
fn qr_png(arch: Arch) {
    let sim = Sim::start(&[]);
    let dir = WinDir::new(arch, "qr");
    let exe = repo_program(arch, "qr_image_test", "tests/c/qr_image_test.c");
    let config = sim.config(&format!(
        r#""text_encoding":"gbk",{}"#,
        outbox_key(&dir.win("outbox.sqlite"))
    ));
    let out = run_ok(
        wine(arch, &exe)
            .args(["image", &dir.win("报告 二维码.png")])
            .arg(r#"{"accessNumber":"CT20261126001","modality":"CT"}"#)
            .env("MIIC_TEST_CONFIG", &config),
    );
    let url = out
        .lines()
        .find_map(|l| l.strip_prefix("url="))
        .unwrap_or_else(|| panic!("no url line: {out}"));
    assert!(out.contains("status=MIIC_OK"), "{out}");
    assert_eq!(zbarimg(&dir.unix("报告 二维码.png")), url.trim());
    assert_eq!(url.trim(), qr_film_url(&sim));
}

/// outbox_child.exe's "R <accession> <datetime> <rc>" lines that returned MIIC_OK/MIIC_QUEUED.
fn acknowledged(stdout: &str) -> Vec<(String, String)> {
    stdout
        .lines()
        .filter_map(|l| match l.split(' ').collect::<Vec<_>>().as_slice() {
            ["R", acc, date, time, "0" | "1"] => Some((acc.to_string(), format!("{date} {time}"))),
            _ => None,
        })
        .collect()
}

fn flush_line(stdout: &str) -> (i32, u32) {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("F "))
        .unwrap_or_else(|| panic!("no flush line in {stdout}"));
    let f: Vec<&str> = line.split(' ').collect();
    (f[1].parse().unwrap(), f[2].parse().unwrap())
}

fn delivered(sim: &Sim) -> Vec<(String, String)> {
    requests_to(sim, DELETE)
        .iter()
        .filter(|r| r["code"] == 200)
        .map(|r| {
            (
                r["params"]["accessionNo"].as_str().unwrap().to_owned(),
                r["params"]["operateDateTime"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Windows processes killed at random instants while they enqueue (the cloud resets every
/// connection) lose no acknowledged notification: the next open resumes the outbox file.
fn crash_and_resume(arch: Arch) {
    let sim = Sim::start(&[]);
    sim.fault(json!({"mode": "reset", "path": DELETE}));
    let dir = WinDir::new(arch, "crash");
    let config = sim.config(&outbox_key(&dir.win("outbox.sqlite")));
    let exe = repo_program(arch, "outbox_child", "tests/c/outbox_child.c");
    let mut seed = u64::from(std::process::id()) | 1;
    let (mut acked, mut killed, mut rounds) = (Vec::new(), 0, 0);
    while rounds < 4 || (acked.len() < 40 && rounds < 12) {
        rounds += 1;
        let mut child = wine(arch, &exe)
            .args(["enqueue", &format!("K{rounds:02}"), "2000", "3"])
            .env("MIIC_TEST_CONFIG", &config)
            .spawn()
            .unwrap();
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        // Wine takes a few hundred ms to start a process; 2000 notifications take several seconds.
        let kill_after = Duration::from_millis(500 + seed % 2000);
        let started = Instant::now();
        while started.elapsed() < kill_after && child.try_wait().unwrap().is_none() {
            std::thread::sleep(Duration::from_millis(5));
        }
        if child.try_wait().unwrap().is_none() {
            killed += 1;
        }
        let _ = child.kill(); // SIGKILL of the Windows process itself (wine runs it in this PID)
        child.wait().unwrap();
        let mut stdout = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut stdout)
            .unwrap();
        assert!(
            !stdout.contains("\nO ") && !stdout.starts_with("O "),
            "open failed: {stdout}"
        );
        acked.extend(acknowledged(&stdout));
    }
    assert!(
        killed * 2 >= rounds,
        "only {killed} of {rounds} rounds were killed mid-run"
    );
    assert!(!acked.is_empty(), "nothing acknowledged in {rounds} rounds");
    sim.reset();
    let out = run_ok(
        wine(arch, &exe)
            .args(["drain", "60000"])
            .env("MIIC_TEST_CONFIG", &config),
    );
    assert_eq!(flush_line(&out), (0, 0), "drain: {out}");
    let arrived: BTreeSet<(String, String)> = delivered(&sim).into_iter().collect();
    let lost: Vec<_> = acked.iter().filter(|k| !arrived.contains(*k)).collect();
    assert!(
        lost.is_empty(),
        "acknowledged but never delivered: {lost:?}"
    );
    println!(
        "{}: {rounds} rounds ({killed} killed mid-run), {} acknowledged, 0 lost, {} delivered",
        arch.triple,
        acked.len(),
        arrived.len()
    );
}

/// Two Windows processes on one outbox file (SQLite's Windows locking): everything delivered
/// once, in order per accession.
fn two_processes(arch: Arch) {
    let sim = Sim::start(&[]);
    sim.fault(json!({"mode": "code500", "count": 20, "path": DELETE}));
    let dir = WinDir::new(arch, "shared");
    let config = sim.config(&outbox_key(&dir.win("共享\\outbox.sqlite")));
    let exe = repo_program(arch, "outbox_child", "tests/c/outbox_child.c");
    let spawn = |prefix: &str| {
        wine(arch, &exe)
            .args(["enqueue", prefix, "40", "4", "30000"])
            .env("MIIC_TEST_CONFIG", &config)
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn("PA"), spawn("PB"));
    let mut acked = Vec::new();
    for child in [a, b] {
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{}", text(&out));
        assert_eq!(flush_line(&stdout), (0, 0), "{stdout}");
        acked.extend(acknowledged(&stdout));
    }
    assert_eq!(acked.len(), 80);
    let got = delivered(&sim);
    let mut seen: HashMap<&(String, String), usize> = HashMap::new();
    for k in &got {
        *seen.entry(k).or_default() += 1;
    }
    let lost: Vec<_> = acked.iter().filter(|k| !seen.contains_key(k)).collect();
    assert!(lost.is_empty(), "lost: {lost:?}");
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "sent twice: {twice:?}");
    let mut last: HashMap<&str, &str> = HashMap::new();
    for (acc, at) in &got {
        if let Some(prev) = last.insert(acc, at) {
            assert!(prev < at.as_str(), "{acc}: {at} arrived after {prev}");
        }
    }
}

fn quick_start(arch: Arch) {
    let sim = Sim::start(&[]);
    let dir = WinDir::new(arch, "quick-start");
    let exe = repo_program(arch, "doctor_workflow", "examples/c/doctor_workflow.c");
    let out = run_ok(wine(arch, &exe).arg(sim.config(&outbox_key(&dir.win("outbox.sqlite")))));
    assert!(
        out.contains("qr url: http://") && out.contains("logout: ok"),
        "{out}"
    );
    let paths: BTreeSet<String> = sim
        .requests()
        .iter()
        .map(|r| r["path"].as_str().unwrap().to_owned())
        .collect();
    for path in [LOGIN, QR, DELETE] {
        assert!(paths.contains(path), "{path} not reached: {paths:?}");
    }
}

/// Without `[outbox] path` the file is %LOCALAPPDATA%\miic\outbox.sqlite; a notification
/// queued there while the cloud is down goes out from the next open.
fn default_outbox(arch: Arch) {
    // One default file per Windows user: the two architectures take turns.
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let users = windows_dir().join("wine/drive_c/users");
    let user = std::fs::read_dir(&users)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .find(|n| n != "Public")
        .expect("the Wine user's profile");
    let file = users.join(&user).join("AppData/Local/miic/outbox.sqlite");
    let _ = std::fs::remove_file(&file);
    let sim = Sim::start(&[]);
    let down = format!(
        r#"{{"base_url":"http://127.0.0.1:{}","hospital_id":"H4401","timeout_ms":1000}}"#,
        closed_port()
    );
    let exe = repo_program(arch, "outbox_child", "tests/c/outbox_child.c");
    let out = run_ok(
        wine(arch, &exe)
            .args(["enqueue", "DEF", "2", "1"])
            .env("MIIC_TEST_CONFIG", &down),
    );
    assert_eq!(acknowledged(&out).len(), 2, "{out}");
    assert!(file.exists(), "no outbox at {}", file.display());
    // sim.config adds an explicit outbox; this run must use the default one.
    let up = strip_outbox(&sim.config(""));
    let out = run_ok(
        wine(arch, &exe)
            .args(["drain", "20000"])
            .env("MIIC_TEST_CONFIG", &up),
    );
    assert_eq!(flush_line(&out), (0, 0), "{out}");
    assert_eq!(delivered(&sim).len(), 2);
    let _ = std::fs::remove_file(&file);
}

/// A config without its `"outbox":{…}` member.
fn strip_outbox(config: &str) -> String {
    let mut v: Value = serde_json::from_str(config).unwrap();
    v.as_object_mut().unwrap().remove("outbox");
    v.to_string()
}

/// LoadLibrary / use / miic_close / FreeLibrary, 40 times: miic.dll really unloads, the calls
/// that wait for the cloud start no thread, nothing is left behind.
fn load_unload(arch: Arch) {
    let sim = Sim::start(&[]);
    let dir = WinDir::new(arch, "loadlibrary");
    let exe = mingw_program(
        arch,
        "loadlibrary_test",
        &repo_root().join("tests/c/loadlibrary_test.c"),
        &["-lpsapi"],
        false,
    );
    let out = run_ok(wine(arch, &exe).env(
        "MIIC_TEST_CONFIG",
        sim.config_with_timeout(3000, &outbox_key(&dir.win("outbox.sqlite"))),
    ));
    assert!(out.contains("loadlibrary: 0 failed"), "{out}");
    println!(
        "{}",
        out.lines().find(|l| l.starts_with("THREADS")).unwrap_or("")
    );
}

/// 4.2 from a Windows process: `miic-cli.exe retrieve` (C-GET or C-MOVE, miic listening for the
/// PACS's connection) from dcmqrscp into a folder with a space and Chinese in its path.
fn dicom_retrieve(arch: Arch, how: &str) {
    let bits = if arch.wine32 { "32" } else { "64" };
    let pacs = Pacs::start(&format!("wine{bits}-{how}"), 3, 32);
    let dir = WinDir::new(arch, &format!("dicom-{how}"));
    let out = run_ok(
        wine(arch, &arch.cli())
            .args(["retrieve", "--config", &pacs.config(how, LOCAL_AE, 10000)])
            .args(["--study", &pacs.study_uid, "--out", &dir.win("影像 下载")]),
    );
    let manifest: Value = serde_json::from_str(&out[out.find('{').expect("manifest")..])
        .unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(manifest["completed"], 3, "{manifest}");
    for o in &pacs.originals {
        let (uid, pixels) =
            read_pixels(&dir.unix(&format!("影像 下载/{}.dcm", o.sop_instance_uid)));
        assert_eq!(uid, o.sop_instance_uid);
        assert!(pixels == o.pixels, "{uid}: pixels differ");
    }
}

/// 4.2 by HTTP: Windows-style dcmPath entries land under the Windows dest folder, byte for byte.
fn dicom_fetch_http(arch: Arch) {
    let dir = WinDir::new(arch, "fetch-http");
    let served = dir.unix("served");
    let originals = make_study(
        &served.join("wadocloud/2025/1/1"),
        "1.2.826.0.1.3680043.9.7433.78",
        3,
        32,
    );
    let port = free_port();
    let python = std::env::var("MIIC_PYTHON").unwrap_or_else(|_| "python3".into());
    let mut server = Command::new(python)
        .args([
            "-m",
            "http.server",
            "--bind",
            "127.0.0.1",
            &port.to_string(),
            "--directory",
        ])
        .arg(&served)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 http.server");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let dcm_path: Vec<String> = originals
        .iter()
        .map(|o| {
            format!(
                r"\wadocloud\2025\1\1\{}",
                o.path.file_name().unwrap().to_string_lossy()
            )
        })
        .collect();
    let config = json!({
        "base_url": "http://127.0.0.1:9",
        "hospital_id": "H1",
        "timeout_ms": 10000,
        "dicom_http": {"base_url": format!("http://127.0.0.1:{port}/")}
    })
    .to_string();
    let out = wine(arch, &arch.cli())
        .args([
            "fetch-http",
            "--config",
            &config,
            "--dcm-path",
            &dcm_path.join(","),
        ])
        .args(["--out", &dir.win("下载 目录")])
        .output()
        .unwrap();
    let _ = server.kill();
    let _ = server.wait();
    assert!(out.status.success(), "{}", text(&out));
    for o in &originals {
        let name = o.path.file_name().unwrap().to_string_lossy();
        let got = std::fs::read(dir.unix(&format!("下载 目录/wadocloud/2025/1/1/{name}"))).unwrap();
        assert!(got == std::fs::read(&o.path).unwrap(), "{name} differs");
    }
}

fn cli_demo(arch: Arch) {
    let out = run_ok(wine(arch, &arch.cli()).arg("demo"));
    assert!(!out.trim().is_empty());
    for secret in [DOCTOR_ID, PATIENT_ID] {
        assert!(!out.contains(secret), "the demo printed {secret}");
    }
    println!("{}", out.lines().take(40).collect::<Vec<_>>().join("\n"));
}

/// `miic-cli.exe watch` with nothing listening on the PACS port: the restart command, with
/// quoted paths holding spaces, runs through `cmd /S /C`; when restarts do not help, the alert
/// command gets the message in %MIIC_WATCH_MESSAGE%; the status file is rewritten in place.
fn watch(arch: Arch) {
    let dir = WinDir::new(arch, "watch");
    std::fs::write(dir.unix("source file.txt"), "restart ran\r\n").unwrap();
    std::fs::create_dir_all(dir.unix("状态")).unwrap();
    let config = json!({
        "base_url": "http://127.0.0.1:9",
        "hospital_id": "H1",
        "timeout_ms": 1000,
        "dicom": {"local_ae": "MIIC", "peer_ae": "PACS", "host": "127.0.0.1", "port": closed_port()}
    })
    .to_string();
    let restart = format!(
        "copy /y \"{}\" \"{}\" >nul & exit 3",
        dir.win("source file.txt"),
        dir.win("restart done.txt")
    );
    // No space before `>`: cmd's `set` would take it as part of the name.
    let alert = format!("set MIIC_WATCH_> \"{}\"", dir.win("alert 消息.txt"));
    let mut child = wine(arch, &arch.cli())
        .args(["watch", "--config", &config])
        .args(["--status-file", &dir.win("状态\\status.json")])
        .args([
            "--every",
            "200ms",
            "--fail-after",
            "1",
            "--max-restarts",
            "1",
        ])
        .args([
            "--cooldown",
            "10m",
            "--restart",
            &restart,
            "--alert",
            &alert,
        ])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let alert_file = dir.unix("alert 消息.txt");
    while Instant::now() < deadline && !alert_file.exists() && child.try_wait().unwrap().is_none() {
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(300)); // let cmd finish writing
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        std::fs::read_to_string(dir.unix("restart done.txt")).unwrap_or_default(),
        "restart ran\r\n",
        "the restart command's quoted paths reached copy intact:\n{log}"
    );
    // cmd writes in the ANSI code page: GBK here.
    let alert_bytes = std::fs::read(&alert_file).unwrap_or_default();
    let alert_text = encoding_rs::GBK.decode(&alert_bytes).0;
    assert!(
        alert_text.contains("MIIC_WATCH_STATE=gave_up")
            && alert_text.contains("MIIC_WATCH_MESSAGE=PACS DICOM service still not answering")
            && alert_text.contains("MIIC_E_NETWORK"),
        "alert environment: {alert_text:?}\n{log}"
    );
    let status: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.unix("状态/status.json")).unwrap())
            .unwrap();
    assert_eq!(status["state"], "gave_up", "{status}");
    assert!(log.contains("exit code: 3"), "{log}");
}

macro_rules! wine_tests {
    ($module:ident, $arch:expr) => {
        /// tests/c and the CLI under Wine, one architecture.
        mod $module {
            use super::*;

            #[test]
            fn doctor_workflow_reaches_the_cloud_with_the_outbox_on_a_windows_path() {
                workflow($arch)
            }
            #[test]
            fn local_errors_name_the_field_and_stale_handles_and_bad_configs_are_refused() {
                local_errors($arch)
            }
            #[test]
            fn gbk_client_round_trips_chinese_names() {
                gbk_client($arch)
            }
            #[test]
            fn gbk_paths_of_config_outbox_log_and_qr_png_land_under_their_chinese_names() {
                gbk_file_names($arch)
            }
            #[test]
            fn async_reminder_returns_at_once_and_close_is_prompt_with_the_cloud_hung() {
                async_reminder($arch)
            }
            #[test]
            fn every_call_with_the_cloud_refusing_is_a_network_error_and_delete_is_queued() {
                fault($arch, None, true, -5)
            }
            #[test]
            fn every_call_with_the_cloud_hung_times_out_in_bound_and_delete_is_queued() {
                fault($arch, Some(json!({"mode": "hang"})), false, -6)
            }
            #[test]
            fn every_call_with_cloud_code_500_is_a_server_error_and_delete_is_queued() {
                fault($arch, Some(json!({"mode": "code500"})), false, -7)
            }
            #[test]
            fn every_call_with_garbage_replies_is_a_protocol_error_and_delete_is_queued() {
                fault($arch, Some(json!({"mode": "garbage"})), false, -8)
            }
            #[test]
            fn log_file_in_a_windows_folder_holds_no_plaintext_id_phone_or_name() {
                logs($arch)
            }
            #[test]
            fn plugin_exe_in_a_folder_with_spaces_gets_the_parameter_string_as_one_argument() {
                plugin_exe($arch)
            }
            #[test]
            fn qr_url_and_png_at_a_gbk_path_decode_to_the_cloud_url() {
                qr_png($arch)
            }
            #[test]
            fn killed_hosts_lose_no_acknowledged_notification_and_the_next_open_resumes() {
                crash_and_resume($arch)
            }
            #[test]
            fn two_processes_sharing_one_outbox_deliver_everything_once_in_order() {
                two_processes($arch)
            }
            #[test]
            fn c_quick_start_example_runs_the_doctor_workflow() {
                quick_start($arch)
            }
            #[test]
            fn default_outbox_is_under_localappdata_and_resumes_on_the_next_open() {
                default_outbox($arch)
            }
            #[test]
            fn loadlibrary_cycles_unload_miic_and_its_cloud_calls_start_no_thread() {
                load_unload($arch)
            }
            #[test]
            fn dicom_c_get_lands_the_study_in_a_windows_folder() {
                dicom_retrieve($arch, "get")
            }
            #[test]
            fn dicom_c_move_lands_the_study_in_a_windows_folder() {
                dicom_retrieve($arch, "move")
            }
            #[test]
            fn dicom_http_windows_style_paths_land_under_the_dest_folder() {
                dicom_fetch_http($arch)
            }
            #[test]
            fn cli_demo_runs_the_whole_workflow() {
                cli_demo($arch)
            }
            #[test]
            fn watch_runs_restart_and_alert_commands_through_cmd_with_inner_quotes() {
                watch($arch)
            }
        }
    };
}

wine_tests!(wine64, X64);
wine_tests!(wine32, X86);

#[test]
fn wine32_every_export_called_through_a_cdecl_pointer_returns_with_the_stack_intact() {
    let exe = cdecl_program();
    let out = run_ok(&mut wine(X86, &exe));
    let n = common::header_functions().len();
    assert!(
        out.contains(&format!("{n} exports called, 0 failed")),
        "{out}"
    );
}
