// A fast-path client for the process tests (tests/process/fastpath_test.py drives it): a DPDK
// process on its own port (a memif client, say) that resolves TOPIC on the broker at BROKER_IP,
// then either
//   fastpath_client produce VDEV CLIENT_IP BROKER_IP TOPIC COUNT PRODUCER_ID OUT
//     produces COUNT single-record batches "fp-<i>" as idempotent producer PRODUCER_ID (sequence
//     i), up to 5 unacknowledged (what the broker remembers per producer), retransmitting any not
//     acknowledged within 50 ms and, on purpose, every 7th at once; writes
//     "ack <i> <offset>" once per batch to OUT; exits 0 when all are acknowledged; or
//   fastpath_client subscribe VDEV CLIENT_IP BROKER_IP TOPIC COUNT VISIBILITY OUT
//     subscribes to partition 0 from its start (window 64 KiB, lease 2 s, heartbeats), writes
//     "rec <offset> <value>" for every record pushed, in offset order, asking for a range again
//     when it sees a gap; exits 0 once it has COUNT records.
#include "dataplane/fast_path.h"
#include "dataplane/port.h"
#include "storage/batch_builder.h"
#include "storage/record_batch.h"

#include <arpa/inet.h>
#include <rte_ethdev.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <map>
#include <optional>
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

struct session {
    port* link = nullptr;
    uint16_t port_id = 0;
    packet::remote_endpoint broker;
    std::vector<fast_path::frame> answers;
    std::vector<std::vector<std::byte>> answer_bytes; // what `answers` views

    void send(const fast_path::frame& f) {
        link->send(broker, [&](std::span<std::byte> room) { return fast_path::encode(room, f); });
    }
    // Polls the port and hands every frame received to `take`.
    template <typename Take>
    void receive(Take&& take) {
        link->poll(0, false);
        for (const auto& a : answers) {
            take(a);
        }
        answers.clear();
        answer_bytes.clear();
    }
};

// Resolves `topic`, retransmitting until the broker answers; its handle, or nullopt.
std::optional<uint32_t> resolve_topic(session& s, const std::string& topic) {
    std::optional<uint32_t> handle;
    for (uint64_t until = now_ms() + 10'000, next = 0; !handle && now_ms() < until;) {
        if (now_ms() >= next) {
            s.send({.request_id = 0, .body = fast_path::resolve{topic}});
            next = now_ms() + 100;
        }
        s.receive([&](const fast_path::frame& a) {
            if (const auto* r = std::get_if<fast_path::resolve_answer>(&a.body)) {
                if (r->error == fast_path::error_code::none) {
                    handle = r->topic;
                }
            }
        });
    }
    return handle;
}

int produce(session& s, uint32_t handle, long count, int64_t producer_id, FILE* out) {
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
    auto send = [&](long i) {
        s.send({.request_id = uint64_t(i) + 1,
                .body = fast_path::produce{handle, 0, batches[size_t(i)]}});
    };
    std::map<long, uint64_t> in_flight; // batch -> when last sent
    std::vector<bool> acked(size_t(count), false);
    long next = 0;
    long done = 0;
    long resent = 0;
    int failed = 0;
    for (uint64_t until = now_ms() + 120'000; done < count && !failed && now_ms() < until;) {
        while (next < count && in_flight.size() < 5) {
            send(next);
            if (next % 7 == 0) {
                send(next); // a duplicate on purpose: answered once, appended once
                ++resent;
            }
            in_flight[next++] = now_ms();
        }
        for (auto& [i, sent] : in_flight) {
            if (now_ms() - sent > 50) {
                send(i);
                sent = now_ms();
                ++resent;
            }
        }
        s.receive([&](const fast_path::frame& a) {
            const auto* ack = std::get_if<fast_path::ack>(&a.body);
            const long i = long(a.request_id) - 1;
            if (ack == nullptr || i < 0 || i >= count || acked[size_t(i)] ||
                ack->error == fast_path::error_code::overloaded ||
                ack->error == fast_path::error_code::out_of_order_sequence) {
                // Not ours, a repeat, or to retransmit by the timer: overloaded, or an earlier
                // batch of ours has not been appended yet.
                return;
            }
            if (ack->error != fast_path::error_code::none) {
                std::fprintf(stderr, "fastpath_client: batch %ld: error %d\n", i, int(ack->error));
                failed = 1;
                return;
            }
            if (ack->last_offset != ack->base_offset) {
                std::fprintf(stderr, "fastpath_client: batch %ld: last offset %lld\n", i,
                             static_cast<long long>(ack->last_offset));
                failed = 1;
                return;
            }
            acked[size_t(i)] = true;
            in_flight.erase(i);
            ++done;
            std::fprintf(out, "ack %ld %lld\n", i, static_cast<long long>(ack->base_offset));
        });
    }
    std::fprintf(stderr, "fastpath_client: %ld of %ld acknowledged, %ld sent twice\n", done, count,
                 resent);
    std::fprintf(out, "resent %ld\n", resent);
    return done == count && !failed ? 0 : 1;
}

