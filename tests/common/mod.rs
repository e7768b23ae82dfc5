//! Shared helpers of the integration tests: the cloud simulator as a real peer, and the paths of
//! the built library and CLI.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// `target/debug` (or whichever profile built this test).
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test exe");
    exe.parent()
        .and_then(|p| p.parent())
        .expect("target dir")
        .to_path_buf()
}

pub fn cli_binary() -> PathBuf {
    let path = target_dir().join(format!("miic-cli{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} is missing: build the workspace first (scripts/test.sh does)",
        path.display()
    );
    path
}

pub fn cdylib() -> PathBuf {
    let name = format!(
        "{}miic{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    );
    target_dir().join(name)
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A running `miic-cli sim` on a free loopback port, killed on drop.
pub struct Sim {
    child: Child,
    pub url: String,
    pub public_key: String,
    agent: ureq::Agent,
}

impl Sim {
    pub fn start(extra_args: &[&str]) -> Sim {
        let mut child = Command::new(cli_binary())
            .args(["sim", "--host", "127.0.0.1", "--port", "0"])
            .args(extra_args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start miic-cli sim");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("sim startup line");
        // "miic-sim listening on http://127.0.0.1:PORT public_key=04…"
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no URL in sim startup line: {line:?}"))
            .to_owned();
        let public_key = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("public_key="))
            .unwrap_or_else(|| panic!("no public_key in sim startup line: {line:?}"))
            .to_owned();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(10)))
            .build()
            .into();
        Sim {
            child,
            url,
            public_key,
            agent,
        }
    }

    /// Every cloud request the simulator recorded, oldest first.
    pub fn requests(&self) -> Vec<serde_json::Value> {
        let body = self
            .agent
            .get(&format!("{}/__sim/requests", self.url))
            .call()
            .expect("GET /__sim/requests")
            .into_body()
            .read_to_string()
            .unwrap();
        serde_json::from_str(&body).expect("requests JSON")
    }

    pub fn reset(&self) {
        self.agent
            .post(&format!("{}/__sim/reset", self.url))
            .send("")
            .expect("POST /__sim/reset");
    }

    /// Switch a fault on, e.g. `{"mode":"hang"}`.
    pub fn fault(&self, spec: serde_json::Value) {
        self.agent
            .post(&format!("{}/__sim/fault", self.url))
            .header("Content-Type", "application/json")
            .send(spec.to_string())
            .expect("POST /__sim/fault");
    }

    /// Set the charset of the cloud replies, e.g. `{"encoding":"gbk","bom":true}`
    /// (docs/simulator.md, "Reply charset").
    pub fn encoding(&self, spec: serde_json::Value) {
        self.agent
            .post(&format!("{}/__sim/encoding", self.url))
            .header("Content-Type", "application/json")
            .send(spec.to_string())
            .expect("POST /__sim/encoding");
    }

    /// Like [`Sim::config`] with another `timeout_ms`: for tests of correctness, not timing,
    /// that must not fail because a loaded machine answers slowly.
    pub fn config_with_timeout(&self, timeout_ms: u32, extra: &str) -> String {
        self.config(extra).replacen(
            r#""timeout_ms":1000"#,
            &format!(r#""timeout_ms":{timeout_ms}"#),
            1,
        )
    }

    /// A minimal inline JSON config pointing at this simulator.
    pub fn config(&self, extra: &str) -> String {
        let mut cfg = format!(
            r#"{{"base_url":"{}","hospital_id":"H4401","timeout_ms":1000,"sm2":{{"public_key":"{}"}}"#,
            self.url, self.public_key
        );
        if !extra.is_empty() {
            cfg.push(',');
            cfg.push_str(extra);
        }
        if !extra.contains("\"outbox\"") {
            // A fresh outbox per config: the per-user default file is shared by every run, and
            // a notification left queued by one test would reach another test's simulator.
            cfg.push_str(&format!(
                r#","outbox":{{"path":{}}}"#,
                serde_json::Value::from(fresh_outbox_path().to_string_lossy())
            ));
        }
        cfg.push('}');
        cfg
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A new outbox file path under target/test-outbox (not created yet).
pub fn fresh_outbox_path() -> PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let dir = target_dir().join("test-outbox");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(format!(
        "{}-{}.sqlite",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ))
}

/// A loopback port with nothing listening (bound, then released).
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Python of the test venv (scripts/test.sh creates it and sets MIIC_PYTHON).
pub fn python() -> PathBuf {
    if let Ok(p) = std::env::var("MIIC_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = repo_root().join(".venv/bin/python");
    assert!(
        venv.exists(),
        "no Python venv: run scripts/test.sh (it creates .venv with gmssl), or set MIIC_PYTHON"
    );
    venv
}

/// Compile a C program of the repo with gcc against include/miic.h (and, when `link_miic`,
/// the built cdylib) into target/<profile>/c-tests/<name>; once per test binary.
pub fn c_program(name: &str, source: &str, libs: &[&str], link_miic: bool) -> PathBuf {
    use std::collections::HashMap;
    use std::sync::Mutex;
    static BUILT: Mutex<Option<HashMap<String, PathBuf>>> = Mutex::new(None);
    let mut built = BUILT.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(path) = built.get_or_insert_with(HashMap::new).get(name) {
        return path.clone();
    }
    let lib = cdylib();
    assert!(
        lib.exists(),
        "{} missing: build the workspace first",
        lib.display()
    );
    let out_dir = target_dir().join("c-tests");
    std::fs::create_dir_all(&out_dir).unwrap();
    // Unique per test binary: several test binaries may compile the same program at once.
    let exe = out_dir.join(format!("{name}-{}", std::process::id()));
    let root = repo_root();
    let mut cmd = Command::new("gcc");
    cmd.args([
        "-std=c11",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-D_POSIX_C_SOURCE=200809L",
        "-g",
    ])
    .arg("-I")
    .arg(root.join("include"))
    .arg(root.join(source));
    if link_miic {
        cmd.arg("-L").arg(lib.parent().unwrap()).arg("-lmiic");
    }
    let status = cmd
        .args(libs)
        .arg("-o")
        .arg(&exe)
        .status()
        .expect("run gcc");
    assert!(status.success(), "gcc failed to compile {source}");
    built.as_mut().unwrap().insert(name.to_owned(), exe.clone());
    exe
}

/// Run a compiled C program with the library on its load path.
pub fn run_c(exe: &std::path::Path, args: &[&str], env: &[(&str, String)]) -> std::process::Output {
    Command::new(exe)
        .args(args)
        .env("LD_LIBRARY_PATH", cdylib().parent().unwrap())
        .envs(env.iter().map(|(k, v)| (k.to_string(), v.clone())))
        .output()
        .expect("run C program")
}

/// One function declared in include/miic.h.
#[derive(Debug, Clone)]
pub struct CFunction {
    /// Return type, e.g. `MiicStatus`, `const char *`.
    pub ret: String,
    pub name: String,
    /// Parameter declarations as written (`struct miic_client *c`); empty for `(void)`.
    pub params: Vec<String>,
}

/// Every function the header declares (multi-line declarations included), in header order.
pub fn header_functions() -> Vec<CFunction> {
    let header = std::fs::read_to_string(repo_root().join("include/miic.h")).unwrap();
    let mut code = String::new();
    let mut rest = header.as_str();
    while let Some(start) = rest.find("/*") {
        code.push_str(&rest[..start]);
        let end = rest[start..].find("*/").expect("unterminated comment") + start;
        rest = &rest[end + 2..];
    }
    code.push_str(rest);
    let code: Vec<&str> = code
        .lines()
        .map(|l| l.split("//").next().unwrap().trim())
        .filter(|l| !l.starts_with('#') && !l.starts_with("extern \"C\"") && *l != "}")
        .collect();
    let functions: Vec<CFunction> = code
        .join(" ")
        .split(';')
        .filter_map(|decl| {
            let decl = decl.split_whitespace().collect::<Vec<_>>().join(" ");
            if decl.starts_with("typedef") {
                return None;
            }
            let open = decl.find('(')?;
            let head = &decl[..open];
            let at = head.rfind("miic_")?;
            let params = decl[open + 1..].strip_suffix(')')?.trim();
            Some(CFunction {
                ret: head[..at].trim().to_owned(),
                name: head[at..].to_owned(),
                params: match params {
                    "void" | "" => Vec::new(),
                    p => p.split(',').map(|p| p.trim().to_owned()).collect(),
                },
            })
        })
        .collect();
    assert!(
        functions.iter().any(|f| f.name == "miic_open")
            && functions
                .iter()
                .any(|f| f.name == "miic_dicom_retrieve" && f.params.len() == 4),
        "header parse: {functions:?}"
    );
    functions
}
