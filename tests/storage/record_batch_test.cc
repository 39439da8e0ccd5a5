#include "storage/batch_builder.h"
#include "storage/crc32c.h"
#include "storage/detail/endian.h"
#include "storage/record_batch.h"

#include <gtest/gtest.h>

using namespace runnel;
using namespace runnel::storage;

namespace {

std::vector<std::byte> three_records() {
    std::vector<record_spec> r{{"k1", "v1", 0}, {std::nullopt, "value-two", 5}, {"k3", std::nullopt, 9}};
    return build_batch(r, {.base_timestamp = model::timestamp_ms(1000)});
}

void recrc(std::vector<std::byte>& b) {
    auto covered = std::span<const std::byte>(b).subspan(batch::attributes_at);
    storage::detail::store_be<uint32_t>(b.data() + batch::crc_at, crc32c(covered));
}

} // namespace

TEST(record_batch, valid_batch_decodes) {
    auto b = three_records();
    auto h = batch::validate(b);
    ASSERT_TRUE(h.ok());
    EXPECT_EQ(h->record_count, 3);
    EXPECT_EQ(h->last_offset_delta, 2);
    EXPECT_EQ(h->size_bytes(), b.size());
    EXPECT_EQ(h->base_timestamp, model::timestamp_ms(1000));
    EXPECT_EQ(h->max_timestamp, model::timestamp_ms(1009));
    EXPECT_EQ(h->magic, 2);
}

TEST(record_batch, rejects_each_defect_precisely) {
    auto base = three_records();
    {
        auto b = base;
        b.resize(40);
        EXPECT_EQ(batch::validate(b).error(), batch::errc::too_short);
    }
    {
        auto b = base;
        b.push_back(std::byte(0));
        EXPECT_EQ(batch::validate(b).error(), batch::errc::bad_length);
    }
    {
        auto b = base;
        storage::detail::store_be<int32_t>(b.data() + batch::batch_length_at, 10);
        EXPECT_EQ(batch::validate(b).error(), batch::errc::bad_length);
    }
    {
        auto b = base;
        b[batch::magic_at] = std::byte(1);
        EXPECT_EQ(batch::validate(b).error(), batch::errc::bad_magic);
    }
    {
        auto b = base;
        b.back() ^= std::byte(0x01);
        EXPECT_EQ(batch::validate(b).error(), batch::errc::bad_crc);
    }
    {
        auto b = base;
        storage::detail::store_be<int32_t>(b.data() + batch::record_count_at, 2);
        recrc(b);
        EXPECT_EQ(batch::validate(b).error(), batch::errc::bad_record_count);
    }
    {
        auto b = base;
        storage::detail::store_be<uint16_t>(b.data() + batch::attributes_at, 5);
        recrc(b);
        EXPECT_EQ(batch::validate(b).error(), batch::errc::bad_attributes);
    }
    {
        auto b = base;
        storage::detail::store_be<uint16_t>(b.data() + batch::attributes_at, batch::control_bit);
        recrc(b);
        EXPECT_EQ(batch::validate(b).error(), batch::errc::control_batch);
    }
    {
        // Second record's offsetDelta (a zig-zag varint byte after length, attributes and
        // timestampDelta) changed from 1 to 3.
        auto b = base;
        size_t rec2 = batch::header_bytes + 1 + size_t(b[batch::header_bytes]) / 2;
        ASSERT_EQ(b[rec2 + 3], std::byte(2)); // zig-zag(1)
        b[rec2 + 3] = std::byte(6);
        recrc(b);
        EXPECT_EQ(batch::validate(b).error(), batch::errc::bad_record);
    }
}

TEST(record_batch, log_append_time_rewrites_crc) {
    auto b = three_records();
    batch::set_base_offset(b, model::offset(77));
    batch::set_log_append_time(b, model::timestamp_ms(5555));
    auto h = batch::check_stored(b);
    ASSERT_TRUE(h.ok());
    EXPECT_EQ(h->base_offset, model::offset(77));
    EXPECT_TRUE(h->log_append_time());
    EXPECT_EQ(h->max_timestamp, model::timestamp_ms(5555));
}

TEST(record_batch, first_offset_by_timestamp_is_record_exact) {
    auto b = three_records();
    batch::set_base_offset(b, model::offset(10));
    EXPECT_EQ(batch::first_offset_at_or_after(b, model::timestamp_ms(0)), model::offset(10));
    EXPECT_EQ(batch::first_offset_at_or_after(b, model::timestamp_ms(1001)), model::offset(11));
    EXPECT_EQ(batch::first_offset_at_or_after(b, model::timestamp_ms(1009)), model::offset(12));
}

TEST(record_batch, timestamp_lookup_survives_extreme_timestamps) {
    // Found by the fuzzer: base timestamp + delta overflowed int64.
    std::vector<record_spec> r{{"a", "b", -48}, {"c", "d", 5}};
    auto b = build_batch(r, {.base_timestamp = model::timestamp_ms(INT64_MIN)});
    batch::set_base_offset(b, model::offset(100));
    EXPECT_EQ(batch::first_offset_at_or_after(b, model::timestamp_ms(INT64_MIN + 1)),
              model::offset(101));
    EXPECT_EQ(batch::first_offset_at_or_after(b, model::timestamp_ms(0)), model::offset(100));
}
