// The data-path messages (Produce v3-9, Fetch v4-12, ListOffsets v1-7): a round trip of a fully
// populated struct at every claimed version, byte vectors written by hand from the spec (a classic
// and a flexible version at least, for every request and response), malformed bodies, and records
// passing through as the very bytes that were sent. The comparisons restate each field's version
// range from the spec rather than reuse the codec's, so a field gated wrongly in the header fails
// here: a field a version lacks must come back as its default, one it has must come back as sent.
#include "protocol/data_messages.h"

#include "base/assert.h"
#include "bytes.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <initializer_list>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

using namespace runnel::protocol;

namespace {

// The versions this broker claims for each API (the structs do not name them).
struct version_range {
    int16_t first;
    int16_t last;
};

version_range claimed(int16_t api_key) {
    if (api_key == 0) {
        return {3, 9};
    }
    if (api_key == 1) {
        return {4, 12};
    }
    RUNNEL_ASSERT(api_key == 2);
    return {1, 7};
}

const std::vector<std::byte> records_a = bytes({1, 2, 3});

template <typename T>
std::vector<std::byte> encoded(const T& m, int16_t version) {
    writer w;
    encode(w, m, version);
    return std::move(w.bytes());
}

// Byte fields compare by content; everything else as it is.
template <typename A>
const A& comparable(const A& a) {
    return a;
}

std::optional<std::vector<std::byte>> comparable(
    const std::optional<std::span<const std::byte>>& s) {
    if (!s) {
        return std::nullopt;
    }
    return std::vector<std::byte>(s->begin(), s->end());
}

// A field present at this version must decode as sent; one absent must keep its default.
template <typename A>
void expect_field(bool present, const A& sent, const A& got, const A& blank, const char* name) {
    if (present) {
        EXPECT_EQ(comparable(got), comparable(sent)) << name << " (present)";
    } else {
        EXPECT_EQ(comparable(got), comparable(blank)) << name << " (absent: default)";
    }
}

// `sent`, `got` and `blank` (a default-constructed struct) are the names each comparison uses.
#define CHECK_AT(present, f) expect_field((present), sent.f, got.f, blank.f, #f)

// The comparisons of element structs are declared first so that the templates below find them.
void same(const produce_request_partition&, const produce_request_partition&, int16_t);
void same(const produce_request_topic&, const produce_request_topic&, int16_t);
void same(const produce_request&, const produce_request&, int16_t);
void same(const produce_record_error&, const produce_record_error&, int16_t);
void same(const produce_response_partition&, const produce_response_partition&, int16_t);
void same(const produce_response_topic&, const produce_response_topic&, int16_t);
void same(const produce_response&, const produce_response&, int16_t);
void same(const fetch_request_partition&, const fetch_request_partition&, int16_t);
void same(const fetch_request_topic&, const fetch_request_topic&, int16_t);
void same(const fetch_forgotten_topic&, const fetch_forgotten_topic&, int16_t);
void same(const fetch_request&, const fetch_request&, int16_t);
void same(const fetch_aborted_transaction&, const fetch_aborted_transaction&, int16_t);
void same(const fetch_response_partition&, const fetch_response_partition&, int16_t);
void same(const fetch_response_topic&, const fetch_response_topic&, int16_t);
void same(const fetch_response&, const fetch_response&, int16_t);
void same(const list_offsets_request_partition&, const list_offsets_request_partition&, int16_t);
void same(const list_offsets_request_topic&, const list_offsets_request_topic&, int16_t);
void same(const list_offsets_request&, const list_offsets_request&, int16_t);
void same(const list_offsets_response_partition&, const list_offsets_response_partition&,
          int16_t);
void same(const list_offsets_response_topic&, const list_offsets_response_topic&, int16_t);
void same(const list_offsets_response&, const list_offsets_response&, int16_t);

// An array of element structs: as sent when present, as the default when absent.
template <typename T>
void expect_elements(bool present, const std::vector<T>& sent, const std::vector<T>& got,
                     const std::vector<T>& blank, int16_t version, const char* name) {
    const auto& want = present ? sent : blank;
    ASSERT_EQ(got.size(), want.size()) << name << (present ? " (present)" : " (absent: default)");
    for (size_t i = 0; i < want.size(); ++i) {
        same(want[i], got[i], version);
    }
}

template <typename T>
void expect_elements(bool present, const std::optional<std::vector<T>>& sent,
                     const std::optional<std::vector<T>>& got,
                     const std::optional<std::vector<T>>& blank, int16_t version,
                     const char* name) {
    const auto& want = present ? sent : blank;
    ASSERT_EQ(got.has_value(), want.has_value())
        << name << (present ? " (present)" : " (absent: default)");
    if (want) {
        expect_elements(true, *want, *got, *want, version, name);
    }
}

#define CHECK_ELEMENTS_AT(present, f) expect_elements((present), sent.f, got.f, blank.f, v, #f)

// Decodes a whole body; a body that decodes must have been consumed to its last byte.
template <typename T>
std::optional<T> decoded(std::span<const std::byte> wire, int16_t version) {
    reader r(wire);
    auto m = decode<T>(r, version);
    if (m) {
        EXPECT_EQ(r.position(), wire.size()) << "decode stopped early";
    }
    return m;
}

// Every claimed version: decode(encode(sent)) holds what that version carries, and encodes back
// to the same bytes. The sample must differ from the default struct at every version, or a
// version that wrote nothing would pass.
template <typename T>
void round_trips(const T& sent) {
    const auto range = claimed(T::api_key);
    for (int16_t v = range.first; v <= range.last; ++v) {
        SCOPED_TRACE(testing::Message() << "api " << T::api_key << " version " << v);
        const auto wire = encoded(sent, v);
        ASSERT_NE(wire, encoded(T{}, v));
        const auto got = decoded<T>(wire, v);
        ASSERT_TRUE(got);
        same(sent, *got, v);
        EXPECT_EQ(encoded(*got, v), wire);
    }
}

// Every claimed version: every strict prefix of the body, and the body with a byte over, is
// rejected.
template <typename T>
void malformed_fail(const T& sent) {
    const auto range = claimed(T::api_key);
    for (int16_t v = range.first; v <= range.last; ++v) {
        auto wire = encoded(sent, v);
        for (size_t n = 0; n < wire.size(); ++n) {
            reader r(std::span<const std::byte>(wire).first(n));
            EXPECT_FALSE(decode<T>(r, v)) << "api " << T::api_key << " version " << v
                                          << ", first " << n << " bytes";
        }
        wire.push_back(std::byte{0});
        reader r(wire);
        EXPECT_FALSE(decode<T>(r, v)) << "api " << T::api_key << " version " << v
                                      << ", a byte over";
    }
}

// The hand-written vector is what encode writes at each of `versions` (the versions whose fields
// are the same), and decodes back to the struct.
template <typename T>
void expect_wire(const T& m, std::initializer_list<int16_t> versions,
                 const std::vector<std::byte>& want) {
    for (const int16_t v : versions) {
        SCOPED_TRACE(testing::Message() << "api " << T::api_key << " version " << v);
        EXPECT_EQ(encoded(m, v), want);
        const auto got = decoded<T>(want, v);
        ASSERT_TRUE(got);
        same(m, *got, v);
    }
}

// Produce --------------------------------------------------------------------------------------

void same(const produce_request_partition& sent, const produce_request_partition& got, int16_t) {
    const produce_request_partition blank{};
    CHECK_AT(true, index);
    CHECK_AT(true, records);
}

void same(const produce_request_topic& sent, const produce_request_topic& got, int16_t v) {
    const produce_request_topic blank{};
    CHECK_AT(true, name);
    CHECK_ELEMENTS_AT(true, partitions);
}

void same(const produce_request& sent, const produce_request& got, int16_t v) {
    const produce_request blank{};
    CHECK_AT(v >= 3, transactional_id);
    CHECK_AT(true, acks);
    CHECK_AT(true, timeout_ms);
    CHECK_ELEMENTS_AT(true, topics);
}

void same(const produce_record_error& sent, const produce_record_error& got, int16_t) {
    const produce_record_error blank{};
    CHECK_AT(true, batch_index);
    CHECK_AT(true, message);
}

void same(const produce_response_partition& sent, const produce_response_partition& got,
          int16_t v) {
    const produce_response_partition blank{};
    CHECK_AT(true, index);
    CHECK_AT(true, error_code);
    CHECK_AT(true, base_offset);
    CHECK_AT(v >= 2, log_append_time_ms);
    CHECK_AT(v >= 5, log_start_offset);
    CHECK_ELEMENTS_AT(v >= 8, record_errors);
    CHECK_AT(v >= 8, error_message);
}

void same(const produce_response_topic& sent, const produce_response_topic& got, int16_t v) {
    const produce_response_topic blank{};
    CHECK_AT(true, name);
    CHECK_ELEMENTS_AT(true, partitions);
}

void same(const produce_response& sent, const produce_response& got, int16_t v) {
    const produce_response blank{};
    CHECK_ELEMENTS_AT(true, topics);
    CHECK_AT(v >= 1, throttle_time_ms);
}

// Two partitions: one with records, one with null records, which the spec allows.
produce_request sample_produce_request() {
    return {.transactional_id = "x",
            .acks = 1,
            .timeout_ms = 1000,
            .topics = {{.name = "t",
                        .partitions = {{.index = 1, .records = records_a},
                                       {.index = 2, .records = std::nullopt}}}}};
}

produce_response sample_produce_response() {
    return {.topics = {{.name = "t",
                        .partitions = {{.index = 1,
                                        .error_code = error_invalid_record,
                                        .base_offset = 42,
                                        .log_append_time_ms = 1000,
                                        .log_start_offset = 7,
                                        .record_errors = {{.batch_index = 3, .message = "m"},
                                                          {.batch_index = 4, .message = {}}},
                                        .error_message = "e"}}}},
            .throttle_time_ms = 5};
}

// Fetch ----------------------------------------------------------------------------------------

void same(const fetch_request_partition& sent, const fetch_request_partition& got, int16_t v) {
    const fetch_request_partition blank{};
    CHECK_AT(true, partition);
    CHECK_AT(v >= 9, current_leader_epoch);
    CHECK_AT(true, fetch_offset);
    CHECK_AT(v >= 12, last_fetched_epoch);
    CHECK_AT(v >= 5, log_start_offset);
    CHECK_AT(true, partition_max_bytes);
}

void same(const fetch_request_topic& sent, const fetch_request_topic& got, int16_t v) {
    const fetch_request_topic blank{};
    CHECK_AT(v <= 12, topic);
    CHECK_ELEMENTS_AT(true, partitions);
}

void same(const fetch_forgotten_topic& sent, const fetch_forgotten_topic& got, int16_t v) {
    const fetch_forgotten_topic blank{};
    CHECK_AT(v >= 7 && v <= 12, topic);
    CHECK_AT(v >= 7, partitions);
}

void same(const fetch_request& sent, const fetch_request& got, int16_t v) {
    const fetch_request blank{};
    CHECK_AT(v <= 14, replica_id);
    CHECK_AT(true, max_wait_ms);
    CHECK_AT(true, min_bytes);
    CHECK_AT(v >= 3, max_bytes);
    CHECK_AT(v >= 4, isolation_level);
    CHECK_AT(v >= 7, session_id);
    CHECK_AT(v >= 7, session_epoch);
    CHECK_ELEMENTS_AT(true, topics);
    CHECK_ELEMENTS_AT(v >= 7, forgotten_topics);
    CHECK_AT(v >= 11, rack_id);
}

void same(const fetch_aborted_transaction& sent, const fetch_aborted_transaction& got, int16_t) {
    const fetch_aborted_transaction blank{};
    CHECK_AT(true, producer_id);
    CHECK_AT(true, first_offset);
}

void same(const fetch_response_partition& sent, const fetch_response_partition& got, int16_t v) {
    const fetch_response_partition blank{};
    CHECK_AT(true, partition);
    CHECK_AT(true, error_code);
    CHECK_AT(true, high_watermark);
    CHECK_AT(v >= 4, last_stable_offset);
    CHECK_AT(v >= 5, log_start_offset);
    CHECK_ELEMENTS_AT(v >= 4, aborted_transactions);
    CHECK_AT(v >= 11, preferred_read_replica);
    CHECK_AT(true, records);
}

void same(const fetch_response_topic& sent, const fetch_response_topic& got, int16_t v) {
    const fetch_response_topic blank{};
    CHECK_AT(v <= 12, topic);
    CHECK_ELEMENTS_AT(true, partitions);
}

void same(const fetch_response& sent, const fetch_response& got, int16_t v) {
    const fetch_response blank{};
    CHECK_AT(v >= 1, throttle_time_ms);
    CHECK_AT(v >= 7, error_code);
    CHECK_AT(v >= 7, session_id);
    CHECK_ELEMENTS_AT(true, topics);
}

fetch_request sample_fetch_request() {
    return {.replica_id = 3,
            .max_wait_ms = 500,
            .min_bytes = 1,
            .max_bytes = 1 << 20,
            .isolation_level = 1,
            .session_id = 9,
            .session_epoch = 2,
            .topics = {{.topic = "t",
                        .partitions = {{.partition = 1,
                                        .current_leader_epoch = 4,
                                        .fetch_offset = 100,
                                        .last_fetched_epoch = 3,
                                        .log_start_offset = 5,
                                        .partition_max_bytes = 1 << 16}}}},
            .forgotten_topics = {{.topic = "f", .partitions = {0, 2}}},
            .rack_id = "r"};
}

fetch_response sample_fetch_response() {
    return {.throttle_time_ms = 5,
            .error_code = error_fetch_session_id_not_found,
            .session_id = 9,
            .topics = {{.topic = "t",
                        .partitions = {{.partition = 1,
                                        .error_code = error_not_leader_or_follower,
                                        .high_watermark = 100,
                                        .last_stable_offset = 90,
                                        .log_start_offset = 5,
                                        .aborted_transactions =
                                            std::vector<fetch_aborted_transaction>{
                                                {.producer_id = 7, .first_offset = 80}},
                                        .preferred_read_replica = 2,
                                        .records = records_a}}}}};
}

// A partition with null records and null aborted transactions, which the spec allows.
fetch_response sample_fetch_response_with_nulls() {
    auto m = sample_fetch_response();
    m.topics[0].partitions.push_back(
        {.partition = 2, .aborted_transactions = std::nullopt, .records = std::nullopt});
    return m;
}

// ListOffsets ----------------------------------------------------------------------------------

void same(const list_offsets_request_partition& sent, const list_offsets_request_partition& got,
          int16_t v) {
    const list_offsets_request_partition blank{};
    CHECK_AT(true, partition_index);
    CHECK_AT(v >= 4, current_leader_epoch);
    CHECK_AT(true, timestamp);
}

void same(const list_offsets_request_topic& sent, const list_offsets_request_topic& got,
          int16_t v) {
    const list_offsets_request_topic blank{};
    CHECK_AT(true, name);
    CHECK_ELEMENTS_AT(true, partitions);
}

void same(const list_offsets_request& sent, const list_offsets_request& got, int16_t v) {
    const list_offsets_request blank{};
    CHECK_AT(true, replica_id);
    CHECK_AT(v >= 2, isolation_level);
    CHECK_ELEMENTS_AT(true, topics);
}

void same(const list_offsets_response_partition& sent,
          const list_offsets_response_partition& got, int16_t v) {
    const list_offsets_response_partition blank{};
    CHECK_AT(true, partition_index);
    CHECK_AT(true, error_code);
    CHECK_AT(v >= 1, timestamp);
    CHECK_AT(v >= 1, offset);
    CHECK_AT(v >= 4, leader_epoch);
}

void same(const list_offsets_response_topic& sent, const list_offsets_response_topic& got,
          int16_t v) {
    const list_offsets_response_topic blank{};
    CHECK_AT(true, name);
    CHECK_ELEMENTS_AT(true, partitions);
}

void same(const list_offsets_response& sent, const list_offsets_response& got, int16_t v) {
    const list_offsets_response blank{};
    CHECK_AT(v >= 2, throttle_time_ms);
    CHECK_ELEMENTS_AT(true, topics);
}

list_offsets_request sample_list_offsets_request() {
    return {.replica_id = 2,
            .isolation_level = 1,
            .topics = {{.name = "t",
                        .partitions = {{.partition_index = 1,
                                        .current_leader_epoch = 4,
                                        .timestamp = list_offsets_earliest}}}}};
}

list_offsets_response sample_list_offsets_response() {
    return {.throttle_time_ms = 5,
            .topics = {{.name = "t",
                        .partitions = {{.partition_index = 1,
                                        .error_code = error_offset_not_available,
                                        .timestamp = 1000,
                                        .offset = 42,
                                        .leader_epoch = 4}}}}};
}

} // namespace

