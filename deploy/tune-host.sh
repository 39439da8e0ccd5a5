#!/usr/bin/env bash
# Host tuning for runneld's dataplane cores (the CPUs of [shards] cpus that poll DPDK ports).
#
#   tune-host.sh check --cpus LIST            reports each item below: "ok" or what to do
#   tune-host.sh apply --cpus LIST [--hugepages N]   (root) changes what can change at run time
#
# LIST is a CPU list as the kernel writes it ("2-3", "1,3"). Items:
#   isolated     the CPUs are in isolcpus= (kernel command line: printed, not applied)
#   nohz_full    the CPUs run without the scheduler tick (kernel command line, as above)
#   irqs         no interrupt is routed to them (apply: every IRQ that allows it moves off)
#   hugepages    2 MB hugepages reserved and hugetlbfs mounted (apply: N, default 512)
#   governor     cpufreq governor "performance" where cpufreq exists (apply: set)
#   timer_migration  kernel.timer_migration = 0, so timers stay off other cores (apply: set)
# Exit status: 0; 2 for a bad command line; 1 when apply is not run as root.
set -euo pipefail

usage() {
    echo "usage: tune-host.sh check|apply --cpus LIST [--hugepages N]" >&2
    exit 2
}

mode=${1:-}
[[ $mode == check || $mode == apply ]] || usage
shift
cpus=""
hugepages=512
while [[ $# -gt 0 ]]; do
    case $1 in
    --cpus) cpus=${2:-}; shift 2 ;;
    --hugepages) hugepages=${2:-}; shift 2 ;;
    *) usage ;;
    esac
done
[[ $cpus =~ ^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$ ]] || {
    echo "tune-host.sh: --cpus '$cpus' is not a CPU list such as 2-3 or 1,3" >&2
    exit 2
}
[[ $hugepages =~ ^[0-9]+$ ]] || { echo "tune-host.sh: --hugepages '$hugepages' is not a count" >&2; exit 2; }

# Expands a CPU list to one number per line.
expand() {
    local part
    tr ',' '\n' <<<"$1" | while read -r part; do
        [[ -z $part ]] && continue
        if [[ $part == *-* ]]; then seq "${part%-*}" "${part#*-}"; else echo "$part"; fi
    done
}
mapfile -t want < <(expand "$cpus")
online=$(cat /sys/devices/system/cpu/online)
mapfile -t all < <(expand "$online")
for c in "${want[@]}"; do
    printf '%s\n' "${all[@]}" | grep -qx "$c" || {
        echo "tune-host.sh: CPU $c is not online (online: $online)" >&2
        exit 2
    }
done
others=$(printf '%s\n' "${all[@]}" | grep -vxF -f <(printf '%s\n' "${want[@]}") | paste -sd, || true)

if [[ $mode == apply && $(id -u) -ne 0 ]]; then
    echo "tune-host.sh: apply changes kernel settings: run it as root" >&2
    exit 1
fi

report() { printf '%-16s %s\n' "$1" "$2"; }
covers() { # covers LIST: every wanted CPU is in LIST
    local c
    for c in "${want[@]}"; do expand "$1" | grep -qx "$c" || return 1; done
}
cmdline="isolcpus=$cpus nohz_full=$cpus rcu_nocbs=$cpus"

if covers "$(cat /sys/devices/system/cpu/isolated 2>/dev/null)"; then
    report isolated ok
else
    report isolated "not isolated: add to the kernel command line: $cmdline"
fi
if covers "$(cat /sys/devices/system/cpu/nohz_full 2>/dev/null || true)"; then
    report nohz_full ok
else
    report nohz_full "the tick still runs there: add to the kernel command line: $cmdline"
fi

on_ours=0
moved=0
for irq in /proc/irq/[0-9]*; do
    [[ -r $irq/smp_affinity_list ]] || continue
    list=$(cat "$irq/smp_affinity_list")
    hit=0
    for c in "${want[@]}"; do expand "$list" | grep -qx "$c" && hit=1 && break; done
    [[ $hit -eq 1 ]] || continue
    if [[ $mode == apply && -n $others ]] && echo "$others" >"$irq/smp_affinity_list" 2>/dev/null; then
        moved=$((moved + 1))
    else
        on_ours=$((on_ours + 1))
    fi
done
note=""
[[ $moved -gt 0 ]] && note=" ($moved moved to $others)"
if [[ $on_ours -eq 0 ]]; then
    report irqs "ok$note"
else
    report irqs "$on_ours IRQs may run on $cpus$note; apply moves those that allow it"
fi

if [[ $mode == apply ]]; then
    echo "$hugepages" >/proc/sys/vm/nr_hugepages
    mountpoint -q /dev/hugepages || { mkdir -p /dev/hugepages; mount -t hugetlbfs nodev /dev/hugepages; }
fi
reserved=$(cat /proc/sys/vm/nr_hugepages)
if [[ $reserved -gt 0 ]] && mountpoint -q /dev/hugepages; then
    report hugepages "ok ($reserved x 2 MB; EAL arguments: --in-memory -m 128, no --no-huge)"
else
    report hugepages "$reserved reserved$(mountpoint -q /dev/hugepages || echo ', hugetlbfs not mounted'); apply reserves $hugepages"
fi

governors=0
slow=0
for c in "${want[@]}"; do
    g=/sys/devices/system/cpu/cpu$c/cpufreq/scaling_governor
    [[ -e $g ]] || continue
    governors=$((governors + 1))
    [[ $mode == apply ]] && echo performance >"$g" 2>/dev/null || true
    [[ $(cat "$g") == performance ]] || slow=$((slow + 1))
done
if [[ $governors -eq 0 ]]; then
    report governor "ok (no cpufreq: the frequency is the host's)"
elif [[ $slow -eq 0 ]]; then
    report governor ok
else
    report governor "$slow CPUs not at performance; apply sets it"
fi

[[ $mode == apply ]] && sysctl -q -w kernel.timer_migration=0 >/dev/null 2>&1 || true
if [[ $(cat /proc/sys/kernel/timer_migration 2>/dev/null || echo 0) == 0 ]]; then
    report timer_migration ok
else
    report timer_migration "1: timers may move onto $cpus; apply sets 0"
fi
