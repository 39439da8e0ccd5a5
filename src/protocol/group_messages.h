// The consumer-group APIs, defined once for both directions with the codec (protocol/codec.h):
// FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch,
// ListGroups, DescribeGroups and DeleteGroups. Each message is a request and a response struct
// naming its API key, the version range this broker claims and its first flexible version; the
// fields walk follows the spec's field order, gated by version. The broker decodes requests and
// encodes responses; the project's own test clients do the reverse.
//
// A field that a version lacks keeps its default after decode (the spec's default where it names
// one), so a handler reads one struct whatever the version and applies the older versions'
// meanings itself (JoinGroup v0 has no rebalance timeout, for instance). None of these messages
// defines tagged fields in the versions claimed: every tagged-field section is written empty,
// and tags a client sends are skipped on decode.
//
// Lifecycle: decoded strings and bytes are views into the buffer they were decoded from and live
// as long as it does; a struct to encode views the caller's storage likewise. Callers check the
// version against the claimed range before decoding. Header-only, no shared state: any thread.
#pragma once

#include "base/assert.h"
#include "protocol/codec.h"

#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string_view>
#include <type_traits>
#include <vector>

namespace runnel::protocol {

namespace group_detail {

// Element structs have their own fields walk, so an array of them is one call at the parent.
template <typename IO, typename V>
void elements(IO& io, V& v, int16_t version) {
    io.array(v, [&](auto& e) { std::remove_cvref_t<decltype(e)>::fields(io, e, version); });
}

template <typename IO, typename V>
void nullable_elements(IO& io, V& v, int16_t version) {
    io.nullable_array(v,
                      [&](auto& e) { std::remove_cvref_t<decltype(e)>::fields(io, e, version); });
}

template <typename IO, typename V>
void strings(IO& io, V& v) {
    io.array(v, [&](auto& s) { io.string(s); });
}

// A string the spec makes nullable only from some version on. Before that version, null is
// written as the empty string, as Kafka's own broker does, so a handler can fill the field the
// same way for every version.
template <typename IO, typename S>
void nullable_string_from(IO& io, S& s, bool nullable) {
    if (nullable) {
        io.nullable_string(s);
        return;
    }
    if constexpr (std::is_const_v<S>) {
        io.string(s ? *s : std::string_view{});
    } else {
        std::string_view v;
        io.string(v);
        s = v;
    }
}

// An array the spec makes nullable only from some version on. Before that version, null has no
// encoding (an empty array means something else), so encoding null there is a programmer error.
template <typename IO, typename V>
void nullable_elements_from(IO& io, V& v, int16_t version, bool nullable) {
    if (nullable) {
        nullable_elements(io, v, version);
        return;
    }
    if constexpr (std::is_const_v<V>) {
        RUNNEL_ASSERT(v.has_value());
    } else {
        v.emplace();
    }
    elements(io, *v, version);
}

} // namespace group_detail

// FindCoordinator key types (the spec's KeyType).
inline constexpr int8_t coordinator_key_group = 0;
inline constexpr int8_t coordinator_key_transaction = 1;

// FindCoordinator (key 10), v0-4, flexible from v3. v4 batches keys: the request's single key
// becomes coordinator_keys and the response's single answer becomes one coordinator per key.
struct find_coordinator_request {
    static constexpr int16_t api_key = 10;
    static constexpr int16_t min_version = 0;
    static constexpr int16_t max_version = 4;
    static constexpr int16_t first_flexible = 3;

    std::string_view key;                           // v0-3
    int8_t key_type = coordinator_key_group;        // v1+
    std::vector<std::string_view> coordinator_keys; // v4+

    template <typename IO, typename M>
    static void fields(IO& io, M& m, int16_t version) {
        if (version <= 3) {
            io.string(m.key);
        }
        if (version >= 1) {
            io.int8(m.key_type);
        }
        if (version >= 4) {
            group_detail::strings(io, m.coordinator_keys);
        }
        io.tagged_fields();
    }
};

struct find_coordinator_response_coordinator {
    std::string_view key;
    int32_t node_id = 0;
    std::string_view host;
    int32_t port = 0;
    int16_t error_code = 0;
    std::optional<std::string_view> error_message;

