// The floors runnel-perf measures beside the broker, in the same run: what the kernel, DPDK and
// the disk give without a broker in the way. Each is closed loop, one request at a time.
#pragma once

#include "perf/harness/report.h"

#include <string>

namespace runnel::perf {

struct floor_options {
    uint32_t bytes = 100;       // message size of the round trips
    uint64_t samples = 20000;   // after samples / 10 warm-up
    std::string dir = "/var/tmp"; // where the O_DIRECT file goes (and the memif socket)
    uint32_t bandwidth_mib = 512; // odirect-bw: bytes written
};

// name: tcp | udp | memif | odirect | odirect-bw
result<run_report, std::string> measure_floor(const std::string& name, const floor_options& o);

} // namespace runnel::perf
