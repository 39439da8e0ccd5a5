// The consumer-group coordinator of one shard: Kafka's classic ("generic") group protocol as
// Apache Kafka's GroupCoordinator implements it (JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
// OffsetCommit, OffsetFetch, ListGroups, DescribeGroups, DeleteGroups), without sockets or wire
// formats: the request handlers map Kafka messages to these calls and back.
//
// A group moves Empty -> PreparingRebalance -> CompletingRebalance -> Stable; a rebalance
// completes when every known member has rejoined (or the rebalance timeout evicts the silent
// ones), the leader then sends the assignment through SyncGroup. Group metadata and committed
// offsets are persisted through `group_log` (records described in group_log_format.md) and
// replayed with `load` at start-up; members are not persisted, so after a restart every group is
// Empty and its members rejoin. Two Kafka details worth knowing: a leader rejoining a Stable group
// always starts a rebalance (it rejoins when it wants a new assignment), and a static member
// (group_instance_id) that replaces itself in a Stable group with unchanged protocols gets the old
// leader id back, so it does not assign.
//
// Answers: the join, sync and commit calls answer through a callback, which runs inside the call
// when the answer is immediate and later (from poll() or from a log completion) when it waits.
// Every callback is answered exactly once while the coordinator lives; callbacks may call back into
// the coordinator. Time comes from `now_ms`; poll() fires the timers (session and rebalance
// timeouts, the initial rebalance delay, offset retention).
//
// Lifecycle: created on its shard before any request, after which `load` replays the log; the
// `group_log` must outlive it, and the log must not run `done` callbacks after it is destroyed.
// Destroying it drops waiting callbacks unanswered.
// Thread-safety: none; one shard thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace runnel::kafka {

// One record of a group partition's compacted log; a null value is a tombstone.
struct group_record {
    std::vector<std::byte> key;
    std::optional<std::vector<std::byte>> value;
};

class group_log {
public:
    virtual ~group_log() = default;
    // Appends records atomically (one batch) to the compacted log of `group_id`'s partition.
    // `done(ok)` runs later, never inside append(); ok=false means nothing of it is durable.
    virtual void append(std::string_view group_id, std::vector<group_record> records,
                        std::function<void(bool ok)> done) = 0;
};

struct coordinator_options {
    int32_t initial_rebalance_delay_ms = 3000;
    int32_t session_timeout_min_ms = 6000;
    int32_t session_timeout_max_ms = 1800000;
    int64_t offsets_retention_ms = 7LL * 24 * 3600 * 1000;
    // How often Empty groups' offsets are checked for expiry (offsets.retention.check.interval.ms).
    int64_t offsets_retention_check_interval_ms = 600000;
    uint32_t group_max_size = UINT32_MAX;
    size_t offset_metadata_max_bytes = 4096;
    // How long a new member may wait in its first join before it is dropped (Kafka's 5 minutes).
    int32_t new_member_join_timeout_ms = 300000;
};

struct group_protocol {
    std::string name;
    std::vector<std::byte> metadata;
    bool operator==(const group_protocol&) const = default;
};

struct join_args {
    std::string group_id;
    std::string member_id; // empty for a new member
    std::optional<std::string> group_instance_id;
    std::string client_id;
    std::string client_host;
    std::string protocol_type;
    std::vector<group_protocol> protocols; // in the member's order of preference
    int32_t session_timeout_ms = 0;
    int32_t rebalance_timeout_ms = -1; // -1 (JoinGroup v0): the session timeout
    bool require_known_member = false; // JoinGroup v4+
};

struct join_member {
    std::string member_id;
    std::optional<std::string> group_instance_id;
    std::vector<std::byte> metadata; // of the chosen protocol
};

struct join_result {
    int16_t error = 0;
    int32_t generation_id = -1;
    std::optional<std::string> protocol_name;
    std::optional<std::string> protocol_type;
    std::string leader;
    std::string member_id;
    std::vector<join_member> members; // only for the leader
};

struct member_assignment {
    std::string member_id;
    std::vector<std::byte> assignment;
};

struct sync_args {
    std::string group_id;
    int32_t generation_id = -1;
    std::string member_id;
    std::optional<std::string> group_instance_id;
    std::optional<std::string> protocol_type; // SyncGroup v5+
    std::optional<std::string> protocol_name; // SyncGroup v5+
    std::vector<member_assignment> assignments; // from the leader only
};

struct sync_result {
    int16_t error = 0;
    std::optional<std::string> protocol_type;
    std::optional<std::string> protocol_name;
    std::vector<std::byte> assignment;
};

