// A high-dynamic-range latency histogram (after HdrHistogram): log-linear buckets, 128 per power
// of two above 256 ns and one per nanosecond below, so that every value is kept to within 0.8%
// (two significant digits and more) from 1 ns to 100 s in 4,000 counters (32 KiB), allocated
// and touched when it is made. record() is a few instructions and never allocates; histograms
// of several threads merge. Percentiles are nearest-rank, reported as the highest value of the
// bucket they fall in (never above the largest value recorded).
//
// Thread-safety: none; one histogram per thread, merged afterwards.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <vector>

namespace runnel::perf {

class histogram {
public:
    static constexpr uint64_t highest = 100'000'000'000; // 100 s in ns; above it is clamped
    static constexpr unsigned sub_bits = 8;
    static constexpr uint64_t half = uint64_t(1) << (sub_bits - 1); // 128 buckets per octave

    histogram() : _counts(index(highest) + 1, 0) {}

    // Records `ns`, `n` times.
    void record(uint64_t ns, uint64_t n = 1) {
        if (ns > highest) {
            ns = highest;
            _clamped += n;
        }
        _counts[index(ns)] += n;
        _count += n;
        _max = std::max(_max, ns);
        _min = std::min(_min, ns);
    }

    void merge(const histogram& o) {
        for (size_t i = 0; i < _counts.size(); ++i) {
            _counts[i] += o._counts[i];
        }
        _count += o._count;
        _clamped += o._clamped;
        _max = std::max(_max, o._max);
        _min = std::min(_min, o._min);
    }

    void reset() { *this = histogram(); }

    // A histogram of collected samples (negative ones count as 0).
    template <typename T>
    static histogram of(const std::vector<T>& values) {
        histogram h;
        for (T v : values) {
            h.record(v < 0 ? 0 : uint64_t(v));
        }
        return h;
    }
    // percentile(q) in microseconds, for reports.
    double us(double q) const { return double(percentile(q)) / 1000.0; }

    uint64_t count() const { return _count; }
    uint64_t clamped() const { return _clamped; } // values above `highest`
    uint64_t max() const { return _count ? _max : 0; }
    uint64_t min() const { return _count ? _min : 0; }

    // The value at or below which a fraction q (0..1) of the recorded values fall; 0 when empty.
    uint64_t percentile(double q) const {
        if (_count == 0) {
            return 0;
        }
        if (q <= 0) {
            return _min;
        }
        const auto rank = std::clamp<uint64_t>(uint64_t(std::ceil(q * double(_count))), 1, _count);
        uint64_t seen = 0;
        for (size_t i = 0; i < _counts.size(); ++i) {
            seen += _counts[i];
            if (seen >= rank) {
                return std::min(highest_in(i), _max);
            }
        }
        return _max;
    }

    // Calls f(value, count) for every non-empty bucket in ascending order, with the bucket's
    // highest value (the largest recorded value for the last): recording those back gives the
    // same percentiles (how a saved run is read back).
    template <typename F>
    void for_each_bucket(F f) const {
        for (size_t i = 0; i < _counts.size(); ++i) {
            if (_counts[i] != 0) {
                f(std::min(highest_in(i), _max), _counts[i]);
            }
        }
    }

    // Bucket arithmetic, public for the tests.
    static size_t index(uint64_t v) {
        if (v < 2 * half) {
            return size_t(v);
        }
        const unsigned shift = unsigned(std::bit_width(v)) - sub_bits; // v >> shift in [128, 256)
        return size_t((shift + 1) * half + (v >> shift) - half);
    }
    static uint64_t lowest_in(size_t i) {
        if (i < 2 * half) {
            return i;
        }
        const uint64_t shift = i / half - 1;
        return (i % half + half) << shift;
    }
    static uint64_t highest_in(size_t i) {
        return i < 2 * half ? i : lowest_in(i) + (uint64_t(1) << (i / half - 1)) - 1;
    }

private:
    std::vector<uint64_t> _counts;
    uint64_t _count = 0;
    uint64_t _clamped = 0;
    uint64_t _max = 0;
    uint64_t _min = UINT64_MAX;
};

} // namespace runnel::perf
