// runnel-fastpath-bench: fast-path latency through runneld on a DPDK port (perf/fastpath_bench.sh
// starts runneld as the memif server; this is the memif client). In one run:
//   floor: ICMP echo answered by runneld's own port (rx, classify, reply in place, tx: the bare
//          DPDK path, without the fast-path protocol or the log);
//   produce→ack for topics bench-memory, bench-write, bench-fsync (runnel.ack.after = the
//          level; created beforehand), one single-record idempotent batch of 100 bytes at a
//          time, closed loop;
//   produce→subscriber on bench-memory, closed loop (until the push of each batch arrives);
//   open loop at 10k and 100k produces/s to bench-memory with a subscriber: produce→ack and
//          produce→subscriber, each from its scheduled send time, against the floor sent on
//          the same schedule;
//   pipelined throughput: 16 producers x 5 single-record batches in flight.
// Percentiles (p50, p99, p99.9, max) after a warm-up; batches are built before measuring.
#include "dataplane/fast_path.h"
#include "dataplane/port.h"
#include "perf/histogram.h"
#include "storage/batch_builder.h"
#include "storage/record_batch.h"

#include <arpa/inet.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
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

void report(const char* name, const std::vector<int64_t>& ns, double floor_p99) {
    const auto h = perf::histogram::of(ns);
    std::printf("| %s | %llu | %.2f | %.2f | %.2f | %.2f |", name,
                static_cast<unsigned long long>(h.count()), h.us(0.5), h.us(0.99), h.us(0.999),
                h.us(1.0));
    if (floor_p99 > 0) {
        std::printf(" %.3g |\n", h.us(0.99) / floor_p99);
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
    // When set, every frame received goes here (with its arrival time) instead of to `last`.
    std::function<void(const fast_path::frame&, int64_t)> on_frame;
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
                                  if (on_frame) {
                                      on_frame(f.value(), now_ns());
                                  } else {
                                      last = f.value();
                                  }
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
    std::printf("| measurement (memif) | samples | p50 us | p99 us | p99.9 us "
                "| max us | p99 / floor p99 (the floor at the same load) |\n"
                "|---|--:|--:|--:|--:|--:|--:|\n");
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
    // Sends one echo request; false if the port did not take it.
    const auto send_echo = [&] {
        rte_mbuf* m = rte_pktmbuf_alloc(pool);
        auto* d = reinterpret_cast<std::byte*>(rte_pktmbuf_append(m, 50));
        std::memset(d, 0, 50);
        packet::build_echo(std::span(d, 50), link.self(), broker, 8);
        if (rte_eth_tx_burst(id, 0, &m, 1) != 1) {
            rte_pktmbuf_free(m);
            return false;
        }
        return true;
    };
    for (long i = 0; i < samples + warmup; ++i) {
        const uint64_t before = echo_seen();
        const int64_t t0 = now_ns();
        if (!send_echo()) {
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
    const double floor_p99 = perf::histogram::of(floor).us(0.99);
    report("floor: ICMP echo by runneld's port", floor, 0);

    const std::string value(100, 'v');
    // A batch of one 100-byte record: `producer`'s batch at `sequence`.
    const auto one_record = [&](std::vector<std::byte>& out, model::producer_id producer,
                                int32_t sequence) {
        const storage::record_spec r{.value = value};
        storage::build_batch(out, std::span(&r, 1),
                             {.producer_id = producer, .producer_epoch = 0,
                              .base_sequence = sequence});
    };
    uint64_t request = 10;
    for (const char* level : {"memory", "write", "fsync"}) {
        const std::string topic = std::string("bench-") + level;
        send({.request_id = ++request, .body = fast_path::resolve{topic}});
        if (!wait_for(request) || !std::holds_alternative<fast_path::resolve_answer>(last->body)) {
            std::fprintf(stderr, "cannot resolve %s\n", topic.c_str());
            return 1;
        }
        const uint32_t handle = std::get<fast_path::resolve_answer>(last->body).topic;
        // One producer per level, as a client has: its sequence counts the batches.
        const auto producer = model::producer_id(77 + int64_t(request));
        std::vector<int64_t> lat;
        std::vector<std::byte> b;
        for (long i = 0; i < samples + warmup; ++i) {
            one_record(b, producer, int32_t(i));
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

    // Open loop at `rate` produces per second on bench-memory, each latency from its scheduled
    // send time (a stall delays the sends behind it, and they count it), with a subscriber on the
    // same partition: produce→ack and produce→subscriber (the push of the record's batch).
    // Producers take turns so that one's window of five never holds the schedule back.
    send({.request_id = ++request, .body = fast_path::resolve{"bench-memory"}});
    if (!wait_for(request)) {
        return 1;
    }
    const uint32_t memory = std::get<fast_path::resolve_answer>(last->body).topic;
    // A subscription to bench-memory/0 from its end, with a window the bench never fills.
    auto subscribe_at_end = [&]() -> std::optional<fast_path::subscribe_answer> {
        send({.request_id = ++request,
              .body = fast_path::subscribe{memory, 0, -1, 1u << 30, 60'000, 0}});
        if (!wait_for(request) ||
            !std::holds_alternative<fast_path::subscribe_answer>(last->body)) {
            std::fprintf(stderr, "no answer to subscribe\n");
            return std::nullopt;
        }
        return std::get<fast_path::subscribe_answer>(last->body);
    };
    // Closed loop, produce→subscriber: one produce at a time to bench-memory, each timed until
    // the push of its batch reaches a subscriber on the partition.
    {
        const auto answered = subscribe_at_end();
        if (!answered) {
            return 1;
        }
        const auto sub = *answered;
        int64_t pushed_end = sub.start_offset; // the offset after the last record pushed
        int64_t pushed_at = 0;
        on_frame = [&](const fast_path::frame& f, int64_t at) {
            const auto* pu = std::get_if<fast_path::push>(&f.body);
            if (pu != nullptr && pu->subscription == sub.subscription) {
                const auto h = storage::batch::read_header(pu->batch);
                pushed_end = h.base_offset() + h.last_offset_delta + 1;
                pushed_at = at;
            }
        };
        const auto producer = model::producer_id(int64_t(3) << 40);
        std::vector<int64_t> lat;
        std::vector<std::byte> b;
        for (long i = 0; i < samples + warmup; ++i) {
            one_record(b, producer, int32_t(i));
            const int64_t t0 = now_ns();
            link.send(broker, [&](std::span<std::byte> room) {
                return fast_path::encode(room, {.request_id = ++request,
                                                .body = fast_path::produce{memory, 0, b}});
            });
            while (pushed_end <= sub.start_offset + i && now_ns() - t0 < 1'000'000'000) {
                link.poll(0, false);
            }
            if (pushed_end <= sub.start_offset + i) {
                std::fprintf(stderr, "closed loop: no push of batch %ld\n", i);
                return 1;
            }
            if (i >= warmup) {
                lat.push_back(pushed_at - t0);
            }
        }
        on_frame = nullptr;
        send({.request_id = ++request, .body = fast_path::unsubscribe{sub.subscription}});
        report("produce→subscriber, memory, closed loop", lat, floor_p99);
    }
    // Fills `out` with single-record batches from `producers` producers taking turns (batch i
    // is producer pid_base + i % producers's sequence i / producers).
    auto build_streams = [&](std::vector<std::vector<std::byte>>& out, int64_t pid_base,
                             int producers) {
        for (size_t i = 0; i < out.size(); ++i) {
            const auto n = int64_t(i);
            one_record(out[i], model::producer_id(pid_base + n % producers),
                       int32_t(n / producers));
        }
    };
    const long total = samples + warmup;
    constexpr int producers = 8;
    std::vector<std::vector<std::byte>> batches(static_cast<size_t>(total)); // built per run
    std::vector<int64_t> acked_at(size_t(total), 0);
    std::vector<int64_t> pushed_at(size_t(total), 0);
    for (const long rate : {10'000L, 100'000L}) {
        std::fill(acked_at.begin(), acked_at.end(), 0);
        std::fill(pushed_at.begin(), pushed_at.end(), 0);
        long acks = 0;
        long pushes = 0;
        // Each rate starts a fresh stream: producer ids no earlier phase used, the log's end.
        build_streams(batches, (int64_t(1) << 40) + rate, producers);
        const auto answered = subscribe_at_end();
        if (!answered) {
            return 1;
        }
        const auto s2 = *answered;
        const int64_t base_offset = s2.start_offset;
        on_frame = [&, base_offset](const fast_path::frame& f, int64_t at) {
            if (const auto* a = std::get_if<fast_path::ack>(&f.body)) {
                const long i = long(f.request_id) - 1'000'000;
                if (i >= 0 && i < total && a->error == fast_path::error_code::none &&
                    acked_at[size_t(i)] == 0) {
                    acked_at[size_t(i)] = at;
                    ++acks;
                }
            } else if (const auto* pu = std::get_if<fast_path::push>(&f.body)) {
                if (pu->subscription != s2.subscription) {
                    return;
                }
                const auto h = storage::batch::read_header(pu->batch);
                const int64_t o = h.base_offset() - base_offset;
                if (o >= 0 && o < total && pushed_at[size_t(o)] == 0) {
                    pushed_at[size_t(o)] = at;
                    ++pushes;
                }
            }
        };
        const int64_t period = 1'000'000'000 / rate;
        // The floor at this rate: echoes on the same schedule, each timed from its due time to
        // its reply. Replies come back in order, so each step of the counter times the next.
        std::vector<int64_t> echo_lat;
        {
            const uint64_t base = echo_seen();
            const int64_t start = now_ns() + 1'000'000;
            long timed = 0;
            const auto collect = [&] {
                const long replied = long(echo_seen() - base);
                const int64_t t = now_ns();
                for (; timed < replied; ++timed) {
                    if (timed >= warmup) {
                        echo_lat.push_back(t - (start + timed * period));
                    }
                }
            };
            for (long i = 0; i < total; ++i) {
                while (now_ns() < start + i * period) {
                    link.poll(0, false);
                    collect();
                }
                if (!send_echo()) {
                    std::fprintf(stderr, "open loop at %ld/s: the port refused an echo\n", rate);
                    return 1;
                }
            }
            const int64_t until = now_ns() + 1'000'000'000;
            while (timed < total && now_ns() < until) {
                link.poll(0, false);
                collect();
            }
            if (timed < total) {
                std::fprintf(stderr, "open loop at %ld/s: %ld of %ld echoes answered\n", rate,
                             timed, total);
                return 1;
            }
        }
        const double open_floor_p99 = perf::histogram::of(echo_lat).us(0.99);
        const std::string f = "open loop " + std::to_string(rate / 1000) +
                              "k/s: floor, ICMP echo";
        report(f.c_str(), echo_lat, 0);
        const int64_t start = now_ns() + 1'000'000;
        for (long i = 0; i < total; ++i) {
            const int64_t due = start + i * period;
            while (now_ns() < due) {
                link.poll(0, false);
            }
            link.send(broker, [&](std::span<std::byte> room) {
                return fast_path::encode(room, {.request_id = uint64_t(1'000'000 + i),
                                                .body = fast_path::produce{memory, 0,
                                                                           batches[size_t(i)]}});
            });
        }
        for (const int64_t until = now_ns() + 2'000'000'000;
             (acks < total || pushes < total) && now_ns() < until;) {
            link.poll(0, false);
        }
        // The pushes arrive in offset order; the offsets follow the sends (one link, in order).
        std::vector<int64_t> ack_lat;
        std::vector<int64_t> push_lat;
        long missing = 0;
        for (long i = warmup; i < total; ++i) {
            const int64_t due = start + i * period;
            if (acked_at[size_t(i)] == 0 || pushed_at[size_t(i)] == 0) {
                ++missing;
                continue;
            }
            ack_lat.push_back(acked_at[size_t(i)] - due);
            push_lat.push_back(pushed_at[size_t(i)] - due);
        }
        send({.request_id = ++request, .body = fast_path::unsubscribe{s2.subscription}});
        if (missing > 0 || ack_lat.empty()) {
            std::fprintf(stderr, "open loop at %ld/s: %ld of %ld not acknowledged or pushed "
                         "(%ld acknowledged, %ld pushed)\n", rate, missing, samples, acks, pushes);
            on_frame = nullptr;
            continue;
        }
        const std::string a = "open loop " + std::to_string(rate / 1000) +
                              "k/s: produce→ack, memory";
        const std::string b = "open loop " + std::to_string(rate / 1000) +
                              "k/s: produce→subscriber, memory";
        report(a.c_str(), ack_lat, open_floor_p99);
        report(b.c_str(), push_lat, open_floor_p99);
        on_frame = nullptr; // it refers to this round's counts
    }

    // Pipelined throughput: single-record produces to bench-memory from 16 producers, each with
    // five unacknowledged (the window idempotence allows), the next ones sent as acks arrive.
    constexpr int lanes = 16;
    const long count = 1'000'000;
    std::vector<std::vector<std::byte>> pipelined(static_cast<size_t>(count));
    build_streams(pipelined, int64_t(2) << 40, lanes);
    long next = 0;
    long done = 0;
    long refused = 0;
    auto send_batch = [&](long i) {
        link.send(broker, [&](std::span<std::byte> room) {
            return fast_path::encode(room, {.request_id = uint64_t(2'000'000 + i),
                                            .body = fast_path::produce{memory, 0,
                                                                       pipelined[size_t(i)]}});
        });
    };
    std::vector<int> in_flight(lanes, 0);
    // Keeps every lane's window full, in sequence order (lane l sends l, l+16, ...).
    auto refill = [&] {
        while (next < count && in_flight[size_t(next % lanes)] < 5) {
            ++in_flight[size_t(next % lanes)];
            send_batch(next++);
        }
    };
    on_frame = [&](const fast_path::frame& f, int64_t) {
        const auto* a = std::get_if<fast_path::ack>(&f.body);
        if (a == nullptr || f.request_id < 2'000'000) {
            return;
        }
        if (a->error != fast_path::error_code::none) {
            ++refused; // overloaded or out of order: sent again at once
            send_batch(long(f.request_id - 2'000'000));
            return;
        }
        ++done;
        const long lane = long(f.request_id - 2'000'000) % lanes;
        --in_flight[size_t(lane)];
        refill(); // from inside the port's poll: these leave in one tx burst with the rest
    };
    const int64_t t0 = now_ns();
    while (done < count && now_ns() - t0 < 60'000'000'000) {
        refill();
        link.poll(0, false);
    }
    const double seconds = double(now_ns() - t0) / 1e9;
    on_frame = nullptr;
    std::printf("| pipelined single-record produces, memory, %d producers x 5 in flight | %ld "
                "acknowledged in %.2f s | %.0f produces/s | %ld answered overloaded or out of "
                "order and resent |\n", lanes, done, seconds, double(done) / seconds, refused);
    return done == count ? 0 : 1;
}
