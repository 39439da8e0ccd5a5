// The servers runnel-perf starts for a run: runneld (Kafka listener; the fast path on memif, or on
// an af_packet veth end in a network namespace for kernel UDP). Peers: peers.h.
#pragma once

#include "perf/harness/driver.h"
#include "perf/harness/net.h"

#include <memory>
#include <string>
#include <vector>

namespace runnel::perf {

// Runs argv to completion; its output on failure.
result<void, std::string> run_command(const std::vector<std::string>& argv);

// Two namespaces joined by a veth pair: rnperf-b (runneld's af_packet end, no kernel address)
// and rnperf-c (192.0.2.2/24, where the harness's UDP socket lives). Removed on destruction.
class udp_link {
public:
    static result<std::unique_ptr<udp_link>, std::string> create(uint16_t mtu);
    ~udp_link();
    static constexpr const char* broker_ns = "rnperf-b";
    static constexpr const char* client_ns = "rnperf-c";
    static constexpr const char* broker_iface = "rnperf-vb";

private:
    udp_link() = default;
};

struct runneld_options {
    std::string binary;      // runneld's path
    std::string dir;         // its work directory (data, log, memif socket)
    std::string fast_path;   // "" (Kafka only), "memif" or "udp"
    // The shard's idle strategy: spin for the fast path, except at fsync, whose io_uring
    // operations run on kernel io workers that need a core a spinning shard does not leave them
    // on a two-core host (p99 in seconds); backoff for Kafka only.
    bool spin = false;
    uint16_t udp_mtu = 1500; // above 1500, jumbo frames on the veth and runneld's port
    std::vector<std::string> settings; // more --set KEY=VALUE
};

// A runneld and the link it needs; fills in `e`.
struct runneld_server {
    std::unique_ptr<udp_link> link;
    std::unique_ptr<process> proc;
};
result<runneld_server, std::string> start_runneld(const runneld_options& o, endpoints& e);

// Runs `f` with this thread in network namespace `name` (empty: where it is).
template <typename F>
auto in_namespace(const std::string& name, F f) -> decltype(f());
result<int, std::string> enter_namespace(const std::string& name); // the fd to return with
void leave_namespace(int home);

template <typename F>
auto in_namespace(const std::string& name, F f) -> decltype(f()) {
    if (name.empty()) {
        return f();
    }
    auto home = enter_namespace(name);
    if (!home) {
        return failure(home.error());
    }
    auto r = f();
    leave_namespace(home.value());
    return r;
}

} // namespace runnel::perf