struct heartbeat_args {
    std::string group_id;
    int32_t generation_id = -1;
    std::string member_id;
    std::optional<std::string> group_instance_id;
};

struct member_identity {
    std::string member_id; // may be empty when group_instance_id names the member
    std::optional<std::string> group_instance_id;
};

struct leave_member_result {
    std::string member_id;
    std::optional<std::string> group_instance_id;
    int16_t error = 0;
};

struct leave_result {
    int16_t error = 0;
    std::vector<leave_member_result> members;
};

struct offset_commit {
    std::string topic;
    int32_t partition = 0;
    int64_t offset = 0;
    int32_t leader_epoch = -1;
    std::string metadata;
};

struct commit_args {
    std::string group_id;
    int32_t generation_id = -1; // -1 with an empty member id: a standalone commit
    std::string member_id;
    std::optional<std::string> group_instance_id;
    std::vector<offset_commit> offsets;
};

struct fetch_topic {
    std::string topic;
    std::vector<int32_t> partitions;
};

struct fetched_offset {
    std::string topic;
    int32_t partition = 0;
    int64_t offset = -1;
    int32_t leader_epoch = -1;
    std::string metadata;
    int16_t error = 0;
};

struct fetch_result {
    int16_t error = 0;
    std::vector<fetched_offset> partitions;
};

struct listed_group {
    std::string group_id;
    std::string protocol_type;
    std::string state;
};

struct described_member {
    std::string member_id;
    std::optional<std::string> group_instance_id;
    std::string client_id;
    std::string client_host;
    std::vector<std::byte> metadata;   // Stable groups only
    std::vector<std::byte> assignment; // Stable groups only
};

struct described_group {
    int16_t error = 0;
    std::string group_id;
    std::string state; // "Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead"
    std::string protocol_type;
    std::string protocol_name; // empty unless Stable
    std::vector<described_member> members;
};

using join_callback = std::function<void(join_result)>;
using sync_callback = std::function<void(sync_result)>;
using commit_callback = std::function<void(std::vector<int16_t>)>; // per offset, same order

class group_coordinator {
public:
    group_coordinator(coordinator_options options, group_log& log,
                      std::function<int64_t()> now_ms);
    group_coordinator(const group_coordinator&) = delete;
    group_coordinator& operator=(const group_coordinator&) = delete;

    // Replays one record of the log (in log order, before any other call). Returns false, and
    // changes nothing, when the record cannot be parsed.
    bool load(std::span<const std::byte> key, std::optional<std::span<const std::byte>> value);

    void join(join_args args, join_callback done);
    void sync(sync_args args, sync_callback done);
    int16_t heartbeat(const heartbeat_args& args);
    leave_result leave(std::string_view group_id, const std::vector<member_identity>& members);
    void commit_offsets(commit_args args, commit_callback done);
    // With no topic list, every committed offset of the group, ordered by topic and partition.
    fetch_result fetch_offsets(std::string_view group_id,
                               const std::optional<std::vector<fetch_topic>>& topics) const;
    // States are matched without regard to case; an empty filter lists every group.
    std::vector<listed_group> list_groups(const std::vector<std::string>& states) const;
    described_group describe_group(std::string_view group_id) const;
    std::vector<int16_t> delete_groups(const std::vector<std::string>& group_ids);
    // Fires due timers; returns how many fired.
    uint32_t poll();
    // The records that rebuild today's state on replay (each group's metadata, if it has any,
    // and its committed offsets, with their commit times), for compacting the log: appended
    // after everything else, they make every record before them redundant. Offsets whose commit
    // is still in flight are not final: call only when the log has no append waiting.
    std::vector<group_record> live_records() const;
    size_t live_record_count() const;

private:
    enum class group_state : uint8_t { empty, preparing_rebalance, completing_rebalance, stable };
    static constexpr int64_t never = INT64_MAX;
    using topic_partition = std::pair<std::string, int32_t>;

    struct member {
        std::string id;
        std::optional<std::string> instance_id;
        std::string client_id;
        std::string client_host;
        std::vector<group_protocol> protocols;
        int32_t session_timeout_ms = 0;
        int32_t rebalance_timeout_ms = 0;
        std::vector<std::byte> assignment;
        join_callback awaiting_join;
        sync_callback awaiting_sync;
        bool is_new = false;       // has not yet been answered a first join
        bool pending_sync = false; // in the generation but has not sent its sync yet
        int64_t deadline_ms = 0;   // session (or new-member join) expiry
    };

    struct committed_offset {
        int64_t offset = 0;
        int32_t leader_epoch = -1;
        std::string metadata;
        int64_t commit_timestamp_ms = 0;
    };

