#!/usr/bin/env bash
# The Linux release library as shipped: target/release/libmiic.so linked as a cdylib alone, with
# LTO. Cargo runs no LTO for a library that is also an rlib (miic is, for the CLI, the benches and
# the tests), so the libmiic.so of `cargo build --release` keeps every public function of every
# dependency the linker cannot prove unused; this links it again (3.95 MiB instead of 4.62 MiB).
# scripts/build-windows.sh does the same for the DLLs. Prints the library's path.
#
# A later `cargo build --release` or `cargo bench` puts its own libmiic.so back in place: copy
# the file if something runs in between.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo rustc -q --locked --release -p miic --lib --crate-type cdylib
echo target/release/libmiic.so
