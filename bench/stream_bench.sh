#!/usr/bin/env bash
# Stream serving side by side in one run (docs/benchmarks.md, "Stream serving"), on one
# redis-server on loopback:
#   1. throughput: EVENTS events (default 200,000) are queued with `churn simulate stream --rate
#      max`, then the workers drain them; events/s = results / (last result's time - first's),
#      from the entry ids. For the reference's scorer ported to Redis (bench/stream_baseline_worker.py,
#      one process: it has no reasons and no prediction log) and for `churn serve stream` with
#      one and two workers, with 3 reasons per result and with none.
#   2. latency: `churn simulate stream --rate 1000` for LATENCY_SECONDS (default 20) against one
#      worker; end-to-end latency per event = its result's entry time - its own entry time
#      (Redis' millisecond clock: both ids come from the same server).
# Prints a table with CPU seconds per 100k events and the ratios. Needs the release build (cmake
# --preset release; cmake --build build/release --target churn), redis-server and the
# baseline's packages (../shared/baseline/baseline deps, python3-redis).
set -euo pipefail
cd "$(dirname "$0")/.."
events=${EVENTS:-200000}
latency_seconds=${LATENCY_SECONDS:-20}
baseline=$(cd "${BASELINE:-../shared/baseline}" && pwd)
churn=build/release/apps/churn/churn
work=$(mktemp -d -t churn-stream-bench-XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  scripts/services stop redis "$work" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

[ -x /usr/bin/gunicorn ] || "$baseline/baseline" deps >/dev/null
/usr/bin/python3 -c 'import redis' 2>/dev/null || {
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get install -y -qq --no-install-recommends python3-redis >/dev/null
}

data=${DATA:-../shared/data/BankChurners.csv}
if [ ! -f "$data" ]; then
  data="$work/synthetic.csv"
  "$churn" --data-dir "$work/d" data synth --rows 10127 --seed 42 --out "$data" >/dev/null
fi
echo "== training the model churn serves ($data, 20 trials) and the baseline's"
"$churn" --data-dir "$work/d" ingest "$data" --dataset bank_churners >/dev/null 2>&1
"$churn" --data-dir "$work/d" train --dataset bank_churners --trials 20 >/dev/null 2>&1
"$churn" --data-dir "$work/d" models alias set churn production 1 --reason benchmark >/dev/null
CHURN_BASELINE_OUT="$work/baseline" "$baseline/baseline" train --trials 20 >/dev/null 2>&1

redis_url=$(scripts/services start redis "$work" | sed 's/^CHURN_TEST_REDIS_URL=//')
redis_port=${redis_url##*:}

# cpu_seconds PID...: utime + stime so far.
cpu_seconds() {
  local ticks=0 pid
  for pid in "$@"; do ticks=$((ticks + $(awk '{print $14 + $15}' "/proc/$pid/stat"))); done
  echo "scale=2; $ticks / $(getconf CLK_TCK)" | bc
}

# stats OUT: "results events/s p50_ms p99_ms max_ms" from the results stream OUT.
stats() {
  /usr/bin/python3 - "$redis_port" "$1" <<'EOF'
import sys
import redis
r = redis.Redis(port=int(sys.argv[1]))
out = sys.argv[2]
lat, first, last, n, start = [], None, None, 0, "-"
while True:
    chunk = r.xrange(out, start, "+", count=20000)
    if not chunk:
        break
    for eid, f in chunk:
        t = int(eid.split(b"-")[0])
        src = int(f[b"source_id"].split(b"-")[0])
        lat.append(t - src)
        first = t if first is None else first
        last = t
        n += 1
    start = b"(" + chunk[-1][0]
lat.sort()
pct = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] if lat else 0
span = max(1, last - first) / 1000 if n else 1
print(n, round(n / span), pct(0.5), pct(0.99), lat[-1] if lat else 0)
EOF
}

wait_for() {  # wait_for OUT N SECONDS
  local out=$1 n=$2 until=$((SECONDS + $3)) len
  while [ $SECONDS -lt $until ]; do
    len=$(redis-cli -p "$redis_port" XLEN "$out")
    [ "$len" -ge "$n" ] && return 0
    sleep 0.05
  done
  echo "only $len of $n results in $out after $3 s" >&2
  return 1
}

start_churn() {  # start_churn IN OUT CONSUMER REASONS
  "$churn" --data-dir "$work/d" serve stream --redis "$redis_url" --in "$1" --out "$2" \
    --consumer "$3" --reasons "$4" --metrics-port -1 --poll 0 \
    --predictions "sqlite:$work/d/predictions-$1.db" >>"$work/workers.log" 2>&1 &
  pids+=($!)
  worker_pids+=($!)
}

start_baseline() {  # start_baseline IN OUT CONSUMER
  CHURN_BASELINE="$baseline" CHURN_MODEL_DIR="$work/baseline/models" \
    /usr/bin/python3 bench/stream_baseline_worker.py "$redis_port" "$1" "$2" scorers "$3" \
    >>"$work/workers.log" 2>&1 &
  pids+=($!)
  worker_pids+=($!)
}

stop_workers() {
  for pid in "${worker_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${worker_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}

row() {  # row NAME KIND WORKERS REASONS
  local name=$1 kind=$2 workers=$3 reasons=$4 in="bench:$1:in" out="bench:$1:out" produced
  produced=$("$churn" --data-dir "$work/d" simulate stream --redis "$redis_url" --stream "$in" \
    --rate max --max "$events" --duration 10m --json |
    /usr/bin/python3 -c 'import json,sys; print(round(json.load(sys.stdin)["rate"]))')
  worker_pids=()
  for w in $(seq 1 "$workers"); do
    if [ "$kind" = baseline ]; then start_baseline "$in" "$out" "w$w"; else start_churn "$in" "$out" "w$w" "$reasons"; fi
  done
  wait_for "$out" "$events" 600
  local cpu
  cpu=$(cpu_seconds "${worker_pids[@]}")
  stop_workers
  read -r n rate p50 p99 max < <(stats "$out")
  printf '| %-26s | %7s | %9s | %10s | %8s |\n' "$name" "$n" "$rate" \
    "$(echo "scale=2; $cpu * 100000 / $n" | bc)" "$produced"
  printf -v "rate_$name" '%s' "$rate"
  redis-cli -p "$redis_port" DEL "$in" "$out" >/dev/null
}

echo "== $events events queued, then drained; $(nproc) cores, $(date -u +%F)"
printf '| %-26s | %7s | %9s | %10s | %8s |\n' workers results "events/s" "CPU s/100k" "queued/s"
printf '|%s|%s|%s|%s|%s|\n' ---------------------------- --------- ----------- ------------ ----------
row baseline_1 baseline 1 0
row churn_1 churn 1 3
row churn_2 churn 2 3
row churn_1_no_reasons churn 1 0
row churn_2_no_reasons churn 2 0
echo
echo "churn, 1 worker vs baseline:  $(echo "scale=1; $rate_churn_1 / $rate_baseline_1" | bc)x ($(echo "scale=1; $rate_churn_1_no_reasons / $rate_baseline_1" | bc)x without reasons)"
echo "churn, 2 workers vs baseline: $(echo "scale=1; $rate_churn_2 / $rate_baseline_1" | bc)x ($(echo "scale=1; $rate_churn_2_no_reasons / $rate_baseline_1" | bc)x without reasons)"
echo "vs a Kinesis shard (1,000 records/s): $(echo "scale=0; $rate_churn_2 / 1000" | bc)x"

echo
echo "== latency at a steady 1,000 events/s for ${latency_seconds}s, one worker each"
printf '| %-26s | %7s | %7s | %7s | %7s |\n' worker results "p50 ms" "p99 ms" "max ms"
printf '|%s|%s|%s|%s|%s|\n' ---------------------------- --------- --------- --------- ---------
for kind in baseline churn; do
  in="bench:lat:$kind:in" out="bench:lat:$kind:out"
  worker_pids=()
  if [ "$kind" = baseline ]; then start_baseline "$in" "$out" w1; else start_churn "$in" "$out" w1 3; fi
  sleep 2  # the worker is up and blocked on its read
  "$churn" --data-dir "$work/d" simulate stream --redis "$redis_url" --stream "$in" --rate 1000 \
    --duration "${latency_seconds}s" >/dev/null
  total=$(redis-cli -p "$redis_port" XLEN "$in")
  wait_for "$out" "$total" 60
  stop_workers
  read -r n rate p50 p99 max < <(stats "$out")
  printf '| %-26s | %7s | %7s | %7s | %7s |\n' "$kind" "$n" "$p50" "$p99" "$max"
done