int subscribe(session& s, uint32_t handle, long count, uint8_t visibility, FILE* out) {
    constexpr uint32_t window = 64u << 10;
    std::optional<uint32_t> id;
    int64_t next = 0; // every record below it is written out
    long got = 0;
    uint64_t last_sent = 0;
    for (uint64_t until = now_ms() + 60'000; got < count && now_ms() < until;) {
        if (!id && now_ms() - last_sent > 100) {
            s.send({.request_id = 1, .body = fast_path::subscribe{handle, 0, -2, window, 2000,
                                                                  visibility}});
            last_sent = now_ms();
        } else if (id && now_ms() - last_sent > 200) {
            s.send({.body = fast_path::credit{*id, window, next}}); // doubles as the heartbeat
            last_sent = now_ms();
        }
        bool moved = false;
        s.receive([&](const fast_path::frame& a) {
            if (const auto* r = std::get_if<fast_path::subscribe_answer>(&a.body)) {
                if (!id && r->error == fast_path::error_code::none) {
                    id = r->subscription;
                    next = r->start_offset;
                }
                return;
            }
            const auto* p = std::get_if<fast_path::push>(&a.body);
            if (p == nullptr || !id || p->subscription != *id) {
                return;
            }
            const auto h = storage::batch::read_header(p->batch);
            if (h.base_offset() > next) { // a gap: ask for it again
                s.send({.body = fast_path::range{*id, next, h.base_offset()}});
                return;
            }
            int64_t offset = h.base_offset();
            storage::batch::for_each_record(p->batch, [&](const auto&, const auto& value) {
                if (offset++ < next || !value) {
                    return; // already have it
                }
                std::fprintf(out, "rec %lld %.*s\n", static_cast<long long>(offset - 1),
                             int(value->size()), reinterpret_cast<const char*>(value->data()));
                ++got;
            });
            next = std::max(next, h.last_offset()() + 1);
            moved = true;
        });
        if (moved) {
            s.send({.body = fast_path::credit{*id, window, next}});
            last_sent = now_ms();
        }
    }
    if (id) {
        s.send({.body = fast_path::unsubscribe{*id}});
        s.receive([](const fast_path::frame&) {});
    }
    std::fprintf(stderr, "fastpath_client: %ld of %ld records pushed\n", got, count);
    return got == count ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 9) {
        std::fprintf(stderr, "usage: see the comment at the top of fastpath_client.cc\n");
        return 2;
    }
    const std::string mode = argv[1];
    const std::string vdev = argv[2];
    const uint32_t client_ip = parse_ip(argv[3]);
    const uint32_t broker_ip = parse_ip(argv[4]);
    const std::string topic = argv[5];
    const long count = std::atol(argv[6]);
    FILE* out = std::fopen(argv[8], "w");
    if (out == nullptr) {
        return fail(std::string("cannot write ") + argv[8]);
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
    session s{.port_id = id.value(),
              .broker = {.mac = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, .ip = broker_ip,
                         .udp_port = 9093}};
    auto p = port::create({.port_id = id.value(), .mbufs = 2048,
                           .self = {.ip = client_ip, .udp_port = 40000}},
                          [&](std::span<const std::byte> payload,
                              const packet::remote_endpoint& from, port&) {
                              s.answer_bytes.emplace_back(payload.begin(), payload.end());
                              auto f = fast_path::decode(s.answer_bytes.back());
                              if (f) {
                                  s.broker.mac = from.mac; // learnt from its first answer
                                  s.answers.push_back(f.value());
                              }
                          });
    if (!p) {
        return fail(p.error());
    }
    s.link = p.value().get();
    rte_eth_link state{};
    for (uint64_t until = now_ms() + 10'000; now_ms() < until;) {
        rte_eth_link_get_nowait(id.value(), &state);
        if (state.link_status == RTE_ETH_LINK_UP) {
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    const auto handle = resolve_topic(s, topic);
    if (!handle) {
        return fail("no answer to resolve " + topic + " within 10 s");
    }
    const int rc = mode == "produce"
                     ? produce(s, *handle, count, std::atoll(argv[7]), out)
                     : subscribe(s, *handle, count, uint8_t(std::atoi(argv[7])), out);
    std::fclose(out);
    return rc;
}
