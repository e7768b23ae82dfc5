//! Generates the C header with cbindgen (version pinned in Cargo.toml) into `$OUT_DIR/miic.h`,
//! and the `Status` enum from the status list in src/error.rs into `$OUT_DIR/status.rs`.
//!
//! The source tree is never written: include/miic.h is committed, `header_is_current`
//! (tests/header.rs) fails when it differs from the generated one, and scripts/gen-header.sh
//! copies the generated header over it on purpose. When cbindgen fails, `$OUT_DIR/miic.h.error`
//! says why and that test fails with it.

use std::path::PathBuf;

fn main() {
    let crate_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("manifest dir"));
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    write_status_enum(
        &crate_dir.join("src").join("error.rs"),
        &out_dir.join("status.rs"),
    );
    let header = out_dir.join("miic.h");
    let failure = out_dir.join("miic.h.error");
    match generate_header(&crate_dir) {
        Ok(text) => {
            let _ = std::fs::remove_file(&failure);
            // Rewrite only on change, so the header's mtime stays quiet.
            if std::fs::read_to_string(&header).ok().as_deref() != Some(text.as_str()) {
                std::fs::write(&header, &text).expect("write OUT_DIR/miic.h");
            }
        }
        Err(e) => {
            // A syntax error in src/ is reported by rustc itself; the header test reports this.
            println!("cargo:warning=cbindgen could not generate the header: {e}");
            let _ = std::fs::remove_file(&header);
            std::fs::write(&failure, e).expect("write OUT_DIR/miic.h.error");
        }
    }
}

fn generate_header(crate_dir: &std::path::Path) -> Result<String, String> {
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap();
    let minor = std::env::var("CARGO_PKG_VERSION_MINOR").unwrap();
    let patch = std::env::var("CARGO_PKG_VERSION_PATCH").unwrap();
    let mut config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .map_err(|e| format!("cbindgen.toml: {e}"))?;
    config.after_includes = Some(format!(
        "\n#define MIIC_VERSION_MAJOR {major}\n#define MIIC_VERSION_MINOR {minor}\n#define MIIC_VERSION_PATCH {patch}\n\
         #define MIIC_VERSION_STRING \"{major}.{minor}.{patch}\"\n\
         /* MAJOR * 10000 + MINOR * 100 + PATCH */\n\
         #define MIIC_VERSION_NUMBER (MIIC_VERSION_MAJOR * 10000 + MIIC_VERSION_MINOR * 100 + MIIC_VERSION_PATCH)\n"
    ));
    let bindings = cbindgen::Builder::new()
        .with_crate(crate_dir)
        .with_config(config)
        .generate()
        .map_err(|e| e.to_string())?;
    let mut text = Vec::new();
    bindings.write(&mut text);
    let text = String::from_utf8(text).map_err(|_| "the header is not UTF-8".to_string())?;
    Ok(parenthesize_negative_defines(&text))
}

/// `#define MIIC_E_ARGUMENT -1` → `#define MIIC_E_ARGUMENT (-1)`, so `x-MIIC_E_ARGUMENT` stays sane.
fn parenthesize_negative_defines(header: &str) -> String {
    header
        .lines()
        .map(|line| {
            match line
                .strip_prefix("#define ")
                .and_then(|r| r.split_once(' '))
            {
                Some((name, value))
                    if value.starts_with('-') && value[1..].bytes().all(|b| b.is_ascii_digit()) =>
                {
                    format!("#define {name} ({value})")
                }
                _ => line.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// One status of the list in src/error.rs: `/// meaning` lines, then `pub const MIIC_…: i32 = code;`.
struct StatusLine {
    c_name: String,
    code: i32,
    doc: Vec<String>,
}

/// Generate `Status` (enum, `ALL`, `code`, `from_code`, `name`, `c_name`) from the `MIIC_*`
/// constants of src/error.rs, so the list is written once and cbindgen reads the same lines.
fn write_status_enum(error_rs: &std::path::Path, out: &std::path::Path) {
    let text = std::fs::read_to_string(error_rs).expect("read src/error.rs");
    let mut statuses: Vec<StatusLine> = Vec::new();
    let mut doc = Vec::new();
    for line in text.lines().map(str::trim) {
        if let Some(d) = line.strip_prefix("///") {
            doc.push(d.trim().to_owned());
            continue;
        }
        if let Some(rest) = line.strip_prefix("pub const MIIC_") {
            let (name, value) = rest.split_once(": i32 = ").unwrap_or_else(|| {
                panic!("src/error.rs: status '{line}' is not `pub const MIIC_X: i32 = N;`")
            });
            let code = value
                .trim_end_matches(';')
                .parse()
                .unwrap_or_else(|_| panic!("src/error.rs: status '{line}' has no integer code"));
            statuses.push(StatusLine {
                c_name: format!("MIIC_{name}"),
                code,
                doc: std::mem::take(&mut doc),
            });
        }
        doc.clear();
    }
    assert!(
        statuses.iter().any(|s| s.c_name == "MIIC_OK"),
        "src/error.rs: no status list found"
    );
    let variant = |c_name: &str| -> String {
        let word = c_name
            .strip_prefix("MIIC_E_")
            .or_else(|| c_name.strip_prefix("MIIC_"))
            .unwrap_or(c_name);
        word.split('_')
            .map(|part| {
                let lower = part.to_ascii_lowercase();
                let mut chars = lower.chars();
                chars
                    .next()
                    .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                    .unwrap_or_default()
            })
            .collect()
    };
    let mut code = String::from(
        "// @generated by build.rs from the status list in src/error.rs.\n\n\
         /// Status codes of the C ABI (the `MIIC_*` constants; numbers fixed by DESIGN.md).\n\
         #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]\n#[repr(i32)]\npub enum Status {\n",
    );
    for s in &statuses {
        for d in &s.doc {
            code += &format!("    /// {d}\n");
        }
        code += &format!("    {} = {},\n", variant(&s.c_name), s.c_name);
    }
    code += "}\n\nimpl Status {\n";
    code += &format!("    pub const ALL: [Status; {}] = [\n", statuses.len());
    for s in &statuses {
        code += &format!("        Status::{},\n", variant(&s.c_name));
    }
    code += "    ];\n\n    pub fn code(self) -> i32 {\n        self as i32\n    }\n\n";
    code += "    pub fn from_code(code: i32) -> Option<Status> {\n        match code {\n";
    for s in &statuses {
        code += &format!(
            "            {} => Some(Status::{}),\n",
            s.code,
            variant(&s.c_name)
        );
    }
    code += "            _ => None,\n        }\n    }\n\n";
    code += "    /// The C name, e.g. `MIIC_E_ARGUMENT`.\n    pub fn name(self) -> &'static str {\n        match self {\n";
    for s in &statuses {
        code += &format!(
            "            Status::{} => \"{}\",\n",
            variant(&s.c_name),
            s.c_name
        );
    }
    code += "        }\n    }\n\n";
    code += "    /// The C name as a NUL-terminated string (`miic_status_name`).\n    pub fn c_name(self) -> &'static std::ffi::CStr {\n        match self {\n";
    for s in &statuses {
        code += &format!(
            "            Status::{} => c\"{}\",\n",
            variant(&s.c_name),
            s.c_name
        );
    }
    code += "        }\n    }\n}\n";
    if std::fs::read_to_string(out).ok().as_deref() != Some(code.as_str()) {
        std::fs::write(out, code).expect("write OUT_DIR/status.rs");
    }
}
