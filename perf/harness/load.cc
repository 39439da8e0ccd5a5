#include "perf/harness/load.h"

#include "perf/harness/pacing.h"

#include <poll.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>

namespace runnel::perf {

std::atomic<bool> stop_requested{false};

int64_t now_ns() {
    timespec ts;
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

namespace {

// Per-request state; requests are numbered from 0 in send order.
enum : uint8_t { acked_bit = 1, consumed_bit = 2, failed_bit = 4 };

struct tracker {
    const load_options& o;
    load_result& r;
    std::vector<int64_t> start;  // scheduled or actual send time, ns
    std::vector<uint8_t> state;
    std::vector<uint64_t> outstanding; // per producer
    uint64_t first_measured = 0;       // requests below it are warm-up
    uint64_t finished = 0;             // done or failed, each once
    int64_t last_done = 0;
    histogram second;                  // the progress line's last second

    bool measured(uint64_t id) const { return id >= first_measured; }

    void finish(uint64_t id) {
        const int64_t now = now_ns();
        ++finished;
        last_done = now;
        if (measured(id)) {
            r.latency.record(uint64_t(std::max<int64_t>(0, now - start[id])));
            second.record(uint64_t(std::max<int64_t>(0, now - start[id])));
        }
    }
    // The run keeps the first error it is told of.
    void error(std::string_view why) {
        if (r.first_error.empty()) {
            r.first_error = std::string(why);
        }
    }
    bool known(uint64_t id, std::string_view who) {
        if (id < state.size()) {
            return true;
        }
        error(std::string(who) + " reported request " + std::to_string(id) +
              ", which was never sent");
        return false;
    }
};

class producer_sink final : public sink {
public:
    explicit producer_sink(tracker& t) : _t(t) {}
    void done(uint64_t id) override {
        if (answer(id, acked_bit)) {
            ++_t.r.acked;
            if (!_t.o.end_to_end) {
                _t.finish(id);
            }
        }
    }
    void failed(uint64_t id, std::string_view why) override {
        if (answer(id, failed_bit)) {
            ++_t.r.failed;
            if (!(_t.o.end_to_end && (_t.state[id] & consumed_bit))) {
                ++_t.finished; // (a consumed request was finished when it was read)
            }
            broken("request " + std::to_string(id) + ": " + std::string(why));
        }
    }
    void broken(std::string_view why) override { _t.error(why); }

private:
    // Marks `id` answered; false for a request never sent or answered before.
    bool answer(uint64_t id, uint8_t bit) {
        if (!_t.known(id, "a producer")) {
            return false;
        }
        uint8_t& s = _t.state[id];
        if (s & (acked_bit | failed_bit)) {
            ++_t.r.duplicates;
            return false;
        }
        s |= bit;
        --_t.outstanding[id % _t.outstanding.size()];
        return true;
    }

    tracker& _t;
};

class consumer_sink final : public sink {
public:
    explicit consumer_sink(tracker& t) : _t(t) {}
    void done(uint64_t id) override {
        if (!_t.known(id, "a consumer")) {
            return;
        }
        uint8_t& s = _t.state[id];
        if (s & consumed_bit) {
            ++_t.r.duplicates;
            return;
        }
        s |= consumed_bit;
        ++_t.r.consumed;
        if (_t.o.end_to_end && !(s & failed_bit)) {
            _t.finish(id);
        }
    }
    void failed(uint64_t, std::string_view why) override { broken(why); }
    void broken(std::string_view why) override { _t.error(why); }

private:
    tracker& _t;
};

// Sleeps on the drivers' fds until one is readable or `until_ns`; spins when a driver has none.
void wait(std::vector<pollfd>& fds, bool can_sleep, int64_t until_ns) {
    if (!can_sleep) {
        return;
    }
    const int64_t left = until_ns - now_ns();
    if (left <= 0) {
        return;
    }
    const timespec ts{left / 1'000'000'000, left % 1'000'000'000};
    ::ppoll(fds.data(), fds.size(), &ts, nullptr); // only `revents` changes, and is not read
}

} // namespace

load_result run_load(const std::vector<std::unique_ptr<producer>>& producers,
                     const std::vector<std::unique_ptr<consumer>>& consumers,
                     const load_options& o) {
    load_result r;
    tracker t{.o = o, .r = r, .start = {}, .state = {}, .outstanding = {}, .second = {}};
    t.outstanding.assign(producers.size(), 0);
    producer_sink psink(t);
    consumer_sink csink(t);
    const bool open = o.rate > 0;
    const int64_t start = now_ns() + 10'000'000;
    const int64_t warm_end = start + int64_t(o.warmup_seconds * 1e9);
    const int64_t send_end = warm_end + int64_t(o.seconds * 1e9);
    const uint64_t total =
      open ? uint64_t(std::llround(o.rate * (o.warmup_seconds + o.seconds)))
           : (o.requests > 0 ? o.requests : UINT64_MAX);
    schedule sched(start, open ? o.rate : 1, open ? total : 0);
    if (open) {
        t.first_measured = uint64_t(std::llround(o.rate * o.warmup_seconds));
        // Pre-faulted: written once now, so that no page fault lands inside a measured request.
        t.start.resize(total);
        t.state.resize(total);
        t.start.clear();
        t.state.clear();
    } else {
        t.first_measured = UINT64_MAX; // set when the warm-up ends
    }
    std::vector<pollfd> fds;
    bool can_sleep = true;
    auto add_fd = [&](int fd) {
        if (fd < 0) {
            can_sleep = false;
        } else {
            fds.push_back({.fd = fd, .events = POLLIN, .revents = 0});
        }
    };
    for (const auto& p : producers) {
        add_fd(p->fd());
    }
    for (const auto& c : consumers) {
        add_fd(c->fd());
    }
    int64_t next_progress = start + 1'000'000'000;
    uint64_t progress_done = 0;
    int64_t drain_until = INT64_MAX;
    int64_t first_measured_at = 0;
    for (;;) {
        const int64_t now = now_ns();
        const bool sending = drain_until == INT64_MAX;
        if (sending) {
            if (!open && t.first_measured == UINT64_MAX && now >= warm_end) {
                t.first_measured = t.state.size();
                first_measured_at = now;
            }
            const uint64_t due = open ? sched.due(now) : (now < start ? 0 : total);
            while (t.state.size() < due) {
                const uint64_t id = t.state.size();
                const size_t p = id % producers.size();
                if (!open && t.outstanding[p] >= o.inflight) {
                    break;
                }
                const int64_t at = open ? sched.due_at(id) : now_ns();
                t.start.push_back(at);
                t.state.push_back(0);
                if (!producers[p]->send(id)) {
                    t.start.pop_back();
                    t.state.pop_back();
                    break;
                }
                ++t.outstanding[p];
            }
            const bool all_sent = open ? t.state.size() == total
                                       : (t.state.size() == total || now >= send_end);
            if (all_sent || stop_requested.load(std::memory_order_relaxed)) {
                r.interrupted = !all_sent;
                drain_until = now + int64_t((r.interrupted ? 1.0 : o.drain_seconds) * 1e9);
            }
        }
        uint32_t events = 0;
        for (const auto& p : producers) {
            events += p->poll(psink);
        }
        for (const auto& c : consumers) {
            events += c->poll(csink);
        }
        if (!r.first_error.empty() && r.failed == 0 && drain_until == INT64_MAX) {
            drain_until = now; // a broken driver: stop at once
        }
        const bool drained = t.finished == t.state.size() &&
                             (!o.end_to_end || r.acked + r.failed == t.state.size());
        if (drain_until != INT64_MAX && (drained || now >= drain_until)) {
            break;
        }
        if (o.progress && now >= next_progress) {
            const uint64_t done = t.finished;
            std::fprintf(stderr, "runnel-perf: %5.1f s  %9.0f requests/s  p99 %9.1f us  sent %lu"
                                 "  done %lu%s\n",
                         double(now - start) / 1e9, double(done - progress_done),
                         t.second.us(0.99), static_cast<unsigned long>(t.state.size()),
                         static_cast<unsigned long>(done), now < warm_end ? "  (warm-up)" : "");
            progress_done = done;
            t.second.reset();
            next_progress += 1'000'000'000;
        }
        if (events == 0) {
            int64_t until = now + 1'000'000; // timers (retransmits, heartbeats) want a poll
            if (sending && open && t.state.size() < total) {
                until = std::min(until, sched.due_at(t.state.size()));
            }
            wait(fds, can_sleep, until);
        }
    }
    r.sent = t.state.size();
    const uint64_t first = std::min<uint64_t>(t.first_measured, r.sent);
    r.measured = r.sent - first;
    for (uint64_t id = 0; id < r.sent; ++id) {
        const uint8_t s = t.state[id];
        const bool done = o.end_to_end ? (s & consumed_bit) : (s & acked_bit);
        if (!done && !(s & failed_bit)) {
            ++r.missing;
        }
        if (o.end_to_end && (s & consumed_bit) && !(s & acked_bit) && !(s & failed_bit) &&
            r.first_error.empty() && !r.interrupted) {
            r.first_error =
                "request " + std::to_string(id) + " was consumed but never acknowledged";
        }
    }
    if (r.interrupted) {
        r.missing = 0; // stopped by hand: what was cut short is not an error of the broker's
    }
    const int64_t from = open ? sched.due_at(first) : first_measured_at;
    r.measured_seconds =
        r.measured > 0 && t.last_done > from ? double(t.last_done - from) / 1e9 : 0;
    return r;
}

load_result run_catchup(const std::vector<std::unique_ptr<consumer>>& consumers,
                        uint64_t requests, double timeout_seconds) {
    load_result r;
    load_options o{.end_to_end = true};
    tracker t{.o = o, .r = r, .start = {}, .state = {}, .outstanding = {}, .second = {}};
    t.state.assign(requests, acked_bit);
    t.first_measured = requests; // no latencies: a rate
    consumer_sink csink(t);
    const int64_t start = now_ns();
    const int64_t until = start + int64_t(timeout_seconds * 1e9);
    while (r.consumed < requests && r.first_error.empty() && now_ns() < until &&
           !stop_requested.load(std::memory_order_relaxed)) {
        for (const auto& c : consumers) {
            c->poll(csink);
        }
    }
    r.sent = r.measured = r.acked = requests;
    r.missing = requests - r.consumed;
    r.interrupted = stop_requested.load();
    r.measured_seconds = double((r.consumed == requests ? t.last_done : now_ns()) - start) / 1e9;
    return r;
}

} // namespace runnel::perf