    template <typename IO, typename M>
    static void fields(IO& io, M& m, int16_t) {
        io.string(m.key);
        io.int32(m.node_id);
        io.string(m.host);
        io.int32(m.port);
        io.int16(m.error_code);
        io.nullable_string(m.error_message);
        io.tagged_fields();
    }
};

struct find_coordinator_response {
    static constexpr int16_t api_key = 10;
    static constexpr int16_t min_version = 0;
    static constexpr int16_t max_version = 4;
    static constexpr int16_t first_flexible = 3;

    int32_t throttle_time_ms = 0;                  // v1+
    int16_t error_code = 0;                        // v0-3
    std::optional<std::string_view> error_message; // v1-3
    int32_t node_id = 0;                           // v0-3
    std::string_view host;                         // v0-3
    int32_t port = 0;                              // v0-3
    // One answer per requested key.
    std::vector<find_coordinator_response_coordinator> coordinators; // v4+

    template <typename IO, typename M>
    static void fields(IO& io, M& m, int16_t version) {
        if (version >= 1) {
            io.int32(m.throttle_time_ms);
        }
        if (version <= 3) {
            io.int16(m.error_code);
            if (version >= 1) {
                io.nullable_string(m.error_message);
            }
            io.int32(m.node_id);
            io.string(m.host);
            io.int32(m.port);
        }
        if (version >= 4) {
            group_detail::elements(io, m.coordinators, version);
        }
        io.tagged_fields();
    }
};

// JoinGroup (key 11), v0-9, flexible from v6.
struct join_group_request_protocol {
    std::string_view name;
    std::span<const std::byte> metadata;

    template <typename IO, typename M>
    static void fields(IO& io, M& m, int16_t) {
        io.string(m.name);
        io.bytes(m.metadata);
        io.tagged_fields();
    }
};

struct join_group_request {
    static constexpr int16_t api_key = 11;
    static constexpr int16_t min_version = 0;
    static constexpr int16_t max_version = 9;
    static constexpr int16_t first_flexible = 6;

    std::string_view group_id;
    int32_t session_timeout_ms = 0;
    int32_t rebalance_timeout_ms = -1; // v1+
    std::string_view member_id;
    std::optional<std::string_view> group_instance_id; // v5+
    std::string_view protocol_type;
    std::vector<join_group_request_protocol> protocols;
    std::optional<std::string_view> reason; // v8+

    template <typename IO, typename M>
    static void fields(IO& io, M& m, int16_t version) {
        io.string(m.group_id);
        io.int32(m.session_timeout_ms);
        if (version >= 1) {
            io.int32(m.rebalance_timeout_ms);
        }
        io.string(m.member_id);
        if (version >= 5) {
            io.nullable_string(m.group_instance_id);
        }
        io.string(m.protocol_type);
        group_detail::elements(io, m.protocols, version);
        if (version >= 8) {
            io.nullable_string(m.reason);
        }
        io.tagged_fields();
    }
};

struct join_group_response_member {
    std::string_view member_id;
    std::optional<std::string_view> group_instance_id; // v5+
    std::span<const std::byte> metadata;

    template <typename IO, typename M>
    static void fields(IO& io, M& m, int16_t version) {
        io.string(m.member_id);
        if (version >= 5) {
            io.nullable_string(m.group_instance_id);
        }
        io.bytes(m.metadata);
        io.tagged_fields();
    }
};

struct join_group_response {
    static constexpr int16_t api_key = 11;
    static constexpr int16_t min_version = 0;
    static constexpr int16_t max_version = 9;
    static constexpr int16_t first_flexible = 6;

