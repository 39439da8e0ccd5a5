#!/usr/bin/env python3
"""librdkafka (tests/process/rdkafka_client.c) against the real runneld:
1. an idempotent producer (acks=all, retries) sends 60,000 keyed records into 6 partitions while
   the broker is killed with SIGKILL and restarted: every acknowledged record is in the log at
   its acknowledged offset, and no record is there twice;
2. a group of 3 consumers splits the 6 partitions, one member leaves (the group rebalances), the
   other two go on; all commit; the broker restarts cleanly; a new group session resumes from the
   committed offsets: between them the two sessions read every record exactly once.
Usage: rdkafka_test.py RUNNELD RDKAFKA_CLIENT"""
import os
import subprocess
import sys
import tempfile
import time

from runneld import Runneld

COUNT = 60_000
PARTITIONS = 6


def read_lines(path):
    with open(path) as f:
        return [line.split() for line in f if line.strip()]


def log_contents(bootstrap):
    """(partition, offset) -> key of every record, read with kcat from the start."""
    text = subprocess.run(["kcat", "-C", "-b", bootstrap, "-t", "events", "-o", "beginning",
                           "-e", "-q", "-f", "%p %o %k %s\n"], capture_output=True, text=True,
                          check=True, timeout=300).stdout
    records = {}
    for line in text.splitlines():
        p, o, k, v = line.split()
        assert v == "v" + k[1:], line
        records[(int(p), int(o))] = k
    return records


def produce_through_a_crash(broker, client, work):
    acked_path = os.path.join(work, "acked")
    producer = subprocess.Popen([client, "produce", broker.bootstrap, "events", "0", str(COUNT),
                                 acked_path])
    deadline = time.time() + 60
    while time.time() < deadline:
        if os.path.exists(acked_path) and os.path.getsize(acked_path) > 200_000:
            break
        time.sleep(0.01)
    broker.kill()
    before = len(read_lines(acked_path))
    broker.start()
    assert producer.wait(timeout=180) == 0, "the producer did not deliver every record"
    acked = read_lines(acked_path)
    records = log_contents(broker.bootstrap)
    for _, p, o, i in acked:
        assert records.get((int(p), int(o))) == f"k{i}", f"acked k{i} at {p}/{o} is not there"
    keys = sorted(records.values())
    assert len(keys) == len(set(keys)), "a record is in the log twice"
    assert len(keys) == COUNT, f"{len(keys)} records in the log, {COUNT} produced"
    print(f"idempotent producer: {COUNT} acknowledged (about {before} before SIGKILL), all in "
          "the log at their offsets, none twice")
    return records


def consume(client, broker, work, name, members, stop_at, leave_at):
    path = os.path.join(work, name)
    subprocess.run([client, "group", broker.bootstrap, "events", "rk-group", str(members),
                    str(stop_at), str(leave_at), path], check=True, timeout=240)
    rows = read_lines(path)
    seen = set()
    for _, member, p, o, k, v in rows:
        key = (int(p), int(o))
        assert key not in seen, f"{name}: {key} consumed twice"
        seen.add(key)
    return seen, {r[1] for r in rows}


def main():
    broker_bin, client = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory() as work:
        settings = [f"log.default_partitions={PARTITIONS}", "groups.initial_rebalance_delay_ms=500"]
        with Runneld(broker_bin, os.path.join(work, "data"), settings) as broker:
            records = produce_through_a_crash(broker, client, work)
            first, members = consume(client, broker, work, "first", 3, COUNT // 2, COUNT // 6)
            assert len(members) == 3, f"only members {members} consumed"
            print(f"group of 3: {len(first)} records, member 2 left after {COUNT // 6}")
            broker.stop()
            broker.start()
            rest = len(records) - len(first)
            second, _ = consume(client, broker, work, "second", 2, rest, 0)
            assert not first & second, f"{len(first & second)} records read in both sessions"
            assert first | second == set(records), "some records were never consumed"
            print(f"after a broker restart the group resumed at its commits: {len(second)} more, "
                  "every record exactly once")
            broker.stop()
    print("librdkafka test passed")


if __name__ == "__main__":
    main()
