//! A host runs the DLL for months: thread storms, miic_close racing other threads, open/close and
//! dlopen/dlclose cycles, and valgrind memcheck over the C cases (every export, error paths too).

mod common;

use common::{c_program, cdylib, run_c, Sim};
use std::process::Command;

fn check(out: std::process::Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn stress(case: &str, config: String, env: &[(&str, String)]) -> String {
    let exe = c_program("stress_test", "tests/c/stress_test.c", &["-lpthread"], true);
    let mut env = env.to_vec();
    env.push(("MIIC_TEST_CONFIG", config));
    check(run_c(&exe, &[case], &env))
}

#[test]
fn sixteen_threads_of_mixed_calls_on_one_client_all_answer_correctly() {
    let sim = Sim::start(&[]);
    let out = stress(
        "storm",
        sim.config_with_timeout(15000, ""),
        &[
            ("MIIC_TEST_THREADS", "16".into()),
            ("MIIC_TEST_CALLS", "1000".into()),
        ],
    );
    println!("{out}");
    let requests = sim.requests();
    let qr = requests
        .iter()
        .filter(|r| r["path"] == "/getway/reportAndFilm/api/qrurl")
        .count();
    assert_eq!(
        qr,
        16 * 1000_usize.div_ceil(6),
        "every qr call reached the simulator once"
    );
    assert!(requests
        .iter()
        .all(|r| r["problems"].as_array().unwrap().is_empty()));
}

/// Each round logs a doctor in, lets 8 threads start their calls and closes the client under
/// them; a round that does not end within a minute (a deadlock) fails by the C watchdog.
#[test]
fn close_racing_busy_threads_neither_crashes_nor_deadlocks() {
    let sim = Sim::start(&[]);
    let out = stress("close_race", sim.config_with_timeout(15000, ""), &[]);
    println!("{out}");
    assert!(out.contains("close_race: 0 failed"), "{out}");
    let logins = sim
        .requests()
        .into_iter()
        .filter(|r| r["path"] == "/hrball/" && r["reply"]["code"] == 200)
        .count();
    assert_eq!(logins, 20, "every round's login reached the simulator");
}

/// 50 warm-up cycles, then 100 measured: each opens a client, logs in, queues a reminder and
/// closes; every call must succeed, no thread may stay, and RSS may not grow with the cycles.
#[test]
fn hundred_open_use_close_cycles_after_a_warm_up_leave_no_thread_and_stable_memory() {
    let sim = Sim::start(&[]);
    let out = stress(
        "lifecycle_open_close",
        sim.config_with_timeout(15000, ""),
        &[],
    );
    println!("{out}");
    assert!(out.contains("lifecycle_open_close: 0 failed"), "{out}");
    let requests = sim.requests();
    let logins = requests
        .iter()
        .filter(|r| r["path"] == "/hrball/" && r["reply"]["code"] == 200)
        .count();
    assert_eq!(logins, 150, "every cycle's login reached the simulator");
}

#[test]
fn hundred_dlopen_dlclose_cycles_leave_no_thread_and_stable_memory() {
    let sim = Sim::start(&[]);
    let exe = c_program("dlopen_test", "tests/c/dlopen_test.c", &["-ldl"], false);
    let out = run_c(
        &exe,
        &[],
        &[
            ("MIIC_TEST_CONFIG", sim.config("")),
            ("MIIC_TEST_LIB", cdylib().display().to_string()),
        ],
    );
    println!("{}", check(out));
}

fn valgrind(case: &str, config: String) -> String {
    let exe = c_program("abi_test", "tests/c/abi_test.c", &["-lpthread"], true);
    valgrind_run(&exe, &[case], config)
}

fn valgrind_run(exe: &std::path::Path, args: &[&str], config: String) -> String {
    let case = args.first().copied().unwrap_or("program");
    let out = Command::new("/usr/bin/valgrind")
        .args([
            "--tool=memcheck",
            "--leak-check=full",
            "--errors-for-leak-kinds=definite",
            "--error-exitcode=99",
        ])
        .arg(exe)
        .args(args)
        .env("LD_LIBRARY_PATH", cdylib().parent().unwrap())
        .env("MIIC_TEST_CONFIG", config)
        .output()
        .expect("valgrind is installed by scripts/test.sh");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let summary: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("definitely lost") || l.contains("ERROR SUMMARY"))
        .collect();
    println!("{case}: {summary:?}");
    assert_eq!(
        out.status.code(),
        Some(0),
        "valgrind found errors in {case}:\n{stderr}"
    );
    assert!(stderr.contains("ERROR SUMMARY: 0 errors"), "{stderr}");
    assert!(
        stderr.contains("definitely lost: 0 bytes")
            || stderr.contains("All heap blocks were freed"),
        "{stderr}"
    );
    stderr
}

#[test]
fn valgrind_finds_no_leak_or_invalid_access_across_every_export() {
    let sim = Sim::start(&[]);
    for case in [
        "workflow",
        "null_pointers",
        "missing_fields",
        "invalid_utf8",
        "no_session",
        "logs_mask_personal_data",
        "other_exports",
        "bad_configs",
        "versions",
        "diagnose",
    ] {
        // valgrind runs the library ~30x slower: give calls room so only memory errors fail.
        valgrind(case, sim.config_with_timeout(30000, ""));
    }
}

#[test]
fn valgrind_finds_no_leak_or_invalid_access_in_the_c_quick_start_example() {
    let sim = Sim::start(&[]);
    let exe = c_program("doctor_workflow", "examples/c/doctor_workflow.c", &[], true);
    let config = sim.config_with_timeout(30000, "");
    valgrind_run(&exe, &[&config], String::new());
}
