#![no_main]
//! Cloud reply bodies: a reply or MIIC_E_PROTOCOL / MIIC_E_SERVER, never a panic.
use libfuzzer_sys::fuzz_target;
use miic::Status;

fuzz_target!(|data: &[u8]| {
    match miic::fuzzing::CloudReply::parse("fuzz", data) {
        Ok(reply) => {
            if let Err(e) = reply.into_success("fuzz") {
                assert_eq!(e.status, Status::Server);
            }
        }
        Err(e) => assert_eq!(e.status, Status::Protocol),
    }
});
