#include "dataplane/port.h"

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <cstdio>

namespace runnel::dataplane {

namespace {

std::string dpdk_error(const std::string& what, int err) {
    return "dpdk: " + what + ": " + rte_strerror(err < 0 ? -err : err);
}

} // namespace

result<void, std::string> eal_init(const std::vector<std::string>& args) {
    std::vector<std::string> owned{"runneld"};
    owned.insert(owned.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : owned) {
        argv.push_back(a.data());
    }
    if (rte_eal_init(int(argv.size()), argv.data()) < 0) {
        return failure(dpdk_error("EAL initialisation refused the arguments", rte_errno));
    }
    return {};
}

result<uint16_t, std::string> first_port() {
    uint16_t id = 0;
    RTE_ETH_FOREACH_DEV(id) {
        return id;
    }
    return failure(std::string("dpdk: no port: the EAL arguments created none (set --vdev)"));
}

port::port(const port_options& o, handler h) : _opts(o), _handler(std::move(h)) {
    _rx.resize(o.burst);
    _tx.reserve(o.burst);
}

result<std::unique_ptr<port>, std::string> port::create(const port_options& o, handler h) {
    std::unique_ptr<port> p(new port(o, std::move(h)));
    const std::string pool = "runnel_pool_" + std::to_string(o.port_id);
    // A per-lcore cache DPDK accepts: at most 512, and small beside the pool.
    const unsigned cache = std::min(256u, o.mbufs / 4);
    // Every frame fits one mbuf (chained mbufs are dropped), with room to spare for a VLAN tag
    // and for drivers that want their whole frame slot in one (af_packet: framesz - 32).
    const auto data_room = uint16_t(RTE_PKTMBUF_HEADROOM +
                                    std::max<uint32_t>(RTE_MBUF_DEFAULT_DATAROOM, o.mtu + 274u));
    p->_pool = rte_pktmbuf_pool_create(pool.c_str(), o.mbufs, cache, 0, data_room,
                                       int(rte_socket_id()));
    if (p->_pool == nullptr) {
        return failure(dpdk_error("mbuf pool of " + std::to_string(o.mbufs), rte_errno));
    }
    const std::string where = "port " + std::to_string(o.port_id);
    rte_eth_conf conf{};
    if (int rc = rte_eth_dev_configure(o.port_id, 1, 1, &conf); rc != 0) {
        return failure(dpdk_error(where + " configure", rc));
    }
    p->_configured = true;
    // Set after configure, where the driver says it can: virtual devices (af_packet, memif)
    // report 1500 as their most yet carry what their frame size (framesz, bsize) allows, and for
    // them the configured MTU only sizes what this port sends and receives.
    if (o.mtu != RTE_ETHER_MTU) {
        rte_eth_dev_info info{};
        if (int rc = rte_eth_dev_info_get(o.port_id, &info); rc != 0) {
            return failure(dpdk_error(where + " info", rc));
        }
        if (o.mtu + 18u <= info.max_rx_pktlen && o.mtu <= info.max_mtu) {
            if (int rc = rte_eth_dev_set_mtu(o.port_id, o.mtu); rc != 0) {
                return failure(dpdk_error(where + " (" + info.driver_name + ") MTU " +
                                            std::to_string(o.mtu),
                                          rc));
            }
        } else {
            std::fprintf(stderr,
                         "dataplane: %s (%s) reports an MTU of at most %u; using %u as "
                         "configured: the device must carry such frames (af_packet: framesz, "
                         "memif: bsize)\n",
                         where.c_str(), info.driver_name,
                         unsigned(std::min<uint32_t>(info.max_mtu, info.max_rx_pktlen - 18)),
                         unsigned(o.mtu));
        }
    }
    const auto socket = unsigned(rte_eth_dev_socket_id(o.port_id));
    if (int rc = rte_eth_rx_queue_setup(o.port_id, 0, o.rx_ring, socket, nullptr, p->_pool);
        rc != 0) {
        return failure(dpdk_error(where + " rx queue", rc));
    }
    if (int rc = rte_eth_tx_queue_setup(o.port_id, 0, o.tx_ring, socket, nullptr); rc != 0) {
        return failure(dpdk_error(where + " tx queue", rc));
    }
    if (int rc = rte_eth_dev_start(o.port_id); rc != 0) {
        return failure(dpdk_error(where + " start", rc));
    }
    p->_started = true;
    if (p->_opts.self.mac == packet::mac_address{}) {
        rte_ether_addr mac{};
        if (int rc = rte_eth_macaddr_get(o.port_id, &mac); rc != 0) {
            return failure(dpdk_error(where + " MAC address", rc));
        }
        std::copy(std::begin(mac.addr_bytes), std::end(mac.addr_bytes), p->_opts.self.mac.begin());
    }
    return p;
}

port::~port() {
    for (rte_mbuf* m : _tx) {
        rte_pktmbuf_free(m);
    }
    // Stopped and closed before the pool goes: rx descriptors may still hold its mbufs.
    if (_started) {
        rte_eth_dev_stop(_opts.port_id);
    }
    if (_configured) {
        rte_eth_dev_close(_opts.port_id);
    }
    rte_mempool_free(_pool);
}

uint32_t port::poll(uint64_t, bool) {
    _in_poll = true;
    const uint16_t n = rte_eth_rx_burst(_opts.port_id, 0, _rx.data(), _opts.burst);
    for (uint16_t i = 0; i < n; ++i) {
        rte_mbuf* m = _rx[i];
        if (m->nb_segs != 1) { // chained (jumbo) frames are not taken yet
            ++_counters.dropped[size_t(packet::drop_reason::too_short)];
            rte_pktmbuf_free(m);
            continue;
        }
        std::span frame(rte_pktmbuf_mtod(m, std::byte*), rte_pktmbuf_data_len(m));
        const auto c = packet::classify(frame, _opts.self, _counters);
        switch (c.action) {
        case packet::verdict::reply:
            m->data_len = uint16_t(c.reply_bytes);
            m->pkt_len = uint32_t(c.reply_bytes);
            if (_tx.size() == _opts.burst) {
                flush();
            }
            _tx.push_back(m);
            break;
        case packet::verdict::deliver:
            _handler(c.payload, c.from, *this);
            rte_pktmbuf_free(m);
            break;
        case packet::verdict::neighbour:
            learn(c.from.ip, c.from.mac);
            rte_pktmbuf_free(m);
            break;
        case packet::verdict::drop: rte_pktmbuf_free(m); break;
        }
    }
    _in_poll = false;
    return n + flush();
}

void port::learn(uint32_t ip, const packet::mac_address& mac) {
    for (auto& [known, m] : _neighbours) {
        if (known == ip) {
            m = mac;
            return;
        }
    }
    if (_neighbours.size() == 16) {
        _neighbours.erase(_neighbours.begin()); // the oldest goes
    }
    _neighbours.emplace_back(ip, mac);
}

std::optional<packet::mac_address> port::neighbour(uint32_t ip) const {
    for (const auto& [known, mac] : _neighbours) {
        if (known == ip) {
            return mac;
        }
    }
    return std::nullopt;
}

bool port::request_neighbour(uint32_t ip) {
    return transmit([&](std::span<std::byte> room) {
        return packet::build_arp_request(room, _opts.self, ip);
    });
}

bool port::send(const packet::remote_endpoint& to,
                const std::function<size_t(std::span<std::byte>)>& build) {
    return transmit([&](std::span<std::byte> room) {
        const size_t n = build(room.subspan(packet::udp_headers_bytes));
        return n == 0 ? 0 : packet::build_udp(room, _opts.self, to, n);
    });
}

bool port::transmit(const std::function<size_t(std::span<std::byte>)>& frame) {
    rte_mbuf* m = rte_pktmbuf_alloc(_pool);
    if (m == nullptr) {
        return false;
    }
    std::span room(rte_pktmbuf_mtod(m, std::byte*),
                   std::min<size_t>(rte_pktmbuf_tailroom(m), size_t(_opts.mtu) + 14));
    const size_t length = frame(room);
    if (length == 0) {
        rte_pktmbuf_free(m);
        return false;
    }
    m->data_len = uint16_t(length);
    m->pkt_len = uint32_t(length);
    if (_tx.size() == _opts.burst) {
        flush();
    }
    _tx.push_back(m);
    if (!_in_poll) {
        // A frame from elsewhere in the duty cycle (an ack when the log reached its level) goes
        // out now, not after the rest of the cycle (a write submission can take tens of us).
        flush();
    }
    return true;
}

// One tx burst of what is queued; what the port did not take is freed and counted.
uint32_t port::flush() {
    if (_tx.empty()) {
        return 0;
    }
    const uint16_t sent = rte_eth_tx_burst(_opts.port_id, 0, _tx.data(), uint16_t(_tx.size()));
    for (size_t i = sent; i < _tx.size(); ++i) {
        rte_pktmbuf_free(_tx[i]);
        ++_tx_dropped;
    }
    _tx.clear();
    return sent;
}

std::vector<telemetry::counters_file::source> port::counter_sources() const {
    std::vector<telemetry::counters_file::source> out;
    const std::string p = "dataplane.port.";
    for (size_t r = 0; r < packet::drop_reason_count; ++r) {
        out.push_back({p + "dropped." + std::string(packet::to_string(packet::drop_reason(r))),
                       &_counters.dropped[r]});
    }
    out.push_back({p + "arp_replies", &_counters.arp_replies});
    out.push_back({p + "arp_answers", &_counters.arp_answers});
    out.push_back({p + "icmp_replies", &_counters.icmp_replies});
    out.push_back({p + "udp_delivered", &_counters.udp_delivered});
    out.push_back({p + "tx_dropped", &_tx_dropped});
    return out;
}

} // namespace runnel::dataplane
