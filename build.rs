//! Generates include/miic.h with cbindgen (version pinned in Cargo.toml).
//! The header is committed; the `header_is_current` test fails when the committed copy is stale.

use std::path::PathBuf;

fn main() {
    let crate_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("manifest dir"));
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap();
    let minor = std::env::var("CARGO_PKG_VERSION_MINOR").unwrap();
    let patch = std::env::var("CARGO_PKG_VERSION_PATCH").unwrap();
    let mut config =
        cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml");
    config.after_includes = Some(format!(
        "\n#define MIIC_VERSION_MAJOR {major}\n#define MIIC_VERSION_MINOR {minor}\n#define MIIC_VERSION_PATCH {patch}\n\
         #define MIIC_VERSION_STRING \"{major}.{minor}.{patch}\"\n\
         /* MAJOR * 10000 + MINOR * 100 + PATCH */\n\
         #define MIIC_VERSION_NUMBER (MIIC_VERSION_MAJOR * 10000 + MIIC_VERSION_MINOR * 100 + MIIC_VERSION_PATCH)\n"
    ));
    let bindings = match cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
    {
        Ok(b) => b,
        Err(e) => {
            // A syntax error in src/ is reported by rustc itself; don't mask it here.
            println!("cargo:warning=cbindgen could not generate the header: {e}");
            return;
        }
    };
    let mut text = Vec::new();
    bindings.write(&mut text);
    let text = parenthesize_negative_defines(&String::from_utf8(text).expect("header is UTF-8"));
    let out = crate_dir.join("include").join("miic.h");
    let _ = std::fs::create_dir_all(out.parent().unwrap());
    // Rewrite only on change, so the header's mtime (and dependants' rebuilds) stay quiet.
    if std::fs::read_to_string(&out).ok().as_deref() != Some(text.as_str()) {
        std::fs::write(&out, &text).expect("write include/miic.h");
    }
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