// Keys and flexible versions ---------------------------------------------------------------------

TEST(data_messages, keys_and_flexible_versions_match_the_spec) {
    EXPECT_EQ(produce_request::api_key, 0);
    EXPECT_EQ(fetch_request::api_key, 1);
    EXPECT_EQ(list_offsets_request::api_key, 2);
    EXPECT_EQ(produce_request::first_flexible, 9);
    EXPECT_EQ(fetch_request::first_flexible, 12);
    EXPECT_EQ(list_offsets_request::first_flexible, 6);
    // Request and response of one API must agree, or a handler would mix up encodings.
    auto agree = [](auto req, auto res) {
        using q = decltype(req);
        using s = decltype(res);
        return q::api_key == s::api_key && q::first_flexible == s::first_flexible;
    };
    EXPECT_TRUE(agree(produce_request{}, produce_response{}));
    EXPECT_TRUE(agree(fetch_request{}, fetch_response{}));
    EXPECT_TRUE(agree(list_offsets_request{}, list_offsets_response{}));
    // ListOffsets timestamps that name an offset rather than a time (max timestamp from v7).
    EXPECT_EQ(list_offsets_latest, -1);
    EXPECT_EQ(list_offsets_earliest, -2);
    EXPECT_EQ(list_offsets_max_timestamp, -3);
}

