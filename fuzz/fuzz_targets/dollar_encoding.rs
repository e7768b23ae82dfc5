#![no_main]
//! The spec's `$`-encoding: output is plain ASCII without `%`, spaces, `&` or `=`, and decodes back.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let encoded = miic::fuzzing::dollar(text);
        assert!(encoded.bytes().all(|b| b.is_ascii_graphic() && !b"%&= ".contains(&b)));
        let decoded = miic::fuzzing::undollar(&encoded).expect("own output decodes");
        assert_eq!(decoded, text);
    }
});
