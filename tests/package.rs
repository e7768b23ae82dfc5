//! `scripts/package.sh` makes a bundle a vendor can unpack and use on its own: library, header,
//! bindings, examples, docs, licences, the Windows DLLs; the C++ example builds and runs from the
//! bundle alone, and a mingw program links against the bundle's MSVC import library.

mod common;

use common::{closed_port, repo_root as root, target_dir as build_dir};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The simulator's public key (any valid SM2 point would do for a cloud that is down).
const SIM_PUBLIC_KEY: &str = "0409f9df311e5421a150dd7d161e4bc5c672179fad1833fc076bb08ff356f35020ccea490ce26775a52dc6ea718cc1aa600aed05fbf35e084a6632f6072da9ad13";

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Registry crates a manifest's [dependencies] names (path dependencies are ours).
fn direct_dependencies(manifest: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(manifest).unwrap();
    let doc: toml::Table = toml::from_str(&text).unwrap();
    let deps = doc["dependencies"].as_table().expect("[dependencies]");
    let names: Vec<String> = deps
        .iter()
        .filter(|(_, spec)| spec.get("path").is_none())
        .map(|(name, spec)| {
            spec.get("package")
                .and_then(|p| p.as_str())
                .unwrap_or(name)
                .to_owned()
        })
        .collect();
    assert!(
        !names.is_empty(),
        "no dependencies in {}",
        manifest.display()
    );
    names
}

fn same_file(a: &Path, b: &Path) {
    let (x, y) = (std::fs::read(a).unwrap(), std::fs::read(b).unwrap());
    assert!(x == y, "{} differs from {}", a.display(), b.display());
}

