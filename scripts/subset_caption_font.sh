#!/usr/bin/env bash
# Rebuild assets/fonts/NotoSansCJKsc-Caption.otf: Noto Sans CJK SC Regular (SIL OFL 1.1, from
# Debian's fonts-noto-cjk) cut down to the glyphs of the QR caption 扫描查看数字影像, so miic can
# embed it (a few KB instead of 20 MB) and no workstation needs a CJK font.
# Run by hand when the caption changes; the result is committed. Not needed to build or test.
set -euo pipefail
cd "$(dirname "$0")/.."

caption="扫描查看数字影像"
src=${NOTO_CJK_TTC:-/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc}
out=assets/fonts/NotoSansCJKsc-Caption.otf
venv=target/fonttools-venv

if [ ! -f "$src" ]; then
  echo "missing $src: apt-get install fonts-noto-cjk" >&2
  exit 1
fi
if [ ! -x "$venv/bin/pyftsubset" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check fonttools==4.68.0
fi

# The .ttc holds JP, KR, SC, TC and HK faces; pick the Simplified Chinese one by name.
index=$("$venv/bin/python" - "$src" <<'PY'
import sys
from fontTools.ttLib import TTCollection
for i, face in enumerate(TTCollection(sys.argv[1]).fonts):
    if face["name"].getDebugName(1) == "Noto Sans CJK SC":
        print(i)
        break
else:
    sys.exit("no 'Noto Sans CJK SC' face in " + sys.argv[1])
PY
)

# No hinting, no layout features (the caption is laid out glyph by glyph), CFF desubroutinized
# (smaller for a handful of glyphs); names and the copyright notice are kept, as the OFL asks.
"$venv/bin/pyftsubset" "$src" --font-number="$index" --text="$caption" \
  --output-file="$out" --layout-features= --no-hinting --desubroutinize \
  --name-IDs='*' --name-languages='*' --drop-tables+=DSIG,vhea,vmtx,VORG,BASE

"$venv/bin/python" - "$out" "$caption" <<'PY'
import sys
from fontTools.ttLib import TTFont
font = TTFont(sys.argv[1])
cmap = font.getBestCmap()
missing = [c for c in sys.argv[2] if ord(c) not in cmap]
if missing:
    sys.exit("subset lacks " + "".join(missing))
print(f"{sys.argv[1]}: {len(font.getGlyphOrder())} glyphs, covers {sys.argv[2]}")
print("copyright:", font["name"].getDebugName(0))
PY
ls -l "$out"
