#include "shard/spsc_ring.h"

#include "shard/idle_strategy.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <thread>
#include <vector>

namespace runnel {
namespace {

TEST(spsc_ring, starts_empty_and_fills_to_capacity) {
    spsc_ring<uint64_t> ring(4);
    EXPECT_EQ(ring.capacity(), 4u);
    uint64_t out = 99;
    EXPECT_FALSE(ring.try_pop(out));
    EXPECT_EQ(out, 99u);
    for (uint64_t i = 0; i < 4; ++i) {
        EXPECT_TRUE(ring.try_push(i));
    }
    EXPECT_FALSE(ring.try_push(4));
    for (uint64_t i = 0; i < 4; ++i) {
        ASSERT_TRUE(ring.try_pop(out));
        EXPECT_EQ(out, i);
    }
    EXPECT_FALSE(ring.try_pop(out));
}

TEST(spsc_ring, one_free_slot_after_a_pop_from_full) {
    spsc_ring<uint64_t> ring(2);
    EXPECT_TRUE(ring.try_push(1));
    EXPECT_TRUE(ring.try_push(2));
    EXPECT_FALSE(ring.try_push(3));
    uint64_t out = 0;
    ASSERT_TRUE(ring.try_pop(out));
    EXPECT_EQ(out, 1u);
    EXPECT_TRUE(ring.try_push(3));
    EXPECT_FALSE(ring.try_push(4));
    ASSERT_TRUE(ring.try_pop(out));
    EXPECT_EQ(out, 2u);
    ASSERT_TRUE(ring.try_pop(out));
    EXPECT_EQ(out, 3u);
}

TEST(spsc_ring, keeps_order_across_many_wraps) {
    spsc_ring<uint64_t> ring(8);
    uint64_t next_in = 0;
    uint64_t next_out = 0;
    // Uneven push and pop counts move the positions through every slot many times.
    for (int round = 0; round < 1000; ++round) {
        for (int i = 0; i < 5 && ring.try_push(next_in); ++i) {
            ++next_in;
        }
        uint64_t out = 0;
        for (int i = 0; i < 3 && ring.try_pop(out); ++i) {
            EXPECT_EQ(out, next_out);
            ++next_out;
        }
    }
    uint64_t out = 0;
    while (ring.try_pop(out)) {
        EXPECT_EQ(out, next_out);
        ++next_out;
    }
    EXPECT_EQ(next_out, next_in);
    EXPECT_GT(next_in, 8u * 100);
}

TEST(spsc_ring, drain_takes_at_most_the_bound_in_order) {
    spsc_ring<uint64_t> ring(8);
    std::vector<uint64_t> seen;
    EXPECT_EQ(ring.drain(4, [&](uint64_t v) { seen.push_back(v); }), 0u);
    for (uint64_t i = 0; i < 6; ++i) {
        ASSERT_TRUE(ring.try_push(i));
    }
    EXPECT_EQ(ring.drain(4, [&](uint64_t v) { seen.push_back(v); }), 4u);
    EXPECT_EQ(seen, (std::vector<uint64_t>{0, 1, 2, 3}));
    // The drained slots are free again: 2 left + 6 new = capacity.
    for (uint64_t i = 6; i < 12; ++i) {
        ASSERT_TRUE(ring.try_push(i));
    }
    EXPECT_FALSE(ring.try_push(12));
    EXPECT_EQ(ring.drain(100, [&](uint64_t v) { seen.push_back(v); }), 8u);
    ASSERT_EQ(seen.size(), 12u);
    for (uint64_t i = 0; i < 12; ++i) {
        EXPECT_EQ(seen[i], i);
    }
}

TEST(spsc_ring, two_threads_pass_a_million_items_in_order) {
    constexpr uint64_t item_count = 1'000'000;
    spsc_ring<uint64_t> ring(1024);
    std::thread producer([&ring] {
        for (uint64_t i = 0; i < item_count;) {
            if (ring.try_push(i)) {
                ++i;
            } else {
                std::this_thread::yield();
            }
        }
    });
    uint64_t expected = 0;
    uint64_t out_of_order = 0;
    bool use_drain = false;
    while (expected < item_count) {
        // Alternate between the two consumer calls so both are exercised under contention.
        uint32_t got = 0;
        if (use_drain) {
            got = ring.drain(64, [&](uint64_t v) {
                out_of_order += v != expected;
                ++expected;
            });
        } else {
            uint64_t v = 0;
            if (ring.try_pop(v)) {
                out_of_order += v != expected;
                ++expected;
                got = 1;
            }
        }
        use_drain = !use_drain;
        if (got == 0) {
            std::this_thread::yield();
        }
    }
    producer.join();
    EXPECT_EQ(out_of_order, 0u);
    EXPECT_EQ(expected, item_count);
    uint64_t extra = 0;
    EXPECT_FALSE(ring.try_pop(extra));
}

} // namespace
} // namespace runnel
