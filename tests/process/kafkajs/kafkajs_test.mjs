// kafkajs against a real runneld: topic creation through the admin client, an idempotent acks=-1
// producer sending 3000 keyed records, a two-member consumer group that must receive every record
// exactly once with contiguous per-partition offsets, explicit offset commits read back through
// the admin client, and group description, listing and deletion.
// Usage: node kafkajs_test.mjs HOST:PORT (run by tests/process/kafkajs_test.py).
import assert from 'node:assert/strict'

import kafkajs from 'kafkajs'

const { Kafka, logLevel, Partitioners, AssignerProtocol } = kafkajs

const BOOTSTRAP = process.argv[2]
const TOPIC = 'kjs.data'
const GROUP = 'kjs.group'
const CLIENT_ID = 'runnel-kafkajs'
const RECORDS = 3000
const BATCH = 100
const PARTITIONS = 3
// Every wait is bounded so that a broker that stops answering fails the test with the name of
// the step, instead of hanging until the driver's timeout.
const STEP_TIMEOUT_MS = 60000

// kafkajs logs every request and response at DEBUG. The lines are kept in a ring so that a
// failure can show what the client saw last; warnings and errors are also shown as they happen,
// and every line is when KAFKAJS_TEST_TRACE=1 is set (for investigating a broker problem).
const TRACE = process.env.KAFKAJS_TEST_TRACE === '1'
const LOG_RING = 4000
const log_lines = []
const log_creator = () => ({ namespace, label, log }) => {
    const { timestamp, logger: _logger, message, ...extra } = log
    const line = `${timestamp} ${label} [${namespace}] ${message} ${JSON.stringify(extra)}`
    log_lines.push(line)
    if (log_lines.length > LOG_RING) {
        log_lines.shift()
    }
    if (TRACE || label === 'ERROR' || label === 'WARN') {
        console.error(`kafkajs: ${line}`)
    }
}

function sleep(ms) {
    return new Promise(resolve => setTimeout(resolve, ms))
}

// Awaits `promise`, failing with the step's name if it does not settle within the bound.
async function step(what, promise, timeout_ms = STEP_TIMEOUT_MS) {
    let timer
    const timeout = new Promise((_, reject) => {
        timer = setTimeout(
            () => reject(new Error(`timed out after ${timeout_ms / 1000} s: ${what}`)), timeout_ms)
    })
    try {
        return await Promise.race([promise, timeout])
    } finally {
        clearTimeout(timer)
    }
}

// Polls `condition` (which may be async) until it holds, failing with `what` after the bound.
async function wait_until(what, condition, timeout_ms = STEP_TIMEOUT_MS) {
    const deadline = Date.now() + timeout_ms
    for (;;) {
        if (await condition()) {
            return
        }
        if (Date.now() > deadline) {
            throw new Error(`timed out after ${timeout_ms / 1000} s waiting for ${what}`)
        }
        await sleep(20)
    }
}

function range(n) {
    return Array.from({ length: n }, (_, i) => i)
}

function sorted(numbers) {
    return [...numbers].sort((a, b) => a - b)
}

async function create_topic(admin) {
    const created = await step('createTopics', admin.createTopics({
        topics: [{ topic: TOPIC, numPartitions: PARTITIONS, replicationFactor: 1 }],
        waitForLeaders: true,
    }))
    assert.equal(created, true, 'createTopics did not create the topic')
    // kafkajs returns false only when every topic failed with TOPIC_ALREADY_EXISTS (it still
    // logs that response as an ERROR line, which is expected here).
    const again = await step('createTopics again', admin.createTopics({
        topics: [{ topic: TOPIC, numPartitions: PARTITIONS, replicationFactor: 1 }],
    }))
    assert.equal(again, false, 'creating an existing topic must not report a creation')
    const { topics } = await step('fetchTopicMetadata',
        admin.fetchTopicMetadata({ topics: [TOPIC] }))
    assert.equal(topics.length, 1)
    assert.equal(topics[0].name, TOPIC)
    const partitions = [...topics[0].partitions].sort((a, b) => a.partitionId - b.partitionId)
    assert.deepEqual(partitions.map(p => p.partitionId), range(PARTITIONS))
    for (const p of partitions) {
        assert.equal(p.partitionErrorCode, 0, JSON.stringify(p))
        assert.ok(p.leader >= 0, JSON.stringify(p))
        assert.deepEqual(p.replicas, [p.leader], JSON.stringify(p))
        assert.deepEqual(p.isr, [p.leader], JSON.stringify(p))
    }
    return partitions
}

