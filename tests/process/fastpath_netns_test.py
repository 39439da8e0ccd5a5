#!/usr/bin/env python3
"""The fast path across two network namespaces: runneld owns one end of a veth pair through
DPDK's af_packet PMD (namespace rn-broker, no kernel address on it), and an ordinary kernel UDP
socket in namespace rn-client (192.0.2.2/24) talks to it. The client's kernel finds the broker's
MAC by ARP and can ping it (both answered by runneld's packet layer); the client resolves a topic
and produces idempotent batches over UDP, retransmitting each one once on purpose; every batch is
acknowledged at contiguous offsets, and kcat reads them back over Kafka byte for byte.
Addresses are from 192.0.2.0/24 and exist only inside the namespaces this test makes.
Then the same through librunnel's kernel UDP transport: runnel-fast produces and subscribes over
a seeded lossy link (exactly once both ways), and runnel-fast-produce, the C example, produces.
The veth runs at MTU 9000 (runneld's dataplane.mtu too): 7000-byte records go in jumbo frames.
Needs root (ip netns); skipped, with the reason, otherwise.
Usage: fastpath_netns_test.py RUNNELD RUNNEL_FAST RUNNEL_FAST_PRODUCE"""
import os
import socket
import subprocess
import sys
import tempfile

import fastpath
from runneld import Runneld

COUNT = 500
NS_BROKER, NS_CLIENT = "rn-broker", "rn-client"


def sh(*args, check=True):
    r = subprocess.run(args, capture_output=True, text=True, timeout=30)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: exit {r.returncode}\n{r.stdout}{r.stderr}")
    return r


def setup():
    teardown()
    sh("ip", "netns", "add", NS_BROKER)
    sh("ip", "netns", "add", NS_CLIENT)
    sh("ip", "link", "add", "rn-veth-b", "type", "veth", "peer", "name", "rn-veth-c")
    sh("ip", "link", "set", "rn-veth-b", "netns", NS_BROKER)
    sh("ip", "link", "set", "rn-veth-c", "netns", NS_CLIENT)
    sh("ip", "-n", NS_BROKER, "link", "set", "lo", "up")
    # glibc's getaddrinfo (AI_ADDRCONFIG, as librdkafka asks) refuses IPv4 in a namespace whose
    # only IPv4 address is loopback: give it one on a spare veth pair of its own, for kcat.
    sh("ip", "-n", NS_BROKER, "link", "add", "rn-spare-a", "type", "veth", "peer", "name",
       "rn-spare-b")
    sh("ip", "-n", NS_BROKER, "addr", "add", "192.0.2.254/32", "dev", "rn-spare-a")
    sh("ip", "-n", NS_BROKER, "link", "set", "rn-spare-a", "up")
    sh("ip", "-n", NS_BROKER, "link", "set", "rn-spare-b", "up")
    sh("ip", "-n", NS_BROKER, "link", "set", "rn-veth-b", "mtu", "9000", "up")
    sh("ip", "-n", NS_CLIENT, "link", "set", "lo", "up")
    sh("ip", "-n", NS_CLIENT, "addr", "add", "192.0.2.2/24", "dev", "rn-veth-c")
    sh("ip", "-n", NS_CLIENT, "link", "set", "rn-veth-c", "mtu", "9000", "up")
    # The client's kernel would leave UDP checksums to an offload the veth never performs;
    # the broker checks them, so compute them in software.
    sh("ip", "netns", "exec", NS_CLIENT, "ethtool", "-K", "rn-veth-c", "tx", "off", check=False)


def teardown():
    for ns in (NS_BROKER, NS_CLIENT):
        sh("ip", "netns", "del", ns, check=False)


def client_exec(code):
    """Runs Python `code` inside the client namespace; returns its stdout."""
    return subprocess.run(["ip", "netns", "exec", NS_CLIENT, sys.executable, "-c", code],
                          capture_output=True, text=True, timeout=120, check=True,
                          env={**os.environ, "PYTHONPATH": os.path.dirname(__file__)}).stdout


