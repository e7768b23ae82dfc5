#!/usr/bin/env bash
# Benchmarks, one table in one run, written to BENCHMARKS.md (not a test: numbers depend on the
# machine). Anchors: libcurl (C, reused handle), .NET HttpClient on mono, a bare TcpStream loop,
# all against the same nginx fixed reply on loopback; BouncyCastle SM2Engine for SM2. The cloud
# calls (qr_url, patient_reminder, delete_notify) next to libcurl doing the same exchange against
# the same nginx, in alternating blocks (benches/anchors/cloud_calls.c).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
pkgs=(nginx-light libcurl4-openssl-dev libsqlite3-dev strace mono-mcs mono-runtime libmono-system-net-http4.0-cil libbcprov-java)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
scripts/deps/venv.sh
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
    location = /iuWorkStation/swipingIdCardNo {
      default_type application/json; return 200 '{"code":200,"data":null,"message":"ok"}';
    }
    location = /standardInterface/standardHttp/deleteDicom {
      default_type application/json; return 200 '{"code":200,"data":null,"message":"ok"}';
    }
  }
}
NGINX
/usr/sbin/nginx -c "$work/nginx.conf" -p "$work"
url="http://127.0.0.1:$port"
qr="$url/getway/reportAndFilm/api/qrurl?accessNumber=202305010001&modality=CT&hospitalId=H4401"

cargo build --release -q -p miic -p miic-cli
# The C programs load the library as shipped (LTO, scripts/release-lib.sh), kept aside: the
# cargo bench runs below put the rlib build's libmiic.so back in target/release.
lib_dir="$work/lib"
mkdir -p "$lib_dir"
cp "$(scripts/release-lib.sh)" "$lib_dir/"
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

# The cloud calls next to libcurl: 10 rounds of 300 calls per side, after a warm-up round.
gcc -O2 -I include -o "$work/cloud_calls" benches/anchors/cloud_calls.c -L"$lib_dir" -lmiic -lcurl -lsqlite3
cloud_config="{\"base_url\":\"$url\",\"hospital_id\":\"H4401\",\"timeout_ms\":3000,\"sm2\":{\"public_key\":\"$key\"},\"outbox\":{\"path\":\"$work/outbox.db\"}}"
cloud_rows=$(LD_LIBRARY_PATH="$lib_dir" "$work/cloud_calls" "$url" "$cloud_config" "$work/anchor.db" 10 300)
cloud_table=$(python3 - "$cloud_rows" <<'PY'
import sys
rows = {l.split()[1]: list(map(float, l.split()[2:])) for l in sys.argv[1].splitlines() if l.startswith("ROW ")}
diffs = {l.split()[1]: list(map(float, l.split()[2:])) for l in sys.argv[1].splitlines() if l.startswith("DIFF ")}
def line(what, anchor, r):
    m50, m99, a50, a99 = r
    return f"| {what} | {anchor} | {m50:.3f} / {m99:.3f} | {a50:.3f} / {a99:.3f} | {m50/a50:.2f}x / {m99/a99:.2f}x |"
print("| call (3000 per side) | anchor | miic p50 / p99 (ms) | anchor p50 / p99 (ms) | ratio p50 / p99 |")
print("|---|---|---|---|---|")
print(line("`miic_qr_url` (GET)", "libcurl, reused easy handle", rows["qr"]))
print(line("`miic_patient_reminder` (POST, two SM2 fields)", "the same two `miic_sm2_encrypt`, then libcurl POST", rows["reminder"]))
print(line("`miic_delete_notify`, stored and sent", "SQLite INSERT (WAL, fsync), libcurl POST, DELETE (no fsync)", rows["delete"]))
sm2, post = rows["post"][0], rows["post"][2]
d25, d50, d75 = diffs["reminder"]
rest = post + d50
print(f"| reminder without its SM2: libcurl's POST + the median of (reminder - anchor) over 3000 alternating pairs ({d50 * 1000:+.0f} µs, quartiles {d25 * 1000:+.0f} / {d75 * 1000:+.0f} µs) | libcurl POST alone | {rest:.3f} | {post:.3f} / {rows['post'][3]:.3f} | {rest/post:.2f}x |")
print(f"| the same with SM2 timed in a tight loop instead (p50 {rows['reminder'][0]:.3f} - {sm2:.3f} ms; warm caches make that loop faster than SM2 between POSTs, {rows['reminder'][2] - post:.3f} ms in the anchor) | libcurl POST alone | {rows['reminder'][0] - sm2:.3f} | {post:.3f} | {(rows['reminder'][0] - sm2)/post:.2f}x |")
PY
)
echo "$cloud_table"