#[test]
fn package_bundle_holds_library_header_bindings_examples_docs_and_licences() {
    let lib = build_dir().join("libmiic.so");
    let cli = build_dir().join("miic-cli");
    assert!(
        lib.exists() && cli.exists(),
        "run `cargo build --workspace` first (scripts/test.sh does)"
    );
    let scratch = build_dir().join(format!("package-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).unwrap();

    let stdout = run_ok(
        Command::new("bash")
            .arg(root().join("scripts/package.sh"))
            .arg("--lib")
            .arg(&lib)
            .arg("--cli")
            .arg(&cli)
            .arg("--out")
            .arg(&scratch)
            // The Windows builds the tests use (scripts/build-windows.sh): no LTO rebuild here.
            .args(["--windows-profile", "wintest"]),
    );
    let archive = PathBuf::from(
        stdout
            .lines()
            .last()
            .expect("package.sh prints the archive path"),
    );
    assert!(archive.exists(), "{} was not made", archive.display());
    let name = archive
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .trim_end_matches(".tar.gz")
        .to_owned();
    assert!(name.starts_with("miic-0.1.0-"), "bundle name {name}");

    // Unpack the archive itself (not the staging folder) and look inside.
    let unpacked = scratch.join("unpacked");
    std::fs::create_dir_all(&unpacked).unwrap();
    run_ok(
        Command::new("tar")
            .arg("-xzf")
            .arg(&archive)
            .arg("-C")
            .arg(&unpacked),
    );
    let b = unpacked.join(&name);

    for (bundled, source) in [
        ("include/miic.h", "include/miic.h"),
        ("bindings/csharp/Miic.cs", "bindings/csharp/Miic.cs"),
        ("bindings/delphi/Miic.pas", "bindings/delphi/Miic.pas"),
        ("bindings/cpp/miic.hpp", "bindings/cpp/miic.hpp"),
        ("bindings/README.md", "bindings/README.md"),
        ("examples/csharp/Example.cs", "examples/csharp/Example.cs"),
        ("examples/delphi/Example.dpr", "examples/delphi/Example.dpr"),
        ("examples/cpp/example.cpp", "examples/cpp/example.cpp"),
        ("docs/zh-CN.md", "docs/zh-CN.md"),
        ("docs/simulator.md", "docs/simulator.md"),
        ("README.md", "README.md"),
        ("LICENSES/miic-LICENSE", "LICENSE"),
        ("LICENSES/miic-LICENSE-MIT", "LICENSE-MIT"),
        ("LICENSES/miic-LICENSE-APACHE", "LICENSE-APACHE"),
    ] {
        same_file(&b.join(bundled), &root().join(source));
    }
    same_file(&b.join("lib/libmiic.so"), &lib);
    same_file(&b.join("bin/miic-cli"), &cli);
    // Every example of the repository ships, with the commented example config.
    for entry in std::fs::read_dir(root().join("examples")).unwrap() {
        let entry = entry.unwrap().path();
        let rel = entry.strip_prefix(root()).unwrap();
        assert!(b.join(rel).exists(), "{} not bundled", rel.display());
    }
    same_file(
        &b.join("examples/miic.toml"),
        &root().join("examples/miic.toml"),
    );
    same_file(
        &b.join("examples/c/doctor_workflow.c"),
        &root().join("examples/c/doctor_workflow.c"),
    );

    windows_folders_hold_dll_def_import_libraries_and_cli(&b);

    // Licences of what is compiled in: the library's crates and the simulator's.
    let third = std::fs::read_to_string(b.join("LICENSES/THIRD-PARTY-LICENSES.txt")).unwrap();
    for manifest in ["Cargo.toml", "cli/Cargo.toml"] {
        for krate in direct_dependencies(&root().join(manifest)) {
            assert!(
                third.contains(&format!("\n{krate} ")),
                "THIRD-PARTY-LICENSES.txt lacks {krate}, a dependency in {manifest}"
            );
        }
    }
    assert!(
        third.contains("Apache License"),
        "licence texts, not only names"
    );
    assert!(
        !third.contains("\ncbindgen "),
        "build-time tools are not shipped, so not listed"
    );
    assert!(
        third.contains("\nwindows-sys "),
        "crates only the Windows DLLs contain are listed too"
    );

    // The bundle alone is enough: the C++ example builds from its header, wrapper and library,
    // and runs (a closed port: the wrapper's exception reports MIIC_E_NETWORK).
    let exe = scratch.join("example");
    run_ok(
        Command::new("g++")
            .args(["-std=c++17", "-Wall", "-Wextra", "-Werror"])
            .arg(format!("-I{}", b.join("include").display()))
            .arg(format!("-I{}", b.join("bindings/cpp").display()))
            .arg(b.join("examples/cpp/example.cpp"))
            .arg("-o")
            .arg(&exe)
            .arg(format!("-L{}", b.join("lib").display()))
            .arg(format!("-Wl,-rpath,{}", b.join("lib").display()))
            .arg("-lmiic"),
    );
    let port = closed_port();
    let outbox = serde_json::Value::from(scratch.join("outbox.sqlite").to_string_lossy());
    let config = format!(
        "{{\"base_url\": \"http://127.0.0.1:{port}\", \"hospital_id\": \"H1\", \"sm2\": {{\"public_key\": \"{SIM_PUBLIC_KEY}\"}}, \"outbox\": {{\"path\": {outbox}}}}}"
    );
    // cargo's LD_LIBRARY_PATH names the build's libmiic.so and outranks the rpath: without it
    // the bundle's library is the one loaded, as on a vendor's machine.
    let bundle_lib = b.join("lib/libmiic.so").canonicalize().unwrap();
    let trace = run_ok(
        Command::new(&exe)
            .env_remove("LD_LIBRARY_PATH")
            .env("LD_TRACE_LOADED_OBJECTS", "1"),
    );
    let loaded = trace
        .lines()
        .find_map(|l| l.trim().strip_prefix("libmiic.so => "))
        .and_then(|rest| rest.split(" (").next())
        .unwrap_or_else(|| panic!("libmiic.so not resolved: {trace}"));
    assert_eq!(
        Path::new(loaded).canonicalize().unwrap(),
        bundle_lib,
        "the example loads {loaded}, not the bundle's library"
    );
    let out = Command::new(&exe)
        .env_remove("LD_LIBRARY_PATH")
        .arg(&config)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("miic error status=-5 MIIC_E_NETWORK"),
        "{text}"
    );

    let _ = std::fs::remove_dir_all(&scratch);
}

/// windows/x86 and windows/x64: the DLLs as built, a .def of exactly the header's functions, and
/// import libraries that resolve them (`__imp__miic_login` on x86, where cdecl names carry `_`).
/// A mingw program linked against the MSVC-style `miic.lib` alone runs under Wine.
fn windows_folders_hold_dll_def_import_libraries_and_cli(bundle: &Path) {
    let functions: Vec<String> = common::header_functions()
        .into_iter()
        .map(|f| f.name)
        .collect();
    for (bits, triple, tool, prefix) in [
        ("x86", "i686-win7-windows-gnu", "i686-w64-mingw32", "_"),
        ("x64", "x86_64-win7-windows-gnu", "x86_64-w64-mingw32", ""),
    ] {
        let dir = bundle.join("windows").join(bits);
        let built = root().join("target/windows").join(triple).join("wintest");
        for f in ["miic.dll", "libmiic.dll.a", "miic-cli.exe"] {
            same_file(&dir.join(f), &built.join(f));
        }
        let def = std::fs::read_to_string(dir.join("miic.def")).unwrap();
        let listed: Vec<&str> = def.lines().skip(2).map(str::trim).collect();
        let mut expected: Vec<&str> = functions.iter().map(String::as_str).collect();
        expected.sort();
        assert!(def.starts_with("LIBRARY miic.dll\nEXPORTS\n"), "{def}");
        assert_eq!(
            listed, expected,
            "{bits}/miic.def lists the header's functions"
        );
        for lib in ["miic.lib", "libmiic.dll.a"] {
            let symbols = run_ok(Command::new(format!("{tool}-nm")).arg(dir.join(lib)));
            for f in &functions {
                let imp = format!(" I __imp_{prefix}{f}\n");
                assert!(symbols.contains(&imp), "{bits}/{lib} lacks{imp}");
            }
        }
        // The quick start, linked against miic.lib only, beside the bundle's DLL.
        let exe = dir.join("doctor_workflow.exe");
        run_ok(
            Command::new(format!("{tool}-gcc"))
                .arg("-I")
                .arg(bundle.join("include"))
                .arg(bundle.join("examples/c/doctor_workflow.c"))
                .arg(dir.join("miic.lib"))
                .arg("-o")
                .arg(&exe),
        );
        if bits == "x64" {
            let config = format!(
                r#"{{"base_url":"http://127.0.0.1:{}","hospital_id":"H1","sm2":{{"public_key":"{}"}},"outbox":{{"path":"{}"}}}}"#,
                closed_port(),
                SIM_PUBLIC_KEY,
                dir.join("outbox.sqlite").display()
            );
            let out = Command::new("wine")
                .arg(&exe)
                .arg(config)
                .env("WINEPREFIX", root().join("target/windows/wine"))
                .env("WINEDEBUG", "-all")
                .env("WINEDLLOVERRIDES", "mscoree,mshtml,winemenubuilder.exe=d")
                .output()
                .expect("wine (scripts/wine-setup.sh installs it)");
            let text = String::from_utf8_lossy(&out.stderr);
            assert!(text.contains("login failed: MIIC_E_NETWORK"), "{text}");
            std::fs::remove_file(dir.join("outbox.sqlite")).unwrap();
        }
        std::fs::remove_file(&exe).unwrap();
    }
}
