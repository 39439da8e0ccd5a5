#!/usr/bin/env python3
"""The fast path end to end: runneld serves the fast-path protocol on a memif port (server role);
runnel-fast (librunnel over its DPDK transport) on the other end of the memif resolves a topic and
produces 3000 idempotent single-record batches through a seeded lossy link (datagrams lost,
duplicated and reordered both ways); every batch is acknowledged once, at contiguous offsets; kcat
then reads the same records over the Kafka listener, byte for byte at the acknowledged offsets,
none twice. The other way: records produced with kcat reach a fast-path subscriber (fsync
visibility, lossy too), every one at its offset with its value.
runnel-stat then shows the broker's counters: the requests served, and no malformed frame.
Last, where 2 MB hugepages can be reserved (root), runneld runs its EAL on hugepages
(--in-memory) and the same exchange works; elsewhere that part says it is skipped.
Usage: fastpath_test.py RUNNELD RUNNEL_FAST RUNNEL_STAT"""
import os
import subprocess
import sys
import tempfile
import time

from runneld import Runneld

COUNT = 3000
SUBSCRIBED = 500


HUGEPAGES = "/proc/sys/vm/nr_hugepages"


def with_hugepages(runneld, client, work):
    """Reserves 2 MB hugepages (and mounts hugetlbfs) for a runneld whose EAL uses them, produces
    and reads back through it, and gives the pages back; False when they cannot be had."""
    if os.geteuid() != 0:
        return False
    before = open(HUGEPAGES).read().strip()
    mounted = subprocess.run(["mountpoint", "-q", "/dev/hugepages"]).returncode == 0
    try:
        with open(HUGEPAGES, "w") as f:
            f.write("256")
        if int(open(HUGEPAGES).read()) < 128:
            return False
        if not mounted:
            os.makedirs("/dev/hugepages", exist_ok=True)
            if subprocess.run(["mount", "-t", "hugetlbfs", "nodev", "/dev/hugepages"]).returncode:
                return False
        sock = os.path.join(work, "huge.sock")
        settings = ["dataplane.enabled=true", "dataplane.eal_args=--in-memory -m 128 --no-pci",
                    f"dataplane.vdev=net_memif0,role=server,socket={sock},socket-abstract=no",
                    "dataplane.ip=192.0.2.1"]
        with Runneld(runneld, os.path.join(work, "huge-data"), settings) as broker:
            eal = ("--no-huge -m 256 --no-pci --no-shconf --log-level=3 "
                   f"--vdev=net_memif0,role=client,socket={sock},socket-abstract=no")
            values = [f"huge-{i}" for i in range(200)]
            run = subprocess.run([client, "--dpdk", eal, "192.0.2.2", "192.0.2.1", "produce",
                                  "huge"], input="".join(v + "\n" for v in values),
                                 capture_output=True, text=True, timeout=120)
            assert run.returncode == 0, run.stderr + broker.text()[-2000:]
            assert broker.read("huge").split() == values, "records lost with the EAL on hugepages"
            broker.stop()
        return True
    finally:
        if not mounted:
            subprocess.run(["umount", "/dev/hugepages"], capture_output=True)
        with open(HUGEPAGES, "w") as f:
            f.write(before)


def main():
    runneld, client, stat = sys.argv[1:4]
    with tempfile.TemporaryDirectory() as work:
        sock = os.path.join(work, "memif.sock")
        settings = ["dataplane.enabled=true",
                    f"dataplane.vdev=net_memif0,role=server,socket={sock},socket-abstract=no",
                    "dataplane.ip=192.0.2.1"]
        with Runneld(runneld, os.path.join(work, "data"), settings) as broker:
            assert "serves the fast path" in broker.text(), broker.text()
            eal = ("--no-huge -m 256 --no-pci --no-shconf --log-level=3 "
                   f"--vdev=net_memif0,role=client,socket={sock},socket-abstract=no")
            transport = ["--dpdk", eal, "192.0.2.2", "192.0.2.1", "--lossy", "7"]
            run = subprocess.run([client, *transport, "produce", "fast"],
                                 input="".join(f"fp-{i}\n" for i in range(COUNT)),
                                 capture_output=True, text=True, timeout=180)
            assert run.returncode == 0, run.stderr + broker.text()[-2000:]
            acks = {}
            for line in run.stdout.splitlines():
                _, i, offset = line.split()
                assert int(i) not in acks, f"batch {i} acknowledged twice"
                acks[int(i)] = int(offset)
            assert sorted(acks) == list(range(COUNT)), "some batch was not acknowledged"
            assert sorted(acks.values()) == list(range(COUNT)), "offsets are not contiguous"
            retransmits = int(run.stderr.split(" retransmits")[0].split()[-1])
            assert retransmits > 0, run.stderr
            print(f"{COUNT} fast-path batches acknowledged once each, offsets 0..{COUNT - 1}, "
                  f"over a lossy link ({retransmits} retransmits)")
            text = broker.read("fast", "%o %s\n")
            read = dict(line.split(" ") for line in text.splitlines())
            assert len(read) == COUNT, f"kcat read {len(read)} records, {COUNT} produced"
            for i, offset in acks.items():
                assert read[str(offset)] == f"fp-{i}", (i, offset, read.get(str(offset)))
            print("kcat reads every fast-path record at its acknowledged offset")

            lines = "".join(f"ks-{i}\n" for i in range(SUBSCRIBED))
            subprocess.run(["kcat", "-P", "-b", broker.bootstrap, "-t", "tosub", "-p", "0",
                            "-X", "batch.num.messages=20"], input=lines, text=True, check=True,
                           timeout=60)
            run = subprocess.run([client, *transport, "subscribe", "tosub", str(SUBSCRIBED), "0",
                                  "2"], capture_output=True, text=True, timeout=120)
            assert run.returncode == 0, run.stderr + broker.text()[-2000:]
            pushed = [line.split()[1:] for line in run.stdout.splitlines()]
            assert [int(o) for o, _ in pushed] == list(range(SUBSCRIBED)), "offsets not in order"
            text = broker.read("tosub", "%o %s\n")
            assert [line.split() for line in text.splitlines()] == pushed
            assert pushed[7][1] == "ks-7"
            print(f"{SUBSCRIBED} records produced with kcat reached the fast-path subscriber, "
                  "in order, each at its offset")
            time.sleep(0.3)  # counters are published every 100 ms
            out = subprocess.run([stat, os.path.join(work, "data")], capture_output=True,
                                 text=True, check=True, timeout=10).stdout
            counters = dict(line.split() for line in out.splitlines() if not line.startswith("#"))
            assert int(counters["dataplane.service.requests"]) >= COUNT, out
            assert int(counters["dataplane.service.pushes"]) >= SUBSCRIBED // 20, out
            assert int(counters["dataplane.port.udp_delivered"]) >= COUNT, out
            assert all(v == "0" for k, v in counters.items() if ".malformed." in k), out
            print(f"runnel-stat: {counters['dataplane.service.requests']} requests, "
                  f"{counters['dataplane.service.pushes']} pushes, no malformed frame")
            broker.stop()
        if with_hugepages(runneld, client, work):
            print("with runneld's EAL on 2 MB hugepages (--in-memory): 200 records produced "
                  "over memif read back with kcat")
        else:
            print("hugepages: skipped (they cannot be reserved here: not root, or none free)")
    print("fast path test passed")


if __name__ == "__main__":
    main()