TEST(data_messages, defaults_match_the_spec) {
    // Fields a version lacks decode as these, so they must be the spec's defaults.
    EXPECT_FALSE(produce_request{}.transactional_id);
    EXPECT_EQ(produce_response_partition{}.log_append_time_ms, -1);
    EXPECT_EQ(produce_response_partition{}.log_start_offset, -1);
    EXPECT_FALSE(produce_record_error{}.message);
    EXPECT_FALSE(produce_response_partition{}.error_message);
    EXPECT_EQ(fetch_request{}.replica_id, -1);
    EXPECT_EQ(fetch_request{}.max_bytes, 0x7fffffff);
    EXPECT_EQ(fetch_request{}.isolation_level, 0);
    EXPECT_EQ(fetch_request{}.session_id, 0);
    EXPECT_EQ(fetch_request{}.session_epoch, -1);
    EXPECT_EQ(fetch_request{}.rack_id, "");
    EXPECT_EQ(fetch_request_partition{}.current_leader_epoch, -1);
    EXPECT_EQ(fetch_request_partition{}.last_fetched_epoch, -1);
    EXPECT_EQ(fetch_request_partition{}.log_start_offset, -1);
    EXPECT_EQ(fetch_response{}.session_id, 0);
    EXPECT_EQ(fetch_response_partition{}.last_stable_offset, -1);
    EXPECT_EQ(fetch_response_partition{}.log_start_offset, -1);
    EXPECT_EQ(fetch_response_partition{}.preferred_read_replica, -1);
    EXPECT_EQ(list_offsets_request_partition{}.current_leader_epoch, -1);
    EXPECT_EQ(list_offsets_response_partition{}.timestamp, -1);
    EXPECT_EQ(list_offsets_response_partition{}.offset, -1);
    EXPECT_EQ(list_offsets_response_partition{}.leader_epoch, -1);
}

