// offsets_log: the group coordinator's group_log on the internal `__consumer_offsets` topic, a
// partition log like any other (RecordBatch v2, the topic's ack_after level, recovery). A group's
// records go to partition hash(group) % partition count, in the order they were appended.
//
// Lifecycle: created by the broker after the topic's partitions opened on this shard; replay()
// runs once at start-up; poll() every duty cycle (retries after back-pressure, failures
// answered); destroyed before the storage closes, with any waiting appends unanswered.
// Owning core: one shard. Thread-safety: none.
#pragma once

#include "kafka/group_coordinator.h"
#include "storage/shard_storage.h"

#include <list>
#include <memory>
#include <string>

namespace runnel::kafka {

inline constexpr std::string_view offsets_topic = "__consumer_offsets";

class offsets_log final : public group_log {
public:
    offsets_log(storage::shard_storage& storage, int32_t partitions);
    ~offsets_log() override;
    offsets_log(const offsets_log&) = delete;
    offsets_log& operator=(const offsets_log&) = delete;

    void append(std::string_view group_id, std::vector<group_record> records,
                std::function<void(bool ok)> done) override;
    uint32_t poll();

    // Compaction by rewriting the live keys: appends `live` (group_coordinator::live_records)
    // behind everything else and, once that is durable, deletes every record before it, so a
    // replay rebuilds the same state from far fewer records. Only when idle(): no append
    // waiting, so no commit in flight can be overtaken by an older value in `live`.
    void compact(std::vector<group_record> live);
    bool idle() const { return _pending.empty(); }
    // Records in this shard's partitions (log end - log start): what a replay reads.
    uint64_t record_count() const;

    using visitor = std::function<void(std::span<const std::byte> key,
                                       std::optional<std::span<const std::byte>> value)>;
    // Hands every record of every partition to `visit`, oldest first. Drives the shard's io
    // until the reads complete: start-up only. Returns the number of records, or what failed.
    result<uint64_t, std::string> replay(const visitor& visit);

    static int32_t partition_of(std::string_view group_id, int32_t partitions);

private:
    struct pending;
    static void on_appended(storage::append_waiter& w);
    void queue(int32_t partition, const std::vector<group_record>& records,
               std::function<void(bool ok)> done);
    result<void, std::string> replay_partition(int32_t p, const visitor& visit, uint64_t& count);

    storage::shard_storage& _storage;
    int32_t _partitions;
    std::list<std::unique_ptr<pending>> _pending; // in append order
};

} // namespace runnel::kafka
