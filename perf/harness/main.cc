// runnel-perf: the latency-percentile harness (design: src/design/20261201-runnel-perf.md).
//   runnel-perf run [flags]          one scenario on one transport
//   runnel-perf floor NAME [flags]   tcp | udp | memif | odirect | odirect-bw
//   runnel-perf compare [flags]      the standard suite: floors, Runnel's paths, the peers
//   runnel-perf plot OUT.png RUN.json...
#include "perf/harness/compare.h"
#include "perf/harness/floors.h"
#include "perf/harness/load.h"
#include "perf/harness/peers.h"
#include "perf/harness/report.h"
#include "perf/harness/servers.h"

#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

using namespace runnel;
using namespace runnel::perf;

namespace {

const char* usage = R"(usage:
  runnel-perf run [flags]            one scenario on one transport
  runnel-perf floor NAME [flags]     tcp | udp | memif | odirect | odirect-bw
  runnel-perf compare [flags]        the standard suite; writes DIR/compare.md and compare.png
  runnel-perf plot OUT.png RUN.json...

run flags:
  --scenario produce|e2e|catchup   produce→ack, produce→consume, consume catch-up (produce)
  --transport kafka|rdkafka|udp|memif|redis|nats   (kafka)
      kafka: the harness's minimal Kafka client; rdkafka: librdkafka; udp, memif: the fast path
      through librunnel; redis: Redis Streams; nats: NATS JetStream
  --durability memory|write|fsync  (memory) runnel.ack.after; redis: no AOF / everysec / always
  --rate N          requests per second, open loop; 0: closed loop (10000)
  --seconds S       measured part (10)       --warmup S    excluded from results (2)
  --record-bytes B  (100, at least 16)       --batch N     records per request (1)
  --partitions N    (1)                      --producers N (1)    --consumers N (1)
  --window N        unacknowledged requests per producer (64; the fast path takes at most 5)
  --inflight N      closed loop: outstanding requests per producer (1)
  --requests N      closed loop and catch-up: requests to send (catch-up: 100000)
  --bootstrap H:P   use the runneld listening there instead of starting one (kafka, rdkafka)
  --runneld PATH    (next to this program: ../src/runneld)
  --set KEY=VALUE   a runneld setting (repeatable)
  --work DIR        servers' directories go under it (/var/tmp)
  --json FILE       the run as JSON (percentiles and histogram buckets)
  --label TEXT      the run's name in tables and plots
  --mtu N           udp: the link's IP MTU, up to 9000 (1500); a produce is one datagram, so
                    this caps the records per request in flight (5 per partition)
  --cpu N           pin the load thread to CPU N
  --quiet           no progress line
floor flags: --record-bytes, --samples N (20000), --work DIR, --json FILE
compare flags: --quick (short runs, one rate), --out DIR (compare-out), --seconds S (10),
  --results FILE (replace the compare section of FILE, e.g. perf/RESULTS.md), --runneld PATH
)";

// Ends the command: main() prints `why` and exits 1 once the stack has unwound, so that the
// servers started so far are stopped and their directories removed.
struct fatal {
    std::string why;
};
[[noreturn]] void die(const std::string& why) { throw fatal{why}; }

struct run_flags {
    std::string scenario = "produce";
    std::string transport = "kafka";
    workload w{.topic = "", .partitions = 1, .record_bytes = 100, .batch = 1, .window = 64,
               .durability = "memory"};
    load_options load;
    uint32_t producers = 1;
    uint32_t consumers = 1;
    std::string bootstrap;
    std::string runneld;
    std::vector<std::string> settings;
    std::string work = "/var/tmp";
    std::string json;
    std::string label;
    int cpu = -1;
    uint64_t samples = 20000;
    uint16_t mtu = 1500;
};

std::string self_dir() {
    std::error_code ec;
    return std::filesystem::read_symlink("/proc/self/exe", ec).parent_path().string();
}

double number(const std::string& flag, const char* v) {
    char* end = nullptr;
    const double d = std::strtod(v, &end);
    if (end == v || *end != '\0' || d < 0) {
        die(flag + " wants a number >= 0, not '" + v + "'");
    }
    return d;
}

uint32_t count(const std::string& flag, const char* v, uint32_t min) {
    const double d = number(flag, v);
    if (d < min || d != double(uint32_t(d))) {
        die(flag + " wants a whole number >= " + std::to_string(min) + ", not '" + v + "'");
    }
    return uint32_t(d);
}