    struct group {
        std::string id;
        uint64_t incarnation = 0; // tells a log completion whether its group was deleted since
        group_state state = group_state::empty;
        int64_t state_since_ms = 0;
        int32_t generation = 0;
        std::string protocol_type;
        std::optional<std::string> protocol_name;
        std::optional<std::string> leader;
        std::vector<member> members; // in join order
        std::map<std::string, int64_t, std::less<>> pending_members; // id -> deadline
        int64_t join_deadline_ms = never;
        bool initial_delay = false;
        bool new_member_added = false;
        int64_t initial_remaining_ms = 0;
        int64_t sync_deadline_ms = never;
        std::map<topic_partition, committed_offset> offsets;
        std::map<topic_partition, int> pending_commits; // appends in flight per partition
    };

    // join
    static bool supports_protocols(const group& g, const member* self, const join_args& a);
    int16_t check_join(group& g, const join_args& a);
    void join_new_member(group& g, join_args& a, join_callback& done);
    void join_known_member(group& g, join_args& a, join_callback& done);
    void replace_static_member(group& g, member& m, std::string new_id, join_args& a,
                               join_callback& done);
    void add_member_and_rebalance(group& g, std::string id, join_args& a, join_callback& done);
    void update_member(group& g, member& m, join_args& a, join_callback& done);
    join_result current_generation(const group& g, const member& m) const;
    std::vector<join_member> member_list(const group& g) const;
    static std::vector<std::byte> metadata_of(const member& m, std::string_view name);
    std::string select_protocol(const group& g) const;
    // rebalance
    static int32_t rebalance_timeout(const group& g);
    void prepare_rebalance(group& g);
    void try_complete_join(group& g);
    void complete_join(group& g);
    void on_join_deadline(group& g);
    void on_sync_deadline(group& g);
    void store_assignments(group& g, std::vector<member_assignment> assignments);
    void on_assignments_stored(const std::string& group_id, uint64_t incarnation,
                               int32_t generation, std::vector<member_assignment> assignments,
                               bool ok);
    void reset_assignments(group& g, int16_t error);
    void remove_member(group& g, size_t index, int16_t error);
    void member_left(group& g);
    int16_t leave_one(group& g, const member_identity& who);
    // commits
    int16_t check_commit(const commit_args& a, group*& g);
    void on_offsets_stored(const std::string& group_id, uint64_t incarnation, int64_t timestamp_ms,
                           const std::vector<offset_commit>& offsets,
                           const std::vector<size_t>& accepted, bool ok);
    // timers
    uint32_t fire_timers(group& g, int64_t now);
    static bool session_expired(const member& m, int64_t now);
    uint32_t expire_members(group& g, int64_t now);
    int64_t group_due(const group& g) const;
    uint32_t sweep_offsets(int64_t now);
    void arm(int64_t deadline_ms);
    void refresh(member& m);
    // persistence
    bool load_offset(std::string_view group_id, std::string_view topic, int32_t partition,
                     std::optional<std::span<const std::byte>> value);
    bool load_group(std::string_view group_id, std::optional<std::span<const std::byte>> value);
    void forget_if_unused(group& g);
    group_record group_metadata_record(const group& g) const;
    void append_unwatched(const group& g, std::vector<group_record> records);
    // helpers
    group* find(std::string_view id);
    const group* find(std::string_view id) const;
    group& create(std::string_view id);
    static member* find_member(group& g, std::string_view id);
    static member* find_static(group& g, std::string_view instance_id);
    static int16_t validate_member(group& g, std::string_view id,
                                   const std::optional<std::string>& instance_id);
    void transition(group& g, group_state s);
    void answer_join(member& m, join_result r);
    void answer_sync(member& m, sync_result r);
    void defer(std::function<void()> answer);
    template <typename R>
    void reply(std::function<void(R)> cb, R r) {
        defer([cb = std::move(cb), r = std::move(r)] { cb(r); });
    }
    void flush();
    std::string new_member_id(std::string_view client_id);
    static const char* state_name(group_state s);

    coordinator_options _options;
    group_log& _log;
    std::function<int64_t()> _now;
    std::map<std::string, group, std::less<>> _groups;
    uint64_t _incarnations = 0;
    int64_t _next_due_ms = 0;   // no group timer fires before this
    int64_t _next_sweep_ms = 0; // the next offset retention check
    std::mt19937_64 _random;
    // Answers wait here until the state change that produced them is complete, so a callback
    // that calls back into the coordinator never sees it half-updated.
    std::vector<std::function<void()>> _outbox;
    bool _flushing = false;
};

} // namespace runnel::kafka
