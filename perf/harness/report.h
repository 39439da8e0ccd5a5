// runnel-perf's output: one run as a table row, a JSON object and a line of a percentile plot.
#pragma once

#include "perf/harness/load.h"

#include <string>
#include <vector>

namespace runnel::perf {

// What a run was and what it measured.
struct run_report {
    std::string label;     // e.g. "runnel kafka fsync 10000/s"
    std::string scenario;  // produce | e2e | catchup | floor
    std::string transport;
    std::string durability;
    double rate = 0;       // requests/s asked for; 0: closed loop
    uint32_t record_bytes = 0;
    uint32_t batch = 1;
    uint32_t partitions = 1;
    uint32_t producers = 1;
    uint32_t consumers = 0;
    double seconds = 0;
    load_result result;
    double mib_per_s = 0;  // bandwidth rows (catch-up, O_DIRECT)
};

// The percentiles every table shows.
inline constexpr double table_quantiles[] = {0.5, 0.9, 0.99, 0.999, 0.9999, 1.0};

void print_table_header();
void print_table_row(const run_report& r);
std::string to_json(const run_report& r);
// Reads what to_json wrote back (the fields a plot and a comparison need).
result<run_report, std::string> from_json(const std::string& text);

// Draws the percentile curves of `runs` (latency against 1/(1-q), both on log scales) into a PNG
// with gnuplot; the data and script go beside it.
result<void, std::string> plot(const std::string& png, const std::vector<run_report>& runs,
                               const std::string& title);

} // namespace runnel::perf
