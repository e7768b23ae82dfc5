#!/usr/bin/env bash
# Build the release bundle a PACS vendor unpacks: the library, the header, the three bindings,
# the examples (with the commented example config), the docs, the simulator CLI,
# and the licence texts of everything compiled into what is shipped.
#
#   scripts/package.sh [--lib FILE] [--cli FILE] [--target TRIPLE] [--out DIR] [--no-build]
#
#   --lib FILE      the library to ship (default: target/release/libmiic.so, built unless --no-build;
#                   for Windows pass the cross-built miic.dll: miic.dll.lib next to it is shipped too)
#   --cli FILE      the miic-cli executable to ship (default: target/release/miic-cli when present)
#   --target TRIPLE platform whose dependencies' licences are collected (default: the host's)
#   --out DIR       where the bundle goes (default: dist/)
# Prints the path of the .tar.gz it made.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

lib="" cli="" target="" out="$root/dist" build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --lib) lib=$2; shift 2 ;;
    --cli) cli=$2; shift 2 ;;
    --target) target=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    *) echo "package.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

if [ -z "$lib" ]; then
  if [ $build = 1 ]; then cargo build -p miic -p miic-cli --release -q; fi
  lib=target/release/libmiic.so
  [ -n "$cli" ] || cli=target/release/miic-cli
fi
[ -f "$lib" ] || { echo "package.sh: library $lib not found" >&2; exit 1; }
if [ -n "$cli" ] && [ ! -f "$cli" ]; then
  echo "package.sh: no miic-cli at $cli: bundle ships without the simulator" >&2
  cli=""
fi
[ -n "$target" ] || target=$(rustc -vV | sed -n 's/^host: //p')

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
case "$lib" in
  *.dll) for implib in "${lib}.lib" "${lib%.dll}.lib"; do [ -f "$implib" ] && cp "$implib" "$stage/lib/"; done ;;
esac
if [ -n "$cli" ]; then mkdir -p "$stage/bin" && cp "$cli" "$stage/bin/"; fi
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
cargo metadata --format-version 1 --locked --filter-platform "$target" \
  | python3 scripts/third_party_licenses.py $packages > "$stage/LICENSES/THIRD-PARTY-LICENSES.txt"

tar -C "$out" -czf "$out/$name.tar.gz" "$name"
echo "$out/$name.tar.gz"
