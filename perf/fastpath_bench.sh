#!/usr/bin/env bash
# Starts runneld with the fast path on a memif server port (fresh data directory, Kafka on port
# 19093), creates the bench-<level> topics through Kafka (one per ack_after level), and runs
# runnel-fastpath-bench as the memif client. Arguments: SAMPLES WARMUP (default 20000 2000).
# IDLE=backoff (default spin) sets the broker's idle strategy: on two cores a spinning broker and
# a spinning client starve the kernel's io workers, so write/fsync latencies want backoff.
# SET="KEY=VALUE ..." passes more runneld settings (e.g. SET=log.preallocate_bytes=1073741824).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build}
ninja -C "$build" src/runneld perf/runnel-fastpath-bench >/dev/null
work=$(mktemp -d ${WORKDIR:-/var/tmp}/runnel-fastbench.XXXXXX)
sock=$work/memif.sock
"$build/src/runneld" --data-dir "$work/data" --set kafka.listen_port=19093 \
    --set dataplane.enabled=true --set "shards.idle_strategy=${IDLE:-spin}" \
    --set "dataplane.vdev=net_memif0,role=server,socket=$sock,socket-abstract=no" \
    $(for kv in ${SET:-}; do printf -- '--set %s ' "$kv"; done) \
    2>"$work/runneld.log" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do grep -q "runneld: started" "$work/runneld.log" && break; sleep 0.1; done
/usr/bin/python3 - <<'PY'
from kafka.admin import KafkaAdminClient, NewTopic
admin = KafkaAdminClient(bootstrap_servers="127.0.0.1:19093")
admin.create_topics([NewTopic(f"bench-{l}", 1, 1, topic_configs={"runnel.ack.after": l})
                     for l in ("memory", "write", "fsync")])
admin.close()
PY
"$build/perf/runnel-fastpath-bench" "net_memif0,role=client,socket=$sock,socket-abstract=no" \
    "${1:-20000}" "${2:-2000}"
