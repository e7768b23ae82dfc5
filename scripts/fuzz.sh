#!/usr/bin/env bash
# Fuzz every target in fuzz/ with cargo-fuzz (libFuzzer, nightly). usage: scripts/fuzz.sh [SECONDS]
# A short run (the test command uses 10 s per target) is a smoke test; give hours for real runs.
# Crashes land in fuzz/artifacts/TARGET/: turn each into a regression test before fixing it.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null || cargo install -q --locked cargo-fuzz@0.13.2
targets=$(cargo +nightly fuzz list --fuzz-dir fuzz)
# No target would make a green smoke run that fuzzed nothing.
[ -n "$targets" ] || { echo "scripts/fuzz.sh: no fuzz target in fuzz/ (cargo fuzz list is empty)" >&2; exit 1; }
mkdir -p target
printf '| target | seconds | executions | result |\n|---|---|---|---|\n' > target/fuzz-summary.md
for t in $targets; do
  mkdir -p "fuzz/corpus/$t"
  log="target/fuzz-$t.log"
  if cargo +nightly fuzz run --fuzz-dir fuzz "$t" -- -max_total_time="$seconds" -rss_limit_mb=2048 >"$log" 2>&1; then
    result=ok
  else
    result="CRASH (see $log, fuzz/artifacts/$t)"
  fi
  execs=$(grep -oE 'Done [0-9]+ runs' "$log" | grep -oE '[0-9]+' || echo '?')
  printf '| %s | %s | %s | %s |\n' "$t" "$seconds" "$execs" "$result" | tee -a target/fuzz-summary.md
  [ "$result" = ok ] || { tail -40 "$log"; exit 1; }
done
