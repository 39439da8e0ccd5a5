// runneld: the Runnel broker. Loads the config, starts one shard per configured core, waits for
// SIGINT or SIGTERM, then stops the shards (each closes its own storage on its own thread).
//
// Exit status: 0 after a clean stop or --help/--version; 2 for a bad command line or config;
// 1 when start-up fails for another reason (a CPU that cannot be pinned, storage that cannot open).
//
// Threads: main (config, signals, start and stop) and one thread per shard. SIGINT and SIGTERM
// are blocked before any shard thread exists, so only main's sigwait ever sees them.
#include "config/config.h"
#include "dataplane/port.h"
#include "dataplane/service.h"
#include "kafka/broker.h"
#include "kafka/fast_path_log.h"
#include "kafka/listener.h"
#include "shard/shard.h"
#include "storage/shard_storage.h"
#include "storage/topic_store.h"
#include "storage/uring_io.h"
#include "telemetry/counters_file.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <pthread.h>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace {

// Publishes shard 0's counters to <data_dir>/counters (runnel-stat reads it) every 100 ms; a
// publish is a copy of each value into the mapping, no syscall. Counts as no work.
struct counters_slot final : runnel::pollable {
    std::optional<runnel::telemetry::counters_file> file;
    uint64_t next_us = 0;
    uint32_t poll(uint64_t now, bool) override {
        if (now >= next_us) {
            using namespace std::chrono;
            file->publish(uint64_t(
              duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count()));
            next_us = now + 100'000;
        }
        return 0;
    }
};

// A shard's storage engine, polled by its duty cycle. Created and closed on the shard's thread.
struct storage_slot final : runnel::pollable {
    std::unique_ptr<runnel::storage::shard_storage> storage;
    std::unique_ptr<runnel::kafka::broker> broker;  // this shard's Kafka API
    std::unique_ptr<runnel::kafka::listener> kafka; // this shard's Kafka listener
    // The fast path (shard 0, when [dataplane] is enabled): port → service → broker.
    std::unique_ptr<runnel::kafka::fast_path_log> fast_log;
    std::unique_ptr<runnel::dataplane::service> fast_service;
    std::unique_ptr<runnel::dataplane::port> fast_port;
    std::unique_ptr<counters_slot> counters; // shard 0
    uint32_t poll(uint64_t now, bool idle) override { return storage->poll(now, idle); }
};


// Opens the fast-path port on shard 0 (the EAL was initialised by main) and registers it.
runnel::result<void, std::string> attach_dataplane(runnel::shard& self, storage_slot& slot,
                                                   const runnel::dataplane_config& cfg,
                                                   uint16_t port_id) {
    in_addr ip{};
    inet_pton(AF_INET, cfg.ip.c_str(), &ip); // validated by the config loader
    slot.fast_log = std::make_unique<runnel::kafka::fast_path_log>(*slot.broker);
    slot.fast_service = std::make_unique<runnel::dataplane::service>(*slot.fast_log);
    auto port = runnel::dataplane::port::create(
      {.port_id = port_id,
       .mbufs = cfg.mbufs,
       .mtu = uint16_t(cfg.mtu),
       .self = {.ip = ntohl(ip.s_addr), .udp_port = uint16_t(cfg.udp_port)}},
      [svc = slot.fast_service.get()](auto payload, const auto& from, auto& p) {
          svc->on_datagram(payload, from, p);
      });
    if (!port) {
        return runnel::failure(port.error());
    }
    slot.fast_port = std::move(port.value());
    // The service (subscription pushes, leases) before the port: a produce received by the port
    // in one duty cycle is acknowledged by the storage step of the next, which runs first, and
    // only then pushed to subscribers, so that no ack waits behind a push.
    self.add_pollable(*slot.fast_service);
    self.add_pollable(*slot.fast_port);
    const auto& mac = slot.fast_port->self().mac;
    std::fprintf(stderr,
                 "runneld: shard %u serves the fast path on DPDK port %u (%s, "
                 "%02x:%02x:%02x:%02x:%02x:%02x), UDP port %u\n",
                 self.id()(), unsigned(port_id), cfg.ip.c_str(), mac[0], mac[1], mac[2], mac[3],
                 mac[4], mac[5], cfg.udp_port);
    return {};
}

