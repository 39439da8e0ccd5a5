// Open-loop pacing: request i is due at start + i / rate, whatever happened to the requests
// before it, so that a stall is charged to every request it delayed (no coordinated omission).
#pragma once

#include <cstdint>

namespace runnel::perf {

class schedule {
public:
    // `rate` requests per second from `start_ns`; `total` requests in all.
    schedule(int64_t start_ns, double rate, uint64_t total)
        : _start(start_ns), _interval(1e9 / rate), _total(total) {}
    // When request i is due.
    int64_t due_at(uint64_t i) const { return _start + int64_t(double(i) * _interval); }
    // How many requests are due at `now` (never more than total).
    uint64_t due(int64_t now) const {
        if (now < _start) {
            return 0;
        }
        const auto n = uint64_t(double(now - _start) / _interval) + 1;
        return n < _total ? n : _total;
    }
    uint64_t total() const { return _total; }

private:
    int64_t _start;
    double _interval;
    uint64_t _total;
};

} // namespace runnel::perf