CLIENT = r'''
import socket, struct, fastpath
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("192.0.2.2", 40000))
s.settimeout(0.2)
broker = ("192.0.2.1", 9093)
def ask(frame, want_id, tries=50):
    for _ in range(tries):
        s.sendto(frame, broker)
        try:
            while True:
                kind, rid, f = fastpath.decode(s.recv(2048))
                if rid == want_id:
                    return kind, f
        except socket.timeout:
            pass
    raise SystemExit(f"no answer to request {want_id}")
kind, r = ask(fastpath.resolve(1, "netns"), 1)
assert kind == fastpath.RESOLVE_ANSWER and r["error"] == 0, r
for i in range(COUNT):
    b = fastpath.batch(f"ns-{i}".encode(), producer_id=9, epoch=0, sequence=i)
    frame = fastpath.produce(100 + i, r["topic"], 0, b)
    s.sendto(frame, broker)  # a duplicate on purpose: appended once, answered twice
    kind, a = ask(frame, 100 + i)
    assert kind == fastpath.ACK and a["error"] == 0, (i, a)
    assert a["base_offset"] == a["last_offset"], a
    print("ack", i, a["base_offset"])
'''


# A lossy link, seeded: the client drops, duplicates and delays (reorders) its own frames, and
# drops pushes it receives. Producing must still append every batch exactly once, and the
# subscriber must still see every record once, in order, asking again for what it lost.
LOSSY = r'''
import random, socket, fastpath
rng = random.Random(SEED)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("192.0.2.2", 40001))
s.settimeout(0.05)
broker = ("192.0.2.1", 9093)
held = []
def lossy_send(frame):
    held.append(frame)
    if rng.random() < 0.3:
        return  # held back: goes out after a later frame (reordering), or is lost below
    out = list(held)
    held.clear()
    rng.shuffle(out)
    for f in out:
        if rng.random() < 0.1:
            continue  # lost
        s.sendto(f, broker)
        if rng.random() < 0.1:
            s.sendto(f, broker)  # duplicated
def ask(frame, want_id):
    for _ in range(400):
        lossy_send(frame)
        try:
            while True:
                kind, rid, f = fastpath.decode(s.recv(4096))
                if rid == want_id and kind in (fastpath.ACK, fastpath.RESOLVE_ANSWER,
                                               fastpath.SUBSCRIBE_ANSWER):
                    return kind, f
        except socket.timeout:
            pass
    raise SystemExit(f"no answer to request {want_id}")
kind, r = ask(fastpath.resolve(1, "lossy"), 1)
assert r["error"] == 0, r
acked = {}
for i in range(COUNT):
    b = fastpath.batch(f"lossy-{i}".encode(), producer_id=11, epoch=0, sequence=i)
    kind, a = ask(fastpath.produce(1000 + i, r["topic"], 0, b), 1000 + i)
    assert a["error"] == 0, (i, a)
    acked[i] = a["base_offset"]
assert sorted(acked.values()) == list(range(COUNT)), "offsets are not contiguous"
print("produced", COUNT)
kind, sub = ask(fastpath.subscribe(2, r["topic"], 0, -2, 4096, 5000, 2), 2)
assert sub["error"] == 0, sub
sid, nxt, values, asked_again = sub["subscription"], sub["start"], [], 0
while nxt < COUNT:
    try:
        kind, rid, f = fastpath.decode(s.recv(4096))
    except socket.timeout:
        s.sendto(fastpath.credit(sid, 4096, nxt), broker)  # also the heartbeat
        continue
    if kind != fastpath.PUSH or rng.random() < 0.1:
        continue  # not a push, or a push lost on the way in
    _, base, last, vals = fastpath.push_batch(f)
    if base > nxt:
        s.sendto(fastpath.range_request(sid, nxt, base), broker)  # a gap: ask for it again
        asked_again += 1
        continue
    for off, v in zip(range(base, last + 1), vals):
        if off == nxt:
            values.append(v.decode())
            nxt += 1
    s.sendto(fastpath.credit(sid, 4096, nxt), broker)
assert values == [f"lossy-{i}" for i in range(COUNT)], "records lost, repeated or reordered"
print("subscribed", COUNT, "asked again", asked_again)
'''