// Round trips at every claimed version -----------------------------------------------------------

TEST(data_messages, produce_round_trips) {
    round_trips(sample_produce_request());
    round_trips(sample_produce_response());
}

TEST(data_messages, fetch_round_trips) {
    round_trips(sample_fetch_request());
    round_trips(sample_fetch_response());
    round_trips(sample_fetch_response_with_nulls());
}

TEST(data_messages, list_offsets_round_trips) {
    round_trips(sample_list_offsets_request());
    round_trips(sample_list_offsets_response());
}

TEST(data_messages, truncated_or_overlong_bodies_fail) {
    malformed_fail(sample_produce_request());
    malformed_fail(sample_produce_response());
    malformed_fail(sample_fetch_request());
    malformed_fail(sample_fetch_response());
    malformed_fail(sample_fetch_response_with_nulls());
    malformed_fail(sample_list_offsets_request());
    malformed_fail(sample_list_offsets_response());
}

// Byte vectors from the spec ---------------------------------------------------------------------

TEST(data_messages, produce_request_wire) {
    const auto req = sample_produce_request();
    expect_wire(req, {3, 4, 5, 6, 7, 8},
                bytes({0, 1, 'x',                        // transactional id
                       0, 1, 0, 0, 0x03, 0xe8,           // acks, timeout
                       0, 0, 0, 1, 0, 1, 't',            // one topic
                       0, 0, 0, 2,                       // two partitions
                       0, 0, 0, 1, 0, 0, 0, 3, 1, 2, 3,  // index, records
                       0, 0, 0, 2, 0xff, 0xff, 0xff, 0xff})); // index, null records
    expect_wire(req, {9},
                bytes({2, 'x', 0, 1, 0, 0, 0x03, 0xe8,   // compact id, acks, timeout
                       2, 2, 't', 3,                     // one topic, two partitions
                       0, 0, 0, 1, 4, 1, 2, 3, 0,        // index, records, tags
                       0, 0, 0, 2, 0, 0,                 // index, null records, tags
                       0, 0}));                          // topic tags, tags
    // Not transactional: a null id.
    produce_request plain = req;
    plain.transactional_id.reset();
    plain.topics[0].partitions.pop_back();
    expect_wire(plain, {3, 4, 5, 6, 7, 8},
                bytes({0xff, 0xff, 0, 1, 0, 0, 0x03, 0xe8, 0, 0, 0, 1, 0, 1, 't',
                       0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 3, 1, 2, 3}));
    expect_wire(plain, {9},
                bytes({0, 0, 1, 0, 0, 0x03, 0xe8, 2, 2, 't', 2,
                       0, 0, 0, 1, 4, 1, 2, 3, 0, 0, 0}));
}

