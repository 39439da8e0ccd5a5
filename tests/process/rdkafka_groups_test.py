#!/usr/bin/env python3
"""librdkafka's standard assignors and static membership against the real runneld, with one
`rdkafka_client member` process per group member (tests/process/rdkafka_client.c):
1. for each of range, roundrobin and cooperative-sticky: 3 members split a 6-partition topic of
   pre-produced records (2 partitions each, in the strategy's own pattern), one leaves mid-way,
   the other two take over its partitions (3 each; cooperative-sticky keeps their own and revokes
   nothing of them); no partition ever has two owners, and every record is consumed exactly once;
2. static membership (group.instance.id): a member that closes (no LeaveGroup) and comes back
   within session.timeout.ms gets its old partitions back and the others see no rebalance at
   all, even past the session timeout of the closed instance; a member that stays away is
   removed once its session times out, not before, and the others take over its partitions;
   then a member restarts again, after that rebalance, with the same outcome. Both with range
   and with cooperative-sticky, whose subscription carries what the member owns: an instance
   restarting after a rebalance rejoins with other metadata than it had, which Kafka accepts
   without a rebalance as long as the group's selected protocol stays the same.
Usage: rdkafka_groups_test.py RUNNELD RDKAFKA_CLIENT
RDKAFKA_DEBUG=cgrp,protocol in the environment turns on librdkafka's debug log (the members'
stderr files); RDKAFKA_TEST_WORK=DIR keeps the work directory (logs, data) in DIR."""
import os
import signal
import subprocess
import sys
import tempfile
import time

from runneld import Runneld

PARTITIONS = 6
# The client's session.timeout.ms and heartbeat.interval.ms (rdkafka_client.c).
SESSION_S = 6.0
HEARTBEAT_S = 0.5


def complete_lines(path):
    """The lines of a file another process is still writing, without a partial last line."""
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        return []
    return [line.split() for line in text[:text.rfind("\n") + 1].splitlines() if line.strip()]


def parts_of(text):
    return frozenset() if text == "-" else frozenset(int(p) for p in text.split(","))


def wait_for(what, condition, timeout, members=()):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline or any(m.died() for m in members):
            raise AssertionError(f"waiting for {what} (at most {timeout} s)\n" +
                                 "\n".join(m.diagnostics() for m in members))
        time.sleep(0.02)


def produce(client, broker, work, topic, first, count):
    """Produces records first..first+count-1; returns (partition, offset) -> "k<i> v<i>"."""
    path = os.path.join(work, f"produce-{topic}-{first}")
    subprocess.run([client, "produce", broker.bootstrap, topic, str(first), str(count), path],
                   check=True, timeout=120, stderr=subprocess.DEVNULL)
    acked = {(int(p), int(o)): f"k{i} v{i}" for _, p, o, i in complete_lines(path)}
    assert len(acked) == count, f"{len(acked)} of {count} records acknowledged"
    return acked


class Member:
    """One `rdkafka_client member` process and the events it logged."""

    def __init__(self, client, broker, work, name, topic, group, strategy, instance_id="-",
                 pause_us=0):
        self.name = name
        self.path = os.path.join(work, name)
        self.err_path = self.path + ".stderr"
        self.stopped = False
        with open(self.err_path, "w") as err:
            self.proc = subprocess.Popen([client, "member", broker.bootstrap, topic, group,
                                          strategy, instance_id, str(pause_us), self.path],
                                         stderr=err)

    def died(self):
        return not self.stopped and self.proc.poll() is not None

    def lines(self):
        return complete_lines(self.path)

    def messages(self):
        return [(int(r[1]), int(r[2]), r[3] + " " + r[4]) for r in self.lines() if r[0] == "m"]

    def rebalances(self):
        """(time s, "assign"/"revoke", protocol, partitions) of every rebalance callback."""
        return [(int(r[1]) / 1e6, r[0], r[2], parts_of(r[3])) for r in self.lines()
                if r[0] in ("assign", "revoke")]

    def stop(self):
        """SIGTERM: commits, closes, exits; returns when it started closing (monotonic s)."""
        self.stopped = True
        self.proc.send_signal(signal.SIGTERM)
        assert self.proc.wait(timeout=30) == 0, self.diagnostics()
        closing = [int(r[1]) / 1e6 for r in self.lines() if r[0] == "closing"]
        assert len(closing) == 1 and self.lines()[-1][0] == "closed", self.diagnostics()
        return closing[0]

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def diagnostics(self):
        with open(self.err_path) as f:
            err = f.read()[-3000:]
        events = [" ".join(r) for r in self.lines() if r[0] != "m"]
        return (f"--- {self.name}: exit {self.proc.poll()}, {len(self.messages())} messages, "
                f"events {events}\nstderr tail: {err}")