    int32_t throttle_time_ms = 0; // v2+
    int16_t error_code = 0;
    int32_t generation_id = -1;
    std::optional<std::string_view> protocol_type; // v7+
    // Nullable from v7; before, null goes out as the empty string.
    std::optional<std::string_view> protocol_name;
    std::string_view leader;
    bool skip_assignment = false; // v9+
    std::string_view member_id;
    std::vector<join_group_response_member> members;

    template <typename IO, typename M>
    static void fields(IO& io, M& m, int16_t version) {
        if (version >= 2) {
            io.int32(m.throttle_time_ms);
        }
        io.int16(m.error_code);
        io.int32(m.generation_id);
        if (version >= 7) {
            io.nullable_string(m.protocol_type);
        }
        group_detail::nullable_string_from(io, m.protocol_name, version >= 7);
        io.string(m.leader);
        if (version >= 9) {
            io.boolean(m.skip_assignment);
        }
        io.string(m.member_id);
        group_detail::elements(io, m.members, version);
        io.tagged_fields();
    }
};

// SyncGroup (key 14), v0-5, flexible from v4.
struct sync_group_request_assignment {
    std::string_view member_id;
    std::span<const std::byte> assignment;

    template <typename IO, typename M>
    static void fields(IO& io, M& m, int16_t) {
        io.string(m.member_id);
        io.bytes(m.assignment);
        io.tagged_fields();
    }
};

struct sync_group_request {
    static constexpr int16_t api_key = 14;
    static constexpr int16_t min_version = 0;
    static constexpr int16_t max_version = 5;
    static constexpr int16_t first_flexible = 4;

    std::string_view group_id;
    int32_t generation_id = 0;
    std::string_view member_id;
    std::optional<std::string_view> group_instance_id; // v3+
    std::optional<std::string_view> protocol_type;     // v5+
    std::optional<std::string_view> protocol_name;     // v5+
    std::vector<sync_group_request_assignment> assignments;

    template <typename IO, typename M>
    static void fields(IO& io, M& m, int16_t version) {
        io.string(m.group_id);
        io.int32(m.generation_id);
        io.string(m.member_id);
        if (version >= 3) {
            io.nullable_string(m.group_instance_id);
        }
        if (version >= 5) {
            io.nullable_string(m.protocol_type);
            io.nullable_string(m.protocol_name);
        }
        group_detail::elements(io, m.assignments, version);
        io.tagged_fields();
    }
};

struct sync_group_response {
    static constexpr int16_t api_key = 14;
    static constexpr int16_t min_version = 0;
    static constexpr int16_t max_version = 5;
    static constexpr int16_t first_flexible = 4;

    int32_t throttle_time_ms = 0; // v1+
    int16_t error_code = 0;
    std::optional<std::string_view> protocol_type; // v5+
    std::optional<std::string_view> protocol_name; // v5+
    std::span<const std::byte> assignment;

    template <typename IO, typename M>
    static void fields(IO& io, M& m, int16_t version) {
        if (version >= 1) {
            io.int32(m.throttle_time_ms);
        }
        io.int16(m.error_code);
        if (version >= 5) {
            io.nullable_string(m.protocol_type);
            io.nullable_string(m.protocol_name);
        }
        io.bytes(m.assignment);
        io.tagged_fields();
    }
};

// Heartbeat (key 12), v0-4, flexible from v4.
struct heartbeat_request {
    static constexpr int16_t api_key = 12;
    static constexpr int16_t min_version = 0;
    static constexpr int16_t max_version = 4;
    static constexpr int16_t first_flexible = 4;

    std::string_view group_id;
    int32_t generation_id = 0;
    std::string_view member_id;
    std::optional<std::string_view> group_instance_id; // v3+

    template <typename IO, typename M>
    static void fields(IO& io, M& m, int16_t version) {
        io.string(m.group_id);
        io.int32(m.generation_id);
        io.string(m.member_id);
        if (version >= 3) {
            io.nullable_string(m.group_instance_id);
        }
        io.tagged_fields();
    }
};

struct heartbeat_response {
    static constexpr int16_t api_key = 12;
    static constexpr int16_t min_version = 0;
    static constexpr int16_t max_version = 4;
    static constexpr int16_t first_flexible = 4;