TEST(data_messages, produce_response_wire) {
    const auto res = sample_produce_response();
    expect_wire(res, {3, 4},
                bytes({0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 1, // one topic, one partition
                       0, 0, 0, 1, 0, 87,                // index, error
                       0, 0, 0, 0, 0, 0, 0, 42,          // base offset
                       0, 0, 0, 0, 0, 0, 0x03, 0xe8,     // log append time (v2+)
                       0, 0, 0, 5}));                    // throttle
    expect_wire(res, {5, 6, 7},
                bytes({0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 1,
                       0, 0, 0, 1, 0, 87,
                       0, 0, 0, 0, 0, 0, 0, 42,
                       0, 0, 0, 0, 0, 0, 0x03, 0xe8,
                       0, 0, 0, 0, 0, 0, 0, 7,           // log start offset (v5+)
                       0, 0, 0, 5}));
    expect_wire(res, {8},
                bytes({0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 1,
                       0, 0, 0, 1, 0, 87,
                       0, 0, 0, 0, 0, 0, 0, 42,
                       0, 0, 0, 0, 0, 0, 0x03, 0xe8,
                       0, 0, 0, 0, 0, 0, 0, 7,
                       0, 0, 0, 2,                       // record errors (v8+)
                       0, 0, 0, 3, 0, 1, 'm',            // batch 3, message
                       0, 0, 0, 4, 0xff, 0xff,           // batch 4, null message
                       0, 1, 'e',                        // error message (v8+)
                       0, 0, 0, 5}));
    expect_wire(res, {9},
                bytes({2, 2, 't', 2,                     // one topic, one partition
                       0, 0, 0, 1, 0, 87,
                       0, 0, 0, 0, 0, 0, 0, 42,
                       0, 0, 0, 0, 0, 0, 0x03, 0xe8,
                       0, 0, 0, 0, 0, 0, 0, 7,
                       3,                                // two record errors
                       0, 0, 0, 3, 2, 'm', 0,            // batch, message, tags
                       0, 0, 0, 4, 0, 0,                 // batch, null message, tags
                       2, 'e', 0,                        // error message, partition tags
                       0,                                // topic tags
                       0, 0, 0, 5, 0}));                 // throttle, tags
}

