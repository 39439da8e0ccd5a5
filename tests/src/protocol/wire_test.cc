#include "protocol/wire.h"

#include "bytes.h"

#include <gtest/gtest.h>

#include <limits>

using namespace runnel::protocol;

TEST(wire, varints_match_the_spec_encodings) {
    writer w;
    w.uvarint(300);
    EXPECT_EQ(w.bytes(), bytes({0xac, 0x02}));
    writer z;
    z.varint(-1);
    z.varint(1);
    z.varint(-64);
    z.varint(64);
    EXPECT_EQ(z.bytes(), bytes({0x01, 0x02, 0x7f, 0x80, 0x01}));
}

TEST(wire, every_primitive_round_trips) {
    writer w;
    w.int8(-5);
    w.int16(-300);
    w.int32(std::numeric_limits<int32_t>::min());
    w.int64(std::numeric_limits<int64_t>::max());
    w.varint(std::numeric_limits<int32_t>::min());
    w.varlong(std::numeric_limits<int64_t>::min());
    w.uvarint(std::numeric_limits<uint32_t>::max());
    w.boolean(true);
    uuid id{};
    id[0] = 0xab;
    id[15] = 0xcd;
    w.uuid_value(id);
    w.string("runnel");
    w.nullable_string(std::nullopt);
    w.compact_string("compact");
    w.compact_nullable_string(std::nullopt);
    auto payload = bytes({1, 2, 3});
    w.nullable_bytes(std::span<const std::byte>(payload));
    w.compact_nullable_bytes(std::nullopt);
    w.array_length(2);
    w.compact_array_length(-1);
    w.empty_tagged_fields();

    reader r(w.bytes());
    EXPECT_EQ(r.int8(), -5);
    EXPECT_EQ(r.int16(), -300);
    EXPECT_EQ(r.int32(), std::numeric_limits<int32_t>::min());
    EXPECT_EQ(r.int64(), std::numeric_limits<int64_t>::max());
    EXPECT_EQ(r.varint(), std::numeric_limits<int32_t>::min());
    EXPECT_EQ(r.varlong(), std::numeric_limits<int64_t>::min());
    EXPECT_EQ(r.uvarint(), std::numeric_limits<uint32_t>::max());
    EXPECT_TRUE(r.boolean());
    EXPECT_EQ(r.uuid_value(), id);
    EXPECT_EQ(r.string(), "runnel");
    EXPECT_FALSE(r.nullable_string());
    EXPECT_EQ(r.compact_string(), "compact");
    EXPECT_FALSE(r.compact_nullable_string());
    auto got = r.nullable_bytes();
    ASSERT_TRUE(got);
    EXPECT_EQ(std::vector<std::byte>(got->begin(), got->end()), payload);
    EXPECT_FALSE(r.compact_nullable_bytes());
    EXPECT_EQ(r.array_length(), 2);
    EXPECT_EQ(r.compact_array_length(), -1);
    r.skip_tagged_fields();
    EXPECT_TRUE(r.ok());
    EXPECT_EQ(r.remaining(), 0u);
}

TEST(wire, malformed_input_sets_a_sticky_error_and_never_overreads) {
    {
        auto b = bytes({0x00, 0x05, 'a', 'b'}); // string says 5 bytes, 2 follow
        reader r(b);
        EXPECT_EQ(r.string(), "");
        EXPECT_FALSE(r.ok());
        EXPECT_EQ(r.int32(), 0) << "reads after an error return zero";
    }
    {
        auto b = bytes({0x80, 0x80, 0x80, 0x80, 0x80, 0x01}); // uvarint over 5 bytes
        reader r(b);
        (void)r.uvarint();
        EXPECT_FALSE(r.ok());
    }
    {
        auto b = bytes({0xff, 0xff, 0xff, 0xff, 0x1f}); // uvarint over 32 bits
        reader r(b);
        (void)r.uvarint();
        EXPECT_FALSE(r.ok());
    }
    {
        auto b = bytes({0x7f, 0xff, 0xff, 0xff}); // array of 2^31-1 elements in 0 bytes
        reader r(b);
        EXPECT_EQ(r.array_length(), 0);
        EXPECT_FALSE(r.ok());
    }
    {
        auto b = bytes({0xff, 0xfe}); // string length -2
        reader r(b);
        (void)r.nullable_string();
        EXPECT_FALSE(r.ok());
    }
    {
        auto b = bytes({0x00}); // compact non-null string that is null
        reader r(b);
        (void)r.compact_string();
        EXPECT_FALSE(r.ok());
    }
    {
        auto b = bytes({0x02, 0x01, 0x05, 'x'}); // tagged field claims 5 bytes, 1 follows
        reader r(b);
        r.skip_tagged_fields();
        EXPECT_FALSE(r.ok());
    }
}

TEST(wire, request_header_versions) {
    writer w;
    w.int16(18); // ApiVersions
    w.int16(3);
    w.int32(42);
    w.nullable_string("client-1");
    w.uvarint(1); // one tagged field
    w.uvarint(0);
    w.uvarint(2);
    w.int16(7);
    reader r(w.bytes());
    auto h = read_request_header(r, 2);
    EXPECT_TRUE(r.ok());
    EXPECT_EQ(h.api_key, 18);
    EXPECT_EQ(h.api_version, 3);
    EXPECT_EQ(h.correlation_id, 42);
    EXPECT_EQ(h.client_id, "client-1");
    EXPECT_EQ(r.remaining(), 0u);

    reader v0(std::span(w.bytes()).first(8));
    auto h0 = read_request_header(v0, 0);
    EXPECT_TRUE(v0.ok());
    EXPECT_FALSE(h0.client_id);
    EXPECT_EQ(h0.correlation_id, 42);
}

TEST(wire, size_prefix_is_patched_in_place) {
    writer w;
    w.int32(0);
    w.string("abc");
    w.patch_int32(0, int32_t(w.size() - 4));
    reader r(w.bytes());
    EXPECT_EQ(r.int32(), 5);
}
