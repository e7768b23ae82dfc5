#!/usr/bin/env bash
# Benchmarks of the core library, printed as one table (see BENCHMARKS.md for recorded runs).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p miic -p miic-cli
cargo bench -q --bench core 2>/dev/null | grep '^|'
cargo bench -q --bench outbox 2>/dev/null | grep '^|' | tail -n +3
lib=target/release/libmiic.so
size=$(stat -c %s "$lib")
printf '| release cdylib size (stripped, LTO, opt-level s) | %s KiB | | |\n' $((size / 1024))