TEST(data_messages, fetch_request_wire) {
    const auto req = sample_fetch_request();
    expect_wire(req, {4},
                bytes({0, 0, 0, 3, 0, 0, 0x01, 0xf4,     // replica, max wait
                       0, 0, 0, 1, 0, 0x10, 0, 0,        // min bytes, max bytes
                       1,                                // isolation level
                       0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 1, // one topic, one partition
                       0, 0, 0, 1,                       // partition
                       0, 0, 0, 0, 0, 0, 0, 100,         // fetch offset
                       0, 1, 0, 0}));                    // partition max bytes
    expect_wire(req, {7, 8},
                bytes({0, 0, 0, 3, 0, 0, 0x01, 0xf4, 0, 0, 0, 1, 0, 0x10, 0, 0, 1,
                       0, 0, 0, 9, 0, 0, 0, 2,           // session id, epoch (v7+)
                       0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 1,
                       0, 0, 0, 1,
                       0, 0, 0, 0, 0, 0, 0, 100,
                       0, 0, 0, 0, 0, 0, 0, 5,           // log start offset (v5+)
                       0, 1, 0, 0,
                       0, 0, 0, 1, 0, 1, 'f',            // forgotten topic (v7+)
                       0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2})); // partitions 0, 2
    expect_wire(req, {11},
                bytes({0, 0, 0, 3, 0, 0, 0x01, 0xf4, 0, 0, 0, 1, 0, 0x10, 0, 0, 1,
                       0, 0, 0, 9, 0, 0, 0, 2,
                       0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 1,
                       0, 0, 0, 1,
                       0, 0, 0, 4,                      // current leader epoch (v9+)
                       0, 0, 0, 0, 0, 0, 0, 100,
                       0, 0, 0, 0, 0, 0, 0, 5,
                       0, 1, 0, 0,
                       0, 0, 0, 1, 0, 1, 'f', 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2,
                       0, 1, 'r'}));                    // rack id (v11+)
    expect_wire(req, {12},
                bytes({0, 0, 0, 3, 0, 0, 0x01, 0xf4, 0, 0, 0, 1, 0, 0x10, 0, 0, 1,
                       0, 0, 0, 9, 0, 0, 0, 2,
                       2, 2, 't', 2,                    // one topic, one partition
                       0, 0, 0, 1,
                       0, 0, 0, 4,
                       0, 0, 0, 0, 0, 0, 0, 100,
                       0, 0, 0, 3,                      // last fetched epoch (v12+)
                       0, 0, 0, 0, 0, 0, 0, 5,
                       0, 1, 0, 0, 0,                   // max bytes, partition tags
                       0,                               // topic tags
                       2, 2, 'f', 3, 0, 0, 0, 0, 0, 0, 0, 2, 0, // forgotten, tags
                       2, 'r', 0}));                    // rack id, tags
}

TEST(data_messages, fetch_response_wire) {
    const auto res = sample_fetch_response();
    expect_wire(res, {4},
                bytes({0, 0, 0, 5,                       // throttle
                       0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 1, // one topic, one partition
                       0, 0, 0, 1, 0, 6,                 // partition, error
                       0, 0, 0, 0, 0, 0, 0, 100,         // high watermark
                       0, 0, 0, 0, 0, 0, 0, 90,          // last stable offset (v4+)
                       0, 0, 0, 1,                       // aborted transactions (v4+)
                       0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 80,
                       0, 0, 0, 3, 1, 2, 3}));           // records
    expect_wire(res, {11},
                bytes({0, 0, 0, 5,
                       0, 70, 0, 0, 0, 9,               // error, session id (v7+)
                       0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 1,
                       0, 0, 0, 1, 0, 6,
                       0, 0, 0, 0, 0, 0, 0, 100,
                       0, 0, 0, 0, 0, 0, 0, 90,
                       0, 0, 0, 0, 0, 0, 0, 5,          // log start offset (v5+)
                       0, 0, 0, 1,
                       0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 80,
                       0, 0, 0, 2,                      // preferred replica (v11+)
                       0, 0, 0, 3, 1, 2, 3}));
    expect_wire(res, {12},
                bytes({0, 0, 0, 5, 0, 70, 0, 0, 0, 9,
                       2, 2, 't', 2,                    // one topic, one partition
                       0, 0, 0, 1, 0, 6,
                       0, 0, 0, 0, 0, 0, 0, 100,
                       0, 0, 0, 0, 0, 0, 0, 90,
                       0, 0, 0, 0, 0, 0, 0, 5,
                       2,                               // one aborted transaction
                       0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 80, 0,
                       0, 0, 0, 2,
                       4, 1, 2, 3,                      // records
                       0, 0, 0}));                      // three tag sections
}

TEST(data_messages, fetch_response_null_aborted_transactions_and_records_wire) {
    fetch_response m;
    m.topics.push_back(
        {.topic = "t",
         .partitions = {{.partition = 2, .aborted_transactions = {}, .records = {}}}});
    expect_wire(m, {5, 6},
                bytes({0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 1,
                       0, 0, 0, 2, 0, 0,                   // partition, error
                       0, 0, 0, 0, 0, 0, 0, 0,             // high watermark
                       0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // stable offset
                       0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // log start
                       0xff, 0xff, 0xff, 0xff,             // null aborted transactions
                       0xff, 0xff, 0xff, 0xff}));          // null records
    expect_wire(m, {12},
                bytes({0, 0, 0, 0, 0, 0, 0, 0, 0, 0,       // throttle, error, session
                       2, 2, 't', 2, 0, 0, 0, 2, 0, 0,
                       0, 0, 0, 0, 0, 0, 0, 0,
                       0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                       0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                       0,                                  // null aborted transactions
                       0xff, 0xff, 0xff, 0xff,             // preferred replica
                       0,                                  // null records
                       0, 0, 0}));
    // The default is an empty list, not null: a broker with no transactions says "none".
    fetch_response none;
    none.topics.push_back({.topic = "t", .partitions = {{.partition = 2}}});
    expect_wire(none, {4},
                bytes({0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 1,
                       0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                       0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                       0, 0, 0, 0,                      // no aborted transactions
                       0xff, 0xff, 0xff, 0xff}));
    expect_wire(none, {12},
                bytes({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 't', 2,
                       0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                       0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                       0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                       1,                              // no aborted transactions
                       0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}));
}

