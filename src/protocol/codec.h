// One definition per Kafka message, serving both directions. A message struct names its API and
// first flexible version and has one member template
//
//     template <typename IO, typename M> static void fields(IO& io, M& m, int16_t version);
//
// that walks its fields in wire order, gated by version as the spec says. With a `decoder` it
// fills `m` from a reader; with an `encoder` it writes `m` (then M is const). `decode<T>` and
// `encode<T>` pick the classic or compact (flexible) encodings from the version, so a field list
// is written once, from the spec, and round-trips by construction.
//
// Decoded strings and bytes are views into the request buffer; they live as long as it does.
// Any thread; no shared state.
#pragma once

#include "protocol/wire.h"

#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace runnel::protocol {

class decoder {
public:
    decoder(reader& r, bool flexible) : _r(r), _flexible(flexible) {}
    bool flexible() const { return _flexible; }
    reader& raw() { return _r; }

    void int8(int8_t& v) { v = _r.int8(); }
    void int16(int16_t& v) { v = _r.int16(); }
    void int32(int32_t& v) { v = _r.int32(); }
    void int64(int64_t& v) { v = _r.int64(); }
    void uint32(uint32_t& v) { v = _r.uint32(); }
    void boolean(bool& v) { v = _r.boolean(); }
    void uuid_value(uuid& v) { v = _r.uuid_value(); }
    void string(std::string_view& s) { s = _flexible ? _r.compact_string() : _r.string(); }
    void nullable_string(std::optional<std::string_view>& s) {
        s = _flexible ? _r.compact_nullable_string() : _r.nullable_string();
    }
    // Bytes that the spec makes non-nullable: null is malformed.
    void bytes(std::span<const std::byte>& b) {
        auto v = nullable_view();
        if (!v) {
            _r.fail();
            return;
        }
        b = *v;
    }
    void nullable_bytes(std::optional<std::span<const std::byte>>& b) { b = nullable_view(); }
    // A non-nullable array: null (-1) is malformed.
    template <typename T, typename Fn>
    void array(std::vector<T>& v, Fn&& each) {
        const int32_t n = length();
        if (n < 0) {
            _r.fail();
            return;
        }
        fill(v, n, each);
    }
    template <typename T, typename Fn>
    void nullable_array(std::optional<std::vector<T>>& v, Fn&& each) {
        const int32_t n = length();
        if (n < 0) {
            v.reset();
            return;
        }
        v.emplace();
        fill(*v, n, each);
    }
    // Tags this broker does not use are skipped (the spec lets a receiver ignore unknown tags).
    void tagged_fields() {
        if (_flexible) {
            _r.skip_tagged_fields();
        }
    }

private:
    int32_t length() { return _flexible ? _r.compact_array_length() : _r.array_length(); }
    std::optional<std::span<const std::byte>> nullable_view() {
        return _flexible ? _r.compact_nullable_bytes() : _r.nullable_bytes();
    }
    template <typename T, typename Fn>
    void fill(std::vector<T>& v, int32_t n, Fn& each) {
        // array_length() bounds n by the bytes left, but an element struct is far larger than
        // its one wire byte: a request may decode at most elements_max elements in all, so a
        // hostile 100 MiB frame cannot make it allocate gigabytes.
        if (uint32_t(n) > _elements_left) {
            _r.fail();
            return;
        }
        _elements_left -= uint32_t(n);
        v.resize(size_t(n));
        for (int32_t i = 0; i < n && _r.ok(); ++i) {
            each(v[size_t(i)]);
        }
    }
    reader& _r;
    bool _flexible;
    uint32_t _elements_left = elements_max;

public:
    // Array elements one request may hold (a fetch of every partition of a large cluster is
    // tens of thousands).
    static constexpr uint32_t elements_max = 1u << 20;
};

class encoder {
public:
    encoder(writer& w, bool flexible) : _w(w), _flexible(flexible) {}
    bool flexible() const { return _flexible; }