    int32_t throttle_time_ms = 0; // v1+
    int16_t error_code = 0;

    template <typename IO, typename M>
    static void fields(IO& io, M& m, int16_t version) {
        if (version >= 1) {
            io.int32(m.throttle_time_ms);
        }
        io.int16(m.error_code);
        io.tagged_fields();
    }
};

// LeaveGroup (key 13), v0-5, flexible from v4. v3 replaces the single member id with a batch of
// member identities.
struct leave_group_request_member {
    std::string_view member_id;
    std::optional<std::string_view> group_instance_id;
    std::optional<std::string_view> reason; // v5+

    template <typename IO, typename M>
    static void fields(IO& io, M& m, int16_t version) {
        io.string(m.member_id);
        io.nullable_string(m.group_instance_id);
        if (version >= 5) {
            io.nullable_string(m.reason);
        }
        io.tagged_fields();
    }
};

struct leave_group_request {
    static constexpr int16_t api_key = 13;
    static constexpr int16_t min_version = 0;
    static constexpr int16_t max_version = 5;
    static constexpr int16_t first_flexible = 4;

    std::string_view group_id;
    std::string_view member_id;                      // v0-2
    std::vector<leave_group_request_member> members; // v3+

    template <typename IO, typename M>
    static void fields(IO& io, M& m, int16_t version) {
        io.string(m.group_id);
        if (version <= 2) {
            io.string(m.member_id);
        }
        if (version >= 3) {
            group_detail::elements(io, m.members, version);
        }
        io.tagged_fields();
    }
};

struct leave_group_response_member {
    std::string_view member_id;
    std::optional<std::string_view> group_instance_id;
    int16_t error_code = 0;

    template <typename IO, typename M>
    static void fields(IO& io, M& m, int16_t) {
        io.string(m.member_id);
        io.nullable_string(m.group_instance_id);
        io.int16(m.error_code);
        io.tagged_fields();
    }
};

struct leave_group_response {
    static constexpr int16_t api_key = 13;
    static constexpr int16_t min_version = 0;
    static constexpr int16_t max_version = 5;
    static constexpr int16_t first_flexible = 4;

    int32_t throttle_time_ms = 0; // v1+
    int16_t error_code = 0;
    std::vector<leave_group_response_member> members; // v3+

    template <typename IO, typename M>
    static void fields(IO& io, M& m, int16_t version) {
        if (version >= 1) {
            io.int32(m.throttle_time_ms);
        }
        io.int16(m.error_code);
        if (version >= 3) {
            group_detail::elements(io, m.members, version);
        }
        io.tagged_fields();
    }
};

// OffsetCommit (key 8), v0-8, flexible from v8.
struct offset_commit_request_partition {
    int32_t partition_index = 0;
    int64_t committed_offset = 0;
    int32_t committed_leader_epoch = -1; // v6+
    int64_t commit_timestamp = -1;       // v1 only
    std::optional<std::string_view> committed_metadata;

    template <typename IO, typename M>
    static void fields(IO& io, M& m, int16_t version) {
        io.int32(m.partition_index);
        io.int64(m.committed_offset);
        if (version >= 6) {
            io.int32(m.committed_leader_epoch);
        }
        if (version == 1) {
            io.int64(m.commit_timestamp);
        }
        io.nullable_string(m.committed_metadata);
        io.tagged_fields();
    }
};

struct offset_commit_request_topic {
    std::string_view name;
    std::vector<offset_commit_request_partition> partitions;

    template <typename IO, typename M>
    static void fields(IO& io, M& m, int16_t version) {
        io.string(m.name);
        group_detail::elements(io, m.partitions, version);
        io.tagged_fields();
    }
};

struct offset_commit_request {
    static constexpr int16_t api_key = 8;
    static constexpr int16_t min_version = 0;
    static constexpr int16_t max_version = 8;
    static constexpr int16_t first_flexible = 8;

