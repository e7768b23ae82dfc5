//! miic-cli's reusable parts, also for tests that want a simulator in-process:
//! `sim` (the cloud simulator, docs/simulator.md) and `abi` (the library's C ABI, wrapped safely).
#![deny(unsafe_code)]

#[allow(unsafe_code)]
pub mod abi;
pub mod sim;
