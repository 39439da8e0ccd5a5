// shard_storage: everything of the storage engine that one shard owns — its io_uring and the
// partition logs assigned to it — and the storage step of the shard's duty cycle: poll each log
// (group-commit flushes), submit the io batch, reap completions and run them, poll the logs again
// so a completed write is followed at once by the next, then, once a
// second, retention and the reopening (recovery) of logs that failed a write.
// Lifecycle: created and closed by the owning shard's thread (its on_start / on_stop hooks).
// Thread-safety: none; one shard thread.
#pragma once

#include "storage/partition_log.h"
#include "storage/topic_store.h"

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace runnel::storage {

class shard_storage {
public:
    struct options {
        std::string data_dir;
        engine_config engine;
        uint32_t shard_count = 1;
        uint32_t shard_index = 0;
    };

    // Creates the shard's io_uring (errors: the kernel refused it, e.g. memlock limits).
    static result<std::unique_ptr<shard_storage>, errc> create(options o);
    // The same on a given io (tests: a simulated disk).
    static std::unique_ptr<shard_storage> create(options o, std::unique_ptr<io> disk);
    // Which shard owns a partition: a stable hash of topic and partition.
    static uint32_t owner_shard(std::string_view topic, int32_t partition, uint32_t shard_count);

    // Opens (and recovers) every partition of `t` that this shard owns.
    result<void, errc> open_partitions(const topic_metadata& t, const log_config& config);
    // Closes every partition of `topic` this shard owns and deletes their directories (a
    // deleted topic). Blocks on this shard's io: control path.
    result<void, errc> remove_partitions(const std::string& topic);
    // Gives the open logs of `topic` new settings (AlterConfigs); ack_after keeps its value
    // until the log reopens, since appends already waiting were promised the old level.
    void reconfigure(const std::string& topic, const log_config& config);
    // The partition's log, or null when this shard does not own it. After a failed write the
    // log is replaced by a recovered one, so do not keep the pointer across duty cycles.
    partition_log* find(const std::string& topic, int32_t partition);
    size_t partition_count() const { return _logs.size(); }
    // The shard's io, for control-path file work (topic metadata) on the shard's thread.
    io& disk() { return *_io; }

    // Hands every stored batch of `log` from the one holding `from` to the log end to `visit`,
    // in order, driving this shard's io until the reads complete: a start-up scan (group
    // offsets, idempotent-producer state), not for the duty cycle. Errors: the read's.
    using batch_visitor = std::function<void(std::span<const std::byte> batch)>;
    result<void, errc> scan(partition_log& log, model::offset from, const batch_visitor& visit);

    // The storage step of the duty cycle; returns the work done. Never blocks.
    uint32_t poll(uint64_t now_us, bool idle);
    // Flushes and seals every log and writes their clean-shutdown markers.
    result<void, errc> close();

private:
    struct entry {
        partition_log::options options;
        std::unique_ptr<partition_log> log;
    };
    shard_storage(options o, std::unique_ptr<io> disk);
    uint32_t poll_logs(uint64_t now_us, bool idle);
    void housekeeping();

    options _opts;
    std::unique_ptr<io> _io;
    std::map<std::pair<std::string, int32_t>, entry> _logs;
    std::vector<io_op*> _reaped;
    uint64_t _next_housekeeping_us = 0;
};

} // namespace runnel::storage