# System calls per cloud call and per libcurl GET: strace -f -c of 100 and of 1,100 calls, the
# difference divided by 1,000 (so opening, warming up and closing drop out).
gcc -O2 -I include -o "$work/qr_loop" benches/anchors/qr_loop.c -L"$lib_dir" -lmiic
for n in 100 1100; do
  for op in qr reminder delete; do
    LD_LIBRARY_PATH="$lib_dir" strace -f -c -o "$work/strace_${op}_$n" "$work/qr_loop" "$cloud_config" "$n" "$op"
  done
  strace -f -c -o "$work/strace_curl_$n" "$work/curl_qr" "$qr" "$n" >/dev/null
done
per_call() {
  python3 - "$1" "$2" <<'PY'
import re, sys
def counts(path):
    rows = (l.split() for l in open(path))
    return {f[-1]: int(f[3]) for f in rows if len(f) >= 5 and re.fullmatch(r"[0-9.]+", f[0]) and f[-1] != "total"}
a, b = counts(sys.argv[1]), counts(sys.argv[2])
per = {k: (b.get(k, 0) - a.get(k, 0)) / 1000 for k in set(a) | set(b)}
per = {k: v for k, v in per.items() if v >= 0.005}
threads = 1000 * (per.get("clone3", 0) + per.get("clone", 0))
print(f"{sum(per.values()):.1f} ({', '.join(f'{k} {v:.2f}' for k, v in sorted(per.items(), key=lambda kv: -kv[1]))}); threads per 1,000 calls: {threads:.0f}")
PY
}
syscall_rows="| system calls per \`miic_qr_url\` (strace -f -c, 1,000 calls) | $(per_call "$work/strace_qr_100" "$work/strace_qr_1100") |
| anchor: per libcurl GET, reused easy handle | $(per_call "$work/strace_curl_100" "$work/strace_curl_1100") |
| per \`miic_patient_reminder\` | $(per_call "$work/strace_reminder_100" "$work/strace_reminder_1100") |
| per \`miic_delete_notify\`, stored and sent | $(per_call "$work/strace_delete_100" "$work/strace_delete_1100") |"
echo "$syscall_rows"
# The budget is 5 MiB; the Windows DLLs are measured when scripts/build-windows.sh --profile
# release has made them (the bench does not spend 10 minutes building them).
budget=$((5 << 20))
size_row() { # label file
  local bytes; bytes=$(stat -c %s "$2")
  local verdict="within the 5 MiB budget"; [ "$bytes" -le $budget ] || verdict="OVER the 5 MiB budget by $(( (bytes - budget) / 1024 )) KiB"
  echo "| $1 | $bytes B ($((bytes / 1024)) KiB) | | | $verdict |"
}
size_rows=$(size_row "release libmiic.so, stripped (LTO, opt-level s)" "$lib_dir/libmiic.so"
  for t in i686-win7-windows-gnu x86_64-win7-windows-gnu; do
    f=target/windows/$t/release/miic.dll
    if [ -f "$f" ]; then size_row "release miic.dll, $t (LTO, std without backtrace; as made by the last build-windows.sh --profile release)" "$f"; fi
  done)
table=$(cat <<TABLE
| measure | p50 / value | p99 | mean | ratio to miic (p50 or rate) |
|---|---|---|---|---|
$(grep '^|' <<<"$rust_rows" | head -2)
| anchor: libcurl, reused easy handle (nginx) | $c50 ms | $c99 ms | $cavg ms | $(ratio "$c50" "$qr_miic") |
| anchor: .NET HttpClient on mono (nginx) | $n50 ms | $n99 ms | $navg ms | $(ratio "$n50" "$qr_miic") |
$(grep '^|' <<<"$rust_rows" | sed -n 3p)
| anchor: BouncyCastle SM2Engine C1C3C2 (Java $(java -version 2>&1 | head -1 | grep -oE '"[^"]+"' | tr -d '"')) | $sm2_bc /s | | | $(ratio "$sm2_bc" "$sm2_miic") |
$(grep '^|' <<<"$rust_rows" | sed -n '4,$p')
$size_rows
TABLE
)
echo "$table"
# The delete outbox: storing (fsync) and draining a backlog, each next to its anchor.
outbox_table=$(cargo bench -q --bench outbox 2>/dev/null | grep '^|')
echo
echo "$outbox_table"
# A whole realistic study from Orthanc: miic's C-GET vs getscu (seconds; needs orthanc, dcmtk
# and the venv's pydicom, which scripts/deps/venv.sh installs).
study_out=$(MIIC_PYTHON="$root/.venv/bin/python" cargo bench -q --bench dicom_studies 2>"$work/dicom_studies.err") ||
  { cat "$work/dicom_studies.err" >&2; exit 1; }
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
  echo "## Cloud calls next to libcurl (same nginx, same run)"
  echo
  echo "Recorded by \`scripts/bench.sh\` (benches/anchors/cloud_calls.c): miic through the C ABI and libcurl doing the same exchange, in alternating blocks of 300 calls, 10 rounds each after a warm-up round. Ratio < 1 means miic is faster."
  echo
  echo "$cloud_table"
  echo
  echo "| system calls | per call |"
  echo "|---|---|"
  echo "$syscall_rows"
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