    std::string_view group_id;
    int32_t generation_id_or_member_epoch = -1;        // v1+
    std::string_view member_id;                        // v1+
    std::optional<std::string_view> group_instance_id; // v7+
    int64_t retention_time_ms = -1;                    // v2-4
    std::vector<offset_commit_request_topic> topics;

    template <typename IO, typename M>
    static void fields(IO& io, M& m, int16_t version) {
        io.string(m.group_id);
        if (version >= 1) {
            io.int32(m.generation_id_or_member_epoch);
            io.string(m.member_id);
        }
        if (version >= 7) {
            io.nullable_string(m.group_instance_id);
        }
        if (version >= 2 && version <= 4) {
            io.int64(m.retention_time_ms);
        }
        group_detail::elements(io, m.topics, version);
        io.tagged_fields();
    }
};

struct offset_commit_response_partition {
    int32_t partition_index = 0;
    int16_t error_code = 0;

    template <typename IO, typename M>
    static void fields(IO& io, M& m, int16_t) {
        io.int32(m.partition_index);
        io.int16(m.error_code);
        io.tagged_fields();
    }
};

struct offset_commit_response_topic {
    std::string_view name;
    std::vector<offset_commit_response_partition> partitions;

    template <typename IO, typename M>
    static void fields(IO& io, M& m, int16_t version) {
        io.string(m.name);
        group_detail::elements(io, m.partitions, version);
        io.tagged_fields();
    }
};

struct offset_commit_response {
    static constexpr int16_t api_key = 8;
    static constexpr int16_t min_version = 0;
    static constexpr int16_t max_version = 8;
    static constexpr int16_t first_flexible = 8;

    int32_t throttle_time_ms = 0; // v3+
    std::vector<offset_commit_response_topic> topics;

    template <typename IO, typename M>
    static void fields(IO& io, M& m, int16_t version) {
        if (version >= 3) {
            io.int32(m.throttle_time_ms);
        }
        group_detail::elements(io, m.topics, version);
        io.tagged_fields();
    }
};

// OffsetFetch (key 9), v0-8, flexible from v6. v8 batches groups: the request's group id and
// topics move into one entry per group, and so do the response's topics and top-level error. The
// per-group topic and partition entries have the same shape as the older top-level ones, so they
// share their structs.
struct offset_fetch_request_topic {
    std::string_view name;
    std::vector<int32_t> partition_indexes;

    template <typename IO, typename M>
    static void fields(IO& io, M& m, int16_t) {
        io.string(m.name);
        io.array(m.partition_indexes, [&](auto& p) { io.int32(p); });
        io.tagged_fields();
    }
};

struct offset_fetch_request_group {
    std::string_view group_id;
    // Null asks for every topic the group has committed.
    std::optional<std::vector<offset_fetch_request_topic>> topics;

    template <typename IO, typename M>
    static void fields(IO& io, M& m, int16_t version) {
        io.string(m.group_id);
        group_detail::nullable_elements(io, m.topics, version);
        io.tagged_fields();
    }
};

struct offset_fetch_request {
    static constexpr int16_t api_key = 9;
    static constexpr int16_t min_version = 0;
    static constexpr int16_t max_version = 8;
    static constexpr int16_t first_flexible = 6;

    std::string_view group_id; // v0-7
    // v0-7; null (every topic) only from v2, and decoded v0-1 requests always have a value.
    std::optional<std::vector<offset_fetch_request_topic>> topics;
    std::vector<offset_fetch_request_group> groups; // v8+
    bool require_stable = false;                    // v7+

    template <typename IO, typename M>
    static void fields(IO& io, M& m, int16_t version) {
        if (version <= 7) {
            io.string(m.group_id);
            group_detail::nullable_elements_from(io, m.topics, version, version >= 2);
        }
        if (version >= 8) {
            group_detail::elements(io, m.groups, version);
        }
        if (version >= 7) {
            io.boolean(m.require_stable);
        }
        io.tagged_fields();
    }
};

struct offset_fetch_response_partition {
    int32_t partition_index = 0;
    int64_t committed_offset = -1;
    int32_t committed_leader_epoch = -1; // v5+
    std::optional<std::string_view> metadata;
    int16_t error_code = 0;