// One group member: records what it consumed and every join and crash kafkajs reports.
class member {
    constructor(kafka, name) {
        this.name = name
        this.joins = []
        this.crashes = []
        this.consumed = []
        // kafkajs lets an in-flight fetch finish before it leaves the group, and the broker
        // rightly holds an empty fetch for the whole wait; a 1 s wait (instead of 5 s) keeps the
        // disconnect quick while still long-polling.
        this.consumer = kafka.consumer({ groupId: GROUP, maxWaitTimeInMs: 1000 })
        this.consumer.on(this.consumer.events.GROUP_JOIN, e => this.joins.push(e.payload))
        this.consumer.on(this.consumer.events.CRASH, e => this.crashes.push(e.payload))
    }

    assigned() {
        const last = this.joins[this.joins.length - 1]
        return last ? sorted(last.memberAssignment[TOPIC] || []) : []
    }

    async start() {
        await this.consumer.connect()
        await this.consumer.subscribe({ topics: [TOPIC], fromBeginning: true })
        // Offsets are committed explicitly once everything has been read, so that the committed
        // values are exactly the ones this test chooses.
        await this.consumer.run({
            autoCommit: false,
            eachMessage: async ({ topic, partition, message }) => {
                this.consumed.push({
                    topic,
                    partition,
                    offset: message.offset,
                    key: message.key && message.key.toString(),
                    value: message.value && message.value.toString(),
                    headers: Object.fromEntries(Object.entries(message.headers || {})
                        .map(([k, v]) => [k, v && v.toString()])),
                })
            },
        })
    }
}

// Starts both members before anything is produced and waits until the group is stable with both
// of them and all partitions assigned: a rebalance while records flow would legitimately deliver
// some of them twice (at-least-once), which is not what this test is about.
async function start_group(kafka, admin) {
    const members = [new member(kafka, 'c1'), new member(kafka, 'c2')]
    await step('start both consumers', Promise.all(members.map(m => m.start())))
    await wait_until('both consumers to share all partitions in one stable group', async () => {
        for (const m of members) {
            assert.deepEqual(m.crashes, [], `${m.name} crashed`)
        }
        const a = members[0].assigned()
        const b = members[1].assigned()
        if (a.length === 0 || b.length === 0) {
            return false
        }
        if (JSON.stringify(sorted([...a, ...b])) !== JSON.stringify(range(PARTITIONS))) {
            return false
        }
        const { groups } = await admin.describeGroups([GROUP])
        return groups[0].state === 'Stable' && groups[0].members.length === 2
    })
    return members
}

// Sends the records in batches; the partition of each key is computed with the producer's own
// partitioner, so every acknowledgement can be checked to carry exactly the next offsets.
async function produce(kafka, partition_metadata) {
    const producer = kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        createPartitioner: Partitioners.DefaultPartitioner,
    })
    await step('producer connect', producer.connect())
    const partitioner = Partitioners.DefaultPartitioner()
    const next_offset = range(PARTITIONS).map(() => 0)
    const expected = new Map()
    for (let start = 0; start < RECORDS; start += BATCH) {
        const messages = range(BATCH).map(j => {
            const i = start + j
            return { key: `key-${i}`, value: `value-${i}`, headers: { seq: String(i) } }
        })
        const by_partition = new Map()
        for (const m of messages) {
            const p = partitioner({
                topic: TOPIC, partitionMetadata: partition_metadata, message: m,
            })
            if (!by_partition.has(p)) {
                by_partition.set(p, [])
            }
            by_partition.get(p).push(m)
        }
        const acks = await step(`send records ${start}..${start + BATCH - 1}`,
            producer.send({ topic: TOPIC, acks: -1, messages }))
        assert.deepEqual(sorted(acks.map(a => a.partition)), sorted(by_partition.keys()),
            `acknowledged partitions: ${JSON.stringify(acks)}`)
        for (const a of acks) {
            assert.equal(a.topicName, TOPIC)
            assert.equal(a.errorCode, 0, JSON.stringify(a))
            assert.equal(a.baseOffset, String(next_offset[a.partition]), JSON.stringify(a))
            assert.equal(a.logStartOffset, '0', JSON.stringify(a))
            by_partition.get(a.partition).forEach((m, idx) => {
                expected.set(m.key, {
                    partition: a.partition, offset: next_offset[a.partition] + idx,
                    value: m.value, seq: m.headers.seq,
                })
            })
            next_offset[a.partition] += by_partition.get(a.partition).length
        }
    }
    assert.equal(expected.size, RECORDS)
    for (const p of range(PARTITIONS)) {
        assert.ok(next_offset[p] > 0, `no key hashed to partition ${p}`)
    }
    return { producer, expected, ends: next_offset }
}

