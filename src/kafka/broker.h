// broker: the Kafka API of one shard. It decodes each request the listener hands it, runs it
// against the shard's partition logs, topic table, producer state and group coordinator, and
// answers it, at once or later (a produce when its batches reach the topic's ack_after level, a
// fetch when it has min_bytes or its max_wait_ms passed). The API table at the top of broker.cc
// is the single list of what is served; ApiVersions answers from it, so it claims nothing else.
//
// Lifecycle: created on the owning shard's thread after its storage opened; start() opens the
// internal offsets topic and replays it into the group coordinator; it is polled every duty
// cycle (produce retries after back-pressure, parked fetches, coordinator timers) and destroyed
// before the storage closes. Owning core: one shard. Thread-safety: none.
//
// Single node: this node leads every partition at leader epoch 0, acks=1 and acks=-1 both wait
// for the topic's ack_after level. runneld gives shard 0 every partition until requests are
// forwarded between shards; a partition this shard does not own answers NOT_LEADER_OR_FOLLOWER.
#pragma once

#include "kafka/group_coordinator.h"
#include "kafka/listener.h"
#include "kafka/offsets_log.h"
#include "kafka/request.h"
#include "protocol/codec.h"
#include "protocol/data_messages.h"
#include "storage/shard_storage.h"
#include "storage/topic_store.h"

#include <deque>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace runnel::kafka {

struct broker_options {
    int32_t node_id = 0;
    std::string advertised_host = "127.0.0.1";
    int32_t advertised_port = 9092;
    std::string data_dir;
    storage::log_config log_defaults;
    int32_t default_partitions = 1;
    bool auto_create_topics = true;
    int32_t offsets_partitions = 1;          // partitions of the internal offsets topic
    int32_t group_initial_rebalance_delay_ms = 3000;
    int64_t offsets_retention_ms = 7ll * 24 * 3600 * 1000;
    // __consumer_offsets is compacted (its live records rewritten, the rest deleted) when it
    // holds more than this many records and four times its live ones; checked this often.
    uint64_t offsets_compact_records_min = 100'000;
    uint64_t offsets_compact_interval_us = 10'000'000;
};

// Idempotent-producer state of one partition: per producer id its epoch and the last few
// batches' sequence ranges and offsets, so a retried batch is answered with its first offsets
// instead of being appended twice (Kafka keeps five per producer).
struct producer_batch {
    int32_t first_sequence = 0;
    int32_t last_sequence = 0;
    int64_t base_offset = 0;
};
struct producer_entry {
    int16_t epoch = 0;
    int32_t last_sequence = -1;
    std::vector<producer_batch> recent; // oldest first, at most producer_batches_kept
};
inline constexpr size_t producer_batches_kept = 5;

// Where the broker answers fast-path produces (the fast path's log service; one per broker).
class fast_produce_sink {
public:
    virtual ~fast_produce_sink() = default;
    // The produce made with `cookie` reached its ack level or failed: the partition's Kafka error
    // code and, when none, the batch's base and last offsets.
    virtual void produced(uint64_t cookie, int16_t error, int64_t base_offset,
                          int64_t last_offset) = 0;
};

class broker final : public request_handler, public pollable {
public:
    broker(broker_options o, storage::shard_storage& storage,
           std::vector<storage::topic_metadata> topics);
    ~broker() override;
    broker(const broker&) = delete;
    broker& operator=(const broker&) = delete;

    // Creates (when missing) and opens the internal offsets topic and replays it into the group
    // coordinator. The error says what failed.
    result<void, std::string> start();
    void set_advertised_port(int32_t port) { _opts.advertised_port = port; }

    // The fast path (dataplane): a topic's small numeric handle and partition count, creating the
    // topic when auto-creation is on; nullopt for a name that is not (and cannot become) a topic.
    struct topic_handle {
        uint32_t handle = 0;
        int32_t partition_count = 0;
    };
    std::optional<topic_handle> resolve_topic(std::string_view name);
    // A producer id no other producer has had (InitProducerId for either path).
    int64_t new_producer_id() { return _next_producer_id++; }
    // Appends one batch (copied) as a Kafka producer with acks=-1 would: the same idempotence
    // state, log and ack level; the sink gets the answer with `cookie`, now or from a later
    // poll. Steady state allocates nothing: finished jobs are kept for the next produce.
    void fast_produce(uint32_t handle, int32_t partition, std::span<const std::byte> batch,
                      uint64_t cookie);
    // Null: answers are dropped (the fast path is going away).
    void set_fast_sink(fast_produce_sink* s) { _fast_sink = s; }
    // A partition's offsets for a subscriber, or the Kafka error that says why there is none.
    struct fast_extent {
        int16_t error = 0;
        int64_t log_start = 0;
        int64_t log_end = 0;
        int64_t written_end = 0;
        int64_t flushed_end = 0;
    };
    fast_extent fast_partition(uint32_t handle, int32_t partition);
    // Reads whole stored batches from `offset` below `upto` (about max_bytes, the first whole);
    // `done` runs once, now or from a later duty cycle; the bytes live during the call only.
    using fast_read_done = std::function<void(int16_t error, std::span<const std::byte>)>;
    void fast_read(uint32_t handle, int32_t partition, int64_t offset, int64_t upto,
                   uint32_t max_bytes, fast_read_done done);

    std::optional<header_versions> header_version(int16_t api_key,
                                                  int16_t api_version) const override;
    bool handle(kafka_request& r) override;
    uint32_t poll(uint64_t now_us, bool idle) override;

