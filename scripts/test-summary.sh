#!/usr/bin/env bash
# The closing line of scripts/test.sh over the output of `cargo test --workspace --no-fail-fast`.
#   scripts/test-summary.sh OUTPUT_FILE CARGO_STATUS [SKIP_NOTE [STATE_DIR]]
# cargo prints one "test result:" per test binary; a binary killed by a signal (or crashed)
# prints none, so it is counted as one failed test and named. A failing cargo run that names no
# failed test (a build error) also counts as one failure: the line never reads "0 failed" when
# the command failed. Tests left out by --skip count as skipped, never as passed.
# STATE_DIR: the XDG state folder the tests ran with; an outbox file in it means a test used the
# per-user default outbox instead of its own: one more failure, and the exit status is 1.
set -euo pipefail
output=$1
status=$2
skip_note=${3:-}
state_dir=${4:-}

# "Running ..." / "Doc-tests ..." opens a binary; its "test result:" closes it. awk prints one
# line per binary that ended without one, then the counts.
mapfile -t lines < <(awk '
  function close_binary() {
    if (open && !seen) print "FAILED without a result line (killed or crashed): " name
  }
  /^ +Running .*\(.+\)$|^ +Doc-tests [A-Za-z0-9_-]+$/ { close_binary(); open = 1; seen = 0; name = $0; sub(/^ +/, "", name); next }
  /^test result:/ { seen = 1; p += $4; f += $6; i += $8; s += $12 }
  END { close_binary(); printf "%d %d %d %d\n", p, f, i, s }
' "$output")
read -r passed failed ignored filtered <<<"${lines[-1]}"
silent=$((${#lines[@]} - 1))
for line in "${lines[@]:0:silent}"; do echo "$line"; done
failed=$((failed + silent))
exit_status=0
if [ -n "$state_dir" ] && [ -n "$(find "$state_dir" -name 'outbox.sqlite*' -print -quit)" ]; then
  echo "FAILED: a test opened a client on the per-user default outbox (give its config an [outbox] path): $(find "$state_dir" -name 'outbox.sqlite*' | tr '\n' ' ')"
  failed=$((failed + 1))
  exit_status=1
fi
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  echo "FAILED: cargo test exited with status $status and named no failed test (build error?)"
  failed=1
fi
if [ -n "$skip_note" ]; then
  echo "SKIPPED: $filtered tests, $skip_note"
fi
echo "total: $passed passed, $failed failed, $((ignored + filtered)) skipped"
exit "$exit_status"
