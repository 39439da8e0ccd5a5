// The fast-path codec against byte vectors written from dataplane/fast_path.md, round trips of
// every message type, and every malformed-frame rule.
#include "dataplane/fast_path.h"

#include <gtest/gtest.h>

#include <vector>

using namespace runnel::dataplane::fast_path;

namespace {

std::vector<std::byte> bytes(std::initializer_list<int> v) {
    std::vector<std::byte> out;
    for (int b : v) {
        out.push_back(std::byte(b));
    }
    return out;
}

std::vector<std::byte> encoded(const frame& f) {
    std::vector<std::byte> out(2048);
    out.resize(encode(out, f));
    return out;
}

const std::vector<std::byte> batch_bytes = bytes({1, 2, 3, 4, 5});

// One populated message of every type, in wire-type order.
std::vector<message> every_type() {
    return {resolve{"orders"},
            resolve_answer{error_code::unknown_topic, 7, 12},
            produce{3, 4, batch_bytes},
            ack{error_code::none, 100, 109},
            subscribe{3, 4, -2, 1 << 20, 3000, 2},
            subscribe_answer{error_code::none, 9, 55},
            push{9, batch_bytes},
            credit{9, 65536, 77},
            range{9, 10, 20},
            heartbeat{9},
            unsubscribe{9},
            error{error_code::unsupported_version, 1, 1},
            init_producer{},
            init_producer_answer{error_code::none, 3, 0x0123456789abcdef}};
}

} // namespace

TEST(fast_path, produce_frame_layout) {
    const auto b = encoded({.request_id = 0x0102030405060708, .body = produce{7, 2, batch_bytes}});
    EXPECT_EQ(b, bytes({0x52, 0x4e, 1, 3, 0, 0, 13, 0,    // magic "RN", v1, produce, flags, length
                        8, 7, 6, 5, 4, 3, 2, 1,           // request id, little-endian
                        7, 0, 0, 0, 2, 0, 0, 0,           // topic, partition
                        1, 2, 3, 4, 5}));                 // the batch, unchanged
}

TEST(fast_path, ack_and_resolve_layouts) {
    EXPECT_EQ(encoded({.request_id = 1, .body = ack{error_code::overloaded, 0x10, -1}}),
              bytes({0x52, 0x4e, 1, 4, 0, 0, 24, 0, 1, 0, 0, 0, 0, 0, 0, 0,
                     9, 0, 0, 0, 0, 0, 0, 0,                         // error, reserved
                     0x10, 0, 0, 0, 0, 0, 0, 0,                      // base offset
                     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})); // last offset -1
    EXPECT_EQ(encoded({.request_id = 2, .body = resolve{"ab"}}),
              bytes({0x52, 0x4e, 1, 1, 0, 0, 4, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2, 0, 'a', 'b'}));
}

TEST(fast_path, init_producer_layouts) {
    EXPECT_EQ(encoded({.request_id = 3, .body = init_producer{}}),
              bytes({0x52, 0x4e, 1, 13, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0}));
    EXPECT_EQ(encoded({.request_id = 3, .body = init_producer_answer{error_code::none, 2, 0x0102}}),
              bytes({0x52, 0x4e, 1, 14, 0, 0, 16, 0, 3, 0, 0, 0, 0, 0, 0, 0,
                     0, 0, 0, 0, 2, 0, 0, 0,                 // error, reserved, epoch, reserved
                     2, 1, 0, 0, 0, 0, 0, 0}));              // producer id
}

TEST(fast_path, every_type_round_trips) {
    const auto all = every_type();
    ASSERT_EQ(all.size(), std::variant_size_v<message>);
    for (const message& m : all) {
        const frame f{.request_id = 42, .body = m};
        const auto b = encoded(f);
        ASSERT_FALSE(b.empty());
        EXPECT_EQ(uint8_t(b[3]), m.index() + 1);
        auto back = decode(b);
        ASSERT_TRUE(back.ok()) << to_string(back.error().errc);
        EXPECT_EQ(back->request_id, 42u);
        ASSERT_EQ(back->body.index(), m.index());
        EXPECT_EQ(encoded(back.value()), b); // every field came back
    }
}

TEST(fast_path, malformed_frames_are_refused_precisely) {
    const auto good = encoded({.request_id = 5, .body = credit{1, 2, 3}});
    auto with = [&](size_t at, int v) {
        auto b = good;
        b[at] = std::byte(v);
        return b;
    };
    EXPECT_EQ(decode(std::span(good).subspan(0, 15)).error().errc, decode_errc::too_short);
    EXPECT_EQ(decode(with(0, 0x53)).error().errc, decode_errc::bad_magic);
    auto v2 = decode(with(2, 2));
    EXPECT_EQ(v2.error().errc, decode_errc::unsupported_version);
    EXPECT_EQ(v2.error().request_id, 5u); // so the sender can be told which versions exist
    EXPECT_EQ(decode(with(3, 15)).error().errc, decode_errc::unknown_type);
    EXPECT_EQ(decode(with(3, 0)).error().errc, decode_errc::unknown_type);
    EXPECT_EQ(decode(with(4, 1)).error().errc, decode_errc::bad_flags);
    EXPECT_EQ(decode(with(6, 17)).error().errc, decode_errc::bad_length);
    auto longer = good;
    longer.push_back(std::byte{0});
    EXPECT_EQ(decode(longer).error().errc, decode_errc::bad_length);
    // A fixed layout with the length field agreeing but the body one byte short or long.
    auto short_body = std::vector<std::byte>(good.begin(), good.end() - 1);
    short_body[6] = std::byte(uint8_t(short_body.size() - header_bytes));
    EXPECT_EQ(decode(short_body).error().errc, decode_errc::bad_body);
    longer[6] = std::byte(uint8_t(longer.size() - header_bytes));
    EXPECT_EQ(decode(longer).error().errc, decode_errc::bad_body);
    // A name longer than the body.
    auto name = encoded({.request_id = 1, .body = resolve{"abc"}});
    name[16] = std::byte{9};
    EXPECT_EQ(decode(name).error().errc, decode_errc::bad_body);
}

TEST(fast_path, encode_refuses_what_does_not_fit) {
    std::vector<std::byte> small(20);
    EXPECT_EQ(encode(small, {.request_id = 1, .body = ack{}}), 0u);
    std::vector<std::byte> big(70000);
    std::vector<std::byte> huge(66000);
    EXPECT_EQ(encode(big, {.request_id = 1, .body = produce{1, 0, huge}}), 0u);
}