function check_consumed(members, expected, ends) {
    const seen = new Set()
    const offsets = range(PARTITIONS).map(() => [])
    for (const m of members) {
        const mine = m.assigned()
        for (const r of m.consumed) {
            assert.equal(r.topic, TOPIC)
            assert.ok(mine.includes(r.partition),
                `${m.name} got partition ${r.partition} but was assigned ${mine}`)
            assert.ok(!seen.has(r.key), `key ${r.key} delivered twice`)
            seen.add(r.key)
            const e = expected.get(r.key)
            assert.ok(e, `unexpected key ${r.key}`)
            assert.deepEqual({ partition: r.partition, offset: r.offset, value: r.value,
                               headers: r.headers },
                             { partition: e.partition, offset: String(e.offset), value: e.value,
                               headers: { seq: e.seq } }, `record for key ${r.key}`)
            offsets[r.partition].push(Number(r.offset))
        }
    }
    assert.equal(seen.size, RECORDS)
    for (const p of range(PARTITIONS)) {
        assert.deepEqual(offsets[p], range(ends[p]),
            `partition ${p} offsets are not contiguous from 0 in consumption order`)
    }
}

async function commit_and_fetch(admin, members, ends) {
    for (const m of members) {
        const commits = m.assigned().map(p => ({
            topic: TOPIC, partition: p, offset: String(ends[p]), metadata: `${m.name}-p${p}`,
        }))
        await step(`${m.name} commitOffsets`, m.consumer.commitOffsets(commits))
    }
    const owner = new Map()
    for (const m of members) {
        for (const p of m.assigned()) {
            owner.set(p, m.name)
        }
    }
    const high = await step('fetchTopicOffsets', admin.fetchTopicOffsets(TOPIC))
    assert.deepEqual(
        [...high].sort((a, b) => a.partition - b.partition)
            .map(({ partition, offset, high: h, low }) => ({ partition, offset, high: h, low })),
        range(PARTITIONS).map(p => ({ partition: p, offset: String(ends[p]), high: String(ends[p]),
                                      low: '0' })),
        'partition ends')
    const expected = range(PARTITIONS).map(p => ({
        partition: p, offset: String(ends[p]), metadata: `${owner.get(p)}-p${p}`,
    }))
    const fetch = async () => {
        const res = await step('fetchOffsets',
            admin.fetchOffsets({ groupId: GROUP, topics: [TOPIC] }))
        assert.equal(res.length, 1)
        assert.equal(res[0].topic, TOPIC)
        return [...res[0].partitions].sort((a, b) => a.partition - b.partition)
    }
    assert.deepEqual(await fetch(), expected, 'committed offsets read back by admin.fetchOffsets')
    return fetch
}

