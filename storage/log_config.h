// Per-topic log settings (Kafka's topic configs under Runnel's names) and their defaults.
// Validated by the broker's config loader before any log opens. Plain data; copied freely.
#pragma once

#include <cstdint>
#include <string_view>
#include <optional>

namespace runnel::storage {

// When an append's completion fires:
// - memory: the batch is in this shard's write buffer (lost if the process dies);
// - write:  the batch was written to the device with O_DIRECT (lost on power failure);
// - fsync:  the batch and everything before it are on stable storage (RWF_DSYNC).
enum class ack_after : uint8_t { memory, write, fsync };

enum class timestamp_type : uint8_t { create_time, log_append_time };

struct log_config {
    uint64_t segment_bytes = 1ull << 30;          // roll when a segment reaches this size
    int64_t segment_ms = 7ll * 24 * 3600 * 1000;  // roll when the first batch is this old
    int64_t retention_bytes = -1;                 // -1: no size limit
    int64_t retention_ms = 7ll * 24 * 3600 * 1000; // -1: no time limit
    uint32_t index_interval_bytes = 4096;         // bytes between sparse index entries
    uint64_t preallocate_bytes = 32ull << 20;     // fallocate step for the active segment
    ack_after ack = ack_after::fsync;
    timestamp_type timestamps = timestamp_type::create_time;
};

// Per-shard storage engine settings (not per topic).
struct engine_config {
    uint32_t chunk_bytes = 256u << 10; // write buffer chunk; block multiple
    // Chunks per partition: write buffer + recent-data cache. Six leave room for a 1.25 MiB
    // batch, above the 1 MB that Kafka clients send at most by default (message.max.bytes).
    uint32_t chunk_count = 6;
    uint32_t flush_deadline_us = 50;   // longest an appended batch waits to be written
    uint32_t memory_flush_deadline_us = 5000; // the same for topics with ack_after = memory
    uint32_t io_queue_depth = 256;     // io_uring submission queue entries per shard
};

// Limits that bound the values above; the config loader enforces them.
inline constexpr uint64_t segment_bytes_min = 1ull << 16;
inline constexpr uint64_t segment_bytes_max = 1ull << 31; // positions are 32-bit
inline constexpr uint64_t preallocate_bytes_max = 1ull << 30;

std::string_view to_string(ack_after a);
std::optional<ack_after> parse_ack_after(std::string_view s);
std::string_view to_string(timestamp_type t);
std::optional<timestamp_type> parse_timestamp_type(std::string_view s);

} // namespace runnel::storage
