#!/usr/bin/env python3
"""The fast path across two network namespaces: runneld owns one end of a veth pair through
DPDK's af_packet PMD (namespace rn-broker, no kernel address on it), and an ordinary kernel UDP
socket in namespace rn-client (192.0.2.2/24) talks to it. The client's kernel finds the broker's
MAC by ARP and can ping it (both answered by runneld's packet layer); the client resolves a topic
and produces idempotent batches over UDP, retransmitting each one once on purpose; every batch is
acknowledged at contiguous offsets, and kcat reads them back over Kafka byte for byte.
Addresses are from 192.0.2.0/24 and exist only inside the namespaces this test makes.
Needs root (ip netns); skipped, with the reason, otherwise.
Usage: fastpath_netns_test.py RUNNELD"""
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
    sh("ip", "-n", NS_BROKER, "link", "set", "rn-veth-b", "up")
    sh("ip", "-n", NS_CLIENT, "link", "set", "lo", "up")
    sh("ip", "-n", NS_CLIENT, "addr", "add", "192.0.2.2/24", "dev", "rn-veth-c")
    sh("ip", "-n", NS_CLIENT, "link", "set", "rn-veth-c", "up")
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


def main():
    if os.geteuid() != 0:
        print("SKIP: network namespaces need root")
        sys.exit(77)
    runneld = sys.argv[1]
    try:
        setup()
        with tempfile.TemporaryDirectory() as work:
            settings = ["dataplane.enabled=true", "dataplane.vdev=net_af_packet0,iface=rn-veth-b",
                        "dataplane.ip=192.0.2.1"]
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
                text = sh("ip", "netns", "exec", NS_BROKER, "kcat", "-C", "-b", broker.bootstrap,
                          "-t", "netns", "-p", "0", "-o", "beginning", "-e", "-q", "-f",
                          "%o %s\n").stdout
                read = dict(line.split(" ") for line in text.splitlines())
                assert len(read) == COUNT, f"kcat read {len(read)} records, {COUNT} produced"
                for i, offset in acks.items():
                    assert read[str(offset)] == f"ns-{i}", (i, offset)
                print(f"{COUNT} batches from a kernel UDP socket in another namespace, each sent "
                      "twice, appended once; kcat reads them back")
                broker.stop()
    finally:
        teardown()
    print("fast path netns test passed")


if __name__ == "__main__":
    main()
