// librunnel's two transports: a connected kernel UDP socket, and a DPDK port (dataplane::port)
// that speaks Ethernet/IPv4/UDP itself.
#include "dataplane/client/client.h"
#include "dataplane/port.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <rte_ethdev.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

namespace runnel::client {

namespace {

std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

result<sockaddr_in, std::string> address(const std::string& host, uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    if (inet_pton(AF_INET, host.c_str(), &a.sin_addr) != 1) {
        return failure(host + " is not an IPv4 address");
    }
    return a;
}

class udp_transport final : public transport {
public:
    udp_transport(int fd, size_t datagram_max) : _fd(fd), _buffer(65536), _max(datagram_max) {}
    ~udp_transport() override { ::close(_fd); }

    bool send(std::span<const std::byte> d) override {
        return ::send(_fd, d.data(), d.size(), MSG_DONTWAIT) == ssize_t(d.size());
    }
    uint32_t receive(sink on, void* ctx) override {
        uint32_t n = 0;
        for (;;) {
            const ssize_t got = ::recv(_fd, _buffer.data(), _buffer.size(), MSG_DONTWAIT);
            if (got < 0) {
                return n; // EAGAIN, or an ICMP error (ECONNREFUSED): nothing more now
            }
            on(ctx, std::span(_buffer).subspan(0, size_t(got)));
            ++n;
        }
    }
    size_t datagram_max() const override { return _max; }
    int fd() const override { return _fd; }

private:
    int _fd;
    std::vector<std::byte> _buffer;
    size_t _max;
};

class dpdk_transport final : public transport {
public:
    bool send(std::span<const std::byte> d) override {
        return _port->send(_broker, [&](std::span<std::byte> room) {
            if (room.size() < d.size()) {
                return size_t(0);
            }
            std::memcpy(room.data(), d.data(), d.size());
            return d.size();
        });
    }
    uint32_t receive(sink on, void* ctx) override {
        _on = on;
        _ctx = ctx;
        _received = 0;
        _port->poll(0, false);
        return _received;
    }
    size_t datagram_max() const override { return size_t(_mtu) - 28; }

    static result<std::unique_ptr<transport>, std::string> open(const dpdk_options& o) {
        auto self = address(o.self_address, o.self_port);
        auto broker = address(o.broker_address, o.broker_port);
        if (!self || !broker) {
            return failure(!self ? self.error() : broker.error());
        }
        if (auto r = dataplane::eal_init(o.eal_args); !r) {
            return failure(r.error());
        }
        auto id = dataplane::first_port();
        if (!id) {
            return failure(id.error());
        }
        auto t = std::unique_ptr<dpdk_transport>(new dpdk_transport());
        t->_mtu = o.mtu;
        t->_broker = {.ip = ntohl(broker->sin_addr.s_addr), .udp_port = o.broker_port};
        auto p = dataplane::port::create(
          {.port_id = id.value(), .mbufs = o.mbufs, .mtu = o.mtu,
           .self = {.ip = ntohl(self->sin_addr.s_addr), .udp_port = o.self_port}},
          [raw = t.get()](std::span<const std::byte> payload,
                          const dataplane::packet::remote_endpoint& from, dataplane::port&) {
              if (from.ip != raw->_broker.ip || from.udp_port != raw->_broker.udp_port) {
                  return; // not from our broker
              }
              raw->_broker.mac = from.mac; // follows a broker that moved
              ++raw->_received;
              raw->_on(raw->_ctx, payload);
          });
        if (!p) {
            return failure(p.error());
        }
        t->_port = std::move(p.value());
        const auto until =
          std::chrono::steady_clock::now() + std::chrono::milliseconds(o.link_wait_ms);
        for (;;) {
            rte_eth_link state{};
            rte_eth_link_get_nowait(id.value(), &state);
            if (state.link_status == RTE_ETH_LINK_UP) {
                break;
            }
            if (std::chrono::steady_clock::now() >= until) {
                return failure(std::string("DPDK port ") + std::to_string(id.value()) +
                               ": the link did not come up in " + std::to_string(o.link_wait_ms) +
                               " ms (is the peer there?)");
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        // The broker's MAC, by ARP (asked again every 100 ms).
        t->_on = [](void*, std::span<const std::byte>) {};
        for (auto next = std::chrono::steady_clock::now();;) {
            const auto now = std::chrono::steady_clock::now();
            if (auto mac = t->_port->neighbour(t->_broker.ip)) {
                t->_broker.mac = *mac;
                break;
            }
            if (now >= until) {
                return failure("no ARP answer from " + o.broker_address + " within " +
                               std::to_string(o.link_wait_ms) + " ms");
            }
            if (now >= next) {
                t->_port->request_neighbour(t->_broker.ip);
                next = now + std::chrono::milliseconds(100);
            }
            t->_port->poll(0, false);
        }
        return std::unique_ptr<transport>(std::move(t));
    }

private:
    dpdk_transport() = default;
    std::unique_ptr<dataplane::port> _port;
    dataplane::packet::remote_endpoint _broker;
    sink _on = nullptr;
    void* _ctx = nullptr;
    uint32_t _received = 0;
    uint16_t _mtu = 1500;
};

} // namespace

result<std::unique_ptr<transport>, std::string> open_udp(const udp_options& o) {
    auto local = address(o.bind_address, o.bind_port);
    auto broker = address(o.broker_address, o.broker_port);
    if (!local || !broker) {
        return failure(!local ? local.error() : broker.error());
    }
    if (o.datagram_max < 64 || o.datagram_max > 65507) {
        return failure("udp datagram_max " + std::to_string(o.datagram_max) +
                       " is not allowed; use 64..65507");
    }
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return failure(errno_text("udp socket"));
    }
    auto fail = [fd](const std::string& what) {
        auto e = errno_text(what);
        ::close(fd);
        return failure(e);
    };
    const int buffer = 4 << 20;
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&local.value()), sizeof(sockaddr_in)) != 0) {
        return fail("bind " + o.bind_address + ":" + std::to_string(o.bind_port));
    }
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&broker.value()), sizeof(sockaddr_in)) !=
        0) {
        return fail("connect " + o.broker_address + ":" + std::to_string(o.broker_port));
    }
    return std::unique_ptr<transport>(new udp_transport(fd, o.datagram_max));
}

result<std::unique_ptr<transport>, std::string> open_dpdk(const dpdk_options& o) {
    return dpdk_transport::open(o);
}

} // namespace runnel::client
