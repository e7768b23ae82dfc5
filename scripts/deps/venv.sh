#!/usr/bin/env bash
# The Python venv the tests and benchmarks use (.venv at the repository root): gmssl, the
# independent SM2 peer, and pydicom for the generated studies (scripts/deps/pip.txt).
# Created or completed when a package is missing; prints nothing when it is ready.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import gmssl, pydicom' 2>/dev/null; then
  echo "== creating .venv"
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -r <(grep -v '^\s*#' scripts/deps/pip.txt | sed '/^\s*$/d')
fi
