// A dataplane port on a DPDK ring pair (two ports wired back to back: what one sends the other
// receives), with EAL in no-huge mode: ARP and ICMP echo answered by the port itself, UDP for the
// fast-path port handed to the handler and its answer sent back, other traffic dropped and
// counted. The client side is driven with raw rte_eth calls.
#include "dataplane/port.h"
#include "dataplane/service.h"

#include <gtest/gtest.h>

#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <cstring>
#include <tuple>
#include <vector>

using namespace runnel::dataplane;

namespace {

bool eal_ready = false;
std::string eal_error;

class eal_environment : public ::testing::Environment {
public:
    void SetUp() override {
        auto r = eal_init({"--no-huge", "-m", "256", "--no-pci", "--no-shconf", "--log-level=3"});
        eal_ready = r.ok();
        if (!r) {
            eal_error = r.error();
        }
    }
};
const auto* registered = ::testing::AddGlobalTestEnvironment(new eal_environment);

const packet::local_endpoint broker{.mac = {2, 0, 0, 0, 0, 1}, .ip = 0xc0000201,
                                    .udp_port = 9093};
const packet::local_endpoint client{.mac = {2, 0, 0, 0, 0, 2}, .ip = 0xc0000202,
                                    .udp_port = 40000};

struct wire : ::testing::Test {
    uint16_t broker_port = 0;
    uint16_t client_port = 0;
    rte_mempool* pool = nullptr;

    void SetUp() override {
        if (!eal_ready) {
            GTEST_SKIP() << "DPDK EAL is not available here: " << eal_error;
        }
        static int n = 0;
        const std::string id = std::to_string(n++);
        rte_ring* a = rte_ring_create(("a" + id).c_str(), 1024, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
        rte_ring* b = rte_ring_create(("b" + id).c_str(), 1024, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
        ASSERT_NE(a, nullptr);
        ASSERT_NE(b, nullptr);
        const int bp = rte_eth_from_rings(("broker" + id).c_str(), &a, 1, &b, 1, 0);
        const int cp = rte_eth_from_rings(("client" + id).c_str(), &b, 1, &a, 1, 0);
        ASSERT_GE(bp, 0);
        ASSERT_GE(cp, 0);
        broker_port = uint16_t(bp);
        client_port = uint16_t(cp);
        pool = rte_pktmbuf_pool_create(("test" + id).c_str(), 512, 0, 0,
                                       RTE_MBUF_DEFAULT_BUF_SIZE, 0);
        ASSERT_NE(pool, nullptr);
        rte_eth_conf conf{};
        ASSERT_EQ(rte_eth_dev_configure(client_port, 1, 1, &conf), 0);
        ASSERT_EQ(rte_eth_rx_queue_setup(client_port, 0, 256, 0, nullptr, pool), 0);
        ASSERT_EQ(rte_eth_tx_queue_setup(client_port, 0, 256, 0, nullptr), 0);
        ASSERT_EQ(rte_eth_dev_start(client_port), 0);
    }

    // The client sends one frame.
    void client_send(std::span<const std::byte> frame) {
        rte_mbuf* m = rte_pktmbuf_alloc(pool);
        ASSERT_NE(m, nullptr);
        std::memcpy(rte_pktmbuf_append(m, uint16_t(frame.size())), frame.data(), frame.size());
        ASSERT_EQ(rte_eth_tx_burst(client_port, 0, &m, 1), 1);
    }

    // What the client received, as byte vectors.
    std::vector<std::vector<std::byte>> client_receive() {
        std::vector<std::vector<std::byte>> out;
        rte_mbuf* ms[32];
        const uint16_t n = rte_eth_rx_burst(client_port, 0, ms, 32);
        for (uint16_t i = 0; i < n; ++i) {
            const auto* d = rte_pktmbuf_mtod(ms[i], const std::byte*);
            out.emplace_back(d, d + rte_pktmbuf_data_len(ms[i]));
            rte_pktmbuf_free(ms[i]);
        }
        return out;
    }

    // A UDP datagram from the client to the broker's fast-path port.
    static std::vector<std::byte> datagram(std::string_view payload, uint16_t to_port = 9093) {
        std::vector<std::byte> f(packet::udp_headers_bytes + payload.size());
        std::memcpy(f.data() + packet::udp_headers_bytes, payload.data(), payload.size());
        packet::build_udp(f, client, {.mac = broker.mac, .ip = broker.ip, .udp_port = to_port},
                          payload.size());
        return f;
    }
};

} // namespace

TEST_F(wire, udp_reaches_the_handler_and_its_answer_comes_back) {
    std::vector<std::string> seen;
    auto p = port::create({.port_id = broker_port, .mbufs = 256, .self = broker},
                          [&](std::span<const std::byte> payload,
                              const packet::remote_endpoint& from, port& self) {
                              seen.emplace_back(reinterpret_cast<const char*>(payload.data()),
                                                payload.size());
                              self.send(from, [&](std::span<std::byte> room) {
                                  std::memcpy(room.data(), "ack:", 4);
                                  std::memcpy(room.data() + 4, payload.data(), payload.size());
                                  return 4 + payload.size();
                              });
                          });
    ASSERT_TRUE(p.ok()) << (p.ok() ? std::string() : p.error());
    client_send(datagram("hello"));
    client_send(datagram("other port", 9999));
    p.value()->poll(0, false);
    ASSERT_EQ(seen, std::vector<std::string>{"hello"});
    auto got = client_receive();
    ASSERT_EQ(got.size(), 1u);
    packet::counters c;
    auto r = packet::classify(got[0], client, c);
    ASSERT_EQ(r.action, packet::verdict::deliver) << packet::to_string(r.reason);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(r.payload.data()), r.payload.size()),
              "ack:hello");
    EXPECT_EQ(r.from.udp_port, 9093);
    EXPECT_EQ(p.value()->counters().udp_delivered, 1u);
    EXPECT_EQ(p.value()->counters().dropped[size_t(packet::drop_reason::udp_wrong_port)], 1u);
}

