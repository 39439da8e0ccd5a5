#!/usr/bin/env bash
# SIGKILL crash test: an fsync-acknowledged append load is killed at three different moments; after
# each kill every acknowledged batch must be present and intact after recovery. Then runneld itself
# is started on the same data, killed with SIGKILL while it runs, restarted on two shards (shard 0
# owns every partition until Kafka requests are forwarded between shards), stopped cleanly, and
# the data verified once more.
# Usage: crash_test.sh RUNNEL_LOGTOOL RUNNELD
set -euo pipefail
tool=$1
runneld=$2
work=$(mktemp -d /var/tmp/runnel-crash.XXXXXX)
pid=
trap 'if [ -n "$pid" ]; then kill -KILL "$pid" 2>/dev/null || true; fi; rm -rf "$work"' EXIT
data=$work/data

"$tool" create-topic --data-dir "$data" --topic crash --partitions 3 \
    --config runnel.ack.after=fsync --config segment.bytes=1048576 >/dev/null

acked=()
for round in 1 2 3; do
    out=$work/acked.$round
    "$tool" load --data-dir "$data" --topic crash --records 20 --value-bytes 100 >"$out" &
    pid=$!
    # Let it run long enough to roll segments, then kill it mid-write.
    sleep "0.$((3 + round * 2))"
    kill -KILL "$pid"
    wait "$pid" 2>/dev/null || true
    n=$(grep -c '^acked ' "$out" || true)
    echo "round $round: $n batches acknowledged before SIGKILL"
    if [ "$n" -lt 1 ]; then
        echo "FAIL: the load acknowledged nothing in round $round"
        exit 1
    fi
    acked+=(--acked "$out")
    "$tool" verify --data-dir "$data" --topic crash "${acked[@]}"
done

# runneld recovers the same partitions, survives SIGKILL, and stops cleanly after a restart.
log=$work/runneld.log
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$runneld" --data-dir "$data" --set kafka.listen_port="$port" 2>"$log" &
pid=$!
for _ in $(seq 100); do grep -q "runneld: started" "$log" && break; sleep 0.1; done
grep -q "owns 3 partitions" "$log" || { cat "$log"; echo "FAIL: runneld did not open 3 partitions"; exit 1; }
kill -KILL "$pid"
wait "$pid" 2>/dev/null || true
"$runneld" --data-dir "$data" --shards 2 --set kafka.listen_port="$port" 2>"$log" &
pid=$!
for _ in $(seq 100); do grep -q "runneld: started" "$log" && break; sleep 0.1; done
# The 3 partitions of topic crash and the one of __consumer_offsets (made by the first start),
# all on shard 0.
grep -q "shard 0 owns 4 partitions" "$log" || { cat "$log"; echo "FAIL: shard 0 does not own all 4"; exit 1; }
grep -q "shard 1 owns 0 partitions" "$log" || { cat "$log"; echo "FAIL: shard 1 owns partitions"; exit 1; }
kill -TERM "$pid"
wait "$pid"
grep -q "runneld: stopped cleanly" "$log" || { cat "$log"; echo "FAIL: no clean stop"; exit 1; }
for p in 0 1 2; do
    [ -f "$data/crash-$p/clean_shutdown" ] || { echo "FAIL: crash-$p has no clean-shutdown marker"; exit 1; }
done
"$tool" verify --data-dir "$data" --topic crash "${acked[@]}"
echo "crash test passed"