def in_client(args, stdin=None):
    """Runs a program in the client namespace; returns its stdout, or fails with its stderr."""
    r = subprocess.run(["ip", "netns", "exec", NS_CLIENT, *args], input=stdin,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"{args}: exit {r.returncode}\n{r.stderr}"
    return r.stdout


def librunnel_over_udp(broker, fast, fast_produce, seed):
    values = [f"lib-{i}" for i in range(1000)]
    out = in_client([fast, "--udp", "192.0.2.1", "--lossy", str(seed), "produce", "lib"],
                    stdin="".join(v + "\n" for v in values))
    offsets = sorted(int(line.split()[2]) for line in out.splitlines())
    assert offsets == list(range(len(values))), "librunnel: offsets are not contiguous"
    assert broker.read("lib").split() == values, "librunnel: a record was lost or doubled"
    out = in_client([fast, "--udp", "192.0.2.1", "--lossy", str(seed + 1), "subscribe", "lib",
                     str(len(values))])
    assert [line.split()[2] for line in out.splitlines()] == values, "librunnel: subscription"
    print(f"librunnel over kernel UDP, lossy link (seed {seed}): {len(values)} records produced "
          "and subscribed exactly once, in order")
    out = in_client([fast_produce, "192.0.2.1", "9093", "cex", "200", "c"])
    assert len(out.splitlines()) == 200, out
    assert broker.read("cex").split() == [f"c-{i}" for i in range(200)]
    print("the C example (runnel.h) produced 200 records; kcat reads them back")
    big = [f"{i:04d}" + chr(ord("a") + i) * 6996 for i in range(20)]
    in_client([fast, "--udp", "192.0.2.1", "--mtu", "9000", "produce", "jumbo"],
              stdin="".join(v + "\n" for v in big))
    assert broker.read("jumbo").split() == big, "jumbo records did not read back whole"
    r = subprocess.run(["ip", "netns", "exec", NS_CLIENT, fast, "--udp", "192.0.2.1", "produce",
                        "jumbo"], input=big[0] + "\n", capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "does not fit one datagram" in r.stderr, r.stderr
    print("jumbo frames (MTU 9000): 20 records of 7000 bytes read back whole; at MTU 1500 the "
          "client refuses them: " + r.stderr.strip().splitlines()[-1])


def main():
    if os.geteuid() != 0:
        print("SKIP: network namespaces need root")
        sys.exit(77)
    runneld, fast, fast_produce = sys.argv[1:4]
    try:
        setup()
        with tempfile.TemporaryDirectory() as work:
            settings = ["dataplane.enabled=true",
                        "dataplane.vdev=net_af_packet0,iface=rn-veth-b,framesz=9216,"
                        "blocksz=36864", "dataplane.ip=192.0.2.1", "dataplane.mtu=9000"]
            broker = Runneld(runneld, os.path.join(work, "data"), settings,
                             prefix=["ip", "netns", "exec", NS_BROKER])
            with broker:
                ping = sh("ip", "netns", "exec", NS_CLIENT, "ping", "-c", "2", "-W", "2",
                          "192.0.2.1", check=False)
                assert ping.returncode == 0, ping.stdout + ping.stderr + broker.text()[-1500:]
                print("the client's kernel resolved the broker by ARP and pinged it")
                out = client_exec(CLIENT.replace("COUNT", str(COUNT)))
                acks = {}
                for line in out.splitlines():
                    _, i, offset = line.split()
                    acks[int(i)] = int(offset)
                assert sorted(acks.values()) == list(range(COUNT)), "offsets are not contiguous"
                text = broker.read("netns", "%o %s\n")
                read = dict(line.split(" ") for line in text.splitlines())
                assert len(read) == COUNT, f"kcat read {len(read)} records, {COUNT} produced"
                for i, offset in acks.items():
                    assert read[str(offset)] == f"ns-{i}", (i, offset)
                print(f"{COUNT} batches from a kernel UDP socket in another namespace, each sent "
                      "twice, appended once; kcat reads them back")
                seed = int(os.environ.get("RUNNEL_SHIM_SEED", "1"))
                out = client_exec(LOSSY.replace("SEED", str(seed)).replace("COUNT", "300"))
                assert "produced 300" in out and "subscribed 300" in out, out
                lossy = broker.read("lossy").split()
                assert lossy == [f"lossy-{i}" for i in range(300)], "a duplicate was appended"
                print(f"over a lossy link (seed {seed}: 10% lost, 10% duplicated, 30% reordered "
                      f"out, 10% of pushes lost in): exactly once both ways; {out.split()[-1]} "
                      "range requests")
                librunnel_over_udp(broker, fast, fast_produce, seed)
                broker.stop()
    finally:
        teardown()
    print("fast path netns test passed")


if __name__ == "__main__":
    main()
