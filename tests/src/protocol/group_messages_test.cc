// The consumer-group messages: a round trip of a fully populated struct at every claimed version,
// byte vectors written by hand from the spec (one classic and one flexible version at least, for
// every request and response), and malformed bodies. The comparisons restate each field's version
// range from the spec rather than reuse the codec's, so a field gated wrongly in the header fails
// here: a field a version lacks must come back as its default, one it has must come back as sent.
#include "protocol/group_messages.h"

#include "bytes.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

using namespace runnel::protocol;

namespace {

const std::vector<std::byte> meta_a = bytes({1, 2, 3});
const std::vector<std::byte> meta_b = bytes({9});

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

std::vector<std::byte> comparable(std::span<const std::byte> s) {
    return {s.begin(), s.end()};
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
void same(const find_coordinator_request&, const find_coordinator_request&, int16_t);
void same(const find_coordinator_response_coordinator&,
          const find_coordinator_response_coordinator&, int16_t);
void same(const find_coordinator_response&, const find_coordinator_response&, int16_t);
void same(const join_group_request_protocol&, const join_group_request_protocol&, int16_t);
void same(const join_group_request&, const join_group_request&, int16_t);
void same(const join_group_response_member&, const join_group_response_member&, int16_t);
void same(const join_group_response&, const join_group_response&, int16_t);
void same(const sync_group_request_assignment&, const sync_group_request_assignment&, int16_t);
void same(const sync_group_request&, const sync_group_request&, int16_t);
void same(const sync_group_response&, const sync_group_response&, int16_t);
void same(const heartbeat_request&, const heartbeat_request&, int16_t);
void same(const heartbeat_response&, const heartbeat_response&, int16_t);
void same(const leave_group_request_member&, const leave_group_request_member&, int16_t);
void same(const leave_group_request&, const leave_group_request&, int16_t);
void same(const leave_group_response_member&, const leave_group_response_member&, int16_t);
void same(const leave_group_response&, const leave_group_response&, int16_t);
void same(const offset_commit_request_partition&, const offset_commit_request_partition&,
          int16_t);
void same(const offset_commit_request_topic&, const offset_commit_request_topic&, int16_t);
void same(const offset_commit_request&, const offset_commit_request&, int16_t);
void same(const offset_commit_response_partition&, const offset_commit_response_partition&,
          int16_t);
void same(const offset_commit_response_topic&, const offset_commit_response_topic&, int16_t);
void same(const offset_commit_response&, const offset_commit_response&, int16_t);
void same(const offset_fetch_request_topic&, const offset_fetch_request_topic&, int16_t);
void same(const offset_fetch_request_group&, const offset_fetch_request_group&, int16_t);
void same(const offset_fetch_request&, const offset_fetch_request&, int16_t);
void same(const offset_fetch_response_partition&, const offset_fetch_response_partition&,
          int16_t);
void same(const offset_fetch_response_topic&, const offset_fetch_response_topic&, int16_t);
void same(const offset_fetch_response_group&, const offset_fetch_response_group&, int16_t);
void same(const offset_fetch_response&, const offset_fetch_response&, int16_t);
void same(const list_groups_request&, const list_groups_request&, int16_t);
void same(const list_groups_response_group&, const list_groups_response_group&, int16_t);
void same(const list_groups_response&, const list_groups_response&, int16_t);
void same(const describe_groups_request&, const describe_groups_request&, int16_t);
void same(const describe_groups_response_member&, const describe_groups_response_member&,
          int16_t);
void same(const describe_groups_response_group&, const describe_groups_response_group&, int16_t);
void same(const describe_groups_response&, const describe_groups_response&, int16_t);
void same(const delete_groups_request&, const delete_groups_request&, int16_t);
void same(const delete_groups_response_result&, const delete_groups_response_result&, int16_t);
void same(const delete_groups_response&, const delete_groups_response&, int16_t);

// An array of element structs: as sent when present, empty when absent.
template <typename T>
void expect_elements(bool present, const std::vector<T>& sent, const std::vector<T>& got,
                     int16_t version, const char* name) {
    if (!present) {
        EXPECT_TRUE(got.empty()) << name << " (absent: default)";
        return;
    }
    ASSERT_EQ(got.size(), sent.size()) << name;
    for (size_t i = 0; i < sent.size(); ++i) {
        same(sent[i], got[i], version);
    }
}

template <typename T>
void expect_elements(bool present, const std::optional<std::vector<T>>& sent,
                     const std::optional<std::vector<T>>& got, int16_t version,
                     const char* name) {
    if (!present) {
        EXPECT_FALSE(got) << name << " (absent: default)";
        return;
    }
    ASSERT_EQ(got.has_value(), sent.has_value()) << name;
    if (sent) {
        expect_elements(true, *sent, *got, version, name);
    }
}

#define CHECK_ELEMENTS_AT(present, f) expect_elements((present), sent.f, got.f, v, #f)

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
// to the same bytes.
template <typename T>
void round_trips(const T& sent) {
    for (int16_t v = T::min_version; v <= T::max_version; ++v) {
        SCOPED_TRACE(testing::Message() << "version " << v);
        const auto wire = encoded(sent, v);
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
    for (int16_t v = T::min_version; v <= T::max_version; ++v) {
        auto wire = encoded(sent, v);
        for (size_t n = 0; n < wire.size(); ++n) {
            reader r(std::span<const std::byte>(wire).first(n));
            EXPECT_FALSE(decode<T>(r, v)) << "version " << v << ", first " << n << " bytes";
        }
        wire.push_back(std::byte{0});
        reader r(wire);
        EXPECT_FALSE(decode<T>(r, v)) << "version " << v << ", a byte over";
    }
}

// The hand-written vector is what encode writes, and decodes back to the struct.
template <typename T>
void expect_wire(const T& m, int16_t v, const std::vector<std::byte>& want) {
    SCOPED_TRACE(testing::Message() << "version " << v);
    EXPECT_EQ(encoded(m, v), want);
    const auto got = decoded<T>(want, v);
    ASSERT_TRUE(got);
    same(m, *got, v);
}

// FindCoordinator ------------------------------------------------------------------------------

void same(const find_coordinator_request& sent, const find_coordinator_request& got, int16_t v) {
    const find_coordinator_request blank{};
    CHECK_AT(v <= 3, key);
    CHECK_AT(v >= 1, key_type);
    CHECK_AT(v >= 4, coordinator_keys);
}

void same(const find_coordinator_response_coordinator& sent,
          const find_coordinator_response_coordinator& got, int16_t) {
    const find_coordinator_response_coordinator blank{};
    CHECK_AT(true, key);
    CHECK_AT(true, node_id);
    CHECK_AT(true, host);
    CHECK_AT(true, port);
    CHECK_AT(true, error_code);
    CHECK_AT(true, error_message);
}

void same(const find_coordinator_response& sent, const find_coordinator_response& got,
          int16_t v) {
    const find_coordinator_response blank{};
    CHECK_AT(v >= 1, throttle_time_ms);
    CHECK_AT(v <= 3, error_code);
    CHECK_AT(v >= 1 && v <= 3, error_message);
    CHECK_AT(v <= 3, node_id);
    CHECK_AT(v <= 3, host);
    CHECK_AT(v <= 3, port);
    CHECK_ELEMENTS_AT(v >= 4, coordinators);
}

find_coordinator_request sample_find_coordinator_request() {
    return {.key = "g", .key_type = coordinator_key_transaction, .coordinator_keys = {"a", "b"}};
}

find_coordinator_response sample_find_coordinator_response() {
    return {.throttle_time_ms = 5,
            .error_code = 15,
            .error_message = "m",
            .node_id = 2,
            .host = "h",
            .port = 9092,
            .coordinators = {{.key = "a",
                              .node_id = 3,
                              .host = "x",
                              .port = 19,
                              .error_code = 16,
                              .error_message = "e"}}};
}

// JoinGroup ------------------------------------------------------------------------------------

void same(const join_group_request_protocol& sent, const join_group_request_protocol& got,
          int16_t) {
    const join_group_request_protocol blank{};
    CHECK_AT(true, name);
    CHECK_AT(true, metadata);
}

void same(const join_group_request& sent, const join_group_request& got, int16_t v) {
    const join_group_request blank{};
    CHECK_AT(true, group_id);
    CHECK_AT(true, session_timeout_ms);
    CHECK_AT(v >= 1, rebalance_timeout_ms);
    CHECK_AT(true, member_id);
    CHECK_AT(v >= 5, group_instance_id);
    CHECK_AT(true, protocol_type);
    CHECK_ELEMENTS_AT(true, protocols);
    CHECK_AT(v >= 8, reason);
}

void same(const join_group_response_member& sent, const join_group_response_member& got,
          int16_t v) {
    const join_group_response_member blank{};
    CHECK_AT(true, member_id);
    CHECK_AT(v >= 5, group_instance_id);
    CHECK_AT(true, metadata);
}

void same(const join_group_response& sent, const join_group_response& got, int16_t v) {
    const join_group_response blank{};
    CHECK_AT(v >= 2, throttle_time_ms);
    CHECK_AT(true, error_code);
    CHECK_AT(true, generation_id);
    CHECK_AT(v >= 7, protocol_type);
    CHECK_AT(true, protocol_name);
    CHECK_AT(true, leader);
    CHECK_AT(v >= 9, skip_assignment);
    CHECK_AT(true, member_id);
    CHECK_ELEMENTS_AT(true, members);
}

join_group_request sample_join_group_request() {
    return {.group_id = "g",
            .session_timeout_ms = 10,
            .rebalance_timeout_ms = 20,
            .member_id = "m",
            .group_instance_id = "i",
            .protocol_type = "c",
            .protocols = {{.name = "r", .metadata = meta_a}},
            .reason = "x"};
}

join_group_response sample_join_group_response() {
    return {.throttle_time_ms = 5,
            .error_code = 27,
            .generation_id = 4,
            .protocol_type = "c",
            .protocol_name = "r",
            .leader = "l",
            .skip_assignment = true,
            .member_id = "m",
            .members = {{.member_id = "m", .group_instance_id = "i", .metadata = meta_b}}};
}

// SyncGroup ------------------------------------------------------------------------------------

void same(const sync_group_request_assignment& sent, const sync_group_request_assignment& got,
          int16_t) {
    const sync_group_request_assignment blank{};
    CHECK_AT(true, member_id);
    CHECK_AT(true, assignment);
}

void same(const sync_group_request& sent, const sync_group_request& got, int16_t v) {
    const sync_group_request blank{};
    CHECK_AT(true, group_id);
    CHECK_AT(true, generation_id);
    CHECK_AT(true, member_id);
    CHECK_AT(v >= 3, group_instance_id);
    CHECK_AT(v >= 5, protocol_type);
    CHECK_AT(v >= 5, protocol_name);
    CHECK_ELEMENTS_AT(true, assignments);
}

void same(const sync_group_response& sent, const sync_group_response& got, int16_t v) {
    const sync_group_response blank{};
    CHECK_AT(v >= 1, throttle_time_ms);
    CHECK_AT(true, error_code);
    CHECK_AT(v >= 5, protocol_type);
    CHECK_AT(v >= 5, protocol_name);
    CHECK_AT(true, assignment);
}

sync_group_request sample_sync_group_request() {
    return {.group_id = "g",
            .generation_id = 4,
            .member_id = "m",
            .group_instance_id = "i",
            .protocol_type = "c",
            .protocol_name = "r",
            .assignments = {{.member_id = "m", .assignment = meta_a}}};
}

sync_group_response sample_sync_group_response() {
    return {.throttle_time_ms = 5,
            .error_code = 27,
            .protocol_type = "c",
            .protocol_name = "r",
            .assignment = meta_a};
}

// Heartbeat ------------------------------------------------------------------------------------

void same(const heartbeat_request& sent, const heartbeat_request& got, int16_t v) {
    const heartbeat_request blank{};
    CHECK_AT(true, group_id);
    CHECK_AT(true, generation_id);
    CHECK_AT(true, member_id);
    CHECK_AT(v >= 3, group_instance_id);
}

void same(const heartbeat_response& sent, const heartbeat_response& got, int16_t v) {
    const heartbeat_response blank{};
    CHECK_AT(v >= 1, throttle_time_ms);
    CHECK_AT(true, error_code);
}

heartbeat_request sample_heartbeat_request() {
    return {.group_id = "g", .generation_id = 4, .member_id = "m", .group_instance_id = "i"};
}

heartbeat_response sample_heartbeat_response() {
    return {.throttle_time_ms = 5, .error_code = 27};
}

// LeaveGroup -----------------------------------------------------------------------------------

void same(const leave_group_request_member& sent, const leave_group_request_member& got,
          int16_t v) {
    const leave_group_request_member blank{};
    CHECK_AT(true, member_id);
    CHECK_AT(true, group_instance_id);
    CHECK_AT(v >= 5, reason);
}

void same(const leave_group_request& sent, const leave_group_request& got, int16_t v) {
    const leave_group_request blank{};
    CHECK_AT(true, group_id);
    CHECK_AT(v <= 2, member_id);
    CHECK_ELEMENTS_AT(v >= 3, members);
}

void same(const leave_group_response_member& sent, const leave_group_response_member& got,
          int16_t) {
    const leave_group_response_member blank{};
    CHECK_AT(true, member_id);
    CHECK_AT(true, group_instance_id);
    CHECK_AT(true, error_code);
}

void same(const leave_group_response& sent, const leave_group_response& got, int16_t v) {
    const leave_group_response blank{};
    CHECK_AT(v >= 1, throttle_time_ms);
    CHECK_AT(true, error_code);
    CHECK_ELEMENTS_AT(v >= 3, members);
}

leave_group_request sample_leave_group_request() {
    return {.group_id = "g",
            .member_id = "m",
            .members = {{.member_id = "m", .group_instance_id = "i", .reason = "x"},
                        {.member_id = "n", .group_instance_id = {}, .reason = {}}}};
}

leave_group_response sample_leave_group_response() {
    return {.throttle_time_ms = 5,
            .error_code = 25,
            .members = {{.member_id = "m", .group_instance_id = "i", .error_code = 82}}};
}

// OffsetCommit ---------------------------------------------------------------------------------

void same(const offset_commit_request_partition& sent, const offset_commit_request_partition& got,
          int16_t v) {
    const offset_commit_request_partition blank{};
    CHECK_AT(true, partition_index);
    CHECK_AT(true, committed_offset);
    CHECK_AT(v >= 6, committed_leader_epoch);
    CHECK_AT(v == 1, commit_timestamp);
    CHECK_AT(true, committed_metadata);
}

void same(const offset_commit_request_topic& sent, const offset_commit_request_topic& got,
          int16_t v) {
    const offset_commit_request_topic blank{};
    CHECK_AT(true, name);
    CHECK_ELEMENTS_AT(true, partitions);
}

void same(const offset_commit_request& sent, const offset_commit_request& got, int16_t v) {
    const offset_commit_request blank{};
    CHECK_AT(true, group_id);
    CHECK_AT(v >= 1, generation_id_or_member_epoch);
    CHECK_AT(v >= 1, member_id);
    CHECK_AT(v >= 7, group_instance_id);
    CHECK_AT(v >= 2 && v <= 4, retention_time_ms);
    CHECK_ELEMENTS_AT(true, topics);
}

void same(const offset_commit_response_partition& sent,
          const offset_commit_response_partition& got, int16_t) {
    const offset_commit_response_partition blank{};
    CHECK_AT(true, partition_index);
    CHECK_AT(true, error_code);
}

void same(const offset_commit_response_topic& sent, const offset_commit_response_topic& got,
          int16_t v) {
    const offset_commit_response_topic blank{};
    CHECK_AT(true, name);
    CHECK_ELEMENTS_AT(true, partitions);
}

void same(const offset_commit_response& sent, const offset_commit_response& got, int16_t v) {
    const offset_commit_response blank{};
    CHECK_AT(v >= 3, throttle_time_ms);
    CHECK_ELEMENTS_AT(true, topics);
}

offset_commit_request sample_offset_commit_request() {
    return {.group_id = "g",
            .generation_id_or_member_epoch = 4,
            .member_id = "m",
            .group_instance_id = "i",
            .retention_time_ms = 100,
            .topics = {{.name = "t",
                        .partitions = {{.partition_index = 1,
                                        .committed_offset = 42,
                                        .committed_leader_epoch = 7,
                                        .commit_timestamp = 1000,
                                        .committed_metadata = "x"}}}}};
}

offset_commit_response sample_offset_commit_response() {
    return {.throttle_time_ms = 5,
            .topics = {{.name = "t", .partitions = {{.partition_index = 1, .error_code = 22}}}}};
}

// OffsetFetch ----------------------------------------------------------------------------------

void same(const offset_fetch_request_topic& sent, const offset_fetch_request_topic& got,
          int16_t) {
    const offset_fetch_request_topic blank{};
    CHECK_AT(true, name);
    CHECK_AT(true, partition_indexes);
}

void same(const offset_fetch_request_group& sent, const offset_fetch_request_group& got,
          int16_t v) {
    const offset_fetch_request_group blank{};
    CHECK_AT(true, group_id);
    CHECK_ELEMENTS_AT(true, topics);
}

void same(const offset_fetch_request& sent, const offset_fetch_request& got, int16_t v) {
    const offset_fetch_request blank{};
    CHECK_AT(v <= 7, group_id);
    CHECK_ELEMENTS_AT(v <= 7, topics);
    CHECK_ELEMENTS_AT(v >= 8, groups);
    CHECK_AT(v >= 7, require_stable);
}

void same(const offset_fetch_response_partition& sent, const offset_fetch_response_partition& got,
          int16_t v) {
    const offset_fetch_response_partition blank{};
    CHECK_AT(true, partition_index);
    CHECK_AT(true, committed_offset);
    CHECK_AT(v >= 5, committed_leader_epoch);
    CHECK_AT(true, metadata);
    CHECK_AT(true, error_code);
}

void same(const offset_fetch_response_topic& sent, const offset_fetch_response_topic& got,
          int16_t v) {
    const offset_fetch_response_topic blank{};
    CHECK_AT(true, name);
    CHECK_ELEMENTS_AT(true, partitions);
}

void same(const offset_fetch_response_group& sent, const offset_fetch_response_group& got,
          int16_t v) {
    const offset_fetch_response_group blank{};
    CHECK_AT(true, group_id);
    CHECK_ELEMENTS_AT(true, topics);
    CHECK_AT(true, error_code);
}

void same(const offset_fetch_response& sent, const offset_fetch_response& got, int16_t v) {
    const offset_fetch_response blank{};
    CHECK_AT(v >= 3, throttle_time_ms);
    CHECK_ELEMENTS_AT(v <= 7, topics);
    CHECK_AT(v >= 2 && v <= 7, error_code);
    CHECK_ELEMENTS_AT(v >= 8, groups);
}

offset_fetch_request sample_offset_fetch_request() {
    return {.group_id = "g",
            .topics = std::vector<offset_fetch_request_topic>{
                {.name = "t", .partition_indexes = {1, 2}}},
            .groups = {{.group_id = "h",
                        .topics = std::vector<offset_fetch_request_topic>{
                            {.name = "u", .partition_indexes = {3}}}}},
            .require_stable = true};
}

offset_fetch_response sample_offset_fetch_response() {
    return {.throttle_time_ms = 5,
            .topics = {{.name = "t",
                        .partitions = {{.partition_index = 1,
                                        .committed_offset = 42,
                                        .committed_leader_epoch = 7,
                                        .metadata = "x",
                                        .error_code = 3}}}},
            .error_code = 14,
            .groups = {{.group_id = "h",
                        .topics = {{.name = "u",
                                    .partitions = {{.partition_index = 3,
                                                    .committed_offset = 43,
                                                    .committed_leader_epoch = 8,
                                                    .metadata = {},
                                                    .error_code = 0}}}},
                        .error_code = 16}}};
}

// ListGroups -----------------------------------------------------------------------------------

void same(const list_groups_request& sent, const list_groups_request& got, int16_t v) {
    const list_groups_request blank{};
    CHECK_AT(v >= 4, states_filter);
}

void same(const list_groups_response_group& sent, const list_groups_response_group& got,
          int16_t v) {
    const list_groups_response_group blank{};
    CHECK_AT(true, group_id);
    CHECK_AT(true, protocol_type);
    CHECK_AT(v >= 4, group_state);
}

void same(const list_groups_response& sent, const list_groups_response& got, int16_t v) {
    const list_groups_response blank{};
    CHECK_AT(v >= 1, throttle_time_ms);
    CHECK_AT(true, error_code);
    CHECK_ELEMENTS_AT(true, groups);
}

list_groups_request sample_list_groups_request() {
    return {.states_filter = {"S"}};
}

list_groups_response sample_list_groups_response() {
    return {.throttle_time_ms = 5,
            .error_code = 15,
            .groups = {{.group_id = "g", .protocol_type = "c", .group_state = "S"}}};
}

// DescribeGroups -------------------------------------------------------------------------------

void same(const describe_groups_request& sent, const describe_groups_request& got, int16_t v) {
    const describe_groups_request blank{};
    CHECK_AT(true, groups);
    CHECK_AT(v >= 3, include_authorized_operations);
}

void same(const describe_groups_response_member& sent, const describe_groups_response_member& got,
          int16_t v) {
    const describe_groups_response_member blank{};
    CHECK_AT(true, member_id);
    CHECK_AT(v >= 4, group_instance_id);
    CHECK_AT(true, client_id);
    CHECK_AT(true, client_host);
    CHECK_AT(true, member_metadata);
    CHECK_AT(true, member_assignment);
}

void same(const describe_groups_response_group& sent, const describe_groups_response_group& got,
          int16_t v) {
    const describe_groups_response_group blank{};
    CHECK_AT(true, error_code);
    CHECK_AT(true, group_id);
    CHECK_AT(true, group_state);
    CHECK_AT(true, protocol_type);
    CHECK_AT(true, protocol_data);
    CHECK_ELEMENTS_AT(true, members);
    CHECK_AT(v >= 3, authorized_operations);
}

void same(const describe_groups_response& sent, const describe_groups_response& got, int16_t v) {
    const describe_groups_response blank{};
    CHECK_AT(v >= 1, throttle_time_ms);
    CHECK_ELEMENTS_AT(true, groups);
}

describe_groups_request sample_describe_groups_request() {
    return {.groups = {"g", "h"}, .include_authorized_operations = true};
}

describe_groups_response sample_describe_groups_response() {
    return {.throttle_time_ms = 5,
            .groups = {{.error_code = 16,
                        .group_id = "g",
                        .group_state = "S",
                        .protocol_type = "c",
                        .protocol_data = "r",
                        .members = {{.member_id = "m",
                                     .group_instance_id = "i",
                                     .client_id = "k",
                                     .client_host = "h",
                                     .member_metadata = meta_a,
                                     .member_assignment = meta_b}},
                        .authorized_operations = 8}}};
}

// DeleteGroups ---------------------------------------------------------------------------------

void same(const delete_groups_request& sent, const delete_groups_request& got, int16_t) {
    const delete_groups_request blank{};
    CHECK_AT(true, groups_names);
}

void same(const delete_groups_response_result& sent, const delete_groups_response_result& got,
          int16_t) {
    const delete_groups_response_result blank{};
    CHECK_AT(true, group_id);
    CHECK_AT(true, error_code);
}

void same(const delete_groups_response& sent, const delete_groups_response& got, int16_t v) {
    const delete_groups_response blank{};
    CHECK_AT(true, throttle_time_ms);
    CHECK_ELEMENTS_AT(true, results);
}

delete_groups_request sample_delete_groups_request() {
    return {.groups_names = {"g", "h"}};
}

delete_groups_response sample_delete_groups_response() {
    return {.throttle_time_ms = 5, .results = {{.group_id = "g", .error_code = 69}}};
}

} // namespace

// Round trips at every claimed version -----------------------------------------------------------

TEST(group_messages, claimed_ranges_and_keys) {
    EXPECT_EQ(find_coordinator_request::api_key, 10);
    EXPECT_EQ(offset_commit_request::api_key, 8);
    EXPECT_EQ(offset_fetch_request::api_key, 9);
    EXPECT_EQ(join_group_request::api_key, 11);
    EXPECT_EQ(heartbeat_request::api_key, 12);
    EXPECT_EQ(leave_group_request::api_key, 13);
    EXPECT_EQ(sync_group_request::api_key, 14);
    EXPECT_EQ(describe_groups_request::api_key, 15);
    EXPECT_EQ(list_groups_request::api_key, 16);
    EXPECT_EQ(delete_groups_request::api_key, 42);
    // Request and response of one API must agree, or a handler would mix up versions.
    auto agree = [](auto req, auto res) {
        using q = decltype(req);
        using s = decltype(res);
        return q::api_key == s::api_key && q::min_version == s::min_version &&
               q::max_version == s::max_version && q::first_flexible == s::first_flexible;
    };
    EXPECT_TRUE(agree(find_coordinator_request{}, find_coordinator_response{}));
    EXPECT_TRUE(agree(join_group_request{}, join_group_response{}));
    EXPECT_TRUE(agree(sync_group_request{}, sync_group_response{}));
    EXPECT_TRUE(agree(heartbeat_request{}, heartbeat_response{}));
    EXPECT_TRUE(agree(leave_group_request{}, leave_group_response{}));
    EXPECT_TRUE(agree(offset_commit_request{}, offset_commit_response{}));
    EXPECT_TRUE(agree(offset_fetch_request{}, offset_fetch_response{}));
    EXPECT_TRUE(agree(list_groups_request{}, list_groups_response{}));
    EXPECT_TRUE(agree(describe_groups_request{}, describe_groups_response{}));
    EXPECT_TRUE(agree(delete_groups_request{}, delete_groups_response{}));
}

TEST(group_messages, find_coordinator_round_trips) {
    round_trips(sample_find_coordinator_request());
    round_trips(sample_find_coordinator_response());
}

TEST(group_messages, join_group_round_trips) {
    round_trips(sample_join_group_request());
    round_trips(sample_join_group_response());
}

TEST(group_messages, sync_group_round_trips) {
    round_trips(sample_sync_group_request());
    round_trips(sample_sync_group_response());
}

TEST(group_messages, heartbeat_round_trips) {
    round_trips(sample_heartbeat_request());
    round_trips(sample_heartbeat_response());
}

TEST(group_messages, leave_group_round_trips) {
    round_trips(sample_leave_group_request());
    round_trips(sample_leave_group_response());
}

TEST(group_messages, offset_commit_round_trips) {
    round_trips(sample_offset_commit_request());
    round_trips(sample_offset_commit_response());
}

TEST(group_messages, offset_fetch_round_trips) {
    round_trips(sample_offset_fetch_request());
    round_trips(sample_offset_fetch_response());
}

TEST(group_messages, list_groups_round_trips) {
    round_trips(sample_list_groups_request());
    round_trips(sample_list_groups_response());
}

TEST(group_messages, describe_groups_round_trips) {
    round_trips(sample_describe_groups_request());
    round_trips(sample_describe_groups_response());
}

TEST(group_messages, delete_groups_round_trips) {
    round_trips(sample_delete_groups_request());
    round_trips(sample_delete_groups_response());
}

TEST(group_messages, truncated_or_overlong_bodies_fail) {
    malformed_fail(sample_find_coordinator_request());
    malformed_fail(sample_find_coordinator_response());
    malformed_fail(sample_join_group_request());
    malformed_fail(sample_join_group_response());
    malformed_fail(sample_sync_group_request());
    malformed_fail(sample_sync_group_response());
    malformed_fail(sample_heartbeat_request());
    malformed_fail(sample_heartbeat_response());
    malformed_fail(sample_leave_group_request());
    malformed_fail(sample_leave_group_response());
    malformed_fail(sample_offset_commit_request());
    malformed_fail(sample_offset_commit_response());
    malformed_fail(sample_offset_fetch_request());
    malformed_fail(sample_offset_fetch_response());
    malformed_fail(sample_list_groups_request());
    malformed_fail(sample_list_groups_response());
    malformed_fail(sample_describe_groups_request());
    malformed_fail(sample_describe_groups_response());
    malformed_fail(sample_delete_groups_request());
    malformed_fail(sample_delete_groups_response());
}

// Byte vectors from the spec ---------------------------------------------------------------------

TEST(group_messages, find_coordinator_wire) {
    const auto req = sample_find_coordinator_request();
    expect_wire(req, 0, bytes({0, 1, 'g'}));
    expect_wire(req, 1, bytes({0, 1, 'g', 1}));                  // key, key type
    expect_wire(req, 3, bytes({2, 'g', 1, 0}));                  // compact key, type, tags
    expect_wire(req, 4, bytes({1, 3, 2, 'a', 2, 'b', 0}));       // type, two keys, tags
    const auto res = sample_find_coordinator_response();
    expect_wire(res, 1, bytes({0, 0, 0, 5, 0, 15,                // throttle, error
                               0, 1, 'm',                        // error message
                               0, 0, 0, 2, 0, 1, 'h', 0, 0, 0x23, 0x84})); // node, host, port
    expect_wire(res, 3, bytes({0, 0, 0, 5, 0, 15, 2, 'm', 0, 0, 0, 2, 2, 'h', 0, 0, 0x23, 0x84,
                               0}));
    expect_wire(res, 4, bytes({0, 0, 0, 5,                       // throttle
                               2, 2, 'a', 0, 0, 0, 3, 2, 'x',    // one coordinator: key, node, host
                               0, 0, 0, 19, 0, 16, 2, 'e', 0,    // port, error, message, tags
                               0}));
}

TEST(group_messages, join_group_wire) {
    const auto req = sample_join_group_request();
    expect_wire(req, 0, bytes({0, 1, 'g', 0, 0, 0, 10,           // group, session timeout
                               0, 1, 'm', 0, 1, 'c',             // member, protocol type
                               0, 0, 0, 1, 0, 1, 'r', 0, 0, 0, 3, 1, 2, 3})); // protocols
    expect_wire(req, 5, bytes({0, 1, 'g', 0, 0, 0, 10, 0, 0, 0, 20, // + rebalance timeout
                               0, 1, 'm', 0, 1, 'i', 0, 1, 'c',  // + instance id
                               0, 0, 0, 1, 0, 1, 'r', 0, 0, 0, 3, 1, 2, 3}));
    expect_wire(req, 8, bytes({2, 'g', 0, 0, 0, 10, 0, 0, 0, 20, 2, 'm', 2, 'i', 2, 'c',
                               2, 2, 'r', 4, 1, 2, 3, 0,         // protocols, element tags
                               2, 'x', 0}));                     // reason, tags
    const auto res = sample_join_group_response();
    expect_wire(res, 1, bytes({0, 27, 0, 0, 0, 4,                // error, generation
                               0, 1, 'r', 0, 1, 'l', 0, 1, 'm',  // protocol, leader, member
                               0, 0, 0, 1, 0, 1, 'm', 0, 0, 0, 1, 9})); // members
    expect_wire(res, 9, bytes({0, 0, 0, 5, 0, 27, 0, 0, 0, 4,    // throttle, error, generation
                               2, 'c', 2, 'r', 2, 'l', 1, 2, 'm', // type, name, leader, skip, id
                               2, 2, 'm', 2, 'i', 2, 9, 0,       // members
                               0}));
}

TEST(group_messages, join_group_null_protocol_name_before_v7_is_empty) {
    join_group_response res = sample_join_group_response();
    res.protocol_name.reset();
    const auto v6 = encoded(res, 6);
    const auto got6 = decoded<join_group_response>(v6, 6);
    ASSERT_TRUE(got6);
    EXPECT_EQ(got6->protocol_name, std::optional<std::string_view>(""));
    const auto v7 = encoded(res, 7);
    const auto got7 = decoded<join_group_response>(v7, 7);
    ASSERT_TRUE(got7);
    EXPECT_FALSE(got7->protocol_name);
    // v0-6 have a plain string there, so a null length is malformed where an empty one is not.
    // Error, generation, protocol name, then an empty leader, member id and member list.
    auto empty_name = bytes({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
    EXPECT_TRUE(decoded<join_group_response>(empty_name, 1));
    auto null_name = bytes({0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0});
    EXPECT_FALSE(decoded<join_group_response>(null_name, 1));
}

TEST(group_messages, sync_group_wire) {
    const auto req = sample_sync_group_request();
    expect_wire(req, 3, bytes({0, 1, 'g', 0, 0, 0, 4, 0, 1, 'm', 0, 1, 'i',
                               0, 0, 0, 1, 0, 1, 'm', 0, 0, 0, 3, 1, 2, 3}));
    expect_wire(req, 5, bytes({2, 'g', 0, 0, 0, 4, 2, 'm', 2, 'i', 2, 'c', 2, 'r',
                               2, 2, 'm', 4, 1, 2, 3, 0, 0}));
    const auto res = sample_sync_group_response();
    expect_wire(res, 0, bytes({0, 27, 0, 0, 0, 3, 1, 2, 3}));
    expect_wire(res, 5, bytes({0, 0, 0, 5, 0, 27, 2, 'c', 2, 'r', 4, 1, 2, 3, 0}));
}

TEST(group_messages, heartbeat_wire) {
    const auto req = sample_heartbeat_request();
    expect_wire(req, 0, bytes({0, 1, 'g', 0, 0, 0, 4, 0, 1, 'm'}));
    expect_wire(req, 3, bytes({0, 1, 'g', 0, 0, 0, 4, 0, 1, 'm', 0, 1, 'i'}));
    expect_wire(req, 4, bytes({2, 'g', 0, 0, 0, 4, 2, 'm', 2, 'i', 0}));
    const auto res = sample_heartbeat_response();
    expect_wire(res, 0, bytes({0, 27}));
    expect_wire(res, 1, bytes({0, 0, 0, 5, 0, 27}));
    expect_wire(res, 4, bytes({0, 0, 0, 5, 0, 27, 0}));
}

TEST(group_messages, leave_group_wire) {
    const auto req = sample_leave_group_request();
    expect_wire(req, 0, bytes({0, 1, 'g', 0, 1, 'm'}));
    expect_wire(req, 3, bytes({0, 1, 'g', 0, 0, 0, 2,            // group, two members
                               0, 1, 'm', 0, 1, 'i',             // member, instance
                               0, 1, 'n', 0xff, 0xff}));         // member, null instance
    expect_wire(req, 5, bytes({2, 'g', 3,                        // group, two members
                               2, 'm', 2, 'i', 2, 'x', 0,        // member, instance, reason, tags
                               2, 'n', 0, 0, 0,                  // null instance and reason
                               0}));
    const auto res = sample_leave_group_response();
    expect_wire(res, 0, bytes({0, 25}));
    expect_wire(res, 3, bytes({0, 0, 0, 5, 0, 25, 0, 0, 0, 1, 0, 1, 'm', 0, 1, 'i', 0, 82}));
    expect_wire(res, 4, bytes({0, 0, 0, 5, 0, 25, 2, 2, 'm', 2, 'i', 0, 82, 0, 0}));
}

TEST(group_messages, offset_commit_wire) {
    const auto req = sample_offset_commit_request();
    expect_wire(req, 1, bytes({0, 1, 'g', 0, 0, 0, 4, 0, 1, 'm', // group, generation, member
                               0, 0, 0, 1, 0, 1, 't',            // one topic
                               0, 0, 0, 1, 0, 0, 0, 1,           // one partition, index
                               0, 0, 0, 0, 0, 0, 0, 42,          // offset
                               0, 0, 0, 0, 0, 0, 0x03, 0xe8,     // commit timestamp (v1 only)
                               0, 1, 'x'}));                     // metadata
    expect_wire(req, 2, bytes({0, 1, 'g', 0, 0, 0, 4, 0, 1, 'm',
                               0, 0, 0, 0, 0, 0, 0, 100,         // retention (v2-4)
                               0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 1, 0, 0, 0, 1,
                               0, 0, 0, 0, 0, 0, 0, 42, 0, 1, 'x'}));
    expect_wire(req, 8, bytes({2, 'g', 0, 0, 0, 4, 2, 'm', 2, 'i', // + instance id
                               2, 2, 't', 2, 0, 0, 0, 1,
                               0, 0, 0, 0, 0, 0, 0, 42,
                               0, 0, 0, 7,                       // leader epoch (v6+)
                               2, 'x', 0, 0, 0}));               // metadata, three tag sections
    const auto res = sample_offset_commit_response();
    expect_wire(res, 2, bytes({0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 1, 0, 0, 0, 1, 0, 22}));
    expect_wire(res, 8, bytes({0, 0, 0, 5, 2, 2, 't', 2, 0, 0, 0, 1, 0, 22, 0, 0, 0}));
}

TEST(group_messages, offset_fetch_wire) {
    const auto req = sample_offset_fetch_request();
    expect_wire(req, 1, bytes({0, 1, 'g', 0, 0, 0, 1, 0, 1, 't', // group, one topic
                               0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2})); // partitions 1, 2
    expect_wire(req, 7, bytes({2, 'g', 2, 2, 't', 3, 0, 0, 0, 1, 0, 0, 0, 2, 0,
                               1, 0}));                          // require stable, tags
    expect_wire(req, 8, bytes({2, 2, 'h',                        // one group
                               2, 2, 'u', 2, 0, 0, 0, 3, 0,      // one topic, partition 3
                               0, 1, 0}));                       // group tags, stable, tags
    const auto res = sample_offset_fetch_response();
    expect_wire(res, 1, bytes({0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 1, // one topic, one partition
                               0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 42, // index, offset
                               0, 1, 'x', 0, 3}));               // metadata, error
    expect_wire(res, 5, bytes({0, 0, 0, 5, 0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 1,
                               0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 42,
                               0, 0, 0, 7,                       // leader epoch (v5+)
                               0, 1, 'x', 0, 3, 0, 14}));        // + top-level error (v2+)
    expect_wire(res, 8, bytes({0, 0, 0, 5, 2, 2, 'h',            // throttle, one group
                               2, 2, 'u', 2, 0, 0, 0, 3,         // one topic, one partition
                               0, 0, 0, 0, 0, 0, 0, 43, 0, 0, 0, 8, // offset, leader epoch
                               0, 0, 0, 0,                       // null metadata, error, tags
                               0, 0, 16, 0,                      // topic tags, group error, tags
                               0}));
}

TEST(group_messages, offset_fetch_null_topics_from_v2) {
    offset_fetch_request all{.group_id = "g", .topics = {}, .groups = {}, .require_stable = false};
    expect_wire(all, 2, bytes({0, 1, 'g', 0xff, 0xff, 0xff, 0xff}));
    expect_wire(all, 6, bytes({2, 'g', 0, 0}));
    // v0-1 cannot ask for every topic: a null array is malformed there.
    auto null_topics = bytes({0, 1, 'g', 0xff, 0xff, 0xff, 0xff});
    EXPECT_FALSE(decoded<offset_fetch_request>(null_topics, 1));
    EXPECT_DEATH(encoded(all, 1), "assertion failed");
    // v8 names each group's topics, or null for all of them.
    offset_fetch_request groups{.group_id = {},
                                .topics = {},
                                .groups = {{.group_id = "h", .topics = {}}},
                                .require_stable = false};
    expect_wire(groups, 8, bytes({2, 2, 'h', 0, 0, 0, 0}));
}

TEST(group_messages, list_groups_wire) {
    const auto req = sample_list_groups_request();
    expect_wire(req, 0, bytes({}));
    expect_wire(req, 3, bytes({0}));
    expect_wire(req, 4, bytes({2, 2, 'S', 0}));
    const auto res = sample_list_groups_response();
    expect_wire(res, 0, bytes({0, 15, 0, 0, 0, 1, 0, 1, 'g', 0, 1, 'c'}));
    expect_wire(res, 4, bytes({0, 0, 0, 5, 0, 15, 2, 2, 'g', 2, 'c', 2, 'S', 0, 0}));
}

TEST(group_messages, describe_groups_wire) {
    const auto req = sample_describe_groups_request();
    expect_wire(req, 0, bytes({0, 0, 0, 2, 0, 1, 'g', 0, 1, 'h'}));
    expect_wire(req, 3, bytes({0, 0, 0, 2, 0, 1, 'g', 0, 1, 'h', 1}));
    expect_wire(req, 5, bytes({3, 2, 'g', 2, 'h', 1, 0}));
    const auto res = sample_describe_groups_response();
    expect_wire(res, 0, bytes({0, 0, 0, 1, 0, 16,                // one group, error
                               0, 1, 'g', 0, 1, 'S', 0, 1, 'c', 0, 1, 'r', // id, state, type, data
                               0, 0, 0, 1, 0, 1, 'm', 0, 1, 'k', 0, 1, 'h', // member, client, host
                               0, 0, 0, 3, 1, 2, 3, 0, 0, 0, 1, 9})); // metadata, assignment
    expect_wire(res, 5, bytes({0, 0, 0, 5, 2, 0, 16, 2, 'g', 2, 'S', 2, 'c', 2, 'r',
                               2, 2, 'm', 2, 'i', 2, 'k', 2, 'h', 4, 1, 2, 3, 2, 9, 0,
                               0, 0, 0, 8, 0,                    // authorized operations, tags
                               0}));
}

TEST(group_messages, delete_groups_wire) {
    const auto req = sample_delete_groups_request();
    expect_wire(req, 0, bytes({0, 0, 0, 2, 0, 1, 'g', 0, 1, 'h'}));
    expect_wire(req, 2, bytes({3, 2, 'g', 2, 'h', 0}));
    const auto res = sample_delete_groups_response();
    expect_wire(res, 1, bytes({0, 0, 0, 5, 0, 0, 0, 1, 0, 1, 'g', 0, 69}));
    expect_wire(res, 2, bytes({0, 0, 0, 5, 2, 2, 'g', 0, 69, 0, 0}));
}