def ownership(members):
    """Replays every member's rebalance callbacks in time order: the partitions each member owns
    afterwards. Asserts that no partition is ever given to a member while another owns it."""
    events = sorted((t, m.name, kind, protocol, parts) for m in members
                    for t, kind, protocol, parts in m.rebalances())
    owned = {m.name: frozenset() for m in members}
    for t, name, kind, protocol, parts in events:
        if kind == "revoke":
            assert parts <= owned[name], f"{name} revoked {set(parts)} it did not own"
            owned[name] = owned[name] - parts
            continue
        others = {p for n, o in owned.items() if n != name for p in o}
        assert not parts & others, (f"{name} was given {set(parts & others)} at {t}, owned by "
                                    f"another member: {owned}")
        # An EAGER assign is the whole assignment; a COOPERATIVE one adds to it.
        owned[name] = parts if protocol == "EAGER" else owned[name] | parts
    return owned


def covers_all(owned, count):
    """Whether `count` members own every partition between them, as evenly as can be."""
    sizes = [len(p) for p in owned.values() if p]
    return (len(sizes) == count and sorted(sizes)[-1] - sorted(sizes)[0] <= 1 and
            set().union(*owned.values()) == set(range(PARTITIONS)))


def check_pattern(strategy, owned):
    """The assignment the strategy computes for these members (each owns some partitions)."""
    sets = sorted(sorted(p) for p in owned.values() if p)
    n = len(sets)
    if strategy == "range":
        # Members sorted by id take consecutive ranges of PARTITIONS / n partitions.
        size = PARTITIONS // n
        expected = [list(range(i * size, (i + 1) * size)) for i in range(n)]
    elif strategy == "roundrobin":
        # Partitions dealt in order to the members sorted by id: member i gets p = i mod n.
        expected = [list(range(i, PARTITIONS, n)) for i in range(n)]
    else:
        return
    assert sets == expected, f"{strategy} with {n} members assigned {sets}, not {expected}"


def check_exactly_once(members, records):
    consumed = {}
    for m in members:
        for p, o, kv in m.messages():
            assert (p, o) not in consumed, f"{p}/{o} consumed by {consumed[(p, o)]} and {m.name}"
            consumed[(p, o)] = m.name
            produced = records.get((p, o))
            assert produced == kv, f"{m.name} read {kv} at {p}/{o}, not {produced}"
    missing = set(records) - set(consumed)
    assert not missing, f"{len(missing)} records never consumed, e.g. {sorted(missing)[:5]}"
    for m in members:
        errors = [r for r in m.lines() if r[0] == "commit_error"]
        assert not errors, f"{m.name}: {errors}"
    return consumed


def total_consumed(members):
    return sum(len(m.messages()) for m in members)


