#![no_main]
//! Config text as JSON and as TOML: any input is a config or a MIIC_E_CONFIG, never a panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Err(e) = miic::Config::from_json(text) {
            assert_eq!(e.status, miic::Status::Config);
        }
        if let Err(e) = miic::Config::from_toml(text) {
            assert_eq!(e.status, miic::Status::Config);
        }
    }
});
