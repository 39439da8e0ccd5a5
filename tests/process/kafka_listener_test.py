#!/usr/bin/env python3
"""runneld's Kafka listener, over a real TCP connection: ApiVersions v0, v3 and an unsupported
version pipelined on one connection and answered in order, claiming exactly the served APIs; an
oversized frame, an API that is not served and a malformed body close only their own connection;
kcat -L (librdkafka) lists the topics; runneld still stops cleanly.
Usage: kafka_listener_test.py RUNNELD RUNNEL_LOGTOOL"""
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(api_key, version, correlation_id, body=b"", flexible=False):
    header = struct.pack(">hhi", api_key, version, correlation_id) + struct.pack(">h", 6) + b"tester"
    if flexible:
        header += b"\x00"  # no tagged fields
    frame = header + body
    return struct.pack(">i", len(frame)) + frame


def read_frame(sock):
    def exactly(n):
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            if not chunk:
                raise EOFError
            data += chunk
        return data
    (size,) = struct.unpack(">i", exactly(4))
    return exactly(size)


def closed(sock):
    sock.settimeout(5)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


# What ApiVersions must claim: key -> (min, max). Only APIs with a handler belong here.
SERVED = {0: (3, 9), 1: (4, 12), 2: (1, 7), 3: (0, 12), 18: (0, 3), 19: (0, 7), 20: (0, 6),
          21: (0, 2), 22: (0, 4), 23: (0, 4), 32: (0, 4), 33: (0, 2), 37: (0, 3), 44: (0, 1),
          60: (0, 1), 8: (0, 8), 9: (0, 8), 10: (0, 4), 11: (0, 9), 12: (0, 4), 13: (0, 5),
          14: (0, 5), 15: (0, 5), 16: (0, 4), 42: (0, 2)}


def claimed(body, count_at, flexible):
    """The (key -> (min, max)) list of an ApiVersions response body."""
    if flexible:
        count = body[count_at] - 1
        at, step = count_at + 1, 7  # key, min, max, empty tags
    else:
        (count,) = struct.unpack(">i", body[count_at:count_at + 4])
        at, step = count_at + 4, 6
    out = {}
    for i in range(count):
        key, lo, hi = struct.unpack(">hhh", body[at + i * step:at + i * step + 6])
        out[key] = (lo, hi)
    return out


def main():
    runneld, logtool = sys.argv[1], sys.argv[2]
    port = free_port()
    with tempfile.TemporaryDirectory() as work:
        subprocess.run([logtool, "create-topic", "--data-dir", os.path.join(work, "data"),
                        "--topic", "orders", "--partitions", "3"], check=True,
                       stdout=subprocess.DEVNULL)
        log = open(os.path.join(work, "runneld.log"), "w+")
        proc = subprocess.Popen([runneld, "--data-dir", os.path.join(work, "data"),
                                 "--set", f"kafka.listen_port={port}",
                                 "--set", "kafka.auto_create_topics=false"], stderr=log)
        try:
            for _ in range(100):
                log.seek(0)
                if "serves Kafka" in log.read():
                    break
                time.sleep(0.1)
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            v3_body = b"\x07rdkafk\x042.0\x00"  # compact strings + tagged fields
            sock.sendall(request(18, 0, 1) + request(18, 3, 2, v3_body, flexible=True) +
                         request(18, 99, 3))
            r1, r2, r3 = read_frame(sock), read_frame(sock), read_frame(sock)
            # v0: correlation id, error, array of (key, min, max)
            assert struct.unpack(">iH", r1[:6]) == (1, 0), r1
            assert claimed(r1, 6, False) == SERVED, r1
            # v3: correlation id (header v0), error, compact array, entries + tags, throttle, tags
            assert struct.unpack(">iH", r2[:6]) == (2, 0), r2
            assert claimed(r2, 6, True) == SERVED, r2
            # unsupported version: UNSUPPORTED_VERSION (35), answered at v0 with the ranges
            assert struct.unpack(">iH", r3[:6]) == (3, 35), r3
            assert claimed(r3, 6, False) == SERVED, r3
            print("ApiVersions v0, v3 and an unsupported version answered in order")

            big = socket.create_connection(("127.0.0.1", port), timeout=5)
            big.sendall(struct.pack(">i", 0x7fffffff))
            assert closed(big), "an oversized frame must close the connection"
            other = socket.create_connection(("127.0.0.1", port), timeout=5)
            other.sendall(request(57, 0, 7))  # UpdateFeatures: not served
            assert closed(other), "an API that is not served closes the connection"
            garbage = socket.create_connection(("127.0.0.1", port), timeout=5)
            garbage.sendall(request(1, 11, 8, b"\x01\x02\x03"))  # Fetch v11, truncated body
            assert closed(garbage), "a malformed body closes the connection"
            sock.sendall(request(18, 1, 4))
            assert struct.unpack(">i", read_frame(sock)[:4]) == (4,)
            print("bad frames close only their own connection")

            listing = subprocess.run(["kcat", "-L", "-b", f"127.0.0.1:{port}"], check=True,
                                     capture_output=True, text=True, timeout=30).stdout
            assert 'topic "orders" with 3 partitions' in listing, listing
            assert "partition 2, leader 0, replicas: 0, isrs: 0" in listing, listing
            missing = subprocess.run(["kcat", "-L", "-b", f"127.0.0.1:{port}", "-t", "nosuch"],
                                     capture_output=True, text=True, timeout=30).stdout
            assert "Unknown topic or partition" in missing, missing
            print("kcat -L lists the topics")

            twin = subprocess.run([runneld, "--data-dir", os.path.join(work, "data"),
                                   "--set", f"kafka.listen_port={free_port()}"],
                                  capture_output=True, text=True, timeout=30)
            assert twin.returncode == 1 and "is in use by another runneld" in twin.stderr, twin
            rival = subprocess.run([runneld, "--data-dir", os.path.join(work, "other"),
                                    "--set", f"kafka.listen_port={port}"],
                                   capture_output=True, text=True, timeout=30)
            assert rival.returncode == 1 and "Address already in use" in rival.stderr, rival
            print("a second broker on the same data dir or port is refused")
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
        log.seek(0)
        text = log.read()
        assert "runneld: stopped cleanly" in text, text
        assert proc.returncode == 0
        print("kafka listener test passed")


if __name__ == "__main__":
    main()
