#include "storage/batch_builder.h"

#include "storage/crc32c.h"
#include "storage/detail/endian.h"
#include "storage/record_batch.h"

#include <algorithm>

namespace runnel::storage {

namespace {

void put_varint(std::vector<std::byte>& out, int64_t v) {
    auto z = (uint64_t(v) << 1) ^ uint64_t(v >> 63);
    while (z >= 0x80) {
        out.push_back(std::byte((z & 0x7f) | 0x80));
        z >>= 7;
    }
    out.push_back(std::byte(z));
}

void put_bytes(std::vector<std::byte>& out, std::optional<std::string_view> s) {
    if (!s) {
        put_varint(out, -1);
        return;
    }
    put_varint(out, int64_t(s->size()));
    const auto* b = reinterpret_cast<const std::byte*>(s->data());
    out.insert(out.end(), b, b + s->size());
}

size_t varint_size(int64_t v) {
    auto z = (uint64_t(v) << 1) ^ uint64_t(v >> 63);
    size_t n = 1;
    for (; z >= 0x80; z >>= 7) {
        ++n;
    }
    return n;
}

size_t bytes_size(std::optional<std::string_view> s) {
    return s ? varint_size(int64_t(s->size())) + s->size() : varint_size(-1);
}

} // namespace

std::vector<std::byte> build_batch(std::span<const record_spec> records, batch_spec spec) {
    std::vector<std::byte> out;
    build_batch(out, records, spec);
    return out;
}

void build_batch(std::vector<std::byte>& out, std::span<const record_spec> records,
                 batch_spec spec) {
    using detail::store_be;
    out.resize(batch::header_bytes);
    int64_t max_delta = 0;
    for (size_t i = 0; i < records.size(); ++i) {
        const size_t body = 1 + varint_size(records[i].timestamp_delta) +
                            varint_size(int64_t(i)) + bytes_size(records[i].key) +
                            bytes_size(records[i].value) + 1;
        put_varint(out, int64_t(body));
        out.push_back(std::byte(0)); // attributes
        put_varint(out, records[i].timestamp_delta);
        put_varint(out, int64_t(i));
        put_bytes(out, records[i].key);
        put_bytes(out, records[i].value);
        put_varint(out, 0); // headers
        max_delta = std::max(max_delta, records[i].timestamp_delta);
    }
    std::byte* p = out.data();
    store_be<int64_t>(p + batch::base_offset_at, 0);
    store_be<int32_t>(p + batch::batch_length_at, int32_t(out.size() - batch::log_overhead_bytes));
    store_be<int32_t>(p + batch::leader_epoch_at, -1);
    store_be<int8_t>(p + batch::magic_at, 2);
    store_be<uint16_t>(p + batch::attributes_at, 0);
    store_be<int32_t>(p + batch::last_offset_delta_at, int32_t(records.size()) - 1);
    store_be<int64_t>(p + batch::base_timestamp_at, spec.base_timestamp());
    store_be<int64_t>(p + batch::max_timestamp_at, spec.base_timestamp() + max_delta);
    store_be<int64_t>(p + batch::producer_id_at, spec.producer_id());
    store_be<int16_t>(p + batch::producer_epoch_at, spec.producer_epoch);
    store_be<int32_t>(p + batch::base_sequence_at, spec.base_sequence);
    store_be<int32_t>(p + batch::record_count_at, int32_t(records.size()));
    auto covered = std::span<const std::byte>(out).subspan(batch::attributes_at);
    store_be<uint32_t>(p + batch::crc_at, crc32c(covered));
}

} // namespace runnel::storage
