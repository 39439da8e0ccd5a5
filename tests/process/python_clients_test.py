#!/usr/bin/python3
"""kafka-python and confluent-kafka (Debian's modules, so /usr/bin/python3) against the real
runneld: topic administration (create with configs, describe, alter, add partitions, delete),
produce and consume with exact content, a consumer group that commits and, after a broker
restart, resumes from its committed offsets; group listing and description.
Usage: python_clients_test.py RUNNELD"""
import os
import sys
import tempfile
import time

from confluent_kafka import Consumer, Producer, TopicPartition as CTopicPartition
from confluent_kafka.admin import AdminClient, NewPartitions as CNewPartitions
from confluent_kafka.admin import ConfigResource as CConfigResource
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, NewPartitions
from kafka.admin import NewTopic
from kafka.errors import KafkaError

from runneld import Runneld

# A short initial rebalance delay keeps the group tests quick; the rules do not change.
SETTINGS = ["groups.initial_rebalance_delay_ms=100"]


def expect_error(code, call):
    """Runs call, which must fail with Kafka error `code`; returns the error's text."""
    try:
        call()
    except KafkaError as e:
        assert e.errno == code, (code, e)
        return str(e)
    raise AssertionError(f"expected Kafka error {code}")


def kafka_python_admin(bootstrap):
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    r = admin.create_topics([NewTopic("kp.admin", 2, 1, topic_configs={"retention.ms": "3600000"})])
    assert all(e[1] == 0 for e in r.topic_errors), r
    expect_error(36, lambda: admin.create_topics([NewTopic("kp.admin", 2, 1)]))  # exists
    expect_error(38, lambda: admin.create_topics([NewTopic("kp.bad", 1, 3)]))  # one node
    text = expect_error(40, lambda: admin.create_topics(
        [NewTopic("kp.bad", 1, 1, topic_configs={"segment.bytes": "12"})]))
    assert "segment.bytes" in text, text
    assert "kp.admin" in admin.list_topics()

    def config(name):
        res = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, "kp.admin")])
        entries = {e[0]: e[1] for e in res[0].resources[0][4]}
        return entries[name]
    assert config("retention.ms") == "3600000"
    admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, "kp.admin",
                                        configs={"retention.ms": "7200000"})])
    assert config("retention.ms") == "7200000"
    admin.create_partitions({"kp.admin": NewPartitions(4)})
    desc = admin.describe_topics(["kp.admin"])
    assert len(desc[0]["partitions"]) == 4, desc
    admin.delete_topics(["kp.admin"])
    assert "kp.admin" not in admin.list_topics()
    admin.close()
    print("kafka-python: create/describe/alter/add partitions/delete topics")


def kafka_python_data(bootstrap):
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic("kp.data", 3, 1)])
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=2)
    for i in range(3000):
        producer.send("kp.data", key=f"k{i}".encode(), value=f"v{i}".encode(),
                      partition=i % 3)
    producer.flush()
    producer.close()
    consumer = KafkaConsumer("kp.data", bootstrap_servers=bootstrap, group_id="kp.group",
                             auto_offset_reset="earliest", enable_auto_commit=False,
                             consumer_timeout_ms=15000)
    got = {}
    for m in consumer:
        assert m.value == f"v{int(m.key[1:])}".encode()
        got.setdefault(m.partition, []).append((m.offset, int(m.key[1:])))
        if sum(len(v) for v in got.values()) == 1500:
            break
    consumer.commit()
    consumer.close()
    for p, rows in got.items():
        offsets = [o for o, _ in rows]
        assert offsets == list(range(offsets[0], offsets[0] + len(offsets))), p
        assert all(k % 3 == p for _, k in rows)
    committed = admin.list_consumer_group_offsets("kp.group")
    assert sum(o.offset for o in committed.values()) == 1500, committed
    for p, rows in got.items():
        assert committed[TopicPartition("kp.data", p)].offset == rows[-1][0] + 1
    groups = dict(admin.list_consumer_groups())
    assert groups.get("kp.group") == "consumer", groups
    admin.close()
    print("kafka-python: 3000 records produced with acks=all, half consumed in a group, committed")
    return committed, {(p, o) for p, rows in got.items() for o, _ in rows}


def kafka_python_resume(bootstrap, committed, before):
    consumer = KafkaConsumer("kp.data", bootstrap_servers=bootstrap, group_id="kp.group",
                             auto_offset_reset="earliest", enable_auto_commit=False,
                             consumer_timeout_ms=15000)
    first = {}
    after = set()
    for m in consumer:
        first.setdefault(m.partition, m.offset)
        assert (m.partition, m.offset) not in after | before, (m.partition, m.offset)
        after.add((m.partition, m.offset))
        if len(after) == 1500:
            break
    consumer.close()
    for tp, meta in committed.items():
        if meta.offset < 1000:  # each partition holds 1000 records
            assert first[tp.partition] == meta.offset, (tp, first, committed)
    assert before | after == {(p, o) for p in range(3) for o in range(1000)}
    print("kafka-python: after a broker restart the group resumed at its committed offsets "
          "and read the other 1500")


def confluent(bootstrap):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    from confluent_kafka.admin import NewTopic as CNewTopic
    futures = admin.create_topics([CNewTopic("ck.data", 2, 1, config={"segment.bytes": "1048576"})])
    futures["ck.data"].result(30)
    res = admin.describe_configs([CConfigResource("topic", "ck.data")])
    for f in res.values():
        entries = f.result(30)
        assert entries["segment.bytes"].value == "1048576", entries
    admin.create_partitions([CNewPartitions("ck.data", 3)])["ck.data"].result(30)
    md = admin.list_topics(timeout=30)
    assert len(md.topics["ck.data"].partitions) == 3

    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True,
                         "acks": "all", "linger.ms": 1})
    acked = []
    for i in range(5000):
        producer.produce("ck.data", key=str(i), value=f"value-{i}", partition=i % 3,
                         on_delivery=lambda err, msg: acked.append((err, msg.partition(),
                                                                     msg.offset())))
        if i % 1000 == 0:
            producer.poll(0)
    assert producer.flush(30) == 0
    assert len(acked) == 5000 and all(e is None for e, _, _ in acked)
    for p in range(3):
        offsets = sorted(o for _, q, o in acked if q == p)
        assert offsets == list(range(len(offsets))), p

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "ck.group",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe(["ck.data"])
    got = set()
    deadline = time.time() + 60
    while len(got) < 5000 and time.time() < deadline:
        m = consumer.poll(1.0)
        if m is None or m.error():
            continue
        assert m.value().decode() == f"value-{m.key().decode()}"
        assert (m.partition(), m.offset()) not in got
        got.add((m.partition(), m.offset()))
    assert len(got) == 5000, len(got)
    consumer.commit(asynchronous=False)
    committed = consumer.committed([CTopicPartition("ck.data", p) for p in range(3)], timeout=30)
    assert sum(tp.offset for tp in committed) == 5000, committed
    consumer.close()
    admin.delete_topics(["ck.data"])["ck.data"].result(30)
    print("confluent-kafka: admin, 5000 idempotent acks=all records, group consume and commit")


def main():
    with tempfile.TemporaryDirectory() as work:
        broker = Runneld(sys.argv[1], os.path.join(work, "data"), SETTINGS)
        with broker:
            kafka_python_admin(broker.bootstrap)
            committed, consumed = kafka_python_data(broker.bootstrap)
            broker.stop()
            broker.start()
            kafka_python_resume(broker.bootstrap, committed, consumed)
            confluent(broker.bootstrap)
            broker.stop()
    print("python clients test passed")


if __name__ == "__main__":
    main()
