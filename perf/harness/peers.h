// The peer brokers runnel-perf measures beside runneld (design:
// src/design/20261201-runnel-perf.md): starting redis-server and nats-server on loopback. Their
// drivers are declared in driver.h and live in peers.cc.
#pragma once

#include "base/result.h"
#include "perf/harness/driver.h"
#include "perf/harness/net.h"

#include <memory>
#include <string>

namespace runnel::perf {

// redis-server on 127.0.0.1 with its files in `dir` (created if missing), no RDB snapshots, and
// durability memory (no AOF), write (AOF, fsync every second) or fsync (AOF, fsync per write).
// Sets e.redis once it listens.
result<std::unique_ptr<process>, std::string> start_redis(const std::string& dir,
                                                          const std::string& durability,
                                                          endpoints& e);

// nats-server on 127.0.0.1 with JetStream storing in `dir` (created if missing). Sets e.nats once
// it listens.
result<std::unique_ptr<process>, std::string> start_nats(const std::string& dir, endpoints& e);

} // namespace runnel::perf
