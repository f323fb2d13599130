#!/usr/bin/env bash
# The web console and a drift report in headless Chromium (issue 8's must-show), end to end:
# a small real data dir made with the churn binary (synthetic data, ingest, a 4-trial study,
# deploy, `churn serve http`, drifted traffic, `churn report`, `churn flows run report`), then
# tests/web/check_pages.py walks every console page in one headless Chromium (DOM assertions, one
# phone-sized screenshot per page) and opens the report from file:// with the network disabled.
#
#   tests/web/check_pages.sh CHURN_BINARY [SCREENSHOT_DIR]
#
# Screenshots go to SCREENSHOT_DIR (default build/artifacts/screenshots, the CI artifact). Exits
# 77 (ctest SKIP_RETURN_CODE) when chromium or python3 is missing (scripts/bootstrap installs
# Debian's chromium). Only the processes this script starts are stopped, by PID, on every exit.
set -euo pipefail

churn=${1:?usage: check_pages.sh CHURN_BINARY [SCREENSHOT_DIR]}
here=$(cd "$(dirname "$0")" && pwd)
shots=${2:-$(cd "$here/../.." && pwd)/build/artifacts/screenshots}
chromium=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
python=$(command -v python3 || true)
if [ -z "$chromium" ] || [ -z "$python" ]; then
  echo "check_pages: chromium or python3 not found (Debian packages chromium, python3;" \
    "scripts/bootstrap); skipped"
  exit 77
fi
export CHROMIUM=$chromium

started=$SECONDS
work=$(mktemp -d "${TMPDIR:-/tmp}/churn-web.XXXXXX")
server_pid=""
cleanup() {
  local status=$?
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [ "$status" -ne 0 ] && [ -f "$work/serve.log" ]; then
    echo "--- serve.log (tail)" >&2
    tail -n 30 "$work/serve.log" >&2 || true
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Gates loose enough for a loaded CI machine, drift computed every second.
cat >"$work/churn.yaml" <<'EOF'
deploy:
  min_test_auc: 0.5
  max_auc_drop: 1.0
  max_p99_ms: 1000
drift:
  interval_seconds: 1
EOF
export CHURN_CONFIG=$work/churn.yaml
unset CHURN_DATA_DIR CHURN_REGISTRY_URL CHURN_PREDICTIONS_URL CHURN_FLOWS_URL CHURN_OBJECT_STORE \
  CHURN_ARTIFACT_STORE CHURN_REDIS_URL
cd "$work"
run() {
  echo "+ churn $*"
  "$churn" --data-dir "$work/data" "$@" >"$work/last.log" 2>&1 || {
    cat "$work/last.log" >&2
    return 1
  }
}

run data synth --rows 3000 --seed 7 --out "$work/customers.csv"
run ingest "$work/customers.csv" --dataset bank_churners
run train --dataset bank_churners --trials 4 --seed 1 --no-progress
run deploy churn@1 --reason "web check"

"$churn" --data-dir "$work/data" serve http --host 127.0.0.1 --port 0 --poll 0 \
  >"$work/serve.out" 2>"$work/serve.log" &
server_pid=$!
port=""
for _ in $(seq 1 300); do
  port=$(sed -nE 's|.* on http://127\.0\.0\.1:([0-9]+)/predict.*|\1|p' "$work/serve.out")
  [ -n "$port" ] && break
  kill -0 "$server_pid" 2>/dev/null || { echo "churn serve http exited" >&2; exit 1; }
  sleep 0.1
done
[ -n "$port" ] || { echo "churn serve http did not print its port" >&2; exit 1; }
base="http://127.0.0.1:$port"
echo "+ serving on $base (pid $server_pid)"

run simulate http --url "$base/predict" --rate 400 --max 400 --drift "scale:Total_Trans_Ct=0.5"
run report
run flows run report

# What GET /drift answers now (it recomputes when older than its interval), for the drift page's
# expected feature rows.
"$python" - "$base/drift" "$work/drift.json" <<'EOF'
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=30) as r, open(sys.argv[2], "wb") as out:
    out.write(r.read())
EOF
reports=("$work/data/reports"/report-*.html)  # named after their window end: the last is newest
report=${reports[${#reports[@]}-1]}
[ -f "$report" ] || { echo "churn report wrote no report" >&2; exit 1; }
echo "+ setup took $((SECONDS - started)) s; checking pages"

rm -rf "$shots"
mkdir -p "$shots"
"$python" "$here/check_pages.py" --base "$base" --report "$report" \
  --drift-json "$work/drift.json" --out "$shots"
echo "check_pages: done in $((SECONDS - started)) s; screenshots in $shots"
