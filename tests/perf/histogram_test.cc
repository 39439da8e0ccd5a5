// The latency histogram against a sorted reference: percentiles within its stated precision on
// random data over nine decades, merging, clamping and the bucket arithmetic itself.
#include "perf/histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

namespace runnel::perf {
namespace {

// Nearest-rank percentile of sorted values: the reference.
uint64_t reference(const std::vector<uint64_t>& sorted, double q) {
    const auto rank = std::clamp<size_t>(size_t(std::ceil(q * double(sorted.size()))), 1,
                                         sorted.size());
    return sorted[rank - 1];
}

std::vector<uint64_t> log_uniform(size_t n, uint32_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> exponent(2.0, 11.0); // 100 ns .. 100 s
    std::vector<uint64_t> v(n);
    for (auto& x : v) {
        x = uint64_t(std::pow(10.0, exponent(rng)));
    }
    return v;
}

TEST(histogram, buckets_tile_the_range_and_hold_each_value_within_0_8_percent) {
    for (size_t i = 1; i <= histogram::index(histogram::highest); ++i) {
        ASSERT_EQ(histogram::lowest_in(i), histogram::highest_in(i - 1) + 1) << i;
        ASSERT_EQ(histogram::index(histogram::lowest_in(i)), i);
        ASSERT_EQ(histogram::index(histogram::highest_in(i)), i);
        ASSERT_LE(double(histogram::highest_in(i) - histogram::lowest_in(i)),
                  0.008 * double(histogram::lowest_in(i)) + 0.5)
          << i;
    }
    EXPECT_EQ(histogram::index(0), 0u);
    EXPECT_EQ(histogram::index(255), 255u);
    EXPECT_LT(histogram::index(histogram::highest), 4000u);
}

TEST(histogram, percentiles_match_a_sorted_reference_on_random_data) {
    for (uint32_t seed : {1u, 2u, 3u}) {
        auto values = log_uniform(100'000, seed);
        histogram h;
        for (auto v : values) {
            h.record(v);
        }
        std::sort(values.begin(), values.end());
        ASSERT_EQ(h.count(), values.size());
        EXPECT_EQ(h.max(), values.back());
        EXPECT_EQ(h.min(), values.front());
        for (double q : {0.01, 0.5, 0.9, 0.99, 0.999, 0.9999, 1.0}) {
            const auto want = double(reference(values, q));
            const auto got = double(h.percentile(q));
            EXPECT_GE(got, want) << q; // the bucket's highest value
            EXPECT_LE(got, want * 1.008 + 1) << q;
        }
    }
}

TEST(histogram, merged_histograms_equal_one_that_saw_everything) {
    const auto values = log_uniform(50'000, 7);
    histogram all;
    histogram parts[3];
    for (size_t i = 0; i < values.size(); ++i) {
        all.record(values[i]);
        parts[i % 3].record(values[i]);
    }
    histogram merged;
    for (const auto& p : parts) {
        merged.merge(p);
    }
    EXPECT_EQ(merged.count(), all.count());
    EXPECT_EQ(merged.max(), all.max());
    EXPECT_EQ(merged.min(), all.min());
    for (double q : {0.5, 0.99, 0.9999}) {
        EXPECT_EQ(merged.percentile(q), all.percentile(q)) << q;
    }
}

TEST(histogram, buckets_recorded_back_give_the_same_percentiles) {
    const auto values = log_uniform(20'000, 11);
    histogram h;
    for (auto v : values) {
        h.record(v);
    }
    histogram back;
    uint64_t last = 0;
    h.for_each_bucket([&](uint64_t value, uint64_t n) {
        EXPECT_GT(value, last) << "ascending, one call per bucket";
        last = value;
        back.record(value, n);
    });
    EXPECT_EQ(back.count(), h.count());
    EXPECT_EQ(back.max(), h.max());
    for (double q : {0.5, 0.9, 0.99, 0.999, 0.9999, 1.0}) {
        EXPECT_EQ(back.percentile(q), h.percentile(q)) << q;
    }
}

TEST(histogram, empty_small_and_clamped_values) {
    histogram h;
    EXPECT_EQ(h.percentile(0.5), 0u);
    EXPECT_EQ(h.max(), 0u);
    h.record(3);
    h.record(5);
    EXPECT_EQ(h.percentile(0.5), 3u) << "exact below 256 ns";
    EXPECT_EQ(h.percentile(1.0), 5u);
    h.record(histogram::highest * 10);
    EXPECT_EQ(h.clamped(), 1u);
    EXPECT_EQ(h.max(), histogram::highest);
    h.reset();
    EXPECT_EQ(h.count(), 0u);
}

} // namespace
} // namespace runnel::perf
