//! No thread per call (issue 16), proven from C: tests/c/threads_test.c interposes
//! `pthread_create` and `getaddrinfo` and counts them while one client calls the simulator.

mod common;

use common::{c_program, cdylib, run_c, Sim};

fn threads_test(case: &str, config: String, env: &[(&str, String)]) -> String {
    let exe = c_program(
        "threads_test",
        "tests/c/threads_test.c",
        &["-rdynamic", "-ldl", "-lpthread"],
        true,
    );
    let mut env = env.to_vec();
    env.push(("MIIC_TEST_CONFIG", config));
    let out = run_c(&exe, &[case], &env);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "threads_test {case} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn port(sim: &Sim) -> String {
    sim.url.rsplit(':').next().unwrap().to_owned()
}

fn count(sim: &Sim, path: &str) -> usize {
    sim.requests().iter().filter(|r| r["path"] == path).count()
}

#[test]
fn thousand_qr_urls_and_a_hundred_of_every_other_cloud_call_create_no_thread() {
    let sim = Sim::start(&[]);
    let out = threads_test(
        "steady",
        sim.config_with_timeout(3000, ""),
        &[("MIIC_TEST_SIM_PORT", port(&sim))],
    );
    println!("{out}");
    // Everything reached the cloud, the async reminders on the client's one worker (a newer
    // one replaces the one still waiting, so at least the last of the hundred).
    // (A request on a kept-alive connection the server had just closed is sent again.)
    assert!(count(&sim, "/getway/reportAndFilm/api/qrurl") >= 1001);
    let reminders = count(&sim, "/iuWorkStation/swipingIdCardNo");
    assert!((103..=202).contains(&reminders), "{reminders} reminders");
    let deletions = count(&sim, "/standardInterface/standardHttp/deleteDicom");
    assert!(deletions >= 101 + 50, "{deletions} delete requests");
}

#[test]
fn a_host_name_is_looked_up_once_on_one_thread_for_many_calls() {
    let sim = Sim::start(&[]);
    let config = sim
        .config_with_timeout(3000, "")
        .replace(&sim.url, &format!("http://front-end.test:{}", port(&sim)));
    println!("{}", threads_test("names", config, &[]));
}

#[test]
fn a_hung_dns_costs_each_call_its_timeout_and_close_stays_prompt() {
    let sim = Sim::start(&[]);
    let config = sim
        .config_with_timeout(300, "")
        .replace(&sim.url, &format!("http://hung.test:{}", port(&sim)));
    // The fault matrix's bound: timeout_ms + 200 ms.
    let out = threads_test("hung_dns", config, &[("MIIC_TEST_MAX_MS", "500".into())]);
    println!("{out}");
}

#[test]
fn unloading_the_library_while_a_lookup_hangs_does_not_crash_the_host() {
    let sim = Sim::start(&[]);
    let config = sim
        .config_with_timeout(300, "")
        .replace(&sim.url, &format!("http://hung.test:{}", port(&sim)));
    let exe = c_program(
        "unload_hung_test",
        "tests/c/unload_hung_test.c",
        &["-rdynamic", "-ldl", "-lpthread"],
        false,
    );
    let out = run_c(
        &exe,
        &[],
        &[
            ("MIIC_TEST_CONFIG", config),
            ("MIIC_TEST_LIB", cdylib().display().to_string()),
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "unload_hung_test failed ({:?}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{stdout}");
}