TEST_F(wire, the_port_finds_a_neighbour_by_arp) {
    auto p = port::create({.port_id = broker_port, .mbufs = 256, .self = broker},
                          [](auto, const auto&, port&) { FAIL() << "no datagram expected"; });
    ASSERT_TRUE(p.ok()) << (p.ok() ? std::string() : p.error());
    EXPECT_FALSE(p.value()->neighbour(client.ip));
    ASSERT_TRUE(p.value()->request_neighbour(client.ip));
    auto got = client_receive();
    ASSERT_EQ(got.size(), 1u);
    packet::counters c;
    const auto r = packet::classify(got[0], client, c); // the client answers in place
    ASSERT_EQ(r.action, packet::verdict::reply);
    got[0].resize(r.reply_bytes);
    client_send(got[0]);
    p.value()->poll(0, false);
    const auto mac = p.value()->neighbour(client.ip);
    ASSERT_TRUE(mac);
    EXPECT_EQ(*mac, client.mac);
    EXPECT_EQ(p.value()->counters().arp_answers, 1u);
}

TEST_F(wire, arp_and_ping_are_answered_by_the_port) {
    auto p = port::create({.port_id = broker_port, .mbufs = 256, .self = broker},
                          [](auto, const auto&, port&) { FAIL() << "no datagram expected"; });
    ASSERT_TRUE(p.ok()) << (p.ok() ? std::string() : p.error());
    std::vector<std::byte> arp(42);
    const uint8_t request[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 2, 0x08, 0x06,
                               0, 1, 0x08, 0x00, 6, 4, 0, 1, 2, 0, 0, 0, 0, 2, 192, 0, 2, 2,
                               0, 0, 0, 0, 0, 0, 192, 0, 2, 1};
    std::memcpy(arp.data(), request, sizeof(request));
    client_send(arp);
    p.value()->poll(0, false);
    auto got = client_receive();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(uint8_t(got[0][14 + 7]), 2); // ARP reply
    EXPECT_EQ(uint8_t(got[0][14 + 13]), 1); // the broker's MAC
    EXPECT_EQ(p.value()->counters().arp_replies, 1u);

    std::vector<std::byte> ping(packet::udp_headers_bytes + 4, std::byte{'a'});
    ASSERT_EQ(packet::build_echo(ping, client, {.mac = broker.mac, .ip = broker.ip}, 4),
              ping.size());
    client_send(ping);
    p.value()->poll(0, false);
    got = client_receive();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(uint8_t(got[0][34]), 0); // echo reply
    EXPECT_EQ(packet::internet_checksum(std::span(got[0]).subspan(34)), 0);
    EXPECT_EQ(uint8_t(got[0][14 + 19]), 2); // to the client
    EXPECT_EQ(p.value()->counters().icmp_replies, 1u);
}

