#![no_main]
//! The 4.1 report validator on arbitrary text: a report or MIIC_E_ARGUMENT, never a panic, and
//! its JSON rendering always works.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        match miic::report::validate_json(text) {
            Ok(report) => {
                let _ = report.to_json().to_string();
            }
            Err(e) => assert_eq!(e.status, miic::Status::Argument),
        }
    }
});