run_flags parse(int argc, char** argv, int from) {
    run_flags f;
    f.runneld = self_dir() + "/../src/runneld";
    for (int i = from; i < argc; ++i) {
        const std::string k = argv[i];
        auto value = [&]() -> const char* {
            if (i + 1 >= argc) {
                die(k + " wants a value");
            }
            return argv[++i];
        };
        if (k == "--scenario") {
            f.scenario = value();
        } else if (k == "--transport") {
            f.transport = value();
        } else if (k == "--durability") {
            f.w.durability = value();
        } else if (k == "--rate") {
            f.load.rate = number(k, value());
        } else if (k == "--seconds") {
            f.load.seconds = number(k, value());
        } else if (k == "--warmup") {
            f.load.warmup_seconds = number(k, value());
        } else if (k == "--record-bytes") {
            f.w.record_bytes = count(k, value(), uint32_t(record_tag::bytes));
        } else if (k == "--batch") {
            f.w.batch = count(k, value(), 1);
        } else if (k == "--partitions") {
            f.w.partitions = count(k, value(), 1);
        } else if (k == "--producers") {
            f.producers = count(k, value(), 1);
        } else if (k == "--consumers") {
            f.consumers = count(k, value(), 1);
        } else if (k == "--window") {
            f.w.window = count(k, value(), 1);
        } else if (k == "--inflight") {
            f.load.inflight = count(k, value(), 1);
        } else if (k == "--requests") {
            f.load.requests = count(k, value(), 1);
        } else if (k == "--samples") {
            f.samples = count(k, value(), 1);
        } else if (k == "--bootstrap") {
            f.bootstrap = value();
        } else if (k == "--runneld") {
            f.runneld = value();
        } else if (k == "--set") {
            f.settings.push_back(value());
        } else if (k == "--work") {
            f.work = value();
        } else if (k == "--json") {
            f.json = value();
        } else if (k == "--label") {
            f.label = value();
        } else if (k == "--mtu") {
            const uint32_t mtu = count(k, value(), 576);
            if (mtu > 9000) {
                die("--mtu is at most 9000 (runneld's dataplane.mtu)");
            }
            f.mtu = uint16_t(mtu);
        } else if (k == "--cpu") {
            f.cpu = int(count(k, value(), 0));
        } else if (k == "--quiet") {
            f.load.progress = false;
        } else {
            die("unknown flag '" + k + "'\n" + usage);
        }
    }
    if (f.scenario != "produce" && f.scenario != "e2e" && f.scenario != "catchup") {
        die("--scenario is produce, e2e or catchup, not '" + f.scenario + "'");
    }
    if (f.w.durability != "memory" && f.w.durability != "write" && f.w.durability != "fsync") {
        die("--durability is memory, write or fsync, not '" + f.w.durability + "'");
    }
    if (f.mtu != 1500 && f.transport != "udp") {
        die("--mtu is for --transport udp (the memif port runs at 1500)");
    }
    if (f.consumers > f.w.partitions) {
        die("--consumers can be at most --partitions (each reads whole partitions)");
    }
    if (f.cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(f.cpu, &set);
        if (::sched_setaffinity(0, sizeof(set), &set) != 0) {
            die("--cpu " + std::to_string(f.cpu) + ": cannot pin there");
        }
    }
    return f;
}

void write_json(const std::string& path, const run_report& r) {
    if (path.empty()) {
        return;
    }
    std::ofstream out(path);
    out << to_json(r);
    if (!out) {
        die("cannot write " + path);
    }
}

// A directory removed with everything in it when the run ends.
struct work_dir {
    std::string path;
    ~work_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
};

// The servers a run needs, alive while it lasts; their directory goes after them.
struct servers {
    std::unique_ptr<work_dir> dir;
    runneld_server broker;
    std::unique_ptr<process> peer;
};

