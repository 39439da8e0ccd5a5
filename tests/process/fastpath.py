"""A small fast-path client over a kernel UDP socket, for process tests: the version 1 frames of
dataplane/fast_path.md and Kafka RecordBatch v2 batches (with their CRC32C), written from the
specs. Test code: clear rather than fast."""
import struct

MAGIC, VERSION = 0x4E52, 1
RESOLVE, RESOLVE_ANSWER, PRODUCE, ACK = 1, 2, 3, 4
SUBSCRIBE, SUBSCRIBE_ANSWER, PUSH, CREDIT = 5, 6, 7, 8


def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _crc32c_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = (c >> 8) ^ _TABLE[(c ^ b) & 0xFF]
    return c ^ 0xFFFFFFFF


def _varint(n):
    z = (n << 1) ^ (n >> 63)  # zig-zag
    out = b""
    while True:
        b = z & 0x7F
        z >>= 7
        if z:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def batch(value, producer_id=-1, epoch=-1, sequence=-1, timestamp_ms=1_700_000_000_000):
    """One RecordBatch v2 holding one record with no key and `value` (bytes)."""
    body = b"\x00" + _varint(0) + _varint(0) + _varint(-1) + _varint(len(value)) + value + _varint(0)
    record = _varint(len(body)) + body
    after_crc = struct.pack(">hiqqqhii", 0, 0, timestamp_ms, timestamp_ms, producer_id, epoch,
                            sequence, 1) + record
    crc = crc32c(after_crc)
    head = struct.pack(">qiib", 0, 4 + 1 + 4 + len(after_crc), 0, 2) + struct.pack(">I", crc)
    return head + after_crc


def frame(kind, request_id, body):
    return struct.pack("<HBBHHQ", MAGIC, VERSION, kind, 0, len(body), request_id) + body


def resolve(request_id, name):
    return frame(RESOLVE, request_id, struct.pack("<H", len(name)) + name.encode())


def produce(request_id, topic, partition, records):
    return frame(PRODUCE, request_id, struct.pack("<II", topic, partition) + records)


def decode(data):
    """(kind, request_id, fields) of an answer; fields as a dict."""
    magic, version, kind, _, length, request_id = struct.unpack_from("<HBBHHQ", data)
    assert magic == MAGIC and version == VERSION and length == len(data) - 16, data
    body = data[16:]
    if kind == RESOLVE_ANSWER:
        error, _, topic, partitions = struct.unpack("<HHII", body)
        return kind, request_id, {"error": error, "topic": topic, "partitions": partitions}
    if kind == SUBSCRIBE_ANSWER:
        error, _, subscription, start = struct.unpack("<HHIq", body)
        return kind, request_id, {"error": error, "subscription": subscription, "start": start}
    if kind == ACK:
        error, _, _, base, last = struct.unpack("<HHIqq", body)
        return kind, request_id, {"error": error, "base_offset": base, "last_offset": last}
    return kind, request_id, {"body": body}


def subscribe(request_id, topic, partition, start_offset, window_bytes, lease_ms, visibility):
    return frame(SUBSCRIBE, request_id, struct.pack("<IIqIIB3x", topic, partition, start_offset,
                                                    window_bytes, lease_ms, visibility))


def credit(subscription, window_bytes, next_offset):
    return frame(CREDIT, 0, struct.pack("<IIq", subscription, window_bytes, next_offset))


RANGE = 9


def range_request(subscription, from_offset, to_offset):
    return frame(RANGE, 0, struct.pack("<IIqq", subscription, 0, from_offset, to_offset))


def push_batch(fields):
    """(subscription, base_offset, last_offset, [values]) of a push's body."""
    body = fields["body"]
    subscription = struct.unpack_from("<I", body)[0]
    b = body[8:]
    base = struct.unpack_from(">q", b, 0)[0]
    last_delta = struct.unpack_from(">i", b, 23)[0]
    count = struct.unpack_from(">i", b, 57)[0]
    values, at = [], 61
    for _ in range(count):
        length, at = _read_varint(b, at)
        end = at + length
        at += 1  # attributes
        _, at = _read_varint(b, at)  # timestamp delta
        _, at = _read_varint(b, at)  # offset delta
        key_len, at = _read_varint(b, at)
        at += max(key_len, 0)
        value_len, at = _read_varint(b, at)
        values.append(b[at:at + value_len] if value_len >= 0 else None)
        at = end
    return subscription, base, base + last_delta, values


def _read_varint(b, at):
    shift = z = 0
    while True:
        byte = b[at]
        at += 1
        z |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return (z >> 1) ^ -(z & 1), at
