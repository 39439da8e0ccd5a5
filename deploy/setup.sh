#!/usr/bin/env bash
# Installs what deploy/packages.txt lists and is missing, then configures Runnel in build/ and
# builds the targets given as arguments (all when none). Used by deploy/run.sh and deploy/test.sh;
# safe to run again. One configuration serves both (release, asserts on, warnings as errors), so
# switching between running and testing never rebuilds everything.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

mapfile -t wanted < <(grep -v '^\s*#' deploy/packages.txt | grep -v '^\s*$')
missing=()
for p in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    sudo_cmd=()
    [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ ! -f build/build.ninja ]; then
    meson setup build --buildtype=release -Dwerror=true
fi
ninja -C build "$@"
