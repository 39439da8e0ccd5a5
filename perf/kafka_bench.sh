#!/usr/bin/env bash
# Starts runneld (build/src/runneld, one shard, a fresh data directory, port 19092) and runs
# runnel-kafka-bench against it; extra arguments go to the bench. Prints the markdown table that
# RESULTS.md quotes.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build}
ninja -C "$build" src/runneld perf/runnel-kafka-bench >/dev/null
data=$(mktemp -d /var/tmp/runnel-bench.XXXXXX)
"$build/src/runneld" --data-dir "$data" --set kafka.listen_port=19092 2>"$data.log" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$data" "$data.log"' EXIT
for _ in $(seq 100); do grep -q "runneld: started" "$data.log" && break; sleep 0.1; done
"$build/perf/runnel-kafka-bench" --bootstrap 127.0.0.1:19092 "$@"
