// Kafka RecordBatch v2 (magic 2): field layout, validation of a produced batch, and the in-place
// rewrites the log performs when it appends one (base offset; for LogAppendTime topics the max
// timestamp, the timestamp-type attribute and the CRC). The layout and the rules are specified
// in storage/log_format.md. Pure functions over byte spans; any thread; no allocation.
#pragma once

#include "base/named_type.h"
#include "base/result.h"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string_view>

namespace runnel::storage::batch {

// Byte positions of the header fields (big-endian on the wire and on disk).
inline constexpr size_t base_offset_at = 0;
inline constexpr size_t batch_length_at = 8;
inline constexpr size_t leader_epoch_at = 12;
inline constexpr size_t magic_at = 16;
inline constexpr size_t crc_at = 17;
inline constexpr size_t attributes_at = 21; // the CRC covers from here to the end
inline constexpr size_t last_offset_delta_at = 23;
inline constexpr size_t base_timestamp_at = 27;
inline constexpr size_t max_timestamp_at = 35;
inline constexpr size_t producer_id_at = 43;
inline constexpr size_t producer_epoch_at = 51;
inline constexpr size_t base_sequence_at = 53;
inline constexpr size_t record_count_at = 57;
inline constexpr size_t header_bytes = 61;
// baseOffset and batchLength are not counted by batchLength.
inline constexpr size_t log_overhead_bytes = 12;
static_assert(record_count_at + 4 == header_bytes);

inline constexpr uint16_t compression_mask = 0x07;
inline constexpr uint16_t timestamp_type_bit = 0x08;
inline constexpr uint16_t transactional_bit = 0x10;
inline constexpr uint16_t control_bit = 0x20;

// Largest batch the log accepts (Kafka's message.max.bytes default is about 1 MiB).
inline constexpr uint32_t size_max = 16u << 20;

struct header {
    model::offset base_offset;
    int32_t batch_length = 0;
    model::epoch leader_epoch;
    int8_t magic = 0;
    uint32_t crc = 0;
    uint16_t attributes = 0;
    int32_t last_offset_delta = 0;
    model::timestamp_ms base_timestamp;
    model::timestamp_ms max_timestamp;
    model::producer_id producer_id;
    int16_t producer_epoch = 0;
    int32_t base_sequence = 0;
    int32_t record_count = 0;

    uint32_t size_bytes() const { return uint32_t(batch_length) + log_overhead_bytes; }
    model::offset last_offset() const { return base_offset + last_offset_delta; }
    bool compressed() const { return (attributes & compression_mask) != 0; }
    bool log_append_time() const { return (attributes & timestamp_type_bit) != 0; }
    bool control() const { return (attributes & control_bit) != 0; }
};

// Decodes the 61-byte header. Precondition: bytes.size() >= header_bytes.
header read_header(std::span<const std::byte> bytes);

enum class errc : uint8_t {
    too_short,          // fewer bytes than a header, or than batchLength says
    bad_length,         // batchLength below the header size, above size_max, or trailing bytes
    bad_magic,          // magic is not 2
    bad_crc,            // CRC32C over attributes..end does not match
    bad_record_count,   // recordCount < 1, or != lastOffsetDelta + 1
    bad_attributes,     // unknown compression codec
    control_batch,      // producers may not write control batches
    bad_record,         // an uncompressed record is malformed or its offsetDelta is out of order
};
std::string_view to_string(errc e);

// Validates one complete produced batch that must fill `bytes` exactly: sizes, magic, CRC32C,
// record count against lastOffsetDelta and, for uncompressed batches, every record's framing and
// offset delta. Compressed records are checked by count only (they stay compressed on disk).
result<header, errc> validate(std::span<const std::byte> bytes);

// Checks the framing and CRC of a stored batch at the start of `bytes` (recovery, reads).
// Returns the header, or an error when the bytes there are not a whole valid batch.
result<header, errc> check_stored(std::span<const std::byte> bytes);

// Hands the key and value of every record of a stored, uncompressed batch at the start of `bytes`
// to `visit` (views into `bytes`; nullopt for null). False when the batch is not whole and valid
// or is compressed. Control path (the group coordinator's replay).
using record_visitor = std::function<void(const std::optional<std::span<const std::byte>>& key,
                                          const std::optional<std::span<const std::byte>>& value)>;
bool for_each_record(std::span<const std::byte> bytes, const record_visitor& visit);

// The offset of the first record whose timestamp is >= ts in a stored, checked batch: exact for
// uncompressed CreateTime batches, the base offset otherwise (records not decoded).
model::offset first_offset_at_or_after(std::span<const std::byte> bytes, model::timestamp_ms ts);

// Rewrites the base offset (not covered by the CRC).
void set_base_offset(std::span<std::byte> bytes, model::offset o);
// Marks the batch LogAppendTime with max timestamp `now` and recomputes the CRC.
void set_log_append_time(std::span<std::byte> bytes, model::timestamp_ms now);

} // namespace runnel::storage::batch
