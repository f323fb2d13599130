#!/usr/bin/env bash
# /predict side by side in one run (docs/benchmarks.md, "Serving"): the Python reference
# (gunicorn, 2 sync workers, its fastest setup), `churn serve http` (release build, prediction
# log on), and the floor: our HTTP server only parsing and echoing the JSON (bench/echo_server).
# wrk with 64 connections for DURATION seconds (default 20) on each, the same request body; then
# /predict/batch with 100 records. Prints requests/s, p50/p99 latency, CPU seconds and RSS of each
# server, and the ratios. Needs the release build with benchmarks (cmake --preset release
# -DCHURN_BUILD_BENCH=ON; cmake --build build/release --target churn echo_server), wrk, and the
# baseline's Debian packages (../shared/baseline/baseline deps). Uses BankChurners.csv when it
# is found (DATA=...), else the synthetic generator, to train the model churn serves.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${DURATION:-20}
connections=${CONNECTIONS:-64}
baseline=${BASELINE:-../shared/baseline}
churn=build/release/apps/churn/churn
echo_server=build/release/bench/echo_server
work=$(mktemp -d -t churn-serve-bench-XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

data=${DATA:-../shared/data/BankChurners.csv}
if [ ! -f "$data" ]; then
  data="$work/synthetic.csv"
  "$churn" --data-dir "$work/d" data synth --rows 10127 --seed 42 --out "$data" >/dev/null
fi
[ -x /usr/bin/gunicorn ] || "$baseline/baseline" deps >/dev/null
echo "== training the model churn serves ($data, 20 trials)"
"$churn" --data-dir "$work/d" ingest "$data" --dataset bank_churners >/dev/null 2>&1
"$churn" --data-dir "$work/d" train --dataset bank_churners --trials 20 >/dev/null 2>&1
"$churn" --data-dir "$work/d" models alias set churn production 1 --reason benchmark >/dev/null
echo "== training the baseline's model"
CHURN_BASELINE_OUT="$work/baseline" "$baseline/baseline" train --trials 20 >/dev/null 2>&1

wait_port() {  # wait_port PORT
  for _ in $(seq 1 300); do
    curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0
    sleep 0.1
  done
  echo "nothing listens on $1" >&2
  return 1
}

# cpu_seconds PID...: utime + stime of the processes (and their children) so far.
cpu_seconds() {
  local ticks=0 pid
  for pid in "$@"; do
    for p in $pid $(pgrep -P "$pid" || true); do
      ticks=$((ticks + $(awk '{print $14 + $15}' "/proc/$p/stat")))
    done
  done
  echo "scale=2; $ticks / $(getconf CLK_TCK)" | bc
}

rss_mib() {  # the processes' RSS (children included) in MiB
  local kb=0 pid
  for pid in "$@"; do
    for p in $pid $(pgrep -P "$pid" || true); do
      kb=$((kb + $(awk '/VmRSS/ {print $2}' "/proc/$p/status")))
    done
  done
  echo $((kb / 1024))
}

# run NAME PORT PATH BODY PID: one wrk run; prints a row and stores rps in rps_NAME.
run() {
  local name=$1 port=$2 path=$3 body=$4 pid=$5
  local before after out
  before=$(cpu_seconds "$pid")
  out=$(BODY=$body wrk -t1 -c"$connections" -d"${duration}s" -s "$baseline/post.lua" \
    "http://127.0.0.1:$port$path" | grep WRKJSON | sed 's/^WRKJSON //')
  after=$(cpu_seconds "$pid")
  local rps p50 p99 errors
  rps=$(echo "$out" | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["rps"]))')
  p50=$(echo "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["lat_p50_us"])')
  p99=$(echo "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["lat_p99_us"])')
  errors=$(echo "$out" | python3 -c 'import json,sys; j=json.load(sys.stdin); print(sum(j[k] for k in j if k.startswith("err_")))')
  printf '| %-28s | %9s | %8s | %8s | %6s | %8s | %6s |\n' "$name" "$rps" "$p50" "$p99" "$errors" \
    "$(echo "$after - $before" | bc)" "$(rss_mib "$pid")"
  printf -v "rps_$name" '%s' "$rps"
}

CHURN_BASELINE_OUT="$work/baseline" /usr/bin/gunicorn -w 2 -k sync -b 127.0.0.1:18431 \
  --chdir "$baseline" serve:app \
  >"$work/gunicorn.log" 2>&1 &
pids+=($!)
gunicorn_pid=$!
"$churn" --data-dir "$work/d" serve http --port 18432 --poll 0 >"$work/churn.log" 2>&1 &
pids+=($!)
churn_pid=$!
"$churn" --data-dir "$work/d" serve http --port 18434 --poll 0 --reasons 0 \
  --predictions "sqlite:$work/d/predictions-noreasons.db" >"$work/churn0.log" 2>&1 &
pids+=($!)
churn0_pid=$!
"$echo_server" 18433 >"$work/echo.log" 2>&1 &
pids+=($!)
echo_pid=$!
wait_port 18431 && wait_port 18432 && wait_port 18433 && wait_port 18434

echo "== wrk -t1 -c$connections -d${duration}s, $(nproc) cores, $(date -u +%F)"
printf '| %-28s | %9s | %8s | %8s | %6s | %8s | %6s |\n' server "req/s" "p50 µs" "p99 µs" errors "CPU s" "RSS MiB"
printf '|%s|%s|%s|%s|%s|%s|%s|\n' ------------------------------ ----------- ---------- ---------- -------- ---------- --------
run baseline_predict 18431 /predict "$baseline/body_one.json" "$gunicorn_pid"
run churn_predict 18432 /predict "$baseline/body_one.json" "$churn_pid"
run churn_predict_no_reasons 18434 /predict "$baseline/body_one.json" "$churn0_pid"
run echo_floor 18433 /echo "$baseline/body_one.json" "$echo_pid"
run baseline_batch100 18431 /predict_batch "$baseline/body_batch100.json" "$gunicorn_pid"
run churn_batch100 18432 /predict/batch "$baseline/body_batch100.json" "$churn_pid"
run churn_batch100_no_reasons 18434 /predict/batch "$baseline/body_batch100.json" "$churn0_pid"
echo
echo "churn /predict vs baseline:        $(echo "scale=1; $rps_churn_predict / $rps_baseline_predict" | bc)x requests/s"
echo "churn /predict, no reasons:       $(echo "scale=1; $rps_churn_predict_no_reasons / $rps_baseline_predict" | bc)x requests/s"
echo "churn /predict vs the echo floor:  $(echo "scale=2; $rps_churn_predict / $rps_echo_floor" | bc) of its requests/s ($(echo "scale=2; $rps_churn_predict_no_reasons / $rps_echo_floor" | bc) without reasons)"
echo "churn /predict/batch vs baseline:  $(echo "scale=1; $rps_churn_batch100 / $rps_baseline_batch100" | bc)x records/s (100 records a call; $(echo "scale=1; $rps_churn_batch100_no_reasons / $rps_baseline_batch100" | bc)x without reasons)"
echo "model served: $(curl -s http://127.0.0.1:18432/model | python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["trees"], "trees,", j["nodes"], "nodes")')"
echo "predictions logged by churn: $(sqlite3 "$work/d/predictions.db" 'SELECT COUNT(*) FROM predictions' 2>/dev/null || echo '?')"
