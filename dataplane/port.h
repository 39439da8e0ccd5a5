// A DPDK port queue as a pollable of the shard that owns it: rx burst → packet::classify → the
// ARP and ICMP echo replies go straight back out (the received mbuf is reused), UDP payloads for
// the fast-path port go to the port's handler, everything else is dropped and counted. Answers
// to the frames of one rx burst are sent by one tx burst at its end; an answer queued from
// elsewhere (an ack when the log reached its level) is sent at once.
//
// Lifecycle: eal_init() once per process, from the main thread, before any port; then a port is
// created (with its mbuf pool, sized and pre-allocated here) and polled by one thread only.
// Ownership: an mbuf belongs to whoever holds it; a successful tx transfers it, what the burst
// did not take is freed here. Thread-safety: none; one lcore.
#pragma once

#include "base/result.h"
#include "dataplane/packet.h"
#include "shard/shard.h"
#include "telemetry/counters_file.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <utility>
#include <span>
#include <string>
#include <vector>

struct rte_mempool;
struct rte_mbuf;

namespace runnel::dataplane {

// Initialises the DPDK EAL with `args` (argv-style, without the program name), e.g.
// {"--no-huge", "-m", "256", "--no-pci", "--no-shconf"}. Once per process; the error says what
// DPDK refused.
result<void, std::string> eal_init(const std::vector<std::string>& args);

// The first port the EAL created (from its --vdev argument), or why there is none.
result<uint16_t, std::string> first_port();

struct port_options {
    uint16_t port_id = 0;
    uint32_t mbufs = 4096;      // pool size, allocated at creation
    uint16_t rx_ring = 512;
    uint16_t tx_ring = 512;
    uint16_t burst = 32;
    uint16_t mtu = 1500;        // IP MTU: frames up to mtu + 14 bytes, in one mbuf each
    packet::local_endpoint self; // a zero MAC: the port's own
};

class port final : public pollable {
public:
    // Called for each fast-path datagram: `payload` views the received mbuf and is valid during
    // the call only; answers go out through send().
    using handler = std::function<void(std::span<const std::byte> payload,
                                       const packet::remote_endpoint& from, port& p)>;

    // Configures and starts the port with one rx and one tx queue.
    static result<std::unique_ptr<port>, std::string> create(const port_options& o, handler h);
    ~port() override;
    port(const port&) = delete;
    port& operator=(const port&) = delete;

    uint32_t poll(uint64_t now_us, bool idle) override;

    // Queues a datagram to `to`: `build` writes the UDP payload into the span it gets and returns
    // its length (0: it does not fit). False when nothing is queued (no mbuf free, or 0).
    bool send(const packet::remote_endpoint& to,
              const std::function<size_t(std::span<std::byte>)>& build);

    // Broadcasts an ARP request for `ip`; false when no mbuf was free. The answer, when it comes,
    // is kept: neighbour() gives it.
    bool request_neighbour(uint32_t ip);
    std::optional<packet::mac_address> neighbour(uint32_t ip) const;

    const packet::counters& counters() const { return _counters; }
    // Every counter by name ("dataplane.port.*"), for the counters file.
    std::vector<telemetry::counters_file::source> counter_sources() const;
    const packet::local_endpoint& self() const { return _opts.self; }
    uint64_t tx_dropped() const { return _tx_dropped; } // the burst did not take them

private:
    port(const port_options& o, handler h);
    uint32_t flush();
    // Queues the frame `frame` writes into an mbuf (its length; 0: nothing to send), and sends it
    // at once outside poll(). False when nothing was queued.
    bool transmit(const std::function<size_t(std::span<std::byte>)>& frame);
    void learn(uint32_t ip, const packet::mac_address& mac);

    port_options _opts;
    handler _handler;
    rte_mempool* _pool = nullptr;
    std::vector<rte_mbuf*> _rx;
    std::vector<rte_mbuf*> _tx; // queued for the next burst, at most `burst`
    packet::counters _counters;
    std::vector<std::pair<uint32_t, packet::mac_address>> _neighbours; // learnt by ARP, at most 16
    uint64_t _tx_dropped = 0;
    bool _configured = false;
    bool _in_poll = false; // answers queued during rx go out in one burst at its end
    bool _started = false;
};

} // namespace runnel::dataplane
