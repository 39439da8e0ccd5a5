#include "shard/idle_strategy.h"

#include <gtest/gtest.h>

namespace runnel {
namespace {

TEST(idle_strategy, names_round_trip) {
    for (idle_mode m : {idle_mode::spin, idle_mode::yield, idle_mode::sleep, idle_mode::backoff}) {
        auto parsed = parse_idle_mode(to_string(m));
        ASSERT_TRUE(parsed.has_value());
        EXPECT_EQ(*parsed, m);
    }
    EXPECT_FALSE(parse_idle_mode("Spin").has_value());
    EXPECT_FALSE(parse_idle_mode("").has_value());
}

TEST(idle_strategy, backoff_spins_then_yields_then_sleeps_and_work_resets_it) {
    idle_strategy s(idle_mode::backoff, 1);
    EXPECT_EQ(s.backoff_phase(), idle_strategy::phase::spinning);
    for (uint32_t i = 0; i < idle_strategy::backoff_spins_max; ++i) {
        EXPECT_EQ(s.backoff_phase(), idle_strategy::phase::spinning);
        s.idle(0);
    }
    for (uint32_t i = 0; i < idle_strategy::backoff_yields_max; ++i) {
        EXPECT_EQ(s.backoff_phase(), idle_strategy::phase::yielding);
        s.idle(0);
    }
    EXPECT_EQ(s.backoff_phase(), idle_strategy::phase::sleeping);
    s.idle(0);
    s.idle(0);
    EXPECT_EQ(s.backoff_phase(), idle_strategy::phase::sleeping);
    s.idle(3);
    EXPECT_EQ(s.backoff_phase(), idle_strategy::phase::spinning);
}

TEST(idle_strategy, every_mode_returns_after_idle_and_after_work) {
    for (idle_mode m : {idle_mode::spin, idle_mode::yield, idle_mode::sleep, idle_mode::backoff}) {
        idle_strategy s(m, 1);
        EXPECT_EQ(s.mode(), m);
        s.idle(0);
        s.idle(1);
        EXPECT_EQ(s.backoff_phase(), idle_strategy::phase::spinning);
    }
}

} // namespace
} // namespace runnel
