#!/usr/bin/env bash
# The full test suite, as CI runs it on a fresh machine: installs what the tests need
# (Debian packages, a Python venv), builds the workspace, then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

# ---- system packages (once per machine) ----
# A missing or empty list stops here: installing nothing would only fail later, tests deep.
[ -r scripts/deps/apt.txt ] || { echo "scripts/deps/apt.txt is missing" >&2; exit 1; }
mapfile -t apt_pkgs < <(grep -v '^\s*#' scripts/deps/apt.txt | sed '/^\s*$/d')
[ ${#apt_pkgs[@]} -gt 0 ] || { echo "scripts/deps/apt.txt names no package" >&2; exit 1; }
missing=()
for p in "${apt_pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# ---- Python venv: independent peers (gmssl for SM2 interop), pydicom for generated studies ----
scripts/deps/venv.sh
export MIIC_PYTHON="$root/.venv/bin/python"

echo "== cargo fmt / clippy"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -q -- -D warnings

echo "== build"
cargo build --workspace -q

# The Windows DLLs our users load: cross-built here, their export/import tables checked and the
# C-ABI programs run under Wine by tests/windows.rs. Without 32-bit Wine (its install can fail on
# a mirror mid-sync) the i686 DLL is still built and checked; only its Wine tests are skipped.
echo "== Windows DLLs (scripts/build-windows.sh, scripts/wine-setup.sh)"
win_start=$(date +%s)
scripts/build-windows.sh
scripts/wine-setup.sh
wine32=$(cat target/windows/wine32.txt)
skip=()
if [ "$wine32" != ok ]; then skip=(--skip wine32); fi
echo "== Windows build and Wine setup: $(( $(date +%s) - win_start )) s"

echo "== fuzz smoke (10 s per target; scripts/fuzz.sh SECONDS for long runs)"
scripts/fuzz.sh 10

echo "== tests"
# Every test names its own outbox file: the per-user default (the XDG state folder) points at an
# empty folder for the run and must hold no outbox afterwards.
state="$root/target/test-state"
rm -rf "$state" && mkdir -p "$state"
set +e
XDG_STATE_HOME="$state" cargo test --workspace --no-fail-fast -- "${skip[@]}" 2>&1 | tee target/test-output.txt
status=${PIPESTATUS[0]}
set -e
# One closing line over every test binary (scripts/test-summary.sh says how it counts).
note=
if [ ${#skip[@]} -gt 0 ]; then note="the 32-bit Wine half of tests/windows.rs (named wine32): $wine32"; fi
scripts/test-summary.sh target/test-output.txt "$status" "$note" "$state" || status=1
exit "$status"