namespace {

// A log that records produced batches; answers later (from `flush`) as a real log does.
struct fake_log final : log_service {
    std::vector<std::vector<std::byte>> batches;
    std::vector<std::function<void()>> later; // the test's own, may allocate
    int64_t next_producer_id = 1000;
    int64_t new_producer_id() override { return next_producer_id++; }
    std::optional<topic> resolve(std::string_view name) override {
        if (name == "orders") {
            return topic{.handle = 3, .partition_count = 2};
        }
        return std::nullopt;
    }
    void produce(uint32_t handle, uint32_t partition, std::span<const std::byte> batch,
                 produce_sink& to, uint64_t cookie) override {
        if (handle != 3 || partition >= 2) {
            to.produced(cookie, {.error = fast_path::error_code::unknown_partition});
            return;
        }
        batches.emplace_back(batch.begin(), batch.end());
        const auto base = int64_t(batches.size() - 1);
        later.push_back([&to, cookie, base] {
            to.produced(cookie, {.base_offset = base, .last_offset = base});
        });
    }
    void flush() {
        for (auto& f : later) {
            f();
        }
        later.clear();
    }
    // Stored batches for subscriptions: header fields the service reads, then filler.
    std::vector<std::vector<std::byte>> stored;
    void store(size_t bytes) {
        std::vector<std::byte> b(bytes, std::byte{0x5a});
        const auto offset = uint64_t(stored.size());
        for (int i = 0; i < 8; ++i) {
            b[size_t(i)] = std::byte(uint8_t(offset >> (56 - 8 * i)));
        }
        const auto length = uint32_t(bytes - 12);
        for (int i = 0; i < 4; ++i) {
            b[size_t(8 + i)] = std::byte(uint8_t(length >> (24 - 8 * i)));
        }
        for (int i = 0; i < 4; ++i) {
            b[size_t(23 + i)] = std::byte{0}; // last offset delta 0: one record
        }
        stored.push_back(std::move(b));
    }
    extent visible(uint32_t handle, uint32_t, uint8_t) override {
        if (handle != 3) {
            return {.error = fast_path::error_code::unknown_topic};
        }
        return {.log_start = 0, .visible_end = int64_t(stored.size())};
    }
    void read(uint32_t, uint32_t, int64_t offset, int64_t upto, uint32_t max_bytes,
              read_done done) override {
        std::vector<std::byte> out;
        for (auto o = offset; o < upto && (out.empty() || out.size() < max_bytes); ++o) {
            out.insert(out.end(), stored[size_t(o)].begin(), stored[size_t(o)].end());
        }
        done(fast_path::error_code::none, out);
    }
};

} // namespace

TEST_F(wire, the_service_answers_resolve_produce_and_bad_frames) {
    fake_log log;
    service svc(log);
    auto p = port::create({.port_id = broker_port, .mbufs = 256, .self = broker},
                          [&](auto payload, const auto& from, port& self) {
                              svc.on_datagram(payload, from, self);
                          });
    ASSERT_TRUE(p.ok()) << (p.ok() ? std::string() : p.error());
    auto send = [&](const fast_path::frame& f) {
        std::vector<std::byte> b(512);
        b.resize(fast_path::encode(b, f));
        client_send(datagram(std::string_view(reinterpret_cast<const char*>(b.data()), b.size())));
    };
    auto answers = [&] {
        p.value()->poll(0, false);
        std::vector<fast_path::frame> out;
        for (auto& f : client_receive()) {
            packet::counters c;
            auto r = packet::classify(f, client, c);
            EXPECT_EQ(r.action, packet::verdict::deliver);
            auto d = fast_path::decode(r.payload);
            EXPECT_TRUE(d.ok());
            if (d) {
                // Views into `f` die with it: keep only what the checks below read.
                out.push_back(d.value());
            }
        }
        return out;
    };
    const std::vector<std::byte> batch{std::byte{1}, std::byte{2}};
    send({.request_id = 1, .body = fast_path::resolve{"orders"}});
    send({.request_id = 2, .body = fast_path::resolve{"nosuch"}});
    send({.request_id = 3, .body = fast_path::produce{3, 1, batch}});
    send({.request_id = 4, .body = fast_path::produce{3, 7, batch}});
    send({.request_id = 5, .body = fast_path::credit{77, 0, 0}});
    send({.request_id = 6, .body = fast_path::init_producer{}});
    send({.request_id = 7, .body = fast_path::init_producer{}});
    auto got = answers();
    ASSERT_EQ(got.size(), 6u); // the good produce is answered once the log acknowledges it
    EXPECT_EQ(got[0].request_id, 1u);
    EXPECT_EQ(std::get<fast_path::resolve_answer>(got[0].body).topic, 3u);
    EXPECT_EQ(std::get<fast_path::resolve_answer>(got[0].body).partition_count, 2u);
    EXPECT_EQ(std::get<fast_path::resolve_answer>(got[1].body).error,
              fast_path::error_code::unknown_topic);
    EXPECT_EQ(got[2].request_id, 4u);
    EXPECT_EQ(std::get<fast_path::ack>(got[2].body).error, fast_path::error_code::unknown_partition);
    EXPECT_EQ(std::get<fast_path::error>(got[3].body).error,
              fast_path::error_code::unknown_subscription);
    EXPECT_EQ(got[4].request_id, 6u);
    EXPECT_EQ(std::get<fast_path::init_producer_answer>(got[4].body).producer_id, 1000);
    EXPECT_EQ(std::get<fast_path::init_producer_answer>(got[5].body).producer_id, 1001)
      << "each request gets an id of its own";
    log.flush();
    got = answers();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].request_id, 3u);
    EXPECT_EQ(std::get<fast_path::ack>(got[0].body).base_offset, 0);
    ASSERT_EQ(log.batches.size(), 1u);
    EXPECT_EQ(log.batches[0], batch);

    // A frame of another version is told the versions served; garbage without a header is not.
    std::vector<std::byte> v2(512);
    v2.resize(fast_path::encode(v2, {.request_id = 9, .body = fast_path::heartbeat{1}}));
    v2[2] = std::byte{2};
    client_send(datagram(std::string_view(reinterpret_cast<const char*>(v2.data()), v2.size())));
    client_send(datagram("garbage"));
    got = answers();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].request_id, 9u);
    EXPECT_EQ(std::get<fast_path::error>(got[0].body).error,
              fast_path::error_code::unsupported_version);
    EXPECT_EQ(svc.counters().malformed[size_t(fast_path::decode_errc::too_short)], 1u);
}

