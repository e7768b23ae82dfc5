#!/usr/bin/env bash
# Install the Debian packages named that are not installed yet (one apt-get update first).
# Waits for another apt/dpkg run on the machine to finish instead of failing on its lock.
#   scripts/deps/apt-install.sh PACKAGE...
set -euo pipefail
missing=()
for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
[ ${#missing[@]} -gt 0 ] || exit 0
echo "== installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
lock=(-o DPkg::Lock::Timeout=900)
apt-get "${lock[@]}" update -qq
apt-get "${lock[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
