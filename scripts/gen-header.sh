#!/usr/bin/env bash
# Regenerate include/miic.h on purpose: build the library (build.rs runs cbindgen into OUT_DIR),
# then copy that header over the committed one. The build itself never writes the source tree;
# tests/header.rs fails while the committed header differs from the generated one.
set -euo pipefail
cd "$(dirname "$0")/.."
# The OUT_DIR of this workspace's own miic package (path+file://…#miic@x.y.z).
out_dir=$(cargo build -p miic --lib --message-format=json 2>/dev/null |
  python3 -c '
import json, sys
dirs = [m["out_dir"] for m in map(json.loads, sys.stdin)
        if m.get("reason") == "build-script-executed"
        and m["package_id"].startswith("path+") and "#miic@" in m["package_id"]]
print(dirs[-1] if dirs else "")')
[ -n "$out_dir" ] || { echo "gen-header.sh: the build of miic reported no OUT_DIR" >&2; exit 1; }
if [ -f "$out_dir/miic.h.error" ]; then
  echo "gen-header.sh: cbindgen failed: $(cat "$out_dir/miic.h.error")" >&2
  exit 1
fi
if cmp -s "$out_dir/miic.h" include/miic.h; then
  echo "include/miic.h is current"
else
  cp "$out_dir/miic.h" include/miic.h
  echo "include/miic.h regenerated: review and commit it"
fi
