"""Starts and stops a real runneld for process-level tests: a fresh data directory (or a given
one), a free loopback port, the log captured to a file. Used as a context manager; stop() and
kill() for restart tests."""
import os
import signal
import socket
import subprocess
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Runneld:
    def __init__(self, binary, data_dir, settings=(), port=None, prefix=()):
        self.binary = binary
        self.prefix = list(prefix)  # e.g. ["ip", "netns", "exec", NAME]
        self.data_dir = data_dir
        self.settings = list(settings)
        self.port = port or free_port()
        self.log_path = data_dir.rstrip("/") + ".log"
        self.proc = None

    @property
    def bootstrap(self):
        return f"127.0.0.1:{self.port}"

    def start(self):
        args = self.prefix + [self.binary, "--data-dir", self.data_dir,
                              "--set", f"kafka.listen_port={self.port}"]
        for s in self.settings:
            args += ["--set", s]
        self.log = open(self.log_path, "a+")
        starts = self.text().count("runneld: started")
        self.proc = subprocess.Popen(args, stderr=self.log)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("runneld exited at start-up:\n" + self.text())
            if self.text().count("runneld: started") > starts:
                return self
            time.sleep(0.02)
        raise RuntimeError("runneld did not start within 30 s:\n" + self.text())

    def stop(self):
        """SIGTERM; asserts a clean stop."""
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)
        assert self.proc.returncode == 0, self.text()
        assert "runneld: stopped cleanly" in self.text(), self.text()

    def read(self, topic, fmt="%s\n", partition=0):
        """Partition `partition` of `topic` from its start, read with kcat over Kafka (inside the
        broker's namespace when it has a prefix), as one line per record in kcat's `fmt`."""
        return subprocess.run(self.prefix + ["kcat", "-C", "-b", self.bootstrap, "-t", topic,
                                             "-p", str(partition), "-o", "beginning", "-e", "-q",
                                             "-f", fmt],
                              capture_output=True, text=True, check=True, timeout=60).stdout

    def kill(self):
        self.proc.kill()
        self.proc.wait(timeout=60)

    def text(self):
        with open(self.log_path) as f:
            return f.read()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        return False
