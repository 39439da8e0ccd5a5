// runnel-perf compare: the standard suite (floors; Runnel's four paths at each durability level
// and a few rates; Redis Streams and NATS JetStream at the same rates and durability), each run a
// child `runnel-perf run|floor` of its own (one DPDK EAL per process), then a markdown table with
// the ratios to the floors and to the best peer, and one percentile plot per durability level.
#pragma once

#include <string>
#include <vector>

namespace runnel::perf {

// `self` is this program's path; `args` the flags after "compare". The exit status.
int compare(const std::string& self, const std::vector<std::string>& args);

} // namespace runnel::perf
