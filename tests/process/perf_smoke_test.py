#!/usr/bin/env python3
"""runnel-perf against the real servers it starts: every scenario (produce→ack, produce→consume,
consume catch-up) on every transport (the minimal Kafka client, librdkafka, the fast path over
memif and over kernel UDP, Redis Streams, NATS JetStream) completes and counts every request
exactly once; closed loop, several producers and consumers, each floor, the plot, bad flags and
a Ctrl-C, and `compare --quick`. It never asserts a time: only counts, exit codes and
messages.
Usage: perf_smoke_test.py RUNNEL_PERF RUNNELD"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

PERF, RUNNELD = sys.argv[1:3]
WORK = tempfile.mkdtemp(prefix="runnel-perf-smoke-")
checked = 0
runs = 0


def perf(*args, expect_ok=True, timeout=180):
    global runs
    path = os.path.join(WORK, f"run-{runs}.json")
    runs += 1
    cmd = [PERF, *args]
    if args[0] in ("run", "floor"):
        cmd += ["--json", path, "--work", WORK]
    if args[0] == "run":
        cmd += ["--runneld", RUNNELD, "--quiet"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if expect_ok:
        assert r.returncode == 0, f"{' '.join(cmd)}: exit {r.returncode}\n{r.stdout}{r.stderr}"
        return json.load(open(path)) if args[0] in ("run", "floor") else r
    assert r.returncode != 0, f"{' '.join(cmd)} should have failed:\n{r.stdout}"
    return r


def check(run, sent, measured=None, consumed=None):
    global checked
    counts = {k: run[k] for k in ("sent", "acked", "consumed", "failed", "duplicates", "missing",
                                  "error")}
    what = f"{run['label']}: {json.dumps(counts)}"
    assert run["failed"] == 0 and run["duplicates"] == 0 and run["missing"] == 0, what
    assert run["error"] == "", what
    assert run["sent"] == sent and run["acked"] == sent, what
    if measured is not None:
        assert run["measured"] == measured and run["count"] == measured, what
    if consumed is not None:
        assert run["consumed"] == consumed, what
    checked += 1
    print("ok:", what)


def main():
    transports = ["kafka", "rdkafka", "memif", "redis", "nats"]
    if os.geteuid() == 0:
        transports.append("udp")
    else:
        print("udp skipped: its network namespaces need root")
    for t in transports:
        level = "write" if t == "nats" else "memory"
        base = ["--transport", t, "--durability", level]
        # Open loop at 400/s for 1 s after 0.25 s of warm-up: 500 requests, 400 measured.
        check(perf("run", "--scenario", "produce", *base, "--rate", "400", "--seconds", "1",
                   "--warmup", "0.25"), sent=500, measured=400)
        check(perf("run", "--scenario", "e2e", *base, "--rate", "400", "--seconds", "1",
                   "--warmup", "0.25"), sent=500, measured=400, consumed=500)
        run = perf("run", "--scenario", "catchup", *base, "--requests", "300", "--batch", "3")
        check(run, sent=300, consumed=300)
        assert run["mib_per_s"] > 0, run
    # Several partitions, producers and consumers, batches of records, fsync.
    for t in ("kafka", "memif", "redis"):
        check(perf("run", "--scenario", "e2e", "--transport", t, "--durability", "fsync",
                   "--partitions", "4", "--producers", "2", "--consumers", "2", "--batch", "4",
                   "--rate", "200", "--seconds", "1", "--warmup", "0"), sent=200, measured=200,
              consumed=200)
    # Jumbo frames on the kernel UDP link: records that need them (a 1500-byte MTU refuses a
    # 4000-byte record as too large).
    if os.geteuid() == 0:
        check(perf("run", "--transport", "udp", "--mtu", "9000", "--record-bytes", "4000",
                   "--durability", "fsync", "--rate", "200", "--seconds", "1", "--warmup", "0"),
              sent=200, measured=200)
    # Closed loop: a fixed number of requests, two outstanding per producer.
    check(perf("run", "--transport", "kafka", "--rate", "0", "--requests", "300", "--inflight",
               "2", "--warmup", "0"), sent=300)
    for name in ("tcp", "udp", "memif", "odirect"):
        run = perf("floor", name, "--samples", "200")
        assert run["count"] == 200 and run["scenario"] == "floor", run
        print("ok:", run["label"], run["p50_us"], "us p50")
    run = perf("floor", "odirect-bw")
    assert run["mib_per_s"] > 0, run
    # The plot of two runs.
    png = os.path.join(WORK, "plot.png")
    perf("plot", png, os.path.join(WORK, "run-0.json"), os.path.join(WORK, "run-1.json"))
    assert open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n", "not a PNG"
    print("ok: plot")
    # Bad flags: a precise message, no run.
    for args, said in ((["--durability", "sometimes"], "--durability is memory, write or fsync"),
                       (["--record-bytes", "8"], "--record-bytes wants a whole number >= 16"),
                       (["--transport", "carrier-pigeon"], "unknown --transport"),
                       (["--consumers", "3"], "--consumers can be at most --partitions"),
                       (["--transport", "memif", "--mtu", "9000"], "--mtu is for --transport udp"),
                       (["--transport", "udp", "--mtu", "9001"], "--mtu is at most 9000")):
        r = perf("run", *args, expect_ok=False)
        assert said in r.stderr, (args, r.stderr)
        print("ok: refused", args)
    # Ctrl-C: the run stops, reports what it has and says it was interrupted; the drivers that
    # still hold requests as they close (librdkafka flushes, librunnel fails what is in flight)
    # report to nobody.
    for t in ("kafka", "rdkafka", "memif"):
        path = os.path.join(WORK, f"interrupted-{t}.json")
        p = subprocess.Popen([PERF, "run", "--runneld", RUNNELD, "--work", WORK, "--transport", t,
                              "--rate", "200", "--seconds", "60", "--warmup", "0", "--json", path],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 30
        line = ""
        while time.time() < deadline and "done" not in line:
            line = p.stderr.readline()  # the progress line: the load is running
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
        assert p.returncode == 0, f"{t}: exit {p.returncode}\n{out}{err}"
        run = json.load(open(path))
        assert run["interrupted"] and 0 < run["sent"] < 200 * 60, run
        assert run["acked"] == run["sent"], run
        assert "interrupted" in out, out
        print(f"ok: {t} interrupted after", run["sent"], "requests")
    # The standard suite, short: every row of the table is a run that completed.
    out = os.path.join(WORK, "compare")
    perf("compare", "--quick", "--out", out, "--runneld", RUNNELD, "--work", WORK, timeout=600)
    table = open(os.path.join(out, "compare.md")).read()
    rows = [l for l in table.splitlines() if l.startswith("| ") and not l.startswith("| run ")]
    assert len(rows) >= 30 and "failed" not in table, table
    for level in ("memory", "write", "fsync"):
        png = os.path.join(out, f"compare-{level}.png")
        assert open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n", png
    print(f"ok: compare --quick, {len(rows)} rows")
    leftover = [d for d in os.listdir(WORK) if d.startswith("runnel-perf-")]
    assert not leftover, f"server directories left behind: {leftover}"
    print(f"{checked} runs checked")


try:
    main()
finally:
    subprocess.run(["rm", "-rf", WORK])
