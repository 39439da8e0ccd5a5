#!/usr/bin/env bash
# Sets up and builds Runnel, then runs runneld on the embedded default (one node, data in ./data).
# Extra arguments go to runneld, e.g. deploy/run.sh --config deploy/runneld.toml
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/deploy/setup.sh" src/runneld
cd "$root"
exec build/src/runneld "$@"
