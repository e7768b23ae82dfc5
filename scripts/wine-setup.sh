#!/usr/bin/env bash
# Wine for the Windows tests (tests/windows.rs): installs 64-bit Wine, tries 32-bit Wine
# (wine32:i386, for the i686 DLL), generates the zh_CN.UTF-8 locale (Wine then runs with code
# page 936, GBK, as a Chinese workstation does), and creates the Wine prefix target/windows/wine.
#
# 32-bit Wine needs i386 multiarch; a Debian mirror in mid-sync can refuse it (i386 and amd64
# versions of the same library must match), so that failure is recorded, not fatal:
# target/windows/wine32.txt says "ok" or why not, and scripts/test.sh then says plainly that it
# skipped the 32-bit Wine tests.
set -euo pipefail
cd "$(dirname "$0")/.."
out="$(pwd)/target/windows"
mkdir -p "$out"

scripts/deps/apt-install.sh wine wine64 locales

if dpkg -s wine32:i386 >/dev/null 2>&1; then
  echo ok > "$out/wine32.txt"
else
  echo "== trying to install 32-bit Wine (wine32:i386)"
  log="$out/wine32-install.log"
  : > "$log"
  added_i386=0
  if ! dpkg --print-foreign-architectures | grep -qx i386; then
    dpkg --add-architecture i386 >>"$log" 2>&1
    added_i386=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  lock=(-o DPkg::Lock::Timeout=900)
  # A partly failed update (one index mid-sync) may still leave what wine32 needs: try anyway.
  apt-get "${lock[@]}" update -qq >>"$log" 2>&1 || true
  if apt-get "${lock[@]}" install -y -qq --no-install-recommends wine32:i386 >>"$log" 2>&1; then
    echo ok > "$out/wine32.txt"
  else
    # The install's own error, and the index that failed to download if one did.
    reason=$(grep -E '^E: ' "$log" | grep -v 'Some index files' | tail -1 | cut -c4-)
    fetch=$(grep -oE '^E: Failed to fetch [^ ]+' "$log" | head -1 | cut -c4- || true)
    echo "wine32:i386 could not be installed: ${reason:-see $log}${fetch:+ ($fetch)}" > "$out/wine32.txt"
    # Leave apt as we found it: a half-synced i386 index makes every later `apt-get update` fail.
    if [ $added_i386 = 1 ] && ! dpkg -l | grep ':i386 ' >/dev/null; then
      dpkg --remove-architecture i386 >>"$log" 2>&1 && apt-get "${lock[@]}" update -qq >>"$log" 2>&1 || true
    fi
  fi
  echo "== 32-bit Wine: $(cat "$out/wine32.txt")"
fi

if ! locale -a 2>/dev/null | grep -qix 'zh_CN.utf8'; then
  echo "== generating the zh_CN.UTF-8 locale"
  localedef -i zh_CN -f UTF-8 zh_CN.UTF-8
fi

# The prefix: created once (about 20 s), then reused. No desktop integration, no Mono/Gecko.
export WINEPREFIX="$out/wine" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml,winemenubuilder.exe=d"
export LC_ALL=zh_CN.UTF-8
unset DISPLAY
if [ -f "$WINEPREFIX/system.reg" ] &&
   [ "$(cat "$WINEPREFIX/.wine32" 2>/dev/null)" != "$(cat "$out/wine32.txt")" ]; then
  # Made while 32-bit Wine was missing (no syswow64 half), or the other way round: make it anew
  # once its wineserver has left.
  wineserver -w
  rm -rf "$WINEPREFIX"
fi
if [ ! -f "$WINEPREFIX/system.reg" ]; then
  echo "== creating the Wine prefix $WINEPREFIX"
  wineboot -i >/dev/null 2>&1
fi
cp "$out/wine32.txt" "$WINEPREFIX/.wine32"
# The prefix is complete when its wineserver has finished (and left) after the init.
wineserver -w