def assignor_scenario(client, broker, work, strategy):
    topic, group = f"assign-{strategy}", f"assign-{strategy}"
    count = 6000
    records = produce(client, broker, work, topic, 0, count)
    protocol = "COOPERATIVE" if strategy == "cooperative-sticky" else "EAGER"
    # 1 ms per message: each member's share takes about 2 s, so the leave comes mid-way.
    members = [Member(client, broker, work, f"{strategy}-{i}", topic, group, strategy,
                      pause_us=1000) for i in range(3)]
    leaver, survivors = members[2], members[:2]
    try:
        wait_for(f"{strategy}: 3 members owning 2 partitions each",
                 lambda: covers_all(ownership(members), 3) and
                 all(len(p) == 2 for p in ownership(members).values()), 30, members)
        formed = ownership(members)
        check_pattern(strategy, formed)
        wait_for(f"{strategy}: the leaver consuming", lambda: len(leaver.messages()) >= 300, 30,
                 members)
        left_at = leaver.stop()
        assert leaver.rebalances()[-1][1] == "revoke", leaver.diagnostics()
        wait_for(f"{strategy}: the 2 others owning all {PARTITIONS} partitions",
                 lambda: covers_all(ownership(members), 2), 30, members)
        wait_for(f"{strategy}: all {count} records consumed",
                 lambda: total_consumed(members) >= count, 60, members)
        after = ownership(members)
        # The first survivor's close starts one more (cooperative) rebalance that may hand its
        # partitions to the other before that one closes too: the takeover ends there.
        takeover_end = min(m.stop() for m in survivors)
        assert after[leaver.name] == frozenset(), after
        check_pattern(strategy, after)
        for m in members:
            protocols = {r[2] for r in m.rebalances()}
            assert protocols == {protocol}, f"{m.name} rebalanced with {protocols}"
        if protocol == "COOPERATIVE":
            for m in survivors:
                # Sticky: a survivor keeps what it had and gives nothing up for the takeover.
                assert after[m.name] >= formed[m.name], (m.name, formed, after)
                revokes = [r for r in m.rebalances()
                           if r[1] == "revoke" and left_at < r[0] < takeover_end]
                assert not revokes, m.diagnostics()
        consumed = check_exactly_once(members, records)
        # The survivors went on where the leaver had stopped on its partitions.
        last = {p: o for p, o, _ in leaver.messages()}
        taken = [k for k, name in consumed.items() if k[0] in formed[leaver.name] and
                 name != leaver.name and k[1] > last.get(k[0], -1)]
        assert taken, f"no record of {set(formed[leaver.name])} consumed after the leave"
        print(f"{strategy}: 3 members {sorted(sorted(p) for p in formed.values())}, one left "
              f"after {len(leaver.messages())} records, 2 members "
              f"{sorted(sorted(p) for p in after.values() if p)} took over; {count} records "
              "consumed exactly once")
    finally:
        for m in members:
            m.kill()


class StaticGroup:
    """Static members of one group over one topic; `records` is everything produced to it."""

    def __init__(self, client, broker, work, strategy):
        self.client, self.broker, self.work, self.strategy = client, broker, work, strategy
        self.topic = self.group = f"static-{strategy}"
        self.records = {}
        self.members = []  # every process, stopped ones too: they consumed records
        self.batches = 0

    def start(self, name, instance):
        m = Member(self.client, self.broker, self.work, name, self.topic, self.group,
                   self.strategy, instance_id=instance)
        m.instance = instance
        self.members.append(m)
        return m

    def produce(self, count=3000):
        self.records.update(produce(self.client, self.broker, self.work, self.topic,
                                    self.batches * count, count))
        self.batches += 1

    def consume(self):
        """Waits until the members consumed everything produced."""
        wait_for(f"{len(self.records)} records consumed",
                 lambda: total_consumed(self.members) >= len(self.records), 30, self.members)

    def restart(self, m, others):
        """Closes m (a static member sends no LeaveGroup) and starts its instance again: it gets
        its partitions back, and neither it nor the others rebalance, not even once the closed
        process's session has timed out. Returns the new member."""
        before = ownership(self.members)
        seen = {o.name: len(o.rebalances()) for o in others}
        closed_at = m.stop()
        back = self.start(m.name + "-restarted", m.instance)
        wait_for(f"the restarted {m.instance}'s assignment", lambda: back.rebalances(),
                 SESSION_S, self.members)
        back_at, kind, _, parts = back.rebalances()[0]
        assert kind == "assign" and parts == before[m.name], (
            f"the restarted {m.instance} got {set(parts)}, it had {set(before[m.name])}")
        assert back_at - closed_at < SESSION_S, back_at - closed_at
        self.produce()
        self.consume()
        # Whatever would rebalance the others (the rejoin itself, the closed process's session
        # running out) has reached them on a heartbeat by then.
        wait_for("the closed session's timeout past",
                 lambda: time.monotonic() > closed_at + SESSION_S + 3 * HEARTBEAT_S, 2 * SESSION_S)
        for o in others:
            assert len(o.rebalances()) == seen[o.name], (
                f"{o.name} rebalanced after {m.instance} restarted:\n{o.diagnostics()}")
        assert len(back.rebalances()) == 1, back.diagnostics()
        after = ownership(self.members)
        expected = {n: p for n, p in before.items() if p and n != m.name}
        expected[back.name] = before[m.name]
        assert {n: p for n, p in after.items() if p} == expected, after
        print(f"static {self.strategy}: {m.instance} restarted in {back_at - closed_at:.2f} s, "
              f"got {sorted(parts)} back, no other member rebalanced (checked "
              f"{time.monotonic() - closed_at:.1f} s after the close)")
        return back