TEST(data_messages, list_offsets_request_wire) {
    const auto req = sample_list_offsets_request();
    expect_wire(req, {1},
                bytes({0, 0, 0, 2,                       // replica
                       0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 1, // one topic, one partition
                       0, 0, 0, 1,                       // partition
                       0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe})); // earliest
    expect_wire(req, {4, 5},
                bytes({0, 0, 0, 2, 1,                    // replica, isolation (v2+)
                       0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 1,
                       0, 0, 0, 1, 0, 0, 0, 4,           // partition, epoch (v4+)
                       0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe}));
    expect_wire(req, {6, 7},
                bytes({0, 0, 0, 2, 1,
                       2, 2, 't', 2,                     // one topic, one partition
                       0, 0, 0, 1, 0, 0, 0, 4,
                       0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
                       0, 0, 0}));                       // three tag sections
}

TEST(data_messages, list_offsets_response_wire) {
    const auto res = sample_list_offsets_response();
    expect_wire(res, {1},
                bytes({0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 1, // one topic, one partition
                       0, 0, 0, 1, 0, 78,                // partition, error
                       0, 0, 0, 0, 0, 0, 0x03, 0xe8,     // timestamp
                       0, 0, 0, 0, 0, 0, 0, 42}));       // offset
    expect_wire(res, {4, 5},
                bytes({0, 0, 0, 5,                       // throttle (v2+)
                       0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 1,
                       0, 0, 0, 1, 0, 78,
                       0, 0, 0, 0, 0, 0, 0x03, 0xe8,
                       0, 0, 0, 0, 0, 0, 0, 42,
                       0, 0, 0, 4}));                    // leader epoch (v4+)
    expect_wire(res, {6, 7},
                bytes({0, 0, 0, 5, 2, 2, 't', 2,
                       0, 0, 0, 1, 0, 78,
                       0, 0, 0, 0, 0, 0, 0x03, 0xe8,
                       0, 0, 0, 0, 0, 0, 0, 42,
                       0, 0, 0, 4, 0, 0, 0}));
}

// Records --------------------------------------------------------------------------------------

// Records are opaque: every byte value, at a length whose compact prefix takes two varint bytes,
// comes back as the same bytes, viewed in place in the buffer they arrived in.
TEST(data_messages, records_pass_through_unchanged_in_place) {
    std::vector<std::byte> batch;
    for (int i = 0; i < 300; ++i) {
        batch.push_back(std::byte(i & 0xff));
    }
    produce_request req{.transactional_id = {}, .acks = -1, .timeout_ms = 1, .topics = {}};
    req.topics.push_back({.name = "t", .partitions = {{.index = 0, .records = batch}}});
    struct case_t {
        int16_t version;
        size_t records_at; // where the batch starts: after its length prefix
    };
    // v3: null id 2, acks 2, timeout 4, count 4, name 3, count 4, index 4, length 4.
    // v9: null id 1, acks 2, timeout 4, count 1, name 2, count 1, index 4, length 2 (301).
    for (const auto c : {case_t{3, 27}, case_t{9, 17}}) {
        SCOPED_TRACE(testing::Message() << "produce version " << c.version);
        const auto wire = encoded(req, c.version);
        ASSERT_GE(wire.size(), c.records_at + batch.size());
        if (c.version == 9) {
            EXPECT_EQ(wire[c.records_at - 2], std::byte{0xad}); // 301 as a uvarint
            EXPECT_EQ(wire[c.records_at - 1], std::byte{0x02});
        }
        const auto got = decoded<produce_request>(wire, c.version);
        ASSERT_TRUE(got);
        const auto& records = got->topics.at(0).partitions.at(0).records;
        ASSERT_TRUE(records);
        EXPECT_EQ(records->data(), wire.data() + c.records_at);
        EXPECT_EQ(std::vector<std::byte>(records->begin(), records->end()), batch);
        EXPECT_EQ(encoded(*got, c.version), wire);
    }

    fetch_response res;
    res.topics.push_back({.topic = "t", .partitions = {{.partition = 0, .records = batch}}});
    for (const int16_t v : {int16_t(4), int16_t(12)}) {
        SCOPED_TRACE(testing::Message() << "fetch version " << v);
        const auto wire = encoded(res, v);
        const auto got = decoded<fetch_response>(wire, v);
        ASSERT_TRUE(got);
        const auto& records = got->topics.at(0).partitions.at(0).records;
        ASSERT_TRUE(records);
        // The records are the body's last field before the closing tag sections (three of them
        // when flexible).
        const size_t tail = v >= 12 ? 3 : 0;
        EXPECT_EQ(records->data(), wire.data() + wire.size() - tail - batch.size());
        EXPECT_EQ(std::vector<std::byte>(records->begin(), records->end()), batch);
        EXPECT_EQ(encoded(*got, v), wire);
    }
}

