#include "perf/harness/floors.h"

#include "dataplane/port.h"
#include "perf/harness/load.h"

#include <liburing.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <sched.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>

namespace runnel::perf {

namespace {

bool exactly(int fd, char* p, size_t n, bool send) {
    for (size_t done = 0; done < n;) {
        const ssize_t r = send ? ::send(fd, p + done, n - done, MSG_NOSIGNAL)
                               : ::recv(fd, p + done, n - done, 0);
        if (r <= 0) {
            return false;
        }
        done += size_t(r);
    }
    return true;
}

// Times `round_trip` samples/10 + samples times, recording the last `samples`.
template <typename F>
result<load_result, std::string> closed_loop(uint64_t samples, F round_trip) {
    load_result r;
    const int64_t t_start = now_ns();
    int64_t t_measured = t_start;
    for (uint64_t i = 0; i < samples + samples / 10; ++i) {
        if (i == samples / 10) {
            t_measured = now_ns();
        }
        const int64_t t0 = now_ns();
        if (auto e = round_trip(); !e.empty()) {
            return failure(e);
        }
        if (i >= samples / 10) {
            r.latency.record(uint64_t(now_ns() - t0));
        }
    }
    r.sent = samples + samples / 10;
    r.measured = r.acked = samples;
    r.measured_seconds = double(now_ns() - t_measured) / 1e9;
    return r;
}

sockaddr_in loopback() {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

// A ping-pong of `bytes` with an echo thread over loopback: TCP (TCP_NODELAY) or UDP.
result<load_result, std::string> socket_floor(bool tcp, const floor_options& o) {
    const int type = tcp ? SOCK_STREAM : SOCK_DGRAM;
    const int server = ::socket(AF_INET, type | SOCK_CLOEXEC, 0);
    sockaddr_in addr = loopback();
    socklen_t len = sizeof(addr);
    if (::bind(server, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        (tcp && ::listen(server, 1) != 0) ||
        ::getsockname(server, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        ::close(server);
        return failure(std::string("floor: bind on loopback: ") + std::strerror(errno));
    }
    const int client = ::socket(AF_INET, type | SOCK_CLOEXEC, 0);
    if (::connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
        ::close(server);
        ::close(client);
        return failure(std::string("floor: connect on loopback: ") + std::strerror(errno));
    }
    int one = 1;
    ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    std::thread echo([&] {
        std::vector<char> buf(o.bytes);
        if (tcp) {
            const int fd = ::accept(server, nullptr, nullptr);
            ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            while (exactly(fd, buf.data(), o.bytes, false) &&
                   exactly(fd, buf.data(), o.bytes, true)) {
            }
            ::close(fd);
            return;
        }
        for (;;) {
            sockaddr_in from{};
            socklen_t fl = sizeof(from);
            const ssize_t n = ::recvfrom(server, buf.data(), buf.size(), 0,
                                         reinterpret_cast<sockaddr*>(&from), &fl);
            if (n <= 0 || buf[0] == 'q') {
                return;
            }
            ::sendto(server, buf.data(), size_t(n), 0, reinterpret_cast<sockaddr*>(&from), fl);
        }
    });
    std::vector<char> buf(o.bytes, 'x');
    auto r = closed_loop(o.samples, [&]() -> std::string {
        if (tcp) {
            return exactly(client, buf.data(), o.bytes, true) &&
                       exactly(client, buf.data(), o.bytes, false)
                     ? ""
                     : "floor: the TCP echo went away";
        }
        if (::send(client, buf.data(), o.bytes, 0) != ssize_t(o.bytes) ||
            ::recv(client, buf.data(), o.bytes, 0) != ssize_t(o.bytes)) {
            return std::string("floor: UDP echo: ") + std::strerror(errno);
        }
        return "";
    });
    if (tcp) {
        ::shutdown(client, SHUT_RDWR);
    } else {
        buf[0] = 'q';
        ::send(client, buf.data(), o.bytes, 0);
    }
    echo.join();
    ::close(client);
    ::close(server);
    return r;
}

// A bare DPDK ping-pong over memif: two ports of this process joined by one socket, an echo
// thread that sends back what it receives, frames of `bytes` + 42 (Ethernet, IPv4, UDP).
result<load_result, std::string> memif_floor(const floor_options& o) {
    const std::string sock = o.dir + "/runnel-perf-memif-" + std::to_string(::getpid()) + ".sock";
    const std::string opts = ",socket=" + sock + ",socket-abstract=no";
    if (auto r = dataplane::eal_init({"--no-huge", "-m", "256", "--no-pci", "--no-shconf",
                                      "--log-level=3", "--vdev=net_memif0,role=server" + opts,
                                      "--vdev=net_memif1,role=client" + opts});
        !r) {
        return failure(r.error());
    }
    // A pool per port, with per-lcore caches (the echo thread registers as an lcore), so the
    // two sides do not contend on one ring.
    rte_mempool* pools[2];
    for (uint16_t port = 0; port < 2; ++port) {
        pools[port] = rte_pktmbuf_pool_create(("perf_floor" + std::to_string(port)).c_str(), 4096,
                                              256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
        if (pools[port] == nullptr) {
            return failure(std::string("floor: cannot make the mbuf pools"));
        }
    }
    rte_mempool* pool = pools[1];
    for (uint16_t port = 0; port < 2; ++port) {
        rte_eth_conf conf{};
        if (rte_eth_dev_configure(port, 1, 1, &conf) != 0 ||
            rte_eth_rx_queue_setup(port, 0, 1024, 0, nullptr, pools[port]) != 0 ||
            rte_eth_tx_queue_setup(port, 0, 1024, 0, nullptr) != 0 ||
            rte_eth_dev_start(port) != 0) {
            return failure("floor: cannot start memif port " + std::to_string(port));
        }
    }
    for (int i = 0; i < 1000; ++i) {
        rte_eth_link a{}, b{};
        rte_eth_link_get_nowait(0, &a);
        rte_eth_link_get_nowait(1, &b);
        if (a.link_status == RTE_ETH_LINK_UP && b.link_status == RTE_ETH_LINK_UP) {
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::atomic<bool> running{true};
    std::thread echo([&] {
        // The EAL pinned this process's main thread to its first core, and a new thread inherits
        // that: the echo goes to another core, or both would share one.
        if (const long cpus = ::sysconf(_SC_NPROCESSORS_ONLN); cpus > 1) {
            cpu_set_t set;
            CPU_ZERO(&set);
            CPU_SET(int(sched_getcpu() + 1) % int(cpus), &set);
            ::sched_setaffinity(0, sizeof(set), &set);
        }
        rte_thread_register();
        rte_mbuf* m[32];
        while (running.load(std::memory_order_relaxed)) {
            const uint16_t n = rte_eth_rx_burst(0, 0, m, 32);
            const uint16_t sent = n ? rte_eth_tx_burst(0, 0, m, n) : 0;
            for (uint16_t i = sent; i < n; ++i) {
                rte_pktmbuf_free(m[i]);
            }
        }
        rte_thread_unregister();
    });
    const uint16_t frame = uint16_t(o.bytes + 42);
    auto r = closed_loop(o.samples, [&]() -> std::string {
        rte_mbuf* m = rte_pktmbuf_alloc(pool);
        if (m == nullptr || rte_pktmbuf_append(m, frame) == nullptr) {
            return "floor: out of mbufs";
        }
        std::memset(rte_pktmbuf_mtod(m, void*), 0xab, frame);
        if (rte_eth_tx_burst(1, 0, &m, 1) != 1) {
            rte_pktmbuf_free(m);
            return "floor: memif refused a frame";
        }
        const int64_t until = now_ns() + 1'000'000'000;
        while (now_ns() < until) {
            if (rte_eth_rx_burst(1, 0, &m, 1) == 1) {
                rte_pktmbuf_free(m);
                return "";
            }
        }
        return "floor: no echo within a second (is the memif link up?)";
    });
    running = false;
    echo.join();
    for (uint16_t port = 0; port < 2; ++port) {
        rte_eth_dev_stop(port);
        rte_eth_dev_close(port);
    }
    ::unlink(sock.c_str());
    return r;
}

// O_DIRECT through io_uring on a preallocated file of `dir`: one 4 KiB write linked to an
// fdatasync at a time (latency), or 1 MiB writes at queue depth 4 (bandwidth).
result<load_result, std::string> odirect_floor(const floor_options& o, bool bandwidth,
                                               double& mib_per_s) {
    const std::string path = o.dir + "/runnel-perf-odirect-" + std::to_string(::getpid());
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_DIRECT | O_CLOEXEC, 0644);
    if (fd < 0) {
        return failure(path + ": " + std::strerror(errno));
    }
    ::unlink(path.c_str());
    const size_t block = bandwidth ? (1u << 20) : 4096;
    const uint64_t file_bytes = bandwidth ? uint64_t(o.bandwidth_mib) << 20 : 64u << 20;
    if (::fallocate(fd, 0, 0, off_t(file_bytes)) != 0) {
        ::close(fd);
        return failure(path + ": fallocate: " + std::strerror(errno));
    }
    void* buf = nullptr;
    if (::posix_memalign(&buf, 4096, block * 4) != 0) {
        ::close(fd);
        return failure(std::string("floor: out of memory"));
    }
    std::memset(buf, 0x5a, block * 4);
    io_uring ring;
    if (const int e = io_uring_queue_init(16, &ring, 0); e < 0) {
        ::close(fd);
        std::free(buf);
        return failure(std::string("io_uring_queue_init: ") + std::strerror(-e));
    }
    auto reap = [&](unsigned n) -> std::string {
        for (unsigned i = 0; i < n; ++i) {
            io_uring_cqe* cqe = nullptr;
            if (const int e = io_uring_wait_cqe(&ring, &cqe); e < 0) {
                return std::string("io_uring_wait_cqe: ") + std::strerror(-e);
            }
            const int res = cqe->res;
            io_uring_cqe_seen(&ring, cqe);
            if (res < 0) {
                return path + ": " + std::strerror(-res);
            }
        }
        return "";
    };
    result<load_result, std::string> r = failure(std::string());
    if (!bandwidth) {
        uint64_t at = 0;
        r = closed_loop(o.samples, [&]() -> std::string {
            io_uring_sqe* w = io_uring_get_sqe(&ring);
            io_uring_prep_write(w, fd, buf, unsigned(block), at);
            w->flags |= IOSQE_IO_LINK;
            io_uring_prep_fsync(io_uring_get_sqe(&ring), fd, IORING_FSYNC_DATASYNC);
            at = (at + block) % file_bytes;
            io_uring_submit(&ring);
            return reap(2);
        });
    } else {
        const uint64_t writes = file_bytes / block;
        const int64_t t0 = now_ns();
        std::string e;
        uint64_t submitted = 0, done = 0;
        while (done < writes && e.empty()) {
            while (submitted < writes && submitted - done < 4) {
                io_uring_prep_write(io_uring_get_sqe(&ring), fd,
                                    static_cast<char*>(buf) + (submitted % 4) * block,
                                    unsigned(block), submitted * block);
                ++submitted;
            }
            io_uring_submit(&ring);
            e = reap(1);
            ++done;
        }
        if (e.empty() && ::fdatasync(fd) != 0) {
            e = path + ": fdatasync: " + std::strerror(errno);
        }
        while (done < submitted) { // what is still in flight after an error
            (void)reap(1);
            ++done;
        }
        if (!e.empty()) {
            r = failure(e);
        } else {
            load_result l;
            l.measured_seconds = double(now_ns() - t0) / 1e9;
            l.sent = l.measured = l.acked = writes;
            mib_per_s = double(file_bytes) / double(1 << 20) / l.measured_seconds;
            r = l;
        }
    }
    io_uring_queue_exit(&ring);
    ::close(fd);
    std::free(buf);
    return r;
}

} // namespace

result<run_report, std::string> measure_floor(const std::string& name, const floor_options& o) {
    run_report rep{.label = "floor: " + name, .scenario = "floor", .transport = name,
                   .record_bytes = o.bytes};
    result<load_result, std::string> r = failure(std::string());
    if (name == "tcp" || name == "udp") {
        rep.label = "floor: loopback " + name + " round trip";
        r = socket_floor(name == "tcp", o);
    } else if (name == "memif") {
        rep.label = "floor: DPDK memif round trip";
        r = memif_floor(o);
    } else if (name == "odirect") {
        rep.label = "floor: 4 KiB O_DIRECT write + fdatasync";
        rep.record_bytes = 4096;
        r = odirect_floor(o, false, rep.mib_per_s);
    } else if (name == "odirect-bw") {
        rep.label = "floor: sequential O_DIRECT, 1 MiB x QD4";
        rep.record_bytes = 1u << 20;
        r = odirect_floor(o, true, rep.mib_per_s);
    } else {
        return failure("unknown floor '" + name + "' (tcp, udp, memif, odirect, odirect-bw)");
    }
    if (!r) {
        return failure(r.error());
    }
    rep.result = std::move(r.value());
    rep.seconds = rep.result.measured_seconds;
    return rep;
}

} // namespace runnel::perf
