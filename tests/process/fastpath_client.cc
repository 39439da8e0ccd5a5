// A fast-path client for the process tests (tests/process/fastpath_test.py drives it): a DPDK
// process on its own port (a memif client, say) that resolves TOPIC on the broker at BROKER_IP and
// produces COUNT single-record batches "fp-<i>" as idempotent producer PRODUCER_ID (sequence i),
// keeping up to 64 unacknowledged and retransmitting any not acknowledged within 50 ms. Writes
// "ack <i> <offset>" for each batch to OUT once, and exits 0 when all are acknowledged.
//   fastpath_client VDEV CLIENT_IP BROKER_IP TOPIC COUNT PRODUCER_ID OUT
#include "dataplane/fast_path.h"
#include "dataplane/port.h"
#include "storage/batch_builder.h"

#include <arpa/inet.h>
#include <rte_ethdev.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <thread>
#include <vector>

using namespace runnel;
using namespace runnel::dataplane;

namespace {

uint64_t now_ms() {
    using namespace std::chrono;
    return uint64_t(duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count());
}

uint32_t parse_ip(const char* text) {
    in_addr a{};
    if (inet_pton(AF_INET, text, &a) != 1) {
        std::fprintf(stderr, "fastpath_client: %s is not an IPv4 address\n", text);
        std::exit(2);
    }
    return ntohl(a.s_addr);
}

int fail(const std::string& why) {
    std::fprintf(stderr, "fastpath_client: %s\n", why.c_str());
    return 1;
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 8) {
        std::fprintf(stderr, "usage: see the comment at the top of fastpath_client.cc\n");
        return 2;
    }
    const std::string vdev = argv[1];
    const uint32_t client_ip = parse_ip(argv[2]);
    const uint32_t broker_ip = parse_ip(argv[3]);
    const std::string topic = argv[4];
    const long count = std::atol(argv[5]);
    const int64_t producer_id = std::atoll(argv[6]);
    FILE* out = std::fopen(argv[7], "w");
    if (out == nullptr) {
        return fail(std::string("cannot write ") + argv[7]);
    }
    if (auto r = eal_init({"--no-huge", "-m", "256", "--no-pci", "--no-shconf", "--log-level=3",
                           "--vdev=" + vdev});
        !r) {
        return fail(r.error());
    }
    auto id = first_port();
    if (!id) {
        return fail(id.error());
    }
    std::vector<fast_path::frame> answers;
    std::vector<std::vector<std::byte>> answer_bytes; // what `answers` views
    packet::remote_endpoint broker{.mac = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, .ip = broker_ip,
                                   .udp_port = 9093};
    auto p = port::create({.port_id = id.value(), .mbufs = 2048,
                           .self = {.ip = client_ip, .udp_port = 40000}},
                          [&](std::span<const std::byte> payload,
                              const packet::remote_endpoint& from, port&) {
                              answer_bytes.emplace_back(payload.begin(), payload.end());
                              auto f = fast_path::decode(answer_bytes.back());
                              if (f) {
                                  broker.mac = from.mac; // learnt from its first answer
                                  answers.push_back(f.value());
                              }
                          });
    if (!p) {
        return fail(p.error());
    }
    port& link = *p.value();
    rte_eth_link state{};
    for (uint64_t until = now_ms() + 10'000; now_ms() < until;) {
        rte_eth_link_get_nowait(id.value(), &state);
        if (state.link_status == RTE_ETH_LINK_UP) {
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    auto send = [&](const fast_path::frame& f) {
        link.send(broker, [&](std::span<std::byte> room) { return fast_path::encode(room, f); });
    };
    // Resolve, retransmitting until the broker answers.
    uint32_t handle = 0;
    bool resolved = false;
    for (uint64_t until = now_ms() + 10'000, next = 0; !resolved && now_ms() < until;) {
        if (now_ms() >= next) {
            send({.request_id = 0, .body = fast_path::resolve{topic}});
            next = now_ms() + 100;
        }
        link.poll(0, false);
        for (const auto& a : answers) {
            if (const auto* r = std::get_if<fast_path::resolve_answer>(&a.body)) {
                if (r->error != fast_path::error_code::none) {
                    return fail("resolve " + topic + ": error " + std::to_string(int(r->error)));
                }
                handle = r->topic;
                resolved = true;
            }
        }
        answers.clear();
        answer_bytes.clear();
    }
    if (!resolved) {
        return fail("no answer to resolve within 10 s");
    }
    // Produce with a window of 64 and retransmission.
    std::vector<std::vector<std::byte>> batches;
    std::vector<std::string> values;
    for (long i = 0; i < count; ++i) {
        values.push_back("fp-" + std::to_string(i));
    }
    for (long i = 0; i < count; ++i) {
        const storage::record_spec r{.value = values[size_t(i)]};
        batches.push_back(storage::build_batch(
          std::span(&r, 1), {.producer_id = model::producer_id(producer_id), .producer_epoch = 0,
                             .base_sequence = int32_t(i)}));
    }
    std::map<long, uint64_t> in_flight; // batch -> when last sent
    std::vector<bool> acked(size_t(count), false);
    long next = 0;
    long done = 0;
    for (uint64_t until = now_ms() + 120'000; done < count && now_ms() < until;) {
        while (next < count && in_flight.size() < 64) {
            send({.request_id = uint64_t(next) + 1,
                  .body = fast_path::produce{handle, 0, batches[size_t(next)]}});
            in_flight[next++] = now_ms();
        }
        for (auto& [i, sent] : in_flight) {
            if (now_ms() - sent > 50) {
                send({.request_id = uint64_t(i) + 1,
                      .body = fast_path::produce{handle, 0, batches[size_t(i)]}});
                sent = now_ms();
            }
        }
        link.poll(0, false);
        for (const auto& a : answers) {
            const auto* ack = std::get_if<fast_path::ack>(&a.body);
            const long i = long(a.request_id) - 1;
            if (ack == nullptr || i < 0 || i >= count || acked[size_t(i)]) {
                continue;
            }
            if (ack->error == fast_path::error_code::overloaded) {
                continue; // retransmitted by the timer
            }
            if (ack->error != fast_path::error_code::none) {
                return fail("batch " + std::to_string(i) + ": error " +
                            std::to_string(int(ack->error)));
            }
            acked[size_t(i)] = true;
            in_flight.erase(i);
            ++done;
            std::fprintf(out, "ack %ld %lld\n", i, static_cast<long long>(ack->base_offset));
        }
        answers.clear();
        answer_bytes.clear();
    }
    std::fclose(out);
    std::fprintf(stderr, "fastpath_client: %ld of %ld acknowledged\n", done, count);
    return done == count ? 0 : 1;
}
