//! The shipped examples work: the C quick start runs against the simulator, and the commented
//! example config opens.

mod common;

#[test]
fn c_quick_start_example_runs_the_doctor_workflow_against_the_simulator() {
    let sim = common::Sim::start(&[]);
    let exe = common::c_program("doctor_workflow", "examples/c/doctor_workflow.c", &[], true);
    // A log folder of its own: the async reminder's outcome is only logged.
    let logs = common::target_dir().join(format!("examples-log-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&logs);
    let log_config = format!(
        r#""log":{{"dir":{},"level":"info"}}"#,
        serde_json::Value::from(logs.to_string_lossy())
    );
    let out = common::run_c(&exe, &[&sim.config(&log_config)], &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "login: ok",
        "reminder: queued",
        "qr url: http://",
        "delete notification: delivered",
        "logout: ok",
    ] {
        assert!(stdout.contains(line), "no '{line}' in {stdout}");
    }
    let requests = sim.requests();
    let paths: Vec<&str> = requests
        .iter()
        .map(|r| r["path"].as_str().unwrap())
        .collect();
    for path in [
        "/hrball/",
        "/getway/reportAndFilm/api/qrurl",
        "/standardInterface/standardHttp/deleteDicom",
    ] {
        assert!(paths.contains(&path), "{path} not reached: {paths:?}");
    }
    // The async reminder: the example closes right after logout, and miic_close interrupts a
    // reminder still being prepared or sent (documented), so its logged outcome is either
    // "sent", and then it reached the simulator once with the example's patient (the ID card
    // number SM2-encrypted on the wire, read back by the simulator), or "closed during the
    // call", and then nothing left. Any other outcome, or none, fails.
    let log: String = std::fs::read_dir(&logs)
        .expect("the example's log folder")
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    let _ = std::fs::remove_dir_all(&logs);
    let reminders: Vec<_> = requests
        .iter()
        .filter(|r| r["path"] == "/iuWorkStation/swipingIdCardNo")
        .collect();
    let sent = log.contains("reminder sent: accessNumber=202305010001 patient=李**");
    let interrupted = log.contains(
        "reminder failed (accessNumber=202305010001 patient=李**): MIIC_E_STATE: \
         /iuWorkStation/swipingIdCardNo: the client was closed during the call",
    );
    assert!(sent != interrupted, "reminder outcome in the log: {log}");
    if sent {
        assert_eq!(reminders.len(), 1, "{reminders:#?}");
        assert_eq!(reminders[0]["params"]["patientName"], "李小明");
        assert_eq!(reminders[0]["decrypted"]["idCardNo"], "440101199001011234");
    } else {
        assert!(reminders.is_empty(), "{reminders:#?}");
    }
    // Every call of the quick start is what the spec asks for, as the simulator checks it.
    for r in &requests {
        assert_eq!(r["problems"], serde_json::json!([]), "{r:#}");
    }
}

#[test]
fn commented_example_config_opens_through_the_c_abi() {
    // As shipped, but with its commented outbox path set: opening it must not touch the
    // per-user default outbox that every test and run would share.
    let shipped = std::fs::read_to_string(common::repo_root().join("examples/miic.toml")).unwrap();
    let commented = "# path = \"D:/PACS/miic/outbox.db\"";
    assert!(
        shipped.contains(commented),
        "examples/miic.toml changed its outbox line"
    );
    let outbox = serde_json::Value::from(common::fresh_outbox_path().to_string_lossy());
    let copy = common::target_dir().join(format!("example-miic-{}.toml", std::process::id()));
    std::fs::write(
        &copy,
        shipped.replace(commented, &format!("path = {outbox}")),
    )
    .unwrap();
    let path = std::ffi::CString::new(copy.to_str().unwrap()).unwrap();
    let client = unsafe { miic::ffi::miic_open(path.as_ptr()) };
    let err = unsafe { std::ffi::CStr::from_ptr(miic::ffi::miic_last_error()) };
    assert!(
        !client.is_null(),
        "examples/miic.toml does not open: {err:?}"
    );
    miic::ffi::miic_close(client);
    let _ = std::fs::remove_file(&copy);
}
