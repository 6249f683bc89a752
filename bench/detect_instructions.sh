#!/usr/bin/env bash
# Instructions the detector executes per benign workload (the GET head, the 2 KB JSON body
# and a 1.4 KB prose value of bench/detect_bench.py), counted by callgrind: unlike times on
# this shared machine, the counts do not move from run to run, so two commits compare
# exactly. Each workload runs 20 and 220 times; the difference / 200 leaves out start-up
# (building the needle automata, reading arguments).
#
# Usage: bash bench/detect_instructions.sh      (needs valgrind: apt-get install -y valgrind)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install -y valgrind)" >&2; exit 1; }
binary=$(cargo bench -p rampart-detect --bench work --no-run --message-format=json 2>/dev/null \
    | python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "work" and m.get("executable"):
        print(m["executable"])')
count() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$binary" "$1" "$2" 2>&1 \
        | awk '/Collected/ {print $4}'
}
printf '| workload | instructions per iteration |\n|---|---:|\n'
for workload in get json prose; do
    small=$(count "$workload" 20)
    large=$(count "$workload" 220)
    printf '| %s | %d |\n' "$workload" $(( (large - small) / 200 ))
done
