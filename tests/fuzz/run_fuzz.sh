#!/usr/bin/env bash
# Builds the libFuzzer targets with clang-14 (ASan + UBSan) and runs each for a bounded number of
# inputs (recovery opens a whole log per input, so it gets a fifth of them). request_fuzz needs
# only the wire layer, so it is built from that alone.
# Usage: run_fuzz.sh SOURCE_ROOT WORK_DIR [RUNS]
set -euo pipefail
src=$1
work=$2
runs=${3:-${RUNNEL_FUZZ_RUNS:-100000}}
mkdir -p "$work"
cxx=clang++-14
flags=(-std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
       -msse4.2 -I"$src" -I"$src/src")
storage=("$src"/storage/{batch_builder,crc32c,errc,io,log_config,partition_log,record_batch,sim_io}.cc
         "$src"/storage/detail/segment_files.cc)
for target in batch_fuzz recovery_fuzz wire_fuzz request_fuzz dataplane_fuzz; do
    n=$runs
    [ "$target" = recovery_fuzz ] && n=$((runs / 5))
    sources=("${storage[@]}" "$src"/src/protocol/{wire,api_versions,metadata}.cc)
    [ "$target" = request_fuzz ] && sources=("$src/src/protocol/wire.cc")
    [ "$target" = dataplane_fuzz ] && sources=("$src"/dataplane/{fast_path,packet}.cc)
    "$cxx" "${flags[@]}" -o "$work/$target" "$src/tests/fuzz/$target.cc" "${sources[@]}"
    mkdir -p "$work/corpus-$target"
    echo "fuzz: $target, $n runs"
    # Inputs that once failed (tests/fuzz/corpus/<target>/) are replayed first, every run.
    seeds=()
    [ -d "$src/tests/fuzz/corpus/$target" ] && seeds=("$src/tests/fuzz/corpus/$target")
    (cd "$work" && "./$target" -runs="$n" -seed=1 -max_len=4096 "corpus-$target" "${seeds[@]}" \
        2>&1 | tail -n 3)
done
echo "fuzz: no crash"
