#![no_main]
//! Cloud reply bodies under each kind of `Content-Type` (the first byte picks one): a reply or
//! MIIC_E_PROTOCOL / MIIC_E_SERVER, never a panic.
use libfuzzer_sys::fuzz_target;
use miic::Status;

const CONTENT_TYPES: [Option<&str>; 8] = [
    None,
    Some("application/json"),
    Some("application/json;charset=UTF-8"),
    Some("application/json;charset=GBK"),
    Some("text/plain; charset=\"gb18030\""),
    Some("application/json;charset=gb2312"),
    Some("application/json;charset=ISO-8859-1"),
    Some("application/json;charset=x-unknown"),
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let content_type = CONTENT_TYPES[usize::from(pick) % CONTENT_TYPES.len()];
    match miic::fuzzing::CloudReply::parse("fuzz", content_type, body) {
        Ok(reply) => {
            if let Err(e) = reply.into_success("fuzz") {
                assert_eq!(e.status, Status::Server);
            }
        }
        Err(e) => assert_eq!(e.status, Status::Protocol),
    }
});