std::string errc_text(runnel::storage::errc e) {
    return std::string(runnel::storage::to_string(e));
}

// Gives shard s its storage: on its own thread it creates the io_uring, opens (recovers) the
// partitions it owns, and registers the storage step of its duty cycle; on stop it seals them.
void attach_storage(runnel::shard& s, storage_slot& slot, const runnel::broker_config& cfg,
                    std::optional<uint16_t> fast_port_id,
                    const std::vector<runnel::storage::topic_metadata>& topics, uint32_t count) {
    s.set_on_start([&slot, &cfg, &topics, count, fast_port_id](runnel::shard& self)
                     -> runnel::result<void, std::string> {
        // Shard 0 owns every partition (a shard count of 1 for the ownership hash) until Kafka
        // requests are forwarded between shards: a client can then reach every partition.
        // The other shards own none; they are where the dataplane will run.
        (void)count;
        auto created = runnel::storage::shard_storage::create(
          {cfg.data_dir, cfg.storage, 1, self.id()()});
        if (!created) {
            return runnel::failure("storage: cannot create the io_uring of shard " +
                                   std::to_string(self.id()()) + ": " + errc_text(created.error()));
        }
        slot.storage = std::move(created.value());
        for (const auto& t : topics) {
            auto config = runnel::storage::effective_config(cfg.log, t);
            if (!config) {
                return runnel::failure("topic " + t.name + ": " + config.error());
            }
            if (auto r = slot.storage->open_partitions(t, config.value()); !r) {
                return runnel::failure("storage: cannot open topic " + t.name + " under " +
                                       cfg.data_dir + ": " + errc_text(r.error()));
            }
        }
        std::fprintf(stderr, "runneld: shard %u owns %zu partitions\n", self.id()(),
                     slot.storage->partition_count());
        self.add_pollable(slot);
        if (self.id()() != 0) {
            return {}; // Kafka is served by shard 0 until requests are forwarded between shards
        }
        slot.broker = std::make_unique<runnel::kafka::broker>(
          runnel::kafka::broker_options{
            .node_id = cfg.node_id,
            .advertised_host = cfg.kafka.advertised_address.empty()
                                 ? cfg.kafka.listen_address
                                 : cfg.kafka.advertised_address,
            .advertised_port = int32_t(cfg.kafka.listen_port),
            .data_dir = cfg.data_dir,
            .log_defaults = cfg.log,
            .default_partitions = int32_t(cfg.default_partitions),
            .auto_create_topics = cfg.kafka.auto_create_topics,
            .offsets_partitions = int32_t(cfg.groups.offsets_partitions),
            .group_initial_rebalance_delay_ms = int32_t(cfg.groups.initial_rebalance_delay_ms),
            .offsets_retention_ms = cfg.groups.offsets_retention_ms,
          },
          *slot.storage, topics);
        if (auto started = slot.broker->start(); !started) {
            return runnel::failure(started.error());
        }
        auto kafka = runnel::kafka::listener::create(
          {.address = cfg.kafka.listen_address,
           .port = uint16_t(cfg.kafka.listen_port),
           .request_bytes_max = cfg.kafka.request_bytes_max},
          *slot.broker);
        if (!kafka) {
            return runnel::failure(kafka.error());
        }
        slot.kafka = std::move(kafka.value());
        if (cfg.kafka.advertised_port == 0) {
            slot.broker->set_advertised_port(slot.kafka->port());
        } else {
            slot.broker->set_advertised_port(int32_t(cfg.kafka.advertised_port));
        }
        self.add_pollable(*slot.broker);
        self.add_pollable(*slot.kafka);
        if (fast_port_id) {
            if (auto r = attach_dataplane(self, slot, cfg.dataplane, *fast_port_id); !r) {
                return r;
            }
        }
        std::vector<runnel::telemetry::counters_file::source> sources;
        if (slot.fast_port) {
            sources = slot.fast_port->counter_sources();
            for (auto& c : slot.fast_service->counter_sources()) {
                sources.push_back(std::move(c));
            }
        }
        auto counters = runnel::telemetry::counters_file::create(cfg.data_dir + "/counters",
                                                                 std::move(sources));
        if (!counters) {
            return runnel::failure(counters.error());
        }
        slot.counters = std::make_unique<counters_slot>();
        slot.counters->file.emplace(std::move(counters.value()));
        self.add_pollable(*slot.counters);
        std::fprintf(stderr, "runneld: shard %u serves Kafka on %s:%u\n", self.id()(),
                     cfg.kafka.listen_address.c_str(), unsigned(slot.kafka->port()));
        return {};
    });
    s.set_on_stop([&slot](runnel::shard& self) {
        // Transports first (Kafka requests become orphans that free themselves when answered;
        // fast-path acks after this are dropped), then storage, whose close completes the
        // waiters the broker's requests hold, then the broker, which nothing points into.
        if (slot.fast_log) {
            slot.fast_log->stop();
        }
        slot.counters.reset(); // before the port and service it reads
        slot.fast_port.reset();
        slot.kafka.reset();
        if (slot.storage) {
            if (auto r = slot.storage->close(); !r) {
                std::fprintf(stderr, "runneld: shard %u: closing storage: %s\n", self.id()(),
                             errc_text(r.error()).c_str());
            }
        }
        slot.broker.reset();
        slot.fast_service.reset();
        slot.fast_log.reset();
        slot.storage.reset();
    });
}

