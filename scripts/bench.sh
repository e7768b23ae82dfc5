#!/usr/bin/env bash
# Benchmarks, one table in one run, written to BENCHMARKS.md (not a test: numbers depend on the
# machine). Anchors: libcurl (C, reused handle), .NET HttpClient on mono, a bare TcpStream loop,
# all against the same nginx fixed reply on loopback; BouncyCastle SM2Engine for SM2.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
pkgs=(nginx-light libcurl4-openssl-dev mono-mcs mono-runtime libmono-system-net-http4.0-cil libbcprov-java)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
work=$(mktemp -d)
trap 'kill $(cat "$work/nginx.pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$work"' EXIT

# nginx with the cloud's fixed qrurl reply on a free loopback port.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/nginx.conf" <<NGINX
daemon on; pid $work/nginx.pid; error_log $work/error.log; worker_processes 1;
events { worker_connections 64; }
http {
  access_log off; keepalive_requests 1000000; keepalive_timeout 60s;
  client_body_temp_path $work; proxy_temp_path $work; fastcgi_temp_path $work; uwsgi_temp_path $work; scgi_temp_path $work;
  server {
    listen 127.0.0.1:$port;
    location /getway/reportAndFilm/api/qrurl {
      default_type application/json;
      return 200 '{"code":200,"data":"http://wx.imagingunion.com/iuweixin/iu_scanFilmInfo?info=ZAWpnmCW6Vy2rhVuxqtxHO/yRG6Q+a7OvGk9M0LUNa8=","message":"ok"}';
    }
  }
}
NGINX
/usr/sbin/nginx -c "$work/nginx.conf" -p "$work"
url="http://127.0.0.1:$port"
qr="$url/getway/reportAndFilm/api/qrurl?accessNumber=202305010001&modality=CT&hospitalId=H4401"

cargo build --release -q -p miic -p miic-cli
rust_rows=$(MIIC_BENCH_URL="$url" cargo bench -q --bench core 2>/dev/null)
sm2_miic=$(grep '^SM2_PER_S=' <<<"$rust_rows" | cut -d= -f2)
qr_miic=$(grep '^QR_P50_MS=' <<<"$rust_rows" | cut -d= -f2)

gcc -O2 -o "$work/curl_qr" benches/anchors/curl_qr.c -lcurl
read -r c50 c99 cavg < <("$work/curl_qr" "$qr" 2000)
mcs -nologo -r:System.Net.Http.dll -out:"$work/HttpClientQr.exe" benches/anchors/HttpClientQr.cs
read -r n50 n99 navg < <(mono "$work/HttpClientQr.exe" "$qr" 2000)
key=$(grep '^SM2_KEY=' <<<"$rust_rows" | cut -d= -f2)
javac -nowarn -cp /usr/share/java/bcprov.jar -d "$work" benches/anchors/Sm2Bc.java
sm2_bc=$(java -cp "/usr/share/java/bcprov.jar:$work" Sm2Bc "$key" 3)

ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }
size=$(stat -c %s target/release/libmiic.so)
table=$(cat <<TABLE
| measure | p50 / value | p99 | mean | ratio to miic (p50 or rate) |
|---|---|---|---|---|
$(grep '^|' <<<"$rust_rows" | head -2)
| anchor: libcurl, reused easy handle (nginx) | $c50 ms | $c99 ms | $cavg ms | $(ratio "$c50" "$qr_miic") |
| anchor: .NET HttpClient on mono (nginx) | $n50 ms | $n99 ms | $navg ms | $(ratio "$n50" "$qr_miic") |
$(grep '^|' <<<"$rust_rows" | sed -n 3p)
| anchor: BouncyCastle SM2Engine C1C3C2 (Java $(java -version 2>&1 | head -1 | grep -oE '"[^"]+"' | tr -d '"')) | $sm2_bc /s | | | $(ratio "$sm2_bc" "$sm2_miic") |
$(grep '^|' <<<"$rust_rows" | sed -n '4,$p')
| release cdylib, stripped (LTO, opt-level s) | $((size / 1024)) KiB | | | |
TABLE
)
echo "$table"
# The delete outbox: storing (fsync) and draining a backlog, each next to its anchor.
outbox_table=$(cargo bench -q --bench outbox 2>/dev/null | grep '^|')
echo
echo "$outbox_table"
# A whole realistic study from Orthanc: miic's C-GET vs getscu (seconds; needs orthanc, dcmtk
# and the venv's pydicom, which scripts/test.sh installs).
study_out=$(MIIC_PYTHON="$root/.venv/bin/python" cargo bench -q --bench dicom_studies 2>/dev/null)
study_rows=$(grep '^Realistic' <<<"$study_out"; echo; grep '^|' <<<"$study_out")
echo
echo "$study_rows"
# The DICOM fetch section is recorded by `cargo bench --bench dicom_fetch` (it needs dcmqrscp
# and minutes of transfers); keep it as it is.
dicom_section=$(sed -n '/^## DICOM fetch/,$p' BENCHMARKS.md 2>/dev/null || true)
{
  echo "# Benchmarks"
  echo
  echo "## Core calls, SM2, memory and size"
  echo
  echo "Recorded by \`scripts/bench.sh\` on $(date -u +%Y-%m-%d) ($(nproc) cores, $(uname -m), shared machine: compare ratios, not absolute times)."
  echo "Latency anchors all call the same nginx fixed reply on loopback in the same run; ratio > 1 means the anchor is slower (latency) or faster (rate) than miic."
  echo
  echo "$table"
  echo
  echo "## Delete outbox"
  echo
  echo "$outbox_table"
  echo
  echo "## DICOM: a whole realistic study"
  echo
  echo "$study_rows"
  echo
  echo "$dicom_section"
} > BENCHMARKS.md.new
mv BENCHMARKS.md.new BENCHMARKS.md
