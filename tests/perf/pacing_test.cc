// Open-loop pacing: requests fall due at start + i / rate whatever happened before, so a stall
// makes every request behind it due (and timed from its own due time), and the total is a cap.
#include "perf/harness/pacing.h"

#include <gtest/gtest.h>

namespace runnel::perf {
namespace {

TEST(pacing, requests_fall_due_at_the_rate) {
    const schedule s(1'000, 10'000, 100); // 10k/s: one every 100 us from t=1000 ns
    EXPECT_EQ(s.due(0), 0u) << "nothing before the start";
    EXPECT_EQ(s.due(1'000), 1u) << "request 0 at the start";
    EXPECT_EQ(s.due(1'000 + 99'999), 1u);
    EXPECT_EQ(s.due(1'000 + 100'000), 2u);
    EXPECT_EQ(s.due_at(0), 1'000);
    EXPECT_EQ(s.due_at(7), 1'000 + 700'000);
}

TEST(pacing, a_stall_makes_every_request_behind_it_due_and_the_total_caps_them) {
    const schedule s(0, 1'000'000, 1'000); // 1M/s: one per us
    // A sender that stalled for 250 us finds 251 requests due, each timed from its own due
    // time: the last of them waited 0 us, the first 250 us.
    EXPECT_EQ(s.due(250'000), 251u);
    EXPECT_EQ(250'000 - s.due_at(0), 250'000);
    EXPECT_EQ(250'000 - s.due_at(250), 0);
    EXPECT_EQ(s.due(10'000'000'000), 1'000u) << "never more than the total";
    EXPECT_EQ(s.total(), 1'000u);
}

TEST(pacing, fractional_intervals_do_not_drift) {
    const schedule s(0, 3, 4); // one every 333.33 ms
    EXPECT_EQ(s.due_at(3), 1'000'000'000);
    EXPECT_EQ(s.due(999'999'999), 3u);
    EXPECT_EQ(s.due(1'000'000'000), 4u);
}

} // namespace
} // namespace runnel::perf
