// runnel-fastpath-bench: fast-path latency through runneld on a DPDK port (perf/fastpath_bench.sh
// starts runneld as the memif server; this is the memif client). In one run:
//   floor: ICMP echo answered by runneld's own port (rx, classify, reply in place, tx: the bare
//          DPDK path, without the fast-path protocol or the log);
//   produce→ack for topics bench-memory, bench-write, bench-fsync (runnel.ack.after = the
//          level; created beforehand), one single-record idempotent batch of 100 bytes at a
//          time, closed loop.
// Percentiles (p50, p99, p99.9, max) after a warm-up; pages are touched before measuring.
#include "dataplane/fast_path.h"
#include "dataplane/port.h"
#include "storage/batch_builder.h"

#include <arpa/inet.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

using namespace runnel;
using namespace runnel::dataplane;

namespace {

int64_t now_ns() {
    using namespace std::chrono;
    return duration_cast<nanoseconds>(steady_clock::now().time_since_epoch()).count();
}

void report(const char* name, std::vector<int64_t>& ns, double floor_p99) {
    std::sort(ns.begin(), ns.end());
    auto at = [&](double q) { return double(ns[size_t(q * double(ns.size() - 1))]) / 1000.0; };
    std::printf("| %s | %zu | %.2f | %.2f | %.2f | %.2f |", name, ns.size(), at(0.5), at(0.99),
                at(0.999), double(ns.back()) / 1000.0);
    if (floor_p99 > 0) {
        std::printf(" %.2f |\n", at(0.99) / floor_p99);
    } else {
        std::printf("  |\n");
    }
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: runnel-fastpath-bench VDEV SAMPLES WARMUP\n");
        return 2;
    }
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    const long samples = std::atol(argv[2]);
    const long warmup = std::atol(argv[3]);
    if (auto r = eal_init({"--no-huge", "-m", "256", "--no-pci", "--no-shconf", "--log-level=3",
                           std::string("--vdev=") + argv[1]});
        !r) {
        std::fprintf(stderr, "%s\n", r.error().c_str());
        return 1;
    }
    const uint16_t id = first_port().value();
    std::optional<fast_path::frame> last;
    std::vector<std::byte> last_bytes(4096);
    packet::remote_endpoint broker{.mac = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
                                   .ip = 0xc0000201, .udp_port = 9093};
    auto p = port::create({.port_id = id, .mbufs = 4096, .burst = 8,
                           .self = {.ip = 0xc0000202, .udp_port = 40000}},
                          [&](std::span<const std::byte> payload,
                              const packet::remote_endpoint& from, port&) {
                              std::memcpy(last_bytes.data(), payload.data(), payload.size());
                              auto f = fast_path::decode(
                                std::span(last_bytes).subspan(0, payload.size()));
                              if (f) {
                                  broker.mac = from.mac;
                                  last = f.value();
                              }
                          });
    if (!p) {
        std::fprintf(stderr, "%s\n", p.error().c_str());
        return 1;
    }
    port& link = *p.value();
    for (int i = 0; i < 1000; ++i) { // link up: about a second after connect
        rte_eth_link state{};
        rte_eth_link_get_nowait(id, &state);
        if (state.link_status == RTE_ETH_LINK_UP) {
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    // Waits (spinning) for an answer with `request_id`; false after a second.
    auto wait_for = [&](uint64_t request_id) {
        for (const int64_t until = now_ns() + 1'000'000'000; now_ns() < until;) {
            link.poll(0, false);
            if (last && last->request_id == request_id) {
                return true;
            }
        }
        return false;
    };
    auto send = [&](const fast_path::frame& f) {
        last.reset();
        link.send(broker, [&](std::span<std::byte> room) { return fast_path::encode(room, f); });
        link.poll(0, false); // flushes the tx burst
    };
    std::printf("| measurement (memif, closed loop) | samples | p50 us | p99 us | p99.9 us "
                "| max us | p99 / floor p99 |\n|---|--:|--:|--:|--:|--:|--:|\n");
    // Floor: ICMP echo of runneld's port. The client's port counts echo replies as
    // icmp_not_echo_request drops: the counter moving is the answer arriving.
    send({.request_id = 1, .body = fast_path::resolve{"bench-memory"}});
    if (!wait_for(1)) {
        std::fprintf(stderr, "no answer from the broker\n");
        return 1;
    }
    rte_mempool* pool =
      rte_pktmbuf_pool_create("bench_raw", 1024, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
    std::vector<int64_t> floor;
    const auto echo_seen = [&] {
        return link.counters().dropped[size_t(packet::drop_reason::icmp_not_echo_request)];
    };
    for (long i = 0; i < samples + warmup; ++i) {
        rte_mbuf* m = rte_pktmbuf_alloc(pool);
        auto* d = reinterpret_cast<std::byte*>(rte_pktmbuf_append(m, 50));
        std::memset(d, 0, 50);
        packet::build_echo(std::span(d, 50), link.self(), broker, 8);
        const uint64_t before = echo_seen();
        const int64_t t0 = now_ns();
        if (rte_eth_tx_burst(id, 0, &m, 1) != 1) {
            rte_pktmbuf_free(m);
            continue;
        }
        while (echo_seen() == before && now_ns() - t0 < 1'000'000'000) {
            link.poll(0, false);
        }
        if (echo_seen() == before) {
            for (size_t r = 0; r < packet::drop_reason_count; ++r) {
                if (link.counters().dropped[r] > 0) {
                    std::fprintf(stderr, "  dropped %s: %llu\n",
                                 std::string(packet::to_string(packet::drop_reason(r))).c_str(),
                                 static_cast<unsigned long long>(link.counters().dropped[r]));
                }
            }
            std::fprintf(stderr, "no echo reply from the broker\n");
            return 1;
        }
        if (i >= warmup) {
            floor.push_back(now_ns() - t0);
        }
    }
    std::sort(floor.begin(), floor.end());
    const double floor_p99 = double(floor[size_t(0.99 * double(floor.size() - 1))]) / 1000.0;
    report("floor: ICMP echo by runneld's port", floor, 0);

    const std::string value(100, 'v');
    uint64_t request = 10;
    for (const char* level : {"memory", "write", "fsync"}) {
        const std::string topic = std::string("bench-") + level;
        send({.request_id = ++request, .body = fast_path::resolve{topic}});
        if (!wait_for(request) || !std::holds_alternative<fast_path::resolve_answer>(last->body)) {
            std::fprintf(stderr, "cannot resolve %s\n", topic.c_str());
            return 1;
        }
        const uint32_t handle = std::get<fast_path::resolve_answer>(last->body).topic;
        std::vector<int64_t> lat;
        for (long i = 0; i < samples + warmup; ++i) {
            const storage::record_spec r{.value = value};
            const auto b = storage::build_batch(
              std::span(&r, 1), {.producer_id = model::producer_id(77 + int64_t(request)),
                                 .producer_epoch = 0, .base_sequence = int32_t(i)});
            const int64_t t0 = now_ns();
            send({.request_id = ++request, .body = fast_path::produce{handle, 0, b}});
            if (!wait_for(request)) {
                std::fprintf(stderr, "%s: no ack for batch %ld\n", level, i);
                return 1;
            }
            if (i >= warmup) {
                lat.push_back(now_ns() - t0);
            }
        }
        const std::string name = std::string("produce→ack, ack_after=") + level;
        report(name.c_str(), lat, floor_p99);
    }
    return 0;
}
