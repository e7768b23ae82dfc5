#!/usr/bin/env bash
# Build the release bundle a PACS vendor unpacks: the library, the header, the three bindings,
# the examples (with the commented example config), the docs, the simulator CLI, the Windows
# DLLs (windows/x86, windows/x64), and the licence texts of everything compiled into what is
# shipped.
#
#   scripts/package.sh [--lib FILE] [--cli FILE] [--target TRIPLE] [--out DIR] [--no-build]
#                      [--windows-profile NAME | --no-windows]
#
#   --lib FILE      the library to ship (default: target/release/libmiic.so, built with LTO by
#                   scripts/release-lib.sh unless --no-build)
#   --cli FILE      the miic-cli executable to ship (default: target/release/miic-cli when present)
#   --target TRIPLE platform whose dependencies' licences are collected (default: the host's)
#   --out DIR       where the bundle goes (default: dist/)
#   --windows-profile NAME  take the Windows builds of target/windows/<triple>/NAME as they are
#                   (default: release, the LTO build, made by scripts/build-windows.sh unless
#                   --no-build)
#   --no-windows    a bundle without windows/
# Per Windows bitness (x86 = i686-win7-windows-gnu, x64 = x86_64-win7-windows-gnu): miic.dll,
# miic.def (its exports), miic.lib (import library for MSVC, made by mingw's dlltool),
# libmiic.dll.a (import library for mingw), miic-cli.exe.
# Prints the path of the .tar.gz it made.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

lib="" cli="" target="" out="$root/dist" build=1 windows=release
while [ $# -gt 0 ]; do
  case "$1" in
    --windows-profile) windows=$2; shift 2 ;;
    --no-windows) windows=""; shift ;;
    --lib) lib=$2; shift 2 ;;
    --cli) cli=$2; shift 2 ;;
    --target) target=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    *) echo "package.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

if [ -z "$lib" ]; then
  if [ $build = 1 ]; then
    cargo build -p miic -p miic-cli --release -q
    scripts/release-lib.sh >/dev/null # the shipped library: linked alone, with LTO
  fi
  lib=target/release/libmiic.so
  [ -n "$cli" ] || cli=target/release/miic-cli
fi
[ -f "$lib" ] || { echo "package.sh: library $lib not found" >&2; exit 1; }
if [ -n "$cli" ] && [ ! -f "$cli" ]; then
  echo "package.sh: no miic-cli at $cli: bundle ships without the simulator" >&2
  cli=""
fi
[ -n "$target" ] || target=$(rustc -vV | sed -n 's/^host: //p')
if [ "$windows" = release ] && [ $build = 1 ]; then
  scripts/build-windows.sh --profile release >&2
fi

version=$(sed -n 's/^#define MIIC_VERSION_STRING "\(.*\)"/\1/p' include/miic.h)
[ -n "$version" ] || { echo "package.sh: no MIIC_VERSION_STRING in include/miic.h" >&2; exit 1; }
name="miic-$version-$target"
mkdir -p "$out"
out=$(cd "$out" && pwd)
stage="$out/$name"
rm -rf "$stage" "$out/$name.tar.gz"
mkdir -p "$stage"/{lib,include,bindings/csharp,bindings/delphi,bindings/cpp,docs,LICENSES}

# ---- library, header, bindings ----
cp "$lib" "$stage/lib/"
if [ -n "$cli" ]; then mkdir -p "$stage/bin" && cp "$cli" "$stage/bin/"; fi

# ---- Windows: per bitness the DLL, its .def, import libraries for MSVC and mingw, the CLI ----
platforms=("$target")
if [ -n "$windows" ]; then
  for pair in x86:i686-win7-windows-gnu:i686-w64-mingw32:i386 \
              x64:x86_64-win7-windows-gnu:x86_64-w64-mingw32:i386:x86-64; do
    IFS=: read -r bits triple tool machine <<<"$pair"
    from="target/windows/$triple/$windows"
    to="$stage/windows/$bits"
    for f in miic.dll libmiic.dll.a miic-cli.exe; do
      [ -f "$from/$f" ] || { echo "package.sh: $from/$f missing (scripts/build-windows.sh --profile $windows)" >&2; exit 1; }
    done
    mkdir -p "$to"
    cp "$from/miic.dll" "$from/libmiic.dll.a" "$from/miic-cli.exe" "$to/"
    # The .def lists what the DLL really exports (plain names, cdecl).
    { echo "LIBRARY miic.dll"; echo "EXPORTS"
      "$tool-objdump" -p "$from/miic.dll" |
        sed -n '/^\[Ordinal\/Name Pointer\] Table/,/^$/{/^\t\[/s/^\t\[ *[0-9]*\] /    /p}'
    } > "$to/miic.def"
    "$tool-dlltool" -d "$to/miic.def" -D miic.dll -m "$machine" -l "$to/miic.lib"
    platforms+=("$triple")
  done
fi
cp include/miic.h "$stage/include/"
cp bindings/csharp/Miic.cs "$stage/bindings/csharp/"
cp bindings/delphi/Miic.pas "$stage/bindings/delphi/"
cp bindings/cpp/miic.hpp "$stage/bindings/cpp/"
cp bindings/README.md "$stage/bindings/"

# ---- examples: one program per language, and the commented example config miic.toml ----
cp -R examples "$stage/"
for required in examples/csharp examples/delphi examples/cpp; do
  [ -d "$stage/$required" ] || { echo "package.sh: $required is missing" >&2; exit 1; }
done

# ---- docs ----
cp docs/*.md "$stage/docs/"
if [ -f README.md ]; then cp README.md "$stage/"; fi

# ---- licences: miic's own, then every crate compiled into the shipped binaries ----
for f in LICENSE LICENSE-MIT LICENSE-APACHE; do [ -f "$f" ] && cp "$f" "$stage/LICENSES/miic-$f"; done
packages="miic"
if [ -n "$cli" ]; then packages="miic miic-cli"; fi
for platform in "${platforms[@]}"; do
  cargo metadata --format-version 1 --locked --filter-platform "$platform"
done | python3 scripts/third_party_licenses.py $packages > "$stage/LICENSES/THIRD-PARTY-LICENSES.txt"

tar -C "$out" -czf "$out/$name.tar.gz" "$name"
echo "$out/$name.tar.gz"
