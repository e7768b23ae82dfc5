#![no_main]
//! Params bags from arbitrary JSON bytes, then read back in both host encodings.
use libfuzzer_sys::fuzz_target;
use miic::TextEncoding;

fuzz_target!(|data: &[u8]| {
    if let Ok(params) = miic::Params::from_json(data) {
        let keys: Vec<String> = params.keys().map(str::to_owned).collect();
        for key in keys {
            let _ = params.get(&key, TextEncoding::Utf8);
            let _ = params.require(&key, TextEncoding::Gbk);
        }
    }
    let mut raw = miic::Params::new();
    let split = data.len() / 2;
    if raw.set_raw(&data[..split], &data[split..]).is_ok() {
        let key = String::from_utf8_lossy(&data[..split]).trim().to_owned();
        let _ = raw.get(&key, TextEncoding::Gbk);
        let _ = raw.get(&key, TextEncoding::Utf8);
    }
});
