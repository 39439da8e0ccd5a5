#include "storage/shard_storage.h"

#include "storage/record_batch.h"
#include "storage/uring_io.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

namespace runnel::storage {

namespace {
constexpr uint64_t housekeeping_interval_us = 1'000'000;
constexpr uint32_t reap_batch_max = 256;

uint64_t monotonic_us() {
    using namespace std::chrono;
    return uint64_t(duration_cast<microseconds>(steady_clock::now().time_since_epoch()).count());
}

model::timestamp_ms wall_clock_ms() {
    using namespace std::chrono;
    return model::timestamp_ms(
      duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count());
}
} // namespace

shard_storage::shard_storage(options o, std::unique_ptr<io> disk)
  : _opts(std::move(o)), _io(std::move(disk)) {
    _reaped.reserve(reap_batch_max);
}

result<std::unique_ptr<shard_storage>, errc> shard_storage::create(options o) {
    auto disk = uring_io::create(o.engine.io_queue_depth);
    if (!disk) {
        return failure(disk.error());
    }
    return create(std::move(o), std::move(disk.value()));
}

std::unique_ptr<shard_storage> shard_storage::create(options o, std::unique_ptr<io> disk) {
    return std::unique_ptr<shard_storage>(new shard_storage(std::move(o), std::move(disk)));
}

uint32_t shard_storage::owner_shard(std::string_view topic, int32_t partition,
                                    uint32_t shard_count) {
    RUNNEL_ASSERT(shard_count > 0);
    uint64_t h = 1469598103934665603ull; // FNV-1a
    for (char c : topic) {
        h = (h ^ uint8_t(c)) * 1099511628211ull;
    }
    return uint32_t((h + uint64_t(partition)) % shard_count);
}

result<void, errc> shard_storage::open_partitions(const topic_metadata& t,
                                                  const log_config& config) {
    for (int32_t p = 0; p < t.partition_count; ++p) {
        if (owner_shard(t.name, p, _opts.shard_count) != _opts.shard_index ||
            _logs.contains({t.name, p})) {
            continue;
        }
        partition_log::options lo{partition_directory(_opts.data_dir, t.name, p), config,
                                  _opts.engine};
        auto log = partition_log::open(*_io, lo);
        if (!log) {
            return failure(log.error());
        }
        _logs.emplace(std::pair{t.name, p}, entry{std::move(lo), std::move(log.value())});
    }
    return {};
}

result<void, errc> shard_storage::remove_partitions(const std::string& topic) {
    for (auto it = _logs.lower_bound({topic, 0}); it != _logs.end() && it->first.first == topic;) {
        if (it->second.log) {
            if (auto r = it->second.log->close(); !r) {
                return r;
            }
        }
        const std::string dir = it->second.options.directory;
        it = _logs.erase(it);
        auto files = _io->list_directory(dir);
        if (!files) {
            return failure(files.error());
        }
        for (const auto& f : files.value()) {
            if (auto r = _io->remove(dir + "/" + f); !r) {
                return r;
            }
        }
        if (auto r = _io->remove_directory(dir); !r) {
            return r;
        }
    }
    return {};
}

void shard_storage::reconfigure(const std::string& topic, const log_config& config) {
    for (auto it = _logs.lower_bound({topic, 0}); it != _logs.end() && it->first.first == topic;
         ++it) {
        log_config c = config;
        c.ack = it->second.options.log.ack;
        it->second.options.log = c;
        if (it->second.log) {
            it->second.log->set_log_config(c);
        }
    }
}

partition_log* shard_storage::find(const std::string& topic, int32_t partition) {
    auto it = _logs.find({topic, partition});
    return it == _logs.end() ? nullptr : it->second.log.get();
}

result<void, errc> shard_storage::scan(partition_log& log, model::offset from,
                                       const batch_visitor& visit) {
    read_op op;
    model::offset next = std::max(from, log.log_start());
    while (next < log.log_end()) {
        bool done = false;
        op.start = next;
        op.max_bytes = 1u << 20;
        op.upto = log.log_end();
        op.owner = &done;
        op.done = [](read_op& o) { *static_cast<bool*>(o.owner) = true; };
        if (!log.read(op)) {
            while (!done) { // each poll reaps what the device finished
                (void)poll(monotonic_us(), false);
            }
        }
        if (op.error) {
            return failure(*op.error);
        }
        RUNNEL_ASSERT(!op.bytes.empty()); // next < log end, so a batch is there
        for (auto bytes = op.bytes; !bytes.empty();) {
            auto h = batch::check_stored(bytes);
            if (!h) {
                return failure(errc::corrupt);
            }
            visit(bytes.subspan(0, h->size_bytes()));
            next = h->last_offset() + 1;
            bytes = bytes.subspan(h->size_bytes());
        }
    }
    return {};
}

uint32_t shard_storage::poll(uint64_t now_us, bool idle) {
    uint32_t work = poll_logs(now_us, idle);
    _reaped.clear();
    uint32_t n = _io->reap(_reaped, reap_batch_max, false);
    for (io_op* op : _reaped) {
        op->done(*op);
    }
    work += n;
    if (n > 0) {
        // A completed write frees its log for the next one: submit it now rather than a duty
        // cycle later, so the device is not idle while the shard appends (perf/RESULTS.md).
        work += poll_logs(now_us, idle);
    }
    if (now_us >= _next_housekeeping_us) {
        _next_housekeeping_us = now_us + housekeeping_interval_us;
        housekeeping();
    }
    return work;
}

uint32_t shard_storage::poll_logs(uint64_t now_us, bool idle) {
    uint32_t work = 0;
    for (auto& [key, e] : _logs) {
        if (e.log) {
            work += e.log->poll(now_us, idle);
        }
    }
    return work + _io->flush();
}

void shard_storage::housekeeping() {
    model::timestamp_ms now = wall_clock_ms();
    for (auto& [key, e] : _logs) {
        if (e.log && !e.log->failed()) {
            if (auto r = e.log->apply_retention(now); !r) {
                std::fprintf(stderr, "storage: %s: retention failed: %.*s\n",
                             e.options.directory.c_str(), int(to_string(r.error()).size()),
                             to_string(r.error()).data());
            }
            continue;
        }
        // A log that failed a write is recovered from disk once its io has drained; until then
        // (and while the disk stays full or broken) it keeps reporting its error.
        if (e.log && e.log->ios_in_flight() > 0) {
            continue;
        }
        auto reopened = partition_log::open(*_io, e.options);
        if (reopened) {
            std::fprintf(stderr, "storage: %s: reopened after a write failure\n",
                         e.options.directory.c_str());
            e.log = std::move(reopened.value());
        }
    }
}

result<void, errc> shard_storage::close() {
    result<void, errc> first;
    for (auto& [key, e] : _logs) {
        if (!e.log) {
            continue;
        }
        if (auto r = e.log->close(); !r && first.ok()) {
            first = r;
        }
    }
    _logs.clear();
    return first;
}

} // namespace runnel::storage