def static_scenario(client, broker, work, strategy):
    g = StaticGroup(client, broker, work, strategy)
    g.produce()
    s0, s1, s2 = (g.start(f"static-{strategy}-{i}", f"instance-{i}") for i in range(3))
    try:
        wait_for("3 static members owning 2 partitions each",
                 lambda: covers_all(ownership(g.members), 3) and
                 all(len(p) == 2 for p in ownership(g.members).values()), 30, g.members)
        g.consume()
        formed = ownership(g.members)
        check_pattern(strategy, formed)

        s1 = g.restart(s1, [s0, s2])

        # Away for longer than the session timeout: removed then, not before.
        gone_at = s2.stop()
        survivors = [s0, s1]
        wait_for(f"the 2 others owning all {PARTITIONS} partitions",
                 lambda: covers_all(ownership(g.members), 2), SESSION_S + 10, g.members)
        takeover = min(r[0] for m in survivors for r in m.rebalances() if r[0] > gone_at)
        assert takeover - gone_at >= SESSION_S - 2 * HEARTBEAT_S, (
            f"instance-2 was removed {takeover - gone_at:.2f} s after it closed, before its "
            f"session timeout of {SESSION_S} s")
        after = ownership(g.members)
        check_pattern(strategy, after)
        g.produce()
        g.consume()
        print(f"static {strategy}: instance-2 away, removed {takeover - gone_at:.2f} s after "
              f"its close; the others took over {sorted(formed[s2.name])}")

        # A restart after a rebalance: the member's subscription now carries what it owned.
        s0 = g.restart(s0, [s1])
        for m in (s0, s1):
            m.stop()
        consumed = check_exactly_once(g.members, g.records)
        last = {p: o for p, o, _ in s2.messages()}
        taken = {p for (p, o), name in consumed.items() if name != s2.name and
                 p in formed[s2.name] and o > last.get(p, -1)}
        assert taken == formed[s2.name], f"of instance-2's {set(formed[s2.name])}, only {taken}"
        print(f"static {strategy}: {len(g.records)} records consumed exactly once")
    finally:
        for m in g.members:
            m.kill()


def main():
    broker_bin, client = sys.argv[1], sys.argv[2]
    keep = os.environ.get("RDKAFKA_TEST_WORK")
    with tempfile.TemporaryDirectory() as scratch:
        work = keep or scratch
        os.makedirs(work, exist_ok=True)
        settings = [f"log.default_partitions={PARTITIONS}", "groups.initial_rebalance_delay_ms=500"]
        with Runneld(broker_bin, os.path.join(work, "data"), settings) as broker:
            for strategy in ("range", "roundrobin", "cooperative-sticky"):
                assignor_scenario(client, broker, work, strategy)
            for strategy in ("range", "cooperative-sticky"):
                static_scenario(client, broker, work, strategy)
            broker.stop()
    print("librdkafka group test passed")


if __name__ == "__main__":
    main()
