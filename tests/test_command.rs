//! The test command itself (scripts/test.sh, scripts/test-summary.sh, scripts/fuzz.sh): its
//! closing line never reads "0 failed" for a failed run, and it stops instead of testing nothing.
//! Each script runs from a copy in a scratch tree, so a failing step touches nothing real.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// An empty scratch repo root under target/test-command (removed first if left from a run).
fn scratch_root(name: &str) -> PathBuf {
    let root = common::target_dir()
        .join("test-command")
        .join(format!("{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("scripts")).unwrap();
    root
}

fn copy_script(root: &Path, script: &str) -> PathBuf {
    let to = root.join(script);
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::copy(common::repo_root().join(script), &to).unwrap();
    to
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// scripts/test-summary.sh over `cargo_output` with cargo's exit status, and an XDG state folder
/// holding the files named in `state_files`.
fn summary_with_state(
    name: &str,
    cargo_output: &str,
    status: i32,
    skip_note: &str,
    state_files: &[&str],
) -> (String, Output) {
    let root = scratch_root(name);
    let file = root.join("test-output.txt");
    std::fs::write(&file, cargo_output).unwrap();
    let state = root.join("state");
    std::fs::create_dir_all(&state).unwrap();
    for f in state_files {
        let path = state.join(f);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "").unwrap();
    }
    let out = Command::new("bash")
        .arg(common::repo_root().join("scripts/test-summary.sh"))
        .arg(&file)
        .arg(status.to_string())
        .arg(skip_note)
        .arg(&state)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    (stdout, out)
}

fn summary(name: &str, cargo_output: &str, status: i32, skip_note: &str) -> (String, Output) {
    summary_with_state(name, cargo_output, status, skip_note, &[])
}

fn last_line(stdout: &str) -> &str {
    stdout.lines().last().unwrap_or("")
}

/// Real `cargo test --no-fail-fast` output (trimmed): `killed` died of SIGKILL after one test
/// passed and printed no result line; `ok` has one failure whose message looks like a header.
const RUN_WITH_A_KILLED_BINARY: &str = r#"    Finished `test` profile [unoptimized + debuginfo] target(s) in 1.65s
     Running unittests src/lib.rs (target/debug/deps/killc-dc7174670465bd16)

running 1 test
test tests::it_works ... ok

test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s

     Running tests/killed.rs (target/debug/deps/killed-2a11cb5ca14d8897)

running 2 tests
test fine ... ok
error: test failed, to rerun pass `--test killed`

Caused by:
  process didn't exit successfully: `/tmp/killc/target/debug/deps/killed-2a11cb5ca14d8897` (signal: 9, SIGKILL: kill)
     Running tests/ok.rs (target/debug/deps/ok-17778e41d480203a)

running 2 tests
test fine ... ok
test fails ... FAILED

failures:

---- fails stdout ----

thread 'fails' (8398) panicked at tests/ok.rs:4:14:
Running tests/x.rs (target/debug/deps/x-1)


failures:
    fails

test result: FAILED. 1 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.25s

error: test failed, to rerun pass `--test ok`
   Doc-tests killc

running 0 tests

test result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s

error: 2 targets failed:
    `--test killed`
    `--test ok`
"#;

#[test]
fn summary_counts_a_test_binary_killed_by_a_signal_as_failed_and_names_it() {
    let (stdout, out) = summary("killed", RUN_WITH_A_KILLED_BINARY, 101, "");
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        last_line(&stdout),
        "total: 2 passed, 2 failed, 0 skipped",
        "{}",
        text(&out)
    );
    let named: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("FAILED without a result line"))
        .collect();
    assert_eq!(named.len(), 1, "{}", text(&out));
    assert!(named[0].contains("tests/killed.rs"), "{}", text(&out));
}

#[test]
fn summary_counts_a_failed_run_that_names_no_failed_test_as_one_failure() {
    let build_error = "   Compiling miic v0.1.0 (/work)\nerror[E0425]: cannot find value `x` in this scope\nerror: could not compile `miic` (lib) due to 1 previous error\n";
    let (stdout, out) = summary("build-error", build_error, 101, "");
    assert_eq!(
        last_line(&stdout),
        "total: 0 passed, 1 failed, 0 skipped",
        "{}",
        text(&out)
    );
    assert!(stdout.contains("status 101"), "{}", text(&out));
}