    template <typename IO, typename M>
    static void fields(IO& io, M& m, int16_t version) {
        io.int32(m.partition_index);
        io.int64(m.committed_offset);
        if (version >= 5) {
            io.int32(m.committed_leader_epoch);
        }
        io.nullable_string(m.metadata);
        io.int16(m.error_code);
        io.tagged_fields();
    }
};

struct offset_fetch_response_topic {
    std::string_view name;
    std::vector<offset_fetch_response_partition> partitions;

    template <typename IO, typename M>
    static void fields(IO& io, M& m, int16_t version) {
        io.string(m.name);
        group_detail::elements(io, m.partitions, version);
        io.tagged_fields();
    }
};

struct offset_fetch_response_group {
    std::string_view group_id;
    std::vector<offset_fetch_response_topic> topics;
    int16_t error_code = 0;

    template <typename IO, typename M>
    static void fields(IO& io, M& m, int16_t version) {
        io.string(m.group_id);
        group_detail::elements(io, m.topics, version);
        io.int16(m.error_code);
        io.tagged_fields();
    }
};

struct offset_fetch_response {
    static constexpr int16_t api_key = 9;
    static constexpr int16_t min_version = 0;
    static constexpr int16_t max_version = 8;
    static constexpr int16_t first_flexible = 6;

    int32_t throttle_time_ms = 0;                    // v3+
    std::vector<offset_fetch_response_topic> topics; // v0-7
    int16_t error_code = 0;                          // v2-7
    std::vector<offset_fetch_response_group> groups; // v8+

    template <typename IO, typename M>
    static void fields(IO& io, M& m, int16_t version) {
        if (version >= 3) {
            io.int32(m.throttle_time_ms);
        }
        if (version <= 7) {
            group_detail::elements(io, m.topics, version);
            if (version >= 2) {
                io.int16(m.error_code);
            }
        }
        if (version >= 8) {
            group_detail::elements(io, m.groups, version);
        }
        io.tagged_fields();
    }
};

// ListGroups (key 16), v0-4, flexible from v3.
struct list_groups_request {
    static constexpr int16_t api_key = 16;
    static constexpr int16_t min_version = 0;
    static constexpr int16_t max_version = 4;
    static constexpr int16_t first_flexible = 3;

    // Empty lists every group, whatever its state.
    std::vector<std::string_view> states_filter; // v4+

    template <typename IO, typename M>
    static void fields(IO& io, M& m, int16_t version) {
        if (version >= 4) {
            group_detail::strings(io, m.states_filter);
        }
        io.tagged_fields();
    }
};

struct list_groups_response_group {
    std::string_view group_id;
    std::string_view protocol_type;
    std::string_view group_state; // v4+

    template <typename IO, typename M>
    static void fields(IO& io, M& m, int16_t version) {
        io.string(m.group_id);
        io.string(m.protocol_type);
        if (version >= 4) {
            io.string(m.group_state);
        }
        io.tagged_fields();
    }
};

struct list_groups_response {
    static constexpr int16_t api_key = 16;
    static constexpr int16_t min_version = 0;
    static constexpr int16_t max_version = 4;
    static constexpr int16_t first_flexible = 3;

    int32_t throttle_time_ms = 0; // v1+
    int16_t error_code = 0;
    std::vector<list_groups_response_group> groups;

    template <typename IO, typename M>
    static void fields(IO& io, M& m, int16_t version) {
        if (version >= 1) {
            io.int32(m.throttle_time_ms);
        }
        io.int16(m.error_code);
        group_detail::elements(io, m.groups, version);
        io.tagged_fields();
    }
};

// DescribeGroups (key 15), v0-5, flexible from v5.
struct describe_groups_request {
    static constexpr int16_t api_key = 15;
    static constexpr int16_t min_version = 0;
    static constexpr int16_t max_version = 5;
    static constexpr int16_t first_flexible = 5;

