#!/usr/bin/env bash
# Cross-build the Windows DLLs our users load, on Debian: miic.dll for 32-bit hosts
# (i686-win7-windows-gnu: Delphi 7, .NET Framework x86) and 64-bit hosts
# (x86_64-win7-windows-gnu), plus miic-cli.exe. The `*-win7-*` targets keep the standard library
# on APIs Windows 7 SP1 has (the ordinary windows-gnu std imports ProcessPrng, Windows 10+).
#
#   scripts/build-windows.sh [--profile wintest|release] [--target TRIPLE]... [--no-cli]
#
#   --profile  wintest (default): release code without LTO, what the tests run under Wine;
#              release: the LTO build scripts/package.sh ships.
#   --target   one of the two triples (default: both); miic-cli.exe is built for each.
#   --no-cli   the DLLs only.
#
# Installs what it needs (Debian's rustc-web/cargo-web/rust-web-src, mingw-w64); Wine, to run the
# tests, is scripts/wine-setup.sh.
# Output: target/windows/<triple>/<profile>/{miic.dll,libmiic.dll.a,miic-cli.exe}; prints the
# build time per target. RUSTC_BOOTSTRAP (needed for -Zbuild-std) is set for this script's
# cargo only, never for the Linux build.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

profile=wintest cli=1 targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) profile=$2; shift 2 ;;
    --target) targets+=("$2"); shift 2 ;;
    --no-cli) cli=0; shift ;;
    *) echo "build-windows.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=(i686-win7-windows-gnu x86_64-win7-windows-gnu)
case "$profile" in wintest|release) ;; *) echo "build-windows.sh: profile $profile?" >&2; exit 2 ;; esac

out="$root/target/windows"
mkdir -p "$out"

# ---- Debian packages: Debian's rustc 1.96 with its std source, the mingw-w64 compilers ----
scripts/deps/apt-install.sh rustc-web cargo-web rust-web-src gcc-mingw-w64-i686 gcc-mingw-w64-x86-64

# ---- the cross toolchain ----
# rustup's cargo/rustc come first in PATH on developer machines: name Debian's explicitly.
export RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc
export CARGO_TARGET_DIR="$out"
for t in "${targets[@]}"; do
  case "$t" in
    i686-win7-windows-gnu) gcc=i686-w64-mingw32 ;;
    x86_64-win7-windows-gnu) gcc=x86_64-w64-mingw32 ;;
    *) echo "build-windows.sh: unknown target $t" >&2; exit 2 ;;
  esac
  var=$(echo "$t" | tr 'a-z-' 'A-Z_')
  lower=$(echo "$t" | tr '-' '_')
  # Linker, and the C compiler for the bundled SQLite (cc-rs does not know the win7 triples).
  export "CARGO_TARGET_${var}_LINKER=$gcc-gcc" "CC_${lower}=$gcc-gcc" "AR_${lower}=$gcc-ar"
  # SQLite without unwind tables (75 KB of .eh_frame in the 32-bit DLL, 41 KB of .pdata/.xdata
  # in the 64-bit one): nothing unwinds through C frames, a Rust panic stops at miic's boundary.
  export "CFLAGS_${lower}=-fno-asynchronous-unwind-tables -fno-unwind-tables"
done

for t in "${targets[@]}"; do
  packages=(-p miic)
  [ $cli = 1 ] && packages+=(-p miic-cli)
  echo "== building ${packages[*]} for $t ($profile)"
  start=$(date +%s)
  # One std build per target, shared by the DLL and the exe. Its features leave out
  # `backtrace` (cargo's default adds it): symbolising a backtrace (gimli, addr2line, a PE
  # reader) is dead weight in a DLL whose panics stop at the C boundary as an error status.
  std_flags=(-Zbuild-std=std,panic_unwind -Zbuild-std-features=panic-unwind)
  RUSTC_BOOTSTRAP=1 /usr/bin/cargo build -q --locked --profile "$profile" --target "$t" \
    "${std_flags[@]}" "${packages[@]}"
  if [ "$profile" = release ]; then
    # Cargo runs no LTO for a library that is also an rlib (miic is, for the CLI and the
    # tests), so the shipped DLL is linked again as a cdylib alone, with LTO: without it, no
    # unused function of any dependency leaves a PE file (ld keeps whatever .pdata/.eh_frame
    # points at). See scripts/release-lib.sh.
    RUSTC_BOOTSTRAP=1 /usr/bin/cargo rustc -q --locked --profile release --target "$t" \
      "${std_flags[@]}" -p miic --lib --crate-type cdylib
  fi
  secs=$(( $(date +%s) - start ))
  dir="$out/$t/$profile"
  echo "== $t: $((secs / 60)) min $((secs % 60)) s; miic.dll $(stat -c %s "$dir/miic.dll") bytes"
done
