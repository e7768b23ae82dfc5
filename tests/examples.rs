//! The shipped examples work: the C quick start runs against the simulator, and the commented
//! example config opens.

mod common;

#[test]
fn c_quick_start_example_runs_the_doctor_workflow_against_the_simulator() {
    let sim = common::Sim::start(&[]);
    let exe = common::c_program("doctor_workflow", "examples/c/doctor_workflow.c", &[], true);
    let out = common::run_c(&exe, &[&sim.config("")], &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("qr url: http://") && stdout.contains("logout: ok"),
        "{stdout}"
    );
    let paths: Vec<String> = sim
        .requests()
        .iter()
        .map(|r| r["path"].as_str().unwrap().to_owned())
        .collect();
    for path in [
        "/hrball/",
        "/getway/reportAndFilm/api/qrurl",
        "/standardInterface/standardHttp/deleteDicom",
    ] {
        assert!(
            paths.iter().any(|p| p == path),
            "{path} not reached: {paths:?}"
        );
    }
}

#[test]
fn commented_example_config_opens_through_the_c_abi() {
    let path = std::ffi::CString::new(
        common::repo_root()
            .join("examples/miic.toml")
            .to_str()
            .unwrap(),
    )
    .unwrap();
    let client = unsafe { miic::ffi::miic_open(path.as_ptr()) };
    let err = unsafe { std::ffi::CStr::from_ptr(miic::ffi::miic_last_error()) };
    assert!(
        !client.is_null(),
        "examples/miic.toml does not open: {err:?}"
    );
    miic::ffi::miic_close(client);
}