    std::vector<std::string_view> groups;
    bool include_authorized_operations = false; // v3+

    template <typename IO, typename M>
    static void fields(IO& io, M& m, int16_t version) {
        group_detail::strings(io, m.groups);
        if (version >= 3) {
            io.boolean(m.include_authorized_operations);
        }
        io.tagged_fields();
    }
};

struct describe_groups_response_member {
    std::string_view member_id;
    std::optional<std::string_view> group_instance_id; // v4+
    std::string_view client_id;
    std::string_view client_host;
    std::span<const std::byte> member_metadata;
    std::span<const std::byte> member_assignment;

    template <typename IO, typename M>
    static void fields(IO& io, M& m, int16_t version) {
        io.string(m.member_id);
        if (version >= 4) {
            io.nullable_string(m.group_instance_id);
        }
        io.string(m.client_id);
        io.string(m.client_host);
        io.bytes(m.member_metadata);
        io.bytes(m.member_assignment);
        io.tagged_fields();
    }
};

struct describe_groups_response_group {
    int16_t error_code = 0;
    std::string_view group_id;
    std::string_view group_state;
    std::string_view protocol_type;
    std::string_view protocol_data;
    std::vector<describe_groups_response_member> members;
    // The spec's "not requested" marker, kept for versions that lack the field.
    int32_t authorized_operations = std::numeric_limits<int32_t>::min(); // v3+

    template <typename IO, typename M>
    static void fields(IO& io, M& m, int16_t version) {
        io.int16(m.error_code);
        io.string(m.group_id);
        io.string(m.group_state);
        io.string(m.protocol_type);
        io.string(m.protocol_data);
        group_detail::elements(io, m.members, version);
        if (version >= 3) {
            io.int32(m.authorized_operations);
        }
        io.tagged_fields();
    }
};

struct describe_groups_response {
    static constexpr int16_t api_key = 15;
    static constexpr int16_t min_version = 0;
    static constexpr int16_t max_version = 5;
    static constexpr int16_t first_flexible = 5;

    int32_t throttle_time_ms = 0; // v1+
    std::vector<describe_groups_response_group> groups;

    template <typename IO, typename M>
    static void fields(IO& io, M& m, int16_t version) {
        if (version >= 1) {
            io.int32(m.throttle_time_ms);
        }
        group_detail::elements(io, m.groups, version);
        io.tagged_fields();
    }
};

// DeleteGroups (key 42), v0-2, flexible from v2.
struct delete_groups_request {
    static constexpr int16_t api_key = 42;
    static constexpr int16_t min_version = 0;
    static constexpr int16_t max_version = 2;
    static constexpr int16_t first_flexible = 2;

    std::vector<std::string_view> groups_names;

    template <typename IO, typename M>
    static void fields(IO& io, M& m, int16_t) {
        group_detail::strings(io, m.groups_names);
        io.tagged_fields();
    }
};

struct delete_groups_response_result {
    std::string_view group_id;
    int16_t error_code = 0;

    template <typename IO, typename M>
    static void fields(IO& io, M& m, int16_t) {
        io.string(m.group_id);
        io.int16(m.error_code);
        io.tagged_fields();
    }
};

struct delete_groups_response {
    static constexpr int16_t api_key = 42;
    static constexpr int16_t min_version = 0;
    static constexpr int16_t max_version = 2;
    static constexpr int16_t first_flexible = 2;

    int32_t throttle_time_ms = 0;
    std::vector<delete_groups_response_result> results;

    template <typename IO, typename M>
    static void fields(IO& io, M& m, int16_t version) {
        io.int32(m.throttle_time_ms);
        group_detail::elements(io, m.results, version);
        io.tagged_fields();
    }
};

} // namespace runnel::protocol