    // The served APIs, from the table in broker.cc (ApiVersions answers from it).
    struct api;
    static std::span<const api> apis();
    struct produce_job;
    struct fetch_job;
    struct fast_read_job;
    struct topic_entry {
        storage::topic_metadata meta;
        storage::log_config config;
        std::vector<std::map<int64_t, producer_entry>> producers; // per partition
        bool internal = false;
    };

private:
    // One handler per API; false when the body is malformed.
    bool api_versions(kafka_request& r);
    bool metadata(kafka_request& r);
    bool produce(kafka_request& r);
    bool fetch(kafka_request& r);
    bool list_offsets(kafka_request& r);
    bool offset_for_leader_epoch(kafka_request& r);
    bool create_topics(kafka_request& r);
    bool delete_topics(kafka_request& r);
    bool create_partitions(kafka_request& r);
    bool describe_configs(kafka_request& r);
    bool alter_configs(kafka_request& r);
    bool incremental_alter_configs(kafka_request& r);
    bool delete_records(kafka_request& r);
    bool init_producer_id(kafka_request& r);
    bool describe_cluster(kafka_request& r);
    bool find_coordinator(kafka_request& r);
    bool join_group(kafka_request& r);
    bool sync_group(kafka_request& r);
    bool heartbeat(kafka_request& r);
    bool leave_group(kafka_request& r);
    bool offset_commit(kafka_request& r);
    bool offset_fetch(kafka_request& r);
    bool list_groups(kafka_request& r);
    bool describe_groups(kafka_request& r);
    bool delete_groups(kafka_request& r);

    result<void, std::string> load_cluster_id();
    result<void, std::string> start_groups();
    result<void, std::string> load_producer_state();
    void compact_offsets(uint64_t now_us);
    // Topics.
    topic_entry* find_topic(std::string_view name);
    // Creates a topic (durable in the metadata store, partitions open) or says why not, as a
    // Kafka error code and message.
    struct create_error {
        int16_t code = 0;
        std::string message;
    };
    create_error create_topic(std::string_view name, int32_t partitions,
                              const std::map<std::string, std::string>& overrides,
                              bool validate_only);
    // The topic for a produce or metadata request that named it: created when auto-creation is
    // on and the name is valid; null otherwise.
    topic_entry* topic_or_create(std::string_view name);
    topic_entry* topic_of_handle(uint32_t handle);
    std::string_view handle_name(uint32_t handle) const; // empty: not a handle of this boot
    // The local log of a partition, or null with the Kafka error that says why: no such topic or
    // partition (UNKNOWN_TOPIC_OR_PARTITION), or another shard owns it (NOT_LEADER_OR_FOLLOWER).
    storage::partition_log* log_of(const topic_entry* t, int32_t partition, int16_t& error);
    create_error set_topic_overrides(topic_entry& t, std::map<std::string, std::string> overrides,
                                     bool validate_only);
    template <typename Resource, typename Apply, typename Response>
    void alter_resources(const std::vector<Resource>& resources, bool validate_only,
                         std::vector<std::string>& messages, Apply&& apply,
                         std::vector<Response>& responses);

    // Produce.
    int16_t partition_error(topic_entry* topic, std::string_view name,
                            const protocol::produce_request_partition& p, bool acks_valid,
                            bool transactional);
    void start_produce(std::unique_ptr<produce_job> job);
    void begin_produce(produce_job& job); // once it is on _produces
    bool run_produce(produce_job& job);
    void finish_produce(produce_job& job);
    void retire_produce(produce_job& job); // off _produces: freed, or kept (fast path)
    void answer_fast(uint64_t cookie, int16_t error, int64_t base_offset, int64_t last_offset);
    static void on_produce_ack(storage::append_waiter& w);
    // Fetch.
    void run_fetch(fetch_job& job, uint64_t now_us);
    void answer_fetch(fetch_job& job);
    static void on_fetch_read(storage::read_op& op);
    bool fetch_ready(const fetch_job& job, uint64_t now_us) const;

    broker_options _opts;
    storage::shard_storage& _storage;
    std::unique_ptr<storage::metadata_store> _metadata;
    std::map<std::string, topic_entry, std::less<>> _topics;
    std::list<std::unique_ptr<produce_job>> _produces; // waiting for acks or retrying
    std::list<std::unique_ptr<produce_job>> _spare_fast_jobs; // finished, kept for reuse
    // Fast-path reads that completed from memory, kept with their buffers for the next.
    std::vector<std::unique_ptr<fast_read_job>> _spare_fast_reads;
    fast_produce_sink* _fast_sink = nullptr;
    bool _produce_blocked = false; // a produce is held back: later ones queue behind it
    std::list<std::unique_ptr<fetch_job>> _fetches;    // reading or parked (long poll)
    std::unique_ptr<offsets_log> _offsets_log;
    std::unique_ptr<group_coordinator> _groups;
    // Fast-path topic handles: index into _handle_names (a deque, so views of it stay valid).
    std::deque<std::string> _handle_names;
    std::map<std::string, uint32_t, std::less<>> _handles;
    uint32_t _handle_generation = 0; // random per boot, 12 bits
    int64_t _next_producer_id = 0;
    int64_t _first_producer_id = 0; // the first id handed out since this start
    uint64_t _next_compaction_check_us = 0;
    std::string _cluster_id; // made once, kept in <data_dir>/cluster_id
};

} // namespace runnel::kafka
