#!/usr/bin/env bash
# deploy/tune-host.sh check: one verdict for each item on an online CPU, and precise refusals of
# bad arguments (exit 2). apply is not run here: it changes the host.
# Usage: tune_host_test.sh TUNE_HOST
set -uo pipefail
tune=$1
fail() { echo "FAIL: $*"; exit 1; }
out=$("$tune" check --cpus 0) || fail "check exited $?: $out"
for item in isolated nohz_full irqs hugepages governor timer_migration; do
    grep -qE "^$item +[^ ]" <<<"$out" || fail "no verdict for $item in: $out"
done
err=$("$tune" check --cpus 9999 2>&1); rc=$?
[[ $rc -eq 2 && $err == *"CPU 9999 is not online"* ]] || fail "offline CPU: exit $rc: $err"
err=$("$tune" check --cpus 1-x 2>&1); rc=$?
[[ $rc -eq 2 && $err == *"is not a CPU list"* ]] || fail "bad list: exit $rc: $err"
err=$("$tune" frob 2>&1); rc=$?
[[ $rc -eq 2 && $err == usage:* ]] || fail "bad mode: exit $rc: $err"
echo "$out"
echo "tune-host test passed"
