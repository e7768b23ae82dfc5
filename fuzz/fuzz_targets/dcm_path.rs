#![no_main]
//! `dcmPath` lists: every accepted entry is a relative path that cannot leave `dest_dir`.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(list) = std::str::from_utf8(data) {
        for entry in miic::fuzzing::parse_dcm_path(list) {
            if let Ok(segments) = entry.segments {
                assert!(!segments.is_empty());
                for s in segments {
                    assert!(!s.is_empty() && s != "." && s != "..", "{s:?}");
                    assert!(!s.contains(['/', '\\', ':']), "{s:?}");
                    assert!(!s.chars().any(char::is_control), "{s:?}");
                }
            }
        }
    }
});
