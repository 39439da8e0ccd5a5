#!/usr/bin/env python3
"""kcat (librdkafka) against the real runneld: -L lists an auto-created topic; 100,000 keyed
messages produced into 4 partitions come back partition by partition with every key, value and
offset exact (no loss, no duplicates, per-partition order, contiguous offsets), and again after
a clean restart of the broker.
Usage: kcat_test.py RUNNELD"""
import os
import subprocess
import sys
import tempfile

from runneld import Runneld

COUNT = 100_000
PARTITIONS = 4


def kcat(*args, stdin=None):
    return subprocess.run(["kcat", *args], input=stdin, capture_output=True, text=True,
                          check=True, timeout=300).stdout


def consume_all(bootstrap):
    """partition -> [(offset, key, value)] read from the start to the end."""
    out = {}
    for p in range(PARTITIONS):
        text = kcat("-C", "-b", bootstrap, "-t", "keyed", "-p", str(p), "-o", "beginning", "-e",
                    "-q", "-f", "%o %k %s\n")
        out[p] = [tuple(line.split(" ")) for line in text.splitlines()]
    return out


def check(parts):
    seen = {}
    for p, rows in parts.items():
        offsets = [int(o) for o, _, _ in rows]
        assert offsets == list(range(len(rows))), f"partition {p}: offsets not contiguous"
        last = -1
        for _, k, v in rows:
            i = int(k[4:])
            assert v == f"value-{i}-" + "x" * (i % 50), (p, k, v)
            assert k not in seen, f"{k} twice (partitions {seen[k]} and {p})"
            seen[k] = p
            assert i > last, f"partition {p}: {k} out of order"
            last = i
    assert len(seen) == COUNT, f"{len(seen)} of {COUNT} keys came back"
    assert all(len(rows) > 0 for rows in parts.values()), "some partition got no keys"


def main():
    with tempfile.TemporaryDirectory() as work:
        data = os.path.join(work, "data")
        with Runneld(sys.argv[1], data, [f"log.default_partitions={PARTITIONS}"]) as broker:
            lines = "".join(f"key-{i}:value-{i}-{'x' * (i % 50)}\n" for i in range(COUNT))
            kcat("-P", "-b", broker.bootstrap, "-t", "keyed", "-K:", "-X", "linger.ms=5",
                 stdin=lines)
            listing = kcat("-L", "-b", broker.bootstrap, "-t", "keyed")
            assert f'topic "keyed" with {PARTITIONS} partitions' in listing, listing
            check(consume_all(broker.bootstrap))
            print(f"{COUNT} keyed messages produced and consumed back exactly")
            broker.stop()
            broker.start()
            check(consume_all(broker.bootstrap))
            print("the same after a restart")
            broker.stop()
        # Two shards: every partition is still reachable (shard 0 owns them all for now).
        two = os.path.join(work, "two")
        settings = [f"log.default_partitions={PARTITIONS}", "shards.count=2"]
        with Runneld(sys.argv[1], two, settings) as broker:
            lines = "".join(f"key-{i}:value-{i}-{'x' * (i % 50)}\n" for i in range(COUNT))
            kcat("-P", "-b", broker.bootstrap, "-t", "keyed", "-K:", stdin=lines)
            check(consume_all(broker.bootstrap))
            broker.stop()
            print("the same on a broker with two shards")
    print("kcat test passed")


if __name__ == "__main__":
    main()
