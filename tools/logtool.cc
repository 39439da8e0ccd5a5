// runnel-logtool: drives partition logs directly, without a network transport. It creates topics
// in a data directory, runs an append load that prints every acknowledged batch, and verifies a
// data directory against those acknowledgements (used by the SIGKILL crash test). It runs one
// storage engine on its own thread, as one runneld shard would; never point it at a data
// directory a running runneld uses.
//
//   runnel-logtool create-topic --data-dir D --topic T [--partitions N] [--config key=value]...
//   runnel-logtool load --data-dir D --topic T [--batches N] [--records N] [--value-bytes N]
//   runnel-logtool verify --data-dir D --topic T [--acked FILE]...
//
// load prints one line per acknowledged batch: "acked <partition> <base> <last> <crc>".
// Exit status: 0 success, 1 verification or storage failure, 2 bad usage.
#include "storage/batch_builder.h"
#include "storage/record_batch.h"
#include "storage/shard_storage.h"
#include "storage/topic_store.h"
#include "storage/uring_io.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

using namespace runnel;
using namespace runnel::storage;

namespace {

struct arguments {
    std::string command;
    std::string data_dir;
    std::string topic;
    int32_t partitions = 1;
    std::vector<std::string> configs;
    std::vector<std::string> acked_files;
    int64_t batches = 0; // 0: until killed
    int records = 10;
    int value_bytes = 100;
};

[[noreturn]] void usage(const std::string& why) {
    std::fprintf(stderr, "runnel-logtool: %s\n", why.c_str());
    std::fprintf(stderr,
                 "usage: runnel-logtool create-topic|load|verify --data-dir D --topic T "
                 "[--partitions N] [--config k=v] [--batches N] [--records N] "
                 "[--value-bytes N] [--acked FILE]\n");
    std::exit(2);
}

arguments parse(int argc, char** argv) {
    if (argc < 2) {
        usage("no command");
    }
    arguments a;
    a.command = argv[1];
    for (int i = 2; i < argc; ++i) {
        std::string flag = argv[i];
        if (i + 1 >= argc) {
            usage(flag + " needs a value");
        }
        std::string v = argv[++i];
        auto number = [&](int64_t lo) {
            char* end = nullptr;
            long long n = std::strtoll(v.c_str(), &end, 10);
            if (*end != '\0' || n < lo) {
                usage(flag + " = " + v + " is not an integer >= " + std::to_string(lo));
            }
            return int64_t(n);
        };
        if (flag == "--data-dir") {
            a.data_dir = v;
        } else if (flag == "--topic") {
            a.topic = v;
        } else if (flag == "--partitions") {
            a.partitions = int32_t(number(1));
        } else if (flag == "--config") {
            a.configs.push_back(v);
        } else if (flag == "--acked") {
            a.acked_files.push_back(v);
        } else if (flag == "--batches") {
            a.batches = number(0);
        } else if (flag == "--records") {
            a.records = int(number(1));
        } else if (flag == "--value-bytes") {
            a.value_bytes = int(number(0));
        } else {
            usage("unknown option " + flag);
        }
    }
    if (a.data_dir.empty() || a.topic.empty()) {
        usage("--data-dir and --topic are required");
    }
    return a;
}

uint64_t monotonic_us() {
    using namespace std::chrono;
    return uint64_t(duration_cast<microseconds>(steady_clock::now().time_since_epoch()).count());
}

int create_topic(const arguments& a) {
    if (auto why = check_topic_name(a.topic); !why.empty()) {
        usage(why);
    }
    topic_metadata t{a.topic, random_topic_id(), a.partitions, {}};
    for (const auto& kv : a.configs) {
        auto eq = kv.find('=');
        if (eq == std::string::npos) {
            usage("--config " + kv + " is not key=value");
        }
        t.overrides[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    if (auto c = effective_config(log_config{}, t); !c) {
        usage(c.error());
    }
    auto disk = uring_io::create(8);
    if (!disk || !disk.value()->make_directory(a.data_dir)) {
        std::fprintf(stderr, "runnel-logtool: cannot use %s\n", a.data_dir.c_str());
        return 1;
    }
    local_metadata_store store(*disk.value(), a.data_dir);
    if (auto r = store.put_topic(t); !r) {
        std::fprintf(stderr, "runnel-logtool: %s\n", std::string(to_string(r.error())).c_str());
        return 1;
    }
    std::printf("created topic %s id %s partitions %d\n", t.name.c_str(), to_hex(t.id).c_str(),
                t.partition_count);
    return 0;
}

// Opens every partition of the topic on one storage engine, as a single shard would.
std::pair<std::unique_ptr<shard_storage>, topic_metadata> open_topic(const arguments& a) {
    auto disk = uring_io::create(8);
    RUNNEL_ASSERT(disk.ok());
    local_metadata_store store(*disk.value(), a.data_dir);
    auto topics = store.load_topics();
    if (!topics) {
        std::fprintf(stderr, "runnel-logtool: cannot read topics: %s\n",
                     std::string(to_string(topics.error())).c_str());
        std::exit(1);
    }
    for (auto& t : topics.value()) {
        if (t.name != a.topic) {
            continue;
        }
        auto engine = shard_storage::create({a.data_dir, engine_config{}, 1, 0});
        auto config = effective_config(log_config{}, t);
        if (!engine || !config) {
            std::fprintf(stderr, "runnel-logtool: cannot open the storage engine\n");
            std::exit(1);
        }
        if (auto r = engine.value()->open_partitions(t, config.value()); !r) {
            std::fprintf(stderr, "runnel-logtool: open: %s\n", std::string(to_string(r.error())).c_str());
            std::exit(1);
        }
        return {std::move(engine.value()), t};
    }
    usage("no topic " + a.topic + " in " + a.data_dir);
}

struct load_waiter : append_waiter {
    int32_t partition = 0;
    model::offset base;
    uint32_t crc = 0;
    bool busy = false;
};

int load(const arguments& a) {
    auto [engine, topic] = open_topic(a);
    std::vector<load_waiter> waiters(64);
    for (auto& w : waiters) {
        w.done = [](append_waiter& x) {
            auto& lw = static_cast<load_waiter&>(x);
            if (!lw.error) {
                std::printf("acked %d %lld %lld %u\n", lw.partition, (long long)lw.base(),
                            (long long)lw.last_offset(), lw.crc);
                std::fflush(stdout);
            }
            lw.busy = false;
        };
    }
    std::string value(size_t(a.value_bytes), 'x');
    int64_t sent = 0;
    for (uint64_t round = 0; a.batches == 0 || sent < a.batches; ++round) {
        engine->poll(monotonic_us(), false);
        for (auto& w : waiters) {
            if (w.busy || (a.batches != 0 && sent >= a.batches)) {
                continue;
            }
            auto p = int32_t(uint64_t(sent) % uint64_t(topic.partition_count));
            std::vector<std::string> values(size_t(a.records), value);
            std::vector<record_spec> specs;
            for (int r = 0; r < a.records; ++r) {
                values[size_t(r)].replace(0, std::min<size_t>(20, value.size()),
                                          std::to_string(sent * 1000 + r).substr(0, 20));
                specs.push_back({std::to_string(sent), values[size_t(r)], r});
            }
            auto wall = std::chrono::system_clock::now().time_since_epoch();
            auto bytes = build_batch(specs, {.base_timestamp = model::timestamp_ms(
              std::chrono::duration_cast<std::chrono::milliseconds>(wall).count())});
            partition_log* log = engine->find(topic.name, p);
            auto now = model::timestamp_ms(int64_t(monotonic_us() / 1000));
            auto info = log->append(bytes, model::epoch(0), now);
            if (!info) {
                break; // backpressure or a failed log: poll and retry
            }
            log->wait(info->last_offset, w);
            w.busy = true;
            w.partition = p;
            w.base = info->base_offset;
            w.crc = batch::read_header(bytes).crc;
            ++sent;
        }
    }
    for (int i = 0; i < 1000000; ++i) {
        bool busy = false;
        for (auto& w : waiters) {
            busy = busy || w.busy;
        }
        if (!busy) {
            break;
        }
        engine->poll(monotonic_us(), true);
    }
    auto closed = engine->close();
    return closed.ok() ? 0 : 1;
}

int verify(const arguments& a) {
    struct acked {
        model::offset last;
        uint32_t crc;
    };
    std::map<int32_t, std::map<int64_t, acked>> expected;
    size_t acked_count = 0;
    for (const auto& f : a.acked_files) {
        std::ifstream in(f);
        std::string line;
        while (std::getline(in, line)) {
            std::istringstream s(line);
            std::string word;
            int32_t p = 0;
            long long base = 0;
            long long last = 0;
            uint32_t crc = 0;
            if (!(s >> word >> p >> base >> last >> crc) || word != "acked") {
                continue; // a line torn by SIGKILL was never a complete acknowledgement
            }
            expected[p][base] = {model::offset(last), crc};
            ++acked_count;
        }
    }
    auto [engine, topic] = open_topic(a);
    size_t batches = 0;
    size_t found = 0;
    int failures = 0;
    for (int32_t p = 0; p < topic.partition_count; ++p) {
        partition_log* log = engine->find(topic.name, p);
        read_op op;
        bool finished = false;
        op.owner = &finished;
        op.done = [](read_op& r) { *static_cast<bool*>(r.owner) = true; };
        model::offset next = log->log_start();
        while (next < log->log_end()) {
            op.start = next;
            op.upto = log->log_end();
            op.max_bytes = 1 << 20;
            finished = log->read(op);
            while (!finished) {
                engine->poll(monotonic_us(), true);
            }
            if (op.error || op.bytes.empty()) {
                std::printf("FAIL partition %d: read at %lld: %s\n", p, (long long)next(),
                            op.error ? std::string(to_string(*op.error)).c_str() : "no data");
                return 1;
            }
            for (auto bytes = op.bytes; !bytes.empty();) {
                auto h = batch::check_stored(bytes);
                if (!h || h->base_offset != next) {
                    std::printf("FAIL partition %d: batch at %lld is invalid or out of order\n", p,
                                (long long)next());
                    return 1;
                }
                auto it = expected[p].find(h->base_offset());
                if (it != expected[p].end()) {
                    if (it->second.last != h->last_offset() || it->second.crc != h->crc) {
                        std::printf("FAIL partition %d: acked batch %lld differs\n", p,
                                    (long long)next());
                        ++failures;
                    }
                    ++found;
                }
                ++batches;
                next = h->last_offset() + 1;
                bytes = bytes.subspan(h->size_bytes());
            }
        }
        if (!expected[p].empty() && expected[p].rbegin()->first >= log->log_end()()) {
            std::printf("FAIL partition %d: acked up to %lld but the log ends at %lld\n", p,
                        (long long)expected[p].rbegin()->first, (long long)log->log_end()());
            ++failures;
        }
    }
    std::printf("verify: %zu of %zu acked batches present and intact; %zu batches in %d "
                "partitions\n", found, acked_count, batches, topic.partition_count);
    (void)engine->close();
    return failures == 0 && found == acked_count ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
    arguments a = parse(argc, argv);
    if (a.command == "create-topic") {
        return create_topic(a);
    }
    if (a.command == "load") {
        return load(a);
    }
    if (a.command == "verify") {
        return verify(a);
    }
    usage("unknown command " + a.command);
}
