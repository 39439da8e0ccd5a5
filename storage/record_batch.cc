#include "storage/record_batch.h"

#include "storage/crc32c.h"
#include "storage/detail/endian.h"

#include <cstdint>

namespace runnel::storage::batch {

using detail::load_be;
using detail::store_be;

std::string_view to_string(errc e) {
    switch (e) {
    case errc::too_short: return "batch shorter than its header or its batchLength";
    case errc::bad_length: return "batchLength out of range or does not match the bytes sent";
    case errc::bad_magic: return "magic is not 2 (only RecordBatch v2 is accepted)";
    case errc::bad_crc: return "CRC32C mismatch";
    case errc::bad_record_count: return "recordCount does not equal lastOffsetDelta + 1";
    case errc::bad_attributes: return "unknown compression codec";
    case errc::control_batch: return "producers may not write control batches";
    case errc::bad_record: return "malformed record or out-of-order offsetDelta";
    }
    return "unknown";
}

header read_header(std::span<const std::byte> b) {
    RUNNEL_ASSERT(b.size() >= header_bytes);
    const std::byte* p = b.data();
    header h;
    h.base_offset = model::offset(load_be<int64_t>(p + base_offset_at));
    h.batch_length = load_be<int32_t>(p + batch_length_at);
    h.leader_epoch = model::epoch(load_be<int32_t>(p + leader_epoch_at));
    h.magic = load_be<int8_t>(p + magic_at);
    h.crc = load_be<uint32_t>(p + crc_at);
    h.attributes = load_be<uint16_t>(p + attributes_at);
    h.last_offset_delta = load_be<int32_t>(p + last_offset_delta_at);
    h.base_timestamp = model::timestamp_ms(load_be<int64_t>(p + base_timestamp_at));
    h.max_timestamp = model::timestamp_ms(load_be<int64_t>(p + max_timestamp_at));
    h.producer_id = model::producer_id(load_be<int64_t>(p + producer_id_at));
    h.producer_epoch = load_be<int16_t>(p + producer_epoch_at);
    h.base_sequence = load_be<int32_t>(p + base_sequence_at);
    h.record_count = load_be<int32_t>(p + record_count_at);
    return h;
}

namespace {

// Zig-zag varint as Kafka's records use it; false when it runs past `end` or over 5/10 bytes.
template <typename T>
bool read_varint(const std::byte*& p, const std::byte* end, T& out) {
    using U = std::make_unsigned_t<T>;
    U raw = 0;
    for (unsigned shift = 0; shift < sizeof(T) * 8; shift += 7) {
        if (p == end) {
            return false;
        }
        auto b = static_cast<uint8_t>(*p++);
        raw |= U(b & 0x7f) << shift;
        if ((b & 0x80) == 0) {
            out = static_cast<T>((raw >> 1) ^ (~(raw & 1) + 1));
            return true;
        }
    }
    return false;
}

// Reads a varint-length byte field into `out` (nullopt for -1); `nullable` allows -1.
bool read_bytes(const std::byte*& p, const std::byte* end, bool nullable,
                std::optional<std::span<const std::byte>>& out) {
    int32_t len = 0;
    if (!read_varint(p, end, len)) {
        return false;
    }
    if (len < 0) {
        out.reset();
        return nullable && len == -1;
    }
    if (end - p < len) {
        return false;
    }
    out = std::span<const std::byte>(p, size_t(len));
    p += len;
    return true;
}

// Walks every record of an uncompressed batch, checking framing, offsetDelta order and exact
// fill, and hands each record's key and value to `visit`.
template <typename Visit>
bool walk_records(std::span<const std::byte> b, int32_t count, Visit&& visit) {
    const std::byte* p = b.data() + header_bytes;
    const std::byte* end = b.data() + b.size();
    for (int32_t i = 0; i < count; ++i) {
        int32_t length = 0;
        if (!read_varint(p, end, length) || length < 1 || end - p < length) {
            return false;
        }
        const std::byte* rec_end = p + length;
        int64_t ts_delta = 0;
        int32_t offset_delta = 0;
        int32_t header_count = 0;
        std::optional<std::span<const std::byte>> key;
        std::optional<std::span<const std::byte>> value;
        p += 1; // attributes, unused in v2
        if (!read_varint(p, rec_end, ts_delta) || !read_varint(p, rec_end, offset_delta) ||
            offset_delta != i || !read_bytes(p, rec_end, true, key) ||
            !read_bytes(p, rec_end, true, value) || !read_varint(p, rec_end, header_count) ||
            header_count < 0) {
            return false;
        }
        for (int32_t h = 0; h < header_count; ++h) {
            std::optional<std::span<const std::byte>> ignored;
            if (!read_bytes(p, rec_end, false, ignored) || !read_bytes(p, rec_end, true, ignored)) {
                return false;
            }
        }
        if (p != rec_end) {
            return false;
        }
        visit(key, value);
    }
    return p == end;
}

bool check_records(std::span<const std::byte> b, int32_t count) {
    return walk_records(b, count, [](const auto&, const auto&) {});
}

} // namespace

bool for_each_record(std::span<const std::byte> b, const record_visitor& visit) {
    auto h = check_stored(b);
    if (!h || h->compressed()) {
        return false;
    }
    return walk_records(b.subspan(0, h->size_bytes()), h->record_count, visit);
}

result<header, errc> check_stored(std::span<const std::byte> b) {
    if (b.size() < header_bytes) {
        return failure(errc::too_short);
    }
    header h = read_header(b);
    if (h.batch_length < int32_t(header_bytes - log_overhead_bytes) ||
        uint32_t(h.batch_length) > size_max) {
        return failure(errc::bad_length);
    }
    if (b.size() < h.size_bytes()) {
        return failure(errc::too_short);
    }
    if (h.magic != 2) {
        return failure(errc::bad_magic);
    }
    auto covered = b.subspan(attributes_at, h.size_bytes() - attributes_at);
    if (crc32c(covered) != h.crc) {
        return failure(errc::bad_crc);
    }
    if (h.record_count < 1 || h.last_offset_delta != h.record_count - 1) {
        return failure(errc::bad_record_count);
    }
    return h;
}

result<header, errc> validate(std::span<const std::byte> b) {
    auto h = check_stored(b);
    if (!h) {
        return h;
    }
    if (h->size_bytes() != b.size()) {
        return failure(errc::bad_length);
    }
    if ((h->attributes & compression_mask) > 4) {
        return failure(errc::bad_attributes);
    }
    if (h->control()) {
        return failure(errc::control_batch);
    }
    if (!h->compressed() && !check_records(b, h->record_count)) {
        return failure(errc::bad_record);
    }
    return h;
}

model::offset first_offset_at_or_after(std::span<const std::byte> b, model::timestamp_ms ts) {
    header h = read_header(b);
    if (h.compressed() || h.log_append_time()) {
        return h.base_offset;
    }
    const std::byte* p = b.data() + header_bytes;
    const std::byte* end = b.data() + h.size_bytes();
    for (int32_t i = 0; i < h.record_count; ++i) {
        int32_t length = 0;
        int64_t ts_delta = 0;
        int32_t offset_delta = 0;
        if (!read_varint(p, end, length) || length < 1 || end - p < length) {
            break;
        }
        const std::byte* next = p + length;
        p += 1;
        if (!read_varint(p, next, ts_delta) || !read_varint(p, next, offset_delta)) {
            break;
        }
        // Producers choose timestamps freely: a sum past int64 counts as far past or far future.
        int64_t record_ts = 0;
        if (__builtin_add_overflow(h.base_timestamp(), ts_delta, &record_ts)) {
            record_ts = ts_delta < 0 ? INT64_MIN : INT64_MAX;
        }
        if (record_ts >= ts()) {
            int64_t o = 0;
            return __builtin_add_overflow(h.base_offset(), offset_delta, &o) ? h.base_offset
                                                                            : model::offset(o);
        }
        p = next;
    }
    return h.base_offset;
}

void set_base_offset(std::span<std::byte> b, model::offset o) {
    RUNNEL_ASSERT(b.size() >= header_bytes);
    store_be<int64_t>(b.data() + base_offset_at, o());
}

void set_log_append_time(std::span<std::byte> b, model::timestamp_ms now) {
    RUNNEL_ASSERT(b.size() >= header_bytes);
    auto attributes = load_be<uint16_t>(b.data() + attributes_at);
    store_be<uint16_t>(b.data() + attributes_at, attributes | timestamp_type_bit);
    store_be<int64_t>(b.data() + max_timestamp_at, now());
    auto covered = b.subspan(attributes_at);
    store_be<uint32_t>(b.data() + crc_at, crc32c(covered));
    RUNNEL_ASSERT(check_stored(b).ok());
}

} // namespace runnel::storage::batch
