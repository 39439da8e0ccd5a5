#include "perf/harness/servers.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace runnel::perf {

result<void, std::string> run_command(const std::vector<std::string>& argv) {
    const std::string log = "/tmp/runnel-perf-cmd-" + std::to_string(::getpid()) + ".log";
    auto p = process::spawn(argv, log);
    if (!p) {
        return failure(p.error());
    }
    const int status = p.value()->wait();
    const std::string said = p.value()->log_tail();
    ::unlink(log.c_str());
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        std::string cmd;
        for (const auto& a : argv) {
            cmd += a + " ";
        }
        return failure(cmd + "failed: " + said);
    }
    return {};
}

result<int, std::string> enter_namespace(const std::string& name) {
    const int home = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    const int there = ::open(("/run/netns/" + name).c_str(), O_RDONLY | O_CLOEXEC);
    const bool ok = there >= 0 && ::setns(there, CLONE_NEWNET) == 0;
    if (there >= 0) {
        ::close(there);
    }
    if (!ok) {
        ::close(home);
        return failure("cannot enter network namespace " + name + " (root needed)");
    }
    return home;
}

void leave_namespace(int home) {
    ::setns(home, CLONE_NEWNET);
    ::close(home);
}

namespace {

void remove_namespaces() {
    for (const char* ns : {udp_link::broker_ns, udp_link::client_ns}) {
        (void)run_command({"ip", "netns", "del", ns});
    }
}

} // namespace

result<std::unique_ptr<udp_link>, std::string> udp_link::create(uint16_t mtu) {
    static const bool registered = std::atexit(remove_namespaces) == 0; // for an early exit
    (void)registered;
    remove_namespaces();
    std::unique_ptr<udp_link> link(new udp_link());
    const std::string b = broker_ns, c = client_ns;
    const std::vector<std::vector<std::string>> steps = {
      {"ip", "netns", "add", b},
      {"ip", "netns", "add", c},
      {"ip", "link", "add", broker_iface, "type", "veth", "peer", "name", "rnperf-vc"},
      {"ip", "link", "set", broker_iface, "netns", b},
      {"ip", "link", "set", "rnperf-vc", "netns", c},
      {"ip", "-n", b, "link", "set", broker_iface, "mtu", std::to_string(mtu)},
      {"ip", "-n", c, "link", "set", "rnperf-vc", "mtu", std::to_string(mtu)},
      {"ip", "-n", b, "link", "set", "lo", "up"},
      {"ip", "-n", b, "link", "set", broker_iface, "up"},
      {"ip", "-n", c, "link", "set", "lo", "up"},
      {"ip", "-n", c, "addr", "add", "192.0.2.2/24", "dev", "rnperf-vc"},
      {"ip", "-n", c, "link", "set", "rnperf-vc", "up"},
      // The veth would leave UDP checksums to an offload it never performs; runneld checks them.
      {"ip", "netns", "exec", c, "ethtool", "-K", "rnperf-vc", "tx", "off"},
    };
    for (const auto& s : steps) {
        if (auto r = run_command(s); !r) {
            return failure("the UDP link: " + r.error());
        }
    }
    return link;
}

udp_link::~udp_link() { remove_namespaces(); }

namespace {

result<void, std::string> wait_for_start(process& p, int timeout_ms) {
    for (int waited = 0; waited < timeout_ms; waited += 20) {
        if (p.log_tail().find("runneld: started") != std::string::npos) {
            return {};
        }
        if (!p.running()) {
            return failure("runneld exited during start-up:\n" + p.log_tail());
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return failure("runneld did not start within " + std::to_string(timeout_ms) + " ms:\n" +
                   p.log_tail());
}

} // namespace

result<runneld_server, std::string> start_runneld(const runneld_options& o, endpoints& e) {
    runneld_server s;
    std::error_code ec;
    std::filesystem::create_directories(o.dir, ec);
    const uint16_t port = free_port();
    std::vector<std::string> argv = {o.binary, "--data-dir", o.dir + "/data", "--set",
                                     "kafka.listen_port=" + std::to_string(port)};
    auto set = [&](const std::string& kv) {
        argv.push_back("--set");
        argv.push_back(kv);
    };
    e.kafka = "127.0.0.1:" + std::to_string(port);
    e.fast_udp = "192.0.2.1:9093";
    if (o.fast_path == "memif") {
        e.memif_socket = o.dir + "/memif.sock";
        set("dataplane.enabled=true");
        set("dataplane.vdev=net_memif0,role=server,socket=" + e.memif_socket +
            ",socket-abstract=no");
    } else if (o.fast_path == "udp") {
        auto link = udp_link::create(o.udp_mtu);
        if (!link) {
            return failure(link.error());
        }
        s.link = std::move(link.value());
        e.udp_netns = udp_link::client_ns;
        e.udp_mtu = o.udp_mtu;
        set("dataplane.enabled=true");
        // af_packet's default 2 KiB ring frames hold a 1500-byte MTU; jumbo frames need more.
        set(std::string("dataplane.vdev=net_af_packet0,iface=") + udp_link::broker_iface +
            (o.udp_mtu > 1500 ? ",framesz=9216,blocksz=36864" : ""));
        set("dataplane.mtu=" + std::to_string(o.udp_mtu));
        argv.insert(argv.begin(), {"ip", "netns", "exec", udp_link::broker_ns});
    }
    set(std::string("shards.idle_strategy=") + (o.spin ? "spin" : "backoff"));
    for (const auto& kv : o.settings) {
        set(kv);
    }
    auto p = process::spawn(argv, o.dir + "/runneld.log");
    if (!p) {
        return failure(p.error());
    }
    s.proc = std::move(p.value());
    if (auto r = wait_for_start(*s.proc, 30000); !r) {
        return failure(r.error());
    }
    return s;
}

} // namespace runnel::perf
