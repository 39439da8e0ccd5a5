// The fast-path protocol codec (grammar: dataplane/fast_path.md): one message per UDP datagram,
// fixed little-endian layouts, version 1. decode() checks a datagram's header and body against
// the layout of its type and yields views into it; encode() writes a message into a caller's
// buffer (an mbuf's data room). Pure functions over byte spans: any thread, no allocation.
#pragma once

#include "base/result.h"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <variant>

namespace runnel::dataplane::fast_path {

inline constexpr uint16_t magic = 0x4e52; // "RN" as little-endian bytes
inline constexpr uint8_t version = 1;
inline constexpr size_t header_bytes = 16;

enum class type : uint8_t {
    resolve = 1,
    resolve_answer = 2,
    produce = 3,
    ack = 4,
    subscribe = 5,
    subscribe_answer = 6,
    push = 7,
    credit = 8,
    range = 9,
    heartbeat = 10,
    unsubscribe = 11,
    error = 12,
    init_producer = 13,
    init_producer_answer = 14,
};

enum class error_code : uint16_t {
    none = 0,
    malformed = 1,
    unsupported_version = 2,
    unknown_type = 3,
    unknown_topic = 4,
    unknown_partition = 5,
    invalid_batch = 6,
    out_of_order_sequence = 7,
    invalid_producer_epoch = 8,
    overloaded = 9,
    not_leader = 10,
    unknown_subscription = 11,
    offset_out_of_range = 12,
    storage_error = 13,
    batch_too_large = 14,
    not_served = 15, // a valid request this broker does not serve (yet)
};

struct resolve {
    std::string_view name;
};
struct resolve_answer {
    error_code error = error_code::none;
    uint32_t topic = 0;
    uint32_t partition_count = 0;
};
struct produce {
    uint32_t topic = 0;
    uint32_t partition = 0;
    std::span<const std::byte> batch;
};
struct ack {
    error_code error = error_code::none;
    int64_t base_offset = -1;
    int64_t last_offset = -1;
};
struct subscribe {
    uint32_t topic = 0;
    uint32_t partition = 0;
    int64_t start_offset = -1; // -1 log end, -2 log start
    uint32_t window_bytes = 0;
    uint32_t lease_ms = 0;
    uint8_t visibility = 0; // 0 memory, 1 write, 2 fsync
};
struct subscribe_answer {
    error_code error = error_code::none;
    uint32_t subscription = 0;
    int64_t start_offset = -1;
};
struct push {
    uint32_t subscription = 0;
    std::span<const std::byte> batch;
};
struct credit {
    uint32_t subscription = 0;
    uint32_t window_bytes = 0;
    int64_t next_offset = 0;
};
struct range {
    uint32_t subscription = 0;
    int64_t from_offset = 0;
    int64_t to_offset = 0;
};
struct heartbeat {
    uint32_t subscription = 0;
};
struct unsubscribe {
    uint32_t subscription = 0;
};
struct error {
    error_code error = error_code::none;
    uint8_t version_min = version;
    uint8_t version_max = version;
};

// A producer id and epoch of the broker's, for idempotent produces (Kafka's InitProducerId).
struct init_producer {};
struct init_producer_answer {
    error_code error = error_code::none;
    int16_t producer_epoch = 0;
    int64_t producer_id = -1;
};

using message = std::variant<resolve, resolve_answer, produce, ack, subscribe, subscribe_answer,
                             push, credit, range, heartbeat, unsubscribe, error, init_producer,
                             init_producer_answer>;

struct frame {
    uint64_t request_id = 0;
    message body;
};

// Why a datagram is not a frame. With unsupported_version and unknown_type the header was
// readable: `request_id` of decode_failure says whom to answer with an error frame.
enum class decode_errc : uint8_t {
    too_short,           // fewer bytes than a header
    bad_magic,
    unsupported_version,
    bad_flags,
    bad_length,          // body_length disagrees with the datagram
    unknown_type,
    bad_body,            // the body does not fit its type's layout
};
std::string_view to_string(decode_errc e);

struct decode_failure {
    decode_errc errc;
    uint64_t request_id = 0; // valid unless too_short / bad_magic
};

// Decodes one datagram. Views in the result point into `datagram`.
result<frame, decode_failure> decode(std::span<const std::byte> datagram);

// Writes `f` into `out`; returns the bytes written, or 0 when `out` is too small or a variable
// part is longer than its length field can say (a name over 65535 bytes, a body over 65535).
size_t encode(std::span<std::byte> out, const frame& f);

} // namespace runnel::dataplane::fast_path