result<servers, std::string> start_servers(const run_flags& f, endpoints& e) {
    servers s;
    const std::string dir = f.work + "/runnel-perf-" + std::to_string(::getpid());
    s.dir = std::make_unique<work_dir>(work_dir{dir});
    if (f.transport == "redis") {
        auto p = start_redis(dir + "/redis", f.w.durability, e);
        if (!p) {
            return failure(p.error());
        }
        s.peer = std::move(p.value());
    } else if (f.transport == "nats") {
        auto p = start_nats(dir + "/nats", e);
        if (!p) {
            return failure(p.error());
        }
        s.peer = std::move(p.value());
    } else if (!f.bootstrap.empty() && (f.transport == "kafka" || f.transport == "rdkafka")) {
        e.kafka = f.bootstrap;
    } else {
        const std::string fast = f.transport == "udp" || f.transport == "memif" ? f.transport : "";
        auto b = start_runneld({.binary = f.runneld,
                                .dir = dir,
                                .fast_path = fast,
                                .spin = !fast.empty() && f.w.durability != "fsync",
                                .udp_mtu = f.mtu,
                                .settings = f.settings},
                               e);
        if (!b) {
            return failure(b.error());
        }
        s.broker = std::move(b.value());
    }
    return s;
}

result<void, std::string> create_topic(const std::string& transport, const endpoints& e,
                                       const workload& w) {
    if (transport == "redis") {
        return redis_create_topic(e, w);
    }
    if (transport == "nats") {
        return nats_create_topic(e, w);
    }
    // For kernel UDP the broker's Kafka listener is in its namespace.
    return in_namespace(transport == "udp" ? udp_link::broker_ns : "",
                        [&] { return kafka_create_topic(e, w); });
}

made<producer> make_producer(const std::string& t, const endpoints& e, const workload& w,
                             uint32_t i) {
    if (t == "kafka") {
        return kafka_producer(e, w, i);
    }
    if (t == "rdkafka") {
        return rdkafka_producer(e, w, i);
    }
    if (t == "udp" || t == "memif") {
        return fast_producer(e, w, i, t == "memif");
    }
    if (t == "redis") {
        return redis_producer(e, w, i);
    }
    if (t == "nats") {
        return nats_producer(e, w, i);
    }
    return failure("unknown --transport '" + t + "' (kafka, rdkafka, udp, memif, redis, nats)");
}

made<consumer> make_consumer(const std::string& t, const endpoints& e, const workload& w,
                             uint32_t i, uint32_t of) {
    if (t == "kafka") {
        return kafka_consumer(e, w, i, of);
    }
    if (t == "rdkafka") {
        return rdkafka_consumer(e, w, i, of);
    }
    if (t == "udp" || t == "memif") {
        return fast_consumer(e, w, i, of, t == "memif");
    }
    if (t == "redis") {
        return redis_consumer(e, w, i, of);
    }
    if (t == "nats") {
        return nats_consumer(e, w, i, of);
    }
    return failure("unknown --transport '" + t + "'");
}

template <typename T>
std::vector<std::unique_ptr<T>> make_all(uint32_t n, auto make) {
    std::vector<std::unique_ptr<T>> out;
    for (uint32_t i = 0; i < n; ++i) {
        auto d = make(i);
        if (!d) {
            die(d.error());
        }
        out.push_back(std::move(d.value()));
    }
    return out;
}

