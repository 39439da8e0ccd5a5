#!/usr/bin/python3
"""kafkajs (Node.js) against the real runneld: starts a broker on a free port, makes sure the
pinned kafkajs is installed in tests/process/kafkajs (npm ci from the lock file when it is not),
runs kafkajs/kafkajs_test.mjs against the broker and requires it to pass and the broker to stop
cleanly afterwards.
Usage: kafkajs_test.py RUNNELD"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

from runneld import Runneld

HERE = os.path.dirname(os.path.abspath(__file__))
PROJECT = os.path.join(HERE, "kafkajs")
# A short initial rebalance delay keeps the group test quick; the rules do not change.
SETTINGS = ["groups.initial_rebalance_delay_ms=100"]
NODE_TIMEOUT_S = 240


def tool(name):
    path = shutil.which(name) or os.path.join("/usr/bin", name)
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"{name} not found")
    return path


def installed_version():
    try:
        with open(os.path.join(PROJECT, "node_modules", "kafkajs", "package.json")) as f:
            return json.load(f)["version"]
    except (OSError, ValueError, KeyError):
        return None


def ensure_node_modules():
    """Installs from the lock file when kafkajs is missing or is not the pinned version."""
    with open(os.path.join(PROJECT, "package.json")) as f:
        pinned = json.load(f)["dependencies"]["kafkajs"]
    if installed_version() == pinned:
        return
    subprocess.run([tool("npm"), "ci", "--no-audit", "--no-fund"], cwd=PROJECT, check=True,
                   timeout=300)
    assert installed_version() == pinned, (installed_version(), pinned)


def main():
    ensure_node_modules()
    with tempfile.TemporaryDirectory() as work:
        broker = Runneld(sys.argv[1], os.path.join(work, "data"), SETTINGS)
        with broker:
            try:
                result = subprocess.run(
                    [tool("node"), os.path.join(PROJECT, "kafkajs_test.mjs"), broker.bootstrap],
                    cwd=PROJECT, timeout=NODE_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                print(broker.text()[-20000:], file=sys.stderr)
                raise
            if result.returncode != 0:
                print("--- runneld log ---\n" + broker.text()[-20000:], file=sys.stderr)
                sys.exit(f"kafkajs test exited with {result.returncode}")
            broker.stop()
    print("kafkajs test passed")


if __name__ == "__main__":
    main()
