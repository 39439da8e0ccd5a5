// runnel-fast: produce and subscribe on runneld's fast path with librunnel, from the shell.
//
//   runnel-fast TRANSPORT [--lossy SEED] produce TOPIC [PARTITION]
//       one record per line of standard input; prints "ack <line> <offset>" per record (line
//       numbers from 0) and exits 0 when every one is acknowledged.
//   runnel-fast TRANSPORT [--lossy SEED] subscribe TOPIC COUNT [PARTITION [VISIBILITY [FROM]]]
//       prints "rec <offset> <value>" per record, in offset order, from FROM (default -2, the log
//       start; -1 the log end) at VISIBILITY (0 memory, 1 written, 2 fsynced); exits 0 after COUNT,
//       1 after 30 s without a record.
//
// TRANSPORT is one of
//   --udp BROKER_IP[:PORT]                        a kernel UDP socket (port default 9093)
//   --dpdk "EAL ARGS" SELF_IP BROKER_IP[:PORT]    a DPDK port, e.g. a memif client
// followed by --mtu N for an IP MTU other than 1500 (jumbo frames: records up to about N - 120
// bytes; the broker's dataplane.mtu must allow them too).
// --lossy SEED drops, duplicates and reorders about a tenth of the datagrams each way (seeded),
// to show that no record is lost or doubled.
#include "dataplane/client/client.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

using namespace runnel;