// Reads the topic metadata from the data directory on the main thread, before shards start.
runnel::result<std::vector<runnel::storage::topic_metadata>, std::string>
load_topics(const runnel::broker_config& cfg) {
    auto disk = runnel::storage::uring_io::create(8);
    if (!disk) {
        return runnel::failure("storage: cannot create an io_uring: " + errc_text(disk.error()));
    }
    if (auto r = disk.value()->make_directory(cfg.data_dir); !r) {
        return runnel::failure("storage: cannot use data_dir " + cfg.data_dir + ": " +
                               errc_text(r.error()) +
                               " (set data_dir or --data-dir to a writable directory)");
    }
    runnel::storage::local_metadata_store store(*disk.value(), cfg.data_dir);
    auto topics = store.load_topics();
    if (!topics) {
        return runnel::failure("storage: cannot read topics under " + cfg.data_dir + "/topics: " +
                               errc_text(topics.error()));
    }
    return std::move(topics.value());
}

// Holds an exclusive lock on <data_dir>/lock for the life of the process (the descriptor stays
// open until exit), so that two brokers never write one data directory.
runnel::result<int, std::string> lock_data_dir(const std::string& dir) {
    const std::string path = dir + "/lock";
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        return runnel::failure("cannot open " + path + ": " + std::strerror(errno));
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        return runnel::failure("data_dir " + dir + " is in use by another runneld (" + path +
                               " is locked); stop it or choose another data_dir");
    }
    return fd;
}

// Initialises DPDK on the main thread (before any shard exists) with the configured EAL
// arguments and port, and returns the port's id.
runnel::result<uint16_t, std::string> start_eal(const runnel::dataplane_config& cfg) {
    std::vector<std::string> args;
    std::istringstream words(cfg.eal_args);
    for (std::string w; words >> w;) {
        args.push_back(w);
    }
    args.push_back("--vdev=" + cfg.vdev);
    // The EAL pins the calling thread to its main lcore's CPU; the shard threads, created later
    // by this thread, must not inherit that (they pin themselves when shards.cpus says so).
    cpu_set_t before;
    const bool saved = pthread_getaffinity_np(pthread_self(), sizeof(before), &before) == 0;
    auto r = runnel::dataplane::eal_init(args);
    if (saved) {
        pthread_setaffinity_np(pthread_self(), sizeof(before), &before);
    }
    if (!r) {
        return runnel::failure(r.error() + " (check dataplane.eal_args and dataplane.vdev)");
    }
    return runnel::dataplane::first_port();
}

runnel::shard_group_options group_options(const runnel::broker_config& cfg) {
    return runnel::shard_group_options{
        .shard_count = cfg.shards.count,
        .cpus = cfg.shards.cpus,
        .idle = cfg.shards.idle_strategy,
        .idle_sleep_us = cfg.shards.idle_sleep_us,
        .ring_capacity = cfg.shards.ring_capacity,
    };
}