#[test]
fn summary_of_a_green_run_sums_every_binary_and_counts_ignored_and_skipped_tests_as_skipped() {
    let green = "     Running unittests src/lib.rs (target/debug/deps/miic-1)\n\nrunning 3 tests\ntest result: ok. 3 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s\n\n     Running tests/windows.rs (target/debug/deps/windows-2)\n\nrunning 4 tests\ntest result: ok. 4 passed; 0 failed; 0 ignored; 0 measured; 5 filtered out; finished in 1.00s\n\n   Doc-tests miic\n\nrunning 2 tests\ntest result: ok. 2 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.50s\n";
    let (stdout, out) = summary("green", green, 0, "32-bit Wine missing");
    assert_eq!(
        last_line(&stdout),
        "total: 9 passed, 0 failed, 6 skipped",
        "{}",
        text(&out)
    );
    assert!(
        stdout.contains("SKIPPED: 5 tests, 32-bit Wine missing"),
        "{}",
        text(&out)
    );
    assert!(!stdout.contains("FAILED"), "{}", text(&out));
}

#[test]
fn summary_fails_a_green_run_in_which_a_test_used_the_per_user_default_outbox() {
    let green = "     Running tests/c_abi.rs (target/debug/deps/c_abi-1)\n\nrunning 2 tests\ntest result: ok. 2 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s\n";
    let (stdout, out) = summary_with_state("shared-outbox", green, 0, "", &["miic/outbox.sqlite"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(
        last_line(&stdout),
        "total: 2 passed, 1 failed, 0 skipped",
        "{}",
        text(&out)
    );
    assert!(
        stdout.contains("per-user default outbox") && stdout.contains("miic/outbox.sqlite"),
        "{}",
        text(&out)
    );
    // Other programs' state files are not an outbox.
    let (stdout, out) = summary_with_state("other-state", green, 0, "", &["less/history"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(last_line(&stdout), "total: 2 passed, 0 failed, 0 skipped");
}

/// scripts/test.sh in a scratch tree whose apt list is `apt_list` (None: no file).
fn test_command_with_apt_list(name: &str, apt_list: Option<&str>) -> (PathBuf, Output) {
    let root = scratch_root(name);
    let script = copy_script(&root, "scripts/test.sh");
    if let Some(list) = apt_list {
        std::fs::create_dir_all(root.join("scripts/deps")).unwrap();
        std::fs::write(root.join("scripts/deps/apt.txt"), list).unwrap();
    }
    let out = Command::new("bash").arg(script).output().unwrap();
    (root, out)
}

#[test]
fn test_command_stops_at_once_when_the_apt_list_is_missing_or_empty() {
    for (name, list, why) in [
        ("apt-missing", None, "scripts/deps/apt.txt is missing"),
        (
            "apt-empty",
            Some("# only a comment\n\n   \n"),
            "scripts/deps/apt.txt names no package",
        ),
    ] {
        let (root, out) = test_command_with_apt_list(name, list);
        assert!(!out.status.success(), "{name}: {}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(why),
            "{name}: {}",
            text(&out)
        );
        // Stopped before the next step (the venv), not by some later failure.
        assert!(!root.join(".venv").exists(), "{name}: went on to the venv");
    }
}

#[test]
fn apt_list_names_the_python_venv_and_git_the_tests_use() {
    let list = std::fs::read_to_string(common::repo_root().join("scripts/deps/apt.txt")).unwrap();
    let packages: Vec<&str> = list
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    for needed in ["python3-venv", "git"] {
        assert!(
            packages.contains(&needed),
            "apt.txt lacks {needed}: {packages:?}"
        );
    }
}

#[test]
fn fuzz_script_fails_when_it_finds_no_fuzz_target() {
    let root = scratch_root("fuzz-empty");
    let script = copy_script(&root, "scripts/fuzz.sh");
    std::fs::create_dir_all(root.join("fuzz/src")).unwrap();
    std::fs::write(
        root.join("fuzz/Cargo.toml"),
        "[package]\nname = \"no-targets\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n[package.metadata]\ncargo-fuzz = true\n\n[workspace]\n",
    )
    .unwrap();
    std::fs::write(root.join("fuzz/src/lib.rs"), "").unwrap();
    let out = Command::new("bash").arg(script).arg("1").output().unwrap();
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no fuzz target"),
        "{}",
        text(&out)
    );
}