int run(int argc, char** argv) {
    run_flags f = parse(argc, argv, 2);
    if (f.transport == "memif" && f.w.record_bytes * f.w.batch > 1300) {
        die("a memif request must fit one 1500-byte frame: --record-bytes x --batch <= 1300");
    }
    endpoints e;
    auto s = start_servers(f, e);
    if (!s) {
        die(s.error());
    }
    static int runs = 0;
    f.w.topic = "perf-" + f.scenario + "-" + f.w.durability + "-" + std::to_string(::getpid()) +
                "-" + std::to_string(++runs);
    if (auto r = create_topic(f.transport, e, f.w); !r) {
        die(r.error());
    }
    run_report rep{.label = f.label, .scenario = f.scenario, .transport = f.transport,
                   .durability = f.w.durability, .rate = f.load.rate,
                   .record_bytes = f.w.record_bytes, .batch = f.w.batch,
                   .partitions = f.w.partitions, .producers = f.producers,
                   .consumers = f.scenario == "produce" ? 0 : f.consumers,
                   .seconds = f.load.seconds};
    if (rep.label.empty()) {
        const char* names[] = {"produce→ack", "produce→consume", "consume catch-up"};
        const int n = f.scenario == "produce" ? 0 : f.scenario == "e2e" ? 1 : 2;
        rep.label = std::string(names[n]) + ", " + f.transport + ", " + f.w.durability;
    }
    auto producers = make_all<producer>(
      f.producers, [&](uint32_t i) { return make_producer(f.transport, e, f.w, i); });
    std::vector<std::unique_ptr<consumer>> consumers;
    auto make_consumers = [&] {
        consumers = make_all<consumer>(f.consumers, [&](uint32_t i) {
            return make_consumer(f.transport, e, f.w, i, f.consumers);
        });
    };
    f.load.batch = f.w.batch;
    if (f.scenario == "catchup") {
        // Fill the log as fast as the producers go, then time the consumers reading it all.
        load_options fill = f.load;
        fill.rate = 0;
        fill.warmup_seconds = 0;
        fill.seconds = 3600;
        fill.requests = f.load.requests ? f.load.requests : 100000;
        fill.inflight = f.w.window;
        const auto filled = run_load(producers, consumers, fill);
        if (!filled.complete()) {
            rep.result = filled;
            print_table_header();
            print_table_row(rep);
            die("catch-up: filling the log failed");
        }
        make_consumers();
        rep.rate = 0;
        rep.result = run_catchup(consumers, fill.requests, 120);
        const double records = double(rep.result.consumed) * f.w.batch;
        rep.mib_per_s = records * f.w.record_bytes / double(1 << 20) /
                        std::max(rep.result.measured_seconds, 1e-9);
        std::fprintf(stderr, "runnel-perf: catch-up read %.0f records in %.3f s: %.0f records/s\n",
                     records, rep.result.measured_seconds,
                     records / std::max(rep.result.measured_seconds, 1e-9));
    } else {
        if (f.scenario == "e2e") {
            make_consumers();
            f.load.end_to_end = true;
        }
        rep.result = run_load(producers, consumers, f.load);
    }
    print_table_header();
    print_table_row(rep);
    write_json(f.json, rep);
    return rep.result.complete() ? 0 : 1;
}

int floor(int argc, char** argv) {
    if (argc < 3) {
        die(std::string("floor wants a NAME\n") + usage);
    }
    const run_flags f = parse(argc, argv, 3);
    auto r = measure_floor(argv[2], {.bytes = f.w.record_bytes, .samples = f.samples,
                                     .dir = f.work});
    if (!r) {
        die(r.error());
    }
    print_table_header();
    print_table_row(r.value());
    write_json(f.json, r.value());
    return 0;
}

int plot_command(int argc, char** argv) {
    if (argc < 4) {
        die(std::string("plot wants OUT.png and at least one RUN.json\n") + usage);
    }
    std::vector<run_report> runs;
    for (int i = 3; i < argc; ++i) {
        const auto text = read_file(argv[i]);
        if (!text) {
            die(std::string(argv[i]) + ": cannot read");
        }
        auto r = from_json(*text);
        if (!r) {
            die(std::string(argv[i]) + ": " + r.error());
        }
        runs.push_back(std::move(r.value()));
    }
    if (auto p = plot(argv[2], runs, "runnel-perf: latency by percentile"); !p) {
        die(p.error());
    }
    std::printf("wrote %s\n", argv[2]);
    return 0;
}

void on_signal(int) { stop_requested.store(true); }

} // namespace

int main(int argc, char** argv) {
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    ::prctl(PR_SET_TIMERSLACK, 1UL); // a sleep to a send time ends on time, not 50 us late
    struct sigaction sa{};
    sa.sa_handler = on_signal;
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigaction(SIGTERM, &sa, nullptr);
    ::signal(SIGPIPE, SIG_IGN);
    const std::string cmd = argc > 1 ? argv[1] : "";
    try {
        if (cmd == "run") {
            return run(argc, argv);
        }
        if (cmd == "floor") {
            return floor(argc, argv);
        }
        if (cmd == "plot") {
            return plot_command(argc, argv);
        }
        if (cmd == "compare") {
            return compare(self_dir() + "/runnel-perf",
                           std::vector<std::string>(argv + 2, argv + argc));
        }
    } catch (const fatal& f) {
        std::fprintf(stderr, "runnel-perf: %s\n", f.why.c_str());
        return 1;
    }
    std::fputs(usage, cmd == "--help" || cmd == "-h" ? stdout : stderr);
    return cmd == "--help" || cmd == "-h" ? 0 : 2;
}