    void int8(int8_t v) { _w.int8(v); }
    void int16(int16_t v) { _w.int16(v); }
    void int32(int32_t v) { _w.int32(v); }
    void int64(int64_t v) { _w.int64(v); }
    void uint32(uint32_t v) { _w.uint32(v); }
    void boolean(bool v) { _w.boolean(v); }
    void uuid_value(const uuid& v) { _w.uuid_value(v); }
    void string(std::string_view s) {
        _flexible ? _w.compact_string(s) : _w.string(s);
    }
    void nullable_string(const std::optional<std::string_view>& s) {
        _w.versioned_nullable_string(_flexible, s);
    }
    void bytes(std::span<const std::byte> b) { nullable_bytes(b); }
    void nullable_bytes(const std::optional<std::span<const std::byte>>& b) {
        _flexible ? _w.compact_nullable_bytes(b) : _w.nullable_bytes(b);
    }
    template <typename T, typename Fn>
    void array(const std::vector<T>& v, Fn&& each) {
        _w.versioned_array_length(_flexible, int32_t(v.size()));
        for (const T& x : v) {
            each(x);
        }
    }
    template <typename T, typename Fn>
    void nullable_array(const std::optional<std::vector<T>>& v, Fn&& each) {
        if (!v) {
            _w.versioned_array_length(_flexible, -1);
            return;
        }
        array(*v, each);
    }
    void tagged_fields() {
        if (_flexible) {
            _w.empty_tagged_fields();
        }
    }

private:
    writer& _w;
    bool _flexible;
};

template <typename T>
bool is_flexible(int16_t version) {
    return version >= T::first_flexible;
}

// Decodes a whole body (after the request or response header): nullopt when it is malformed or
// leaves bytes over.
template <typename T>
std::optional<T> decode(reader& r, int16_t version) {
    T m{};
    decoder d(r, is_flexible<T>(version));
    T::fields(d, m, version);
    if (!r.ok() || r.remaining() != 0) {
        return std::nullopt;
    }
    return m;
}

template <typename T>
void encode(writer& w, const T& m, int16_t version) {
    encoder e(w, is_flexible<T>(version));
    T::fields(e, m, version);
}

// Kafka error codes this broker returns (protocol.html, "Error Codes").
enum error_code : int16_t {
    error_none = 0,
    error_unknown_topic_or_partition = 3,
    error_unsupported_version = 35,
    error_unknown_server_error = -1,
    error_offset_out_of_range = 1,
    error_corrupt_message = 2,
    error_not_leader_or_follower = 6,
    error_request_timed_out = 7,
    error_message_too_large = 10,
    error_coordinator_load_in_progress = 14,
    error_coordinator_not_available = 15,
    error_not_coordinator = 16,
    error_invalid_topic_exception = 17,
    error_record_list_too_large = 18,
    error_not_enough_replicas = 19,
    error_invalid_required_acks = 21,
    error_illegal_generation = 22,
    error_inconsistent_group_protocol = 23,
    error_invalid_group_id = 24,
    error_unknown_member_id = 25,
    error_invalid_session_timeout = 26,
    error_rebalance_in_progress = 27,
    error_invalid_commit_offset_size = 28,
    error_topic_authorization_failed = 29,
    error_invalid_timestamp = 32,
    error_offset_metadata_too_large = 12,
    error_invalid_request = 42,
    error_topic_already_exists = 36,
    error_invalid_partitions = 37,
    error_invalid_replication_factor = 38,
    error_invalid_replica_assignment = 39,
    error_invalid_config = 40,
    error_not_controller = 41,
    error_policy_violation = 44,
    error_out_of_order_sequence_number = 45,
    error_duplicate_sequence_number = 46,
    error_invalid_producer_epoch = 47,
    error_invalid_transaction_timeout = 50,
    error_kafka_storage_error = 56,
    error_invalid_record = 87,
    error_unknown_producer_id = 59,
    error_non_empty_group = 68,
    error_group_id_not_found = 69,
    error_fetch_session_id_not_found = 70,
    error_fenced_leader_epoch = 74,
    error_unknown_leader_epoch = 75,
    error_offset_not_available = 78,
    error_member_id_required = 79,
    error_group_max_size_reached = 81,
    error_fenced_instance_id = 82,
    error_throttling_quota_exceeded = 89,
    error_producer_fenced = 90,
    error_unknown_topic_id = 100,
    error_inconsistent_topic_id = 103,
};

} // namespace runnel::protocol