TEST(data_messages, empty_records_are_not_null_records) {
    for (int16_t v = 3; v <= 9; ++v) {
        SCOPED_TRACE(testing::Message() << "produce version " << v);
        produce_request req{.transactional_id = {}, .acks = 0, .timeout_ms = 0, .topics = {}};
        req.topics.push_back({.name = "t",
                              .partitions = {{.index = 0, .records = std::span<const std::byte>{}},
                                             {.index = 1, .records = std::nullopt}}});
        const auto wire = encoded(req, v);
        const auto got = decoded<produce_request>(wire, v);
        ASSERT_TRUE(got);
        const auto& parts = got->topics.at(0).partitions;
        ASSERT_EQ(parts.size(), 2u);
        ASSERT_TRUE(parts[0].records);
        EXPECT_TRUE(parts[0].records->empty());
        EXPECT_FALSE(parts[1].records);
    }
    // The two on the wire: length 0 and -1 classic, 1 and 0 compact.
    produce_request one{.transactional_id = {}, .acks = 0, .timeout_ms = 0, .topics = {}};
    one.topics.push_back(
        {.name = "t", .partitions = {{.index = 0, .records = std::span<const std::byte>{}}}});
    const auto v3 = encoded(one, 3);
    EXPECT_EQ(std::vector<std::byte>(v3.end() - 4, v3.end()), bytes({0, 0, 0, 0}));
    const auto v9 = encoded(one, 9);
    EXPECT_EQ(std::vector<std::byte>(v9.end() - 4, v9.end()), bytes({1, 0, 0, 0}));
}

// Tagged fields and malformed bodies -------------------------------------------------------------

TEST(data_messages, fetch_v12_tagged_fields_are_skipped) {
    // FetchRequest v12 with ClusterId (tag 0, a compact nullable string "c") at the top level.
    auto req_wire = encoded(sample_fetch_request(), 12);
    ASSERT_EQ(req_wire.back(), std::byte{0});
    req_wire.pop_back();
    for (const auto b : bytes({1, 0, 2, 2, 'c'})) {
        req_wire.push_back(b);
    }
    const auto req = decoded<fetch_request>(req_wire, 12);
    ASSERT_TRUE(req);
    same(sample_fetch_request(), *req, 12);
    EXPECT_EQ(encoded(*req, 12), encoded(sample_fetch_request(), 12));

    // FetchResponse v12 with a partition carrying DivergingEpoch (tag 0: epoch, end offset, tags)
    // and CurrentLeader (tag 1: leader id, leader epoch, tags).
    const auto res_wire = bytes({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 't', 2,
                                 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 100, // hw
                                 0, 0, 0, 0, 0, 0, 0, 90, 0, 0, 0, 0, 0, 0, 0, 5,  // lso, start
                                 1, 0, 0, 0, 3, 4, 1, 2, 3,      // aborted, replica, records
                                 2,                              // two tags
                                 0, 13, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0, 50, 0, // diverging
                                 1, 9, 0, 0, 0, 1, 0, 0, 0, 7, 0, // current leader
                                 0, 0});
    const auto res = decoded<fetch_response>(res_wire, 12);
    ASSERT_TRUE(res);
    ASSERT_EQ(res->topics.size(), 1u);
    ASSERT_EQ(res->topics[0].partitions.size(), 1u);
    const auto& p = res->topics[0].partitions[0];
    EXPECT_EQ(p.partition, 2);
    EXPECT_EQ(p.high_watermark, 100);
    EXPECT_EQ(p.last_stable_offset, 90);
    EXPECT_EQ(p.log_start_offset, 5);
    ASSERT_TRUE(p.aborted_transactions);
    EXPECT_TRUE(p.aborted_transactions->empty());
    EXPECT_EQ(p.preferred_read_replica, 3);
    EXPECT_EQ(comparable(p.records), std::optional(records_a));
    // A tag whose size runs past the body is malformed.
    auto overlong = res_wire;
    overlong[55] = std::byte{60};
    EXPECT_FALSE(decoded<fetch_response>(overlong, 12));
}

TEST(data_messages, nulls_the_spec_forbids_fail) {
    // A null topic array: Produce v3 (null id, acks, timeout, then -1).
    EXPECT_FALSE(decoded<produce_request>(
        bytes({0xff, 0xff, 0, 1, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}), 3));
    EXPECT_TRUE(decoded<produce_request>(bytes({0xff, 0xff, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0}), 3));
    // A null topic name: Produce v9.
    EXPECT_FALSE(decoded<produce_request>(bytes({0, 0, 1, 0, 0, 0, 0, 2, 0, 1, 0, 0}), 9));
    EXPECT_TRUE(decoded<produce_request>(bytes({0, 0, 1, 0, 0, 0, 0, 2, 1, 1, 0, 0}), 9));
    // A null rack id: Fetch v12 (no topics, no forgotten topics).
    const auto head = bytes({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                             0, 0, 0, 0, 0, 0, 0, 0, 1, 1});
    auto null_rack = head;
    null_rack.push_back(std::byte{0});
    null_rack.push_back(std::byte{0});
    EXPECT_FALSE(decoded<fetch_request>(null_rack, 12));
    auto empty_rack = head;
    empty_rack.push_back(std::byte{1});
    empty_rack.push_back(std::byte{0});
    EXPECT_TRUE(decoded<fetch_request>(empty_rack, 12));
    // A null partition list: ListOffsets v1.
    EXPECT_FALSE(decoded<list_offsets_request>(
        bytes({0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 't', 0xff, 0xff, 0xff, 0xff}), 1));
    EXPECT_TRUE(decoded<list_offsets_request>(
        bytes({0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 0}), 1));
}
