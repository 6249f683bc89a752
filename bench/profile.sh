#!/usr/bin/env bash
# Where a proxy's time goes, under the same load as bench/run.sh.
#
# Usage: bash bench/profile.sh [rampart|nginx|haproxy] [plain|hardened]
#        (run bench/run.sh once first: it writes the configs under bench/out/conf and builds
#        target/release/rampart)
# Starts the upstream nginx and the one proxy (one worker thread) pinned to CPU 0, drives
# them with wrk on CPU 1 (-t1 -c50), and measures, each over a whole wrk run so that the
# request count is exact:
#   1. perf stat: task-clock, context switches (per request)
#   2. strace -c -f: syscalls per request (strace slows the process: counts, not times)
#   3. perf record (cpu-clock, DWARF call graphs) -> top symbols, self and with children
# Writes bench/out/profile-<target>-<config>/ and prints a summary. Needs linux-perf and
# strace (installed with apt if missing).
set -euo pipefail

TARGET=${1:-rampart}
CFG=${2:-plain}
SECS=${SECS:-8}
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
CONF="$BENCH_DIR/out/conf"
OUT="$BENCH_DIR/out/profile-$TARGET-$CFG${PROFILE_TAG:+-$PROFILE_TAG}"
RAMPART=${RAMPART:-"$REPO/target/release/rampart"}   # RAMPART=/path profiles another build
URL_PATH=/v1/items/42

[[ -f $CONF/rampart-$CFG.toml && -x $RAMPART ]] || { echo "run bench/run.sh first" >&2; exit 1; }
if ! command -v perf >/dev/null || ! command -v strace >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends linux-perf strace >/dev/null
fi
rm -rf "$OUT"; mkdir -p "$OUT"

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() { for _ in $(seq 100); do port_open "$1" && return 0; sleep 0.1; done; echo "port $1 not open" >&2; exit 1; }
STARTED=()
cleanup() { for p in "${STARTED[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

UP_PORT=$(sed -nE 's/.*listen 127.0.0.1:([0-9]+);.*/\1/p' "$CONF/upstream.nginx.conf")
mkdir -p "$BENCH_DIR"/out/logs/{upstream,nginx-plain,nginx-hardened}.tmp
taskset -c 0 nginx -e "$OUT/upstream.error.log" -c "$CONF/upstream.nginx.conf" >/dev/null 2>&1 &
STARTED+=($!); wait_port "$UP_PORT"

case $TARGET in
rampart)
    PORT=$(sed -nE 's/^listen = "127.0.0.1:([0-9]+)"/\1/p' "$CONF/rampart-$CFG.toml" | head -1)
    taskset -c 0 "$RAMPART" run --config "$CONF/rampart-$CFG.toml" >"$OUT/proxy.stdout" 2>"$OUT/proxy.stderr" &
    STARTED+=($!); PPID_=$!; wait_port "$PORT"; PID=$PPID_ ;;
nginx)
    PORT=$(sed -nE 's/.*listen 127.0.0.1:([0-9]+);.*/\1/p' "$CONF/nginx-$CFG.conf")
    taskset -c 0 nginx -e "$OUT/proxy.error.log" -c "$CONF/nginx-$CFG.conf" >/dev/null 2>&1 &
    STARTED+=($!); wait_port "$PORT"
    PID=$(awk -v m="${STARTED[-1]}" '$4 == m { print $1 }' /proc/[0-9]*/stat 2>/dev/null | head -1) ;;  # the worker
haproxy)
    PORT=$(sed -nE 's/.*bind 127.0.0.1:([0-9]+).*/\1/p' "$CONF/haproxy-$CFG.cfg")
    taskset -c 0 haproxy -db -f "$CONF/haproxy-$CFG.cfg" >"$OUT/proxy.stdout" 2>"$OUT/proxy.stderr" &
    STARTED+=($!); PID=$!; wait_port "$PORT" ;;
*) echo "target: rampart, nginx or haproxy" >&2; exit 2 ;;
esac
[[ -n $PID ]] || { echo "no pid for $TARGET" >&2; exit 1; }

load() { taskset -c 1 wrk -t1 -c50 -d"$1s" --latency "http://127.0.0.1:$PORT$URL_PATH" >"$2"; }
reqs() { awk '/requests in/ {print $1}' "$1"; }

load 3 "$OUT/warmup.txt"

# 1. perf stat over one whole wrk run
perf stat -e task-clock,context-switches,cpu-migrations,page-faults -p "$PID" -o "$OUT/perf-stat.txt" &
P=$!; sleep 0.3
load "$SECS" "$OUT/wrk-stat.txt"
kill -INT "$P"; wait "$P" || true

# 2. syscalls per request over one whole wrk run
strace -c -f -p "$PID" -o "$OUT/strace.txt" 2>/dev/null &
P=$!; sleep 0.3
load "$SECS" "$OUT/wrk-strace.txt"
kill -INT "$P"; wait "$P" || true

# 3. perf record with DWARF unwinding (release builds have no frame pointers)
load "$SECS" "$OUT/wrk-record.txt" &
W=$!; sleep 1
perf record -q -F 999 -e cpu-clock --call-graph dwarf,32768 -p "$PID" -o "$OUT/perf.data" -- sleep "$((SECS - 3))" 2>/dev/null
wait "$W"
report() { perf report -i "$OUT/perf.data" --stdio -g none "$@" 2>/dev/null | grep -v '^#' | grep -v '^$' | sed -E 's/ +$//' | cut -c1-160; }
report --no-children --sort symbol --percent-limit 0.5 >"$OUT/top-self.txt"
report --children --sort symbol --percent-limit 2 >"$OUT/top-children.txt"
report --no-children --sort comm,dso >"$OUT/by-thread-dso.txt"

n_stat=$(reqs "$OUT/wrk-stat.txt"); n_strace=$(reqs "$OUT/wrk-strace.txt")
{
    echo "== $TARGET $CFG (pid $PID): $(awk '/Requests\/sec/ {print $2}' "$OUT/wrk-stat.txt") req/s during perf stat"
    awk -v n="$n_stat" '
        /task-clock/ { gsub(",", "", $1); printf "task-clock %.2f us/req\n", $1 * 1000 / n }
        /context-switches|cpu-migrations|page-faults/ { gsub(",", "", $1); printf "%s %.3f per req\n", $2, $1 / n }' "$OUT/perf-stat.txt"
    echo "== syscalls per request (strace -c -f, $n_strace requests)"
    awk -v n="$n_strace" '$1 ~ /^[0-9.]+$/ && NF >= 5 { printf "%-16s %6.3f per req\n", $NF, $4 / n }' "$OUT/strace.txt"
    echo "== by thread and DSO (cpu-clock samples)"
    head -12 "$OUT/by-thread-dso.txt"
    echo "== top symbols (self)"
    head -45 "$OUT/top-self.txt"
} | tee "$OUT/summary.txt"