// A subscription pushes whole batches within its window; credit opens the window further; range
// pushes again from an earlier offset; unsubscribe stops it; a silent one loses its lease.
TEST_F(wire, subscriptions_push_within_their_window) {
    fake_log log;
    for (int i = 0; i < 5; ++i) {
        log.store(100);
    }
    service svc(log);
    auto p = port::create({.port_id = broker_port, .mbufs = 256, .self = broker},
                          [&](auto payload, const auto& from, port& self) {
                              svc.on_datagram(payload, from, self);
                          });
    ASSERT_TRUE(p.ok()) << (p.ok() ? std::string() : p.error());
    uint64_t now = 1'000'000;
    auto send = [&](const fast_path::frame& f) {
        std::vector<std::byte> b(512);
        b.resize(fast_path::encode(b, f));
        client_send(datagram(std::string_view(reinterpret_cast<const char*>(b.data()), b.size())));
    };
    // (kind, subscription or error, first offset of a pushed batch)
    auto received = [&] {
        p.value()->poll(now, false);
        svc.poll(now, false);
        p.value()->poll(now, false);
        std::vector<std::tuple<int, int64_t, int64_t>> out;
        for (auto& f : client_receive()) {
            packet::counters c;
            auto r = packet::classify(f, client, c);
            auto d = fast_path::decode(r.payload);
            EXPECT_TRUE(d.ok());
            if (!d) {
                continue;
            }
            if (const auto* a = std::get_if<fast_path::subscribe_answer>(&d->body)) {
                out.emplace_back(6, a->subscription, a->start_offset);
            } else if (const auto* push = std::get_if<fast_path::push>(&d->body)) {
                int64_t base = 0;
                for (int i = 0; i < 8; ++i) {
                    base = base << 8 | uint8_t(push->batch[size_t(i)]);
                }
                EXPECT_EQ(push->batch.size(), 100u);
                out.emplace_back(7, push->subscription, base);
            } else if (const auto* e = std::get_if<fast_path::error>(&d->body)) {
                out.emplace_back(12, int64_t(e->error), 0);
            }
        }
        return out;
    };
    using row = std::tuple<int, int64_t, int64_t>;
    send({.request_id = 1, .body = fast_path::subscribe{3, 0, -2, 250, 1000, 0}});
    // The answer, then two pushes: a third would put 300 bytes in the 250-byte window.
    EXPECT_EQ(received(), (std::vector<row>{{6, 1, 0}, {7, 1, 0}, {7, 1, 1}}));
    EXPECT_EQ(received(), std::vector<row>{});
    send({.request_id = 2, .body = fast_path::credit{1, 250, 2}});
    EXPECT_EQ(received(), (std::vector<row>{{7, 1, 2}, {7, 1, 3}}));
    send({.request_id = 3, .body = fast_path::range{1, 1, 2}});
    EXPECT_EQ(received(), (std::vector<row>{{7, 1, 1}, {7, 1, 2}}));
    send({.request_id = 4, .body = fast_path::unsubscribe{1}});
    log.store(100);
    EXPECT_EQ(received(), std::vector<row>{});
    EXPECT_EQ(svc.subscription_count(), 0u);

    send({.request_id = 5, .body = fast_path::subscribe{3, 0, -1, 1000, 100, 0}}); // the end
    EXPECT_EQ(received(), (std::vector<row>{{6, 2, 6}}));
    send({.request_id = 6, .body = fast_path::subscribe{3, 0, 99, 1000, 100, 0}});
    EXPECT_EQ(received(), (std::vector<row>{{6, 0, -1}}));
    now += 200'000; // past the 100 ms lease without a heartbeat
    EXPECT_EQ(received(), std::vector<row>{});
    EXPECT_EQ(svc.subscription_count(), 0u);
    EXPECT_EQ(svc.counters().leases_expired, 1u);
}
