// On-disk files of a partition directory other than the segments themselves: the offset and time
// index files written when a segment is sealed, the leader-epoch checkpoint and the log-start
// checkpoint. Encoders and decoders only; the partition log does the I/O. Grammar:
// storage/log_format.md. Pure functions; any thread.
#pragma once

#include "base/named_type.h"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace runnel::storage::detail {

struct index_entry {
    uint32_t relative_offset;
    uint32_t position;
};
struct time_entry {
    model::timestamp_ms timestamp;
    uint32_t relative_offset;
};

// What a sealed segment's index files say about it.
struct segment_summary {
    uint64_t size_bytes = 0;
    model::offset next_offset;
    model::timestamp_ms max_timestamp{-1};
    model::offset max_timestamp_offset{-1};
};

std::string segment_name(model::offset base); // 20-digit zero-padded base offset
std::optional<model::offset> parse_segment_name(const std::string& file_name); // "<base>.log"

std::vector<std::byte> encode_offset_index(const segment_summary& s,
                                           std::span<const index_entry> entries);
std::vector<std::byte> encode_time_index(const segment_summary& s,
                                         std::span<const time_entry> entries);
// nullopt when the file is short, has a bad magic or version, or fails its CRC.
std::optional<std::pair<segment_summary, std::vector<index_entry>>>
decode_offset_index(std::span<const std::byte> file);
std::optional<std::pair<segment_summary, std::vector<time_entry>>>
decode_time_index(std::span<const std::byte> file);

using epoch_map = std::vector<std::pair<model::epoch, model::offset>>;
std::vector<std::byte> encode_epochs(const epoch_map& epochs);
std::optional<epoch_map> decode_epochs(std::span<const std::byte> file);

std::vector<std::byte> encode_log_start(model::offset o);
std::optional<model::offset> decode_log_start(std::span<const std::byte> file);

} // namespace runnel::storage::detail