void log_start(const runnel::broker_config& cfg) {
    std::fprintf(stderr, "runneld: version %.*s\n", int(runnel::version().size()),
                 runnel::version().data());
    std::fprintf(stderr, "runneld: node id %d\n", cfg.node_id);
    std::fprintf(stderr, "runneld: data dir %s\n", cfg.data_dir.c_str());
    std::string pinning = "not pinned";
    if (!cfg.shards.cpus.empty()) {
        pinning = "pinned to CPUs";
        for (uint32_t cpu : cfg.shards.cpus) {
            // Two appends: `" " + std::to_string(cpu)` trips a GCC 12 -Wrestrict false
            // positive at -O3.
            pinning += ' ';
            pinning += std::to_string(cpu);
        }
    }
    std::fprintf(stderr, "runneld: %u shards, %s\n", cfg.shards.count, pinning.c_str());
    const std::string_view idle = to_string(cfg.shards.idle_strategy);
    std::fprintf(stderr, "runneld: idle strategy %.*s (sleep %u us)\n", int(idle.size()),
                 idle.data(), cfg.shards.idle_sleep_us);
}

} // namespace

int main(int argc, char** argv) {
    const auto cl = runnel::parse_command_line(argc, argv);
    if (!cl) {
        std::fprintf(stderr, "%s\n", cl.error().c_str());
        return 2;
    }
    switch (cl->action) {
    case runnel::cli_action::help:
        std::fputs(runnel::help_text().c_str(), stdout);
        return 0;
    case runnel::cli_action::version:
        std::printf("runneld %.*s\n", int(runnel::version().size()), runnel::version().data());
        return 0;
    case runnel::cli_action::run:
        break;
    }
    const auto cfg = runnel::load_config(cl.value());
    if (!cfg) {
        std::fprintf(stderr, "%s\n", cfg.error().c_str());
        return 2;
    }

    // Block before creating threads: they inherit the mask, so the signals wait for sigwait.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    const int masked = pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    RUNNEL_ASSERT(masked == 0);

    log_start(cfg.value());
    const auto topics = load_topics(cfg.value());
    if (!topics) {
        std::fprintf(stderr, "runneld: start-up failed: %s\n", topics.error().c_str());
        return 1;
    }
    std::fprintf(stderr, "runneld: %zu topics\n", topics->size());
    const auto locked = lock_data_dir(cfg->data_dir);
    if (!locked) {
        std::fprintf(stderr, "runneld: start-up failed: %s\n", locked.error().c_str());
        return 1;
    }
    if (auto free = runnel::kafka::listener::check_port_free(cfg->kafka.listen_address,
                                                             uint16_t(cfg->kafka.listen_port));
        !free) {
        std::fprintf(stderr, "runneld: start-up failed: %s\n", free.error().c_str());
        return 1;
    }
    std::optional<uint16_t> fast_port_id;
    if (cfg->dataplane.enabled) {
        auto port_id = start_eal(cfg->dataplane);
        if (!port_id) {
            std::fprintf(stderr, "runneld: start-up failed: %s\n", port_id.error().c_str());
            return 1;
        }
        fast_port_id = port_id.value();
    }
    runnel::shard_group group(group_options(cfg.value()));
    std::vector<std::unique_ptr<storage_slot>> slots;
    for (uint32_t i = 0; i < group.size(); ++i) {
        slots.push_back(std::make_unique<storage_slot>());
        attach_storage(group.at(runnel::core_id(i)), *slots.back(), cfg.value(),
                       i == 0 ? fast_port_id : std::nullopt, topics.value(), group.size());
    }
    if (auto started = group.start(); !started) {
        std::fprintf(stderr, "runneld: start-up failed: %s\n", started.error().c_str());
        return 1;
    }
    if (group.size() > 1) {
        std::fprintf(stderr, "runneld: %u shards: shard 0 owns every partition and serves Kafka "
                             "until requests are forwarded between shards; the others idle\n",
                     group.size());
    }
    std::fprintf(stderr, "runneld: started\n");

    int signal_number = 0;
    const int waited = sigwait(&stop_signals, &signal_number);
    RUNNEL_ASSERT(waited == 0);
    std::fprintf(stderr, "runneld: stopping (%s)\n", sigabbrev_np(signal_number));
    group.request_stop();
    group.join();
    std::fprintf(stderr, "runneld: stopped cleanly\n");
    return 0;
}