namespace {

int usage() {
    std::fprintf(stderr, "usage: see the comment at the top of tools/fast.cc (runnel-fast)\n");
    return 2;
}

// A transport that loses, duplicates and reorders datagrams at seeded rates, both ways.
class lossy final : public client::transport {
public:
    lossy(std::unique_ptr<client::transport> inner, uint32_t seed)
        : _inner(std::move(inner)), _rng(seed) {}
    bool send(std::span<const std::byte> d) override {
        switch (pick()) {
        case 0: return true; // lost
        case 1: _inner->send(d); return _inner->send(d);
        case 2: // held back, sent after the next one
            if (_held_out.empty()) {
                _held_out.assign(d.begin(), d.end());
                return true;
            }
            [[fallthrough]];
        default: {
            const bool ok = _inner->send(d);
            if (!_held_out.empty()) {
                _inner->send(_held_out);
                _held_out.clear();
            }
            return ok;
        }
        }
    }
    uint32_t receive(sink on, void* ctx) override {
        _arrived.clear();
        _inner->receive([](void* self, std::span<const std::byte> d) {
            static_cast<lossy*>(self)->_arrived.emplace_back(d.begin(), d.end());
        }, this);
        uint32_t n = 0;
        for (auto& d : _arrived) {
            const int fate = pick();
            if (fate == 0) {
                continue;
            }
            if (fate == 2 && _held_in.empty()) {
                _held_in = std::move(d);
                continue;
            }
            on(ctx, d);
            n += fate == 1 ? 2 : 1;
            if (fate == 1) {
                on(ctx, d);
            }
            if (!_held_in.empty()) {
                on(ctx, _held_in);
                _held_in.clear();
                ++n;
            }
        }
        return n;
    }
    size_t datagram_max() const override { return _inner->datagram_max(); }

private:
    // 0 lose, 1 duplicate, 2 reorder (each about 1 in 10), 3 deliver.
    int pick() {
        const auto r = std::uniform_int_distribution<int>(0, 29)(_rng);
        return r < 3 ? r : 3;
    }
    std::unique_ptr<client::transport> _inner;
    std::mt19937 _rng;
    std::vector<std::byte> _held_out;
    std::vector<std::byte> _held_in;
    std::vector<std::vector<std::byte>> _arrived;
};

std::pair<std::string, uint16_t> host_port(const std::string& s) {
    const auto colon = s.find(':');
    if (colon == std::string::npos) {
        return {s, 9093};
    }
    return {s.substr(0, colon), uint16_t(std::atoi(s.c_str() + colon + 1))};
}

int produce(client::client& c, const client::topic& t, uint32_t partition) {
    std::vector<std::string> lines;
    for (std::string line; std::getline(std::cin, line);) {
        lines.push_back(line);
    }
    size_t acked = 0;
    int failed = 0;
    for (size_t i = 0; i < lines.size();) {
        const client::record r{.value = lines[i]};
        const auto s = c.produce(t, partition, std::span(&r, 1), [&, i](const client::delivery& d) {
            if (d.error != client::status::ok) {
                std::fprintf(stderr, "runnel-fast: record %zu: %s\n", i,
                             std::string(client::to_string(d.error)).c_str());
                failed = 1;
                return;
            }
            std::printf("ack %zu %lld\n", i, static_cast<long long>(d.base_offset));
            ++acked;
        });
        if (s == client::status::would_block) {
            c.poll();
            continue;
        }
        if (s != client::status::ok) {
            std::fprintf(stderr, "runnel-fast: record %zu: %s\n", i,
                         std::string(client::to_string(s)).c_str());
            return 1;
        }
        ++i;
    }
    if (!c.flush(30'000)) {
        std::fprintf(stderr, "runnel-fast: %zu records still unacknowledged\n", c.in_flight());
        return 1;
    }
    std::fprintf(stderr, "runnel-fast: %zu of %zu records acknowledged, %llu retransmits\n", acked,
                 lines.size(), static_cast<unsigned long long>(c.stats().retransmits));
    return failed || acked != lines.size() ? 1 : 0;
}

int subscribe(client::client& c, const client::topic& t, long count, uint32_t partition,
              uint8_t visibility, int64_t from) {
    long got = 0;
    int64_t expect = -1;
    bool in_order = true;
    auto sub = c.subscribe(t, partition, {.start_offset = from, .visibility = visibility},
                           [&](const client::record_view& r) {
                               in_order = in_order && (expect < 0 || r.offset == expect);
                               expect = r.offset + 1;
                               const auto v = r.value.value_or(std::span<const std::byte>());
                               std::printf("rec %lld %.*s\n", static_cast<long long>(r.offset),
                                           int(v.size()),
                                           reinterpret_cast<const char*>(v.data()));
                               ++got;
                           });
    if (!sub) {
        std::fprintf(stderr, "runnel-fast: subscribe: %s\n",
                     std::string(client::to_string(sub.error())).c_str());
        return 1;
    }
    // Gives up after 30 s without a record.
    auto last = std::chrono::steady_clock::now();
    for (long seen = 0; got < count;) {
        c.poll();
        if (got != seen) {
            seen = got;
            last = std::chrono::steady_clock::now();
        } else if (std::chrono::steady_clock::now() - last > std::chrono::seconds(30)) {
            std::fprintf(stderr, "runnel-fast: %ld of %ld records, none for 30 s\n", got, count);
            return 1;
        }
    }
    c.unsubscribe(sub.value());
    std::fprintf(stderr, "runnel-fast: %ld records, %s, %llu ranges asked again\n", got,
                 in_order ? "in offset order" : "OUT OF ORDER",
                 static_cast<unsigned long long>(c.stats().gaps));
    return in_order ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
    std::vector<std::string> a(argv + 1, argv + argc);
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    size_t i = 0;
    result<std::unique_ptr<client::transport>, std::string> t =
      failure(std::string("no transport"));
    const size_t mtu_at = a.size() >= 4 && a[0] == "--dpdk" ? 4 : 2;
    const uint16_t mtu = a.size() > mtu_at + 1 && a[mtu_at] == "--mtu"
                           ? uint16_t(std::atoi(a[mtu_at + 1].c_str()))
                           : 1500;
    if (a.size() >= 2 && a[0] == "--udp") {
        const auto [host, port] = host_port(a[1]);
        t = client::open_udp({.broker_address = host, .broker_port = port,
                              .datagram_max = size_t(mtu) - 28});
        i = 2;
    } else if (a.size() >= 4 && a[0] == "--dpdk") {
        std::vector<std::string> eal;
        std::istringstream in(a[1]);
        for (std::string arg; in >> arg;) {
            eal.push_back(arg);
        }
        const auto [host, port] = host_port(a[3]);
        t = client::open_dpdk({.eal_args = eal, .self_address = a[2], .broker_address = host,
                               .broker_port = port, .mtu = mtu});
        i = 4;
    } else {
        return usage();
    }
    if (!t) {
        std::fprintf(stderr, "runnel-fast: %s\n", t.error().c_str());
        return 1;
    }
    if (i < a.size() && a[i] == "--mtu") {
        i += 2;
    }
    std::unique_ptr<client::transport> transport = std::move(t.value());
    if (i + 1 < a.size() && a[i] == "--lossy") {
        transport = std::make_unique<lossy>(std::move(transport), uint32_t(std::stoul(a[i + 1])));
        i += 2;
    }
    if (a.size() < i + 2) {
        return usage();
    }
    client::client c(std::move(transport));
    const std::string command = a[i];
    const auto topic = c.resolve(a[i + 1]);
    if (!topic) {
        std::fprintf(stderr, "runnel-fast: resolve %s: %s\n", a[i + 1].c_str(),
                     std::string(client::to_string(topic.error())).c_str());
        return 1;
    }
    auto arg = [&](size_t k, long fallback) {
        return i + k < a.size() ? std::atol(a[i + k].c_str()) : fallback;
    };
    if (command == "produce") {
        return produce(c, topic.value(), uint32_t(arg(2, 0)));
    }
    if (command == "subscribe" && a.size() >= i + 3) {
        return subscribe(c, topic.value(), arg(2, 0), uint32_t(arg(3, 0)), uint8_t(arg(4, 0)),
                         arg(5, -2));
    }
    return usage();
}
