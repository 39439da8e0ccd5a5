// The load loop of runnel-perf: paces requests to the producers, polls producers and consumers,
// times each request from its scheduled (open loop) or actual (closed loop) send, and counts
// every request exactly once. One thread.
#pragma once

#include "perf/harness/driver.h"
#include "perf/histogram.h"

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace runnel::perf {

struct load_options {
    double rate = 10000;       // requests per second; 0: closed loop
    uint32_t inflight = 1;     // closed loop: requests each producer keeps outstanding
    double seconds = 10;       // measured part
    double warmup_seconds = 2; // sent and checked, not recorded
    uint64_t requests = 0;     // closed loop: stop after this many (0: after `seconds`)
    bool end_to_end = false;   // a request is done when consumed, not when acknowledged
    double drain_seconds = 10; // how long to wait for what is in flight once sending stops
    bool progress = true;      // a line a second on stderr
    uint32_t batch = 1;        // records per request (for the record rate)
};

struct load_result {
    histogram latency;        // measured requests, ns
    uint64_t sent = 0;        // requests sent (warm-up included)
    uint64_t measured = 0;    // of which after the warm-up
    uint64_t acked = 0;       // acknowledged by the broker
    uint64_t consumed = 0;    // read back by the consumers (end to end)
    uint64_t failed = 0;      // error answers
    uint64_t duplicates = 0;  // acknowledged or consumed twice
    uint64_t missing = 0;     // not done when the drain ended
    double measured_seconds = 0; // from the first measured send to the last completion
    bool interrupted = false;
    std::string first_error;
    bool complete() const {
        return failed == 0 && duplicates == 0 && missing == 0 && first_error.empty();
    }
    double rate() const {
        return measured_seconds > 0 ? double(latency.count()) / measured_seconds : 0;
    }
};

// Set from a signal handler: stop sending, drain briefly, report what there is.
extern std::atomic<bool> stop_requested;

int64_t now_ns();

load_result run_load(const std::vector<std::unique_ptr<producer>>& producers,
                     const std::vector<std::unique_ptr<consumer>>& consumers,
                     const load_options& o);

// Consume catch-up: the consumers read `requests` requests that are already in the log; the
// result's measured_seconds is the time until the last was read.
load_result run_catchup(const std::vector<std::unique_ptr<consumer>>& consumers,
                        uint64_t requests, double timeout_seconds);

} // namespace runnel::perf