async function check_group_views(admin, members) {
    const { groups } = await step('describeGroups', admin.describeGroups([GROUP]))
    assert.equal(groups.length, 1)
    const g = groups[0]
    assert.equal(g.errorCode, 0)
    assert.equal(g.groupId, GROUP)
    assert.equal(g.state, 'Stable')
    assert.equal(g.protocolType, 'consumer')
    assert.equal(g.protocol, 'RoundRobinAssigner')
    const by_id = new Map(g.members.map(x => [x.memberId, x]))
    assert.equal(by_id.size, 2)
    for (const m of members) {
        const join = m.joins[m.joins.length - 1]
        const d = by_id.get(join.memberId)
        assert.ok(d, `${m.name} (${join.memberId}) missing from ${[...by_id.keys()]}`)
        assert.equal(d.clientId, CLIENT_ID)
        assert.ok(d.clientHost.includes('127.0.0.1'), d.clientHost)
        const metadata = AssignerProtocol.MemberMetadata.decode(d.memberMetadata)
        assert.deepEqual(metadata.topics, [TOPIC])
        const assignment = AssignerProtocol.MemberAssignment.decode(d.memberAssignment)
        assert.deepEqual(sorted(assignment.assignment[TOPIC]), m.assigned(),
            `${m.name} assignment as described by the coordinator`)
    }
    const listed = await step('listGroups', admin.listGroups())
    assert.deepEqual(listed.groups.filter(x => x.groupId === GROUP),
        [{ groupId: GROUP, protocolType: 'consumer' }], JSON.stringify(listed))
}

async function main() {
    assert.ok(BOOTSTRAP, 'usage: node kafkajs_test.mjs HOST:PORT')
    const kafka = new Kafka({
        clientId: CLIENT_ID,
        brokers: [BOOTSTRAP],
        logLevel: logLevel.DEBUG,
        logCreator: log_creator,
    })
    const admin = kafka.admin()
    await step('admin connect', admin.connect())
    const partition_metadata = await create_topic(admin)
    console.log(`created ${TOPIC} with ${PARTITIONS} partitions`)

    let t = Date.now()
    const members = await start_group(kafka, admin)
    const joins_when_stable = members.map(m => m.joins.length)
    console.log(`group stable in ${Date.now() - t} ms: ` +
        members.map(m => `${m.name}=[${m.assigned()}]`).join(' '))

    t = Date.now()
    const { producer, expected, ends } = await produce(kafka, partition_metadata)
    console.log(`produced ${RECORDS} records (idempotent, acks=-1) in ${Date.now() - t} ms, ` +
        `partition ends ${ends}`)

    t = Date.now()
    const consumed = () => members.reduce((n, m) => n + m.consumed.length, 0)
    await wait_until(`the group to consume ${RECORDS} records`, () => {
        for (const m of members) {
            assert.deepEqual(m.crashes, [], `${m.name} crashed`)
        }
        return consumed() >= RECORDS
    })
    console.log(`consumed ${RECORDS} records in ${Date.now() - t} ms (after the last ack)`)
    check_consumed(members, expected, ends)

    const fetch_committed = await commit_and_fetch(admin, members, ends)
    console.log('committed offsets read back equal the partition ends')
    await check_group_views(admin, members)
    console.log('describeGroups and listGroups agree with the members')
    assert.deepEqual(members.map(m => m.joins.length), joins_when_stable,
        'the group rebalanced while records were flowing')
    assert.equal(consumed(), RECORDS, 'records were delivered again after the first pass')

    await step('consumers disconnect', Promise.all(members.map(m => m.consumer.disconnect())))
    const { groups } = await step('describeGroups after leave', admin.describeGroups([GROUP]))
    assert.equal(groups[0].state, 'Empty', JSON.stringify(groups[0]))
    assert.deepEqual(groups[0].members, [])
    assert.deepEqual((await fetch_committed()).map(p => p.offset), ends.map(String),
        'committed offsets after the members left')
    const deleted = await step('deleteGroups', admin.deleteGroups([GROUP]))
    assert.deepEqual(deleted.map(({ groupId, errorCode }) => ({ groupId, errorCode })),
        [{ groupId: GROUP, errorCode: 0 }])
    const listed = await step('listGroups after delete', admin.listGroups())
    assert.ok(!listed.groups.some(x => x.groupId === GROUP), JSON.stringify(listed))
    console.log('members left (group Empty, offsets kept), group deleted')

    await step('producer disconnect', producer.disconnect())
    await step('admin disconnect', admin.disconnect())
    console.log('kafkajs test passed')
}

main().then(
    () => process.exit(0),
    e => {
        console.error(`kafkajs test FAILED: ${e.stack || e}`)
        console.error(`--- last ${log_lines.length} kafkajs log lines ---`)
        for (const line of log_lines) {
            console.error(line)
        }
        process.exit(1)
    })
