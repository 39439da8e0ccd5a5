#include "kafka/offsets_log.h"

#include "protocol/wire.h"
#include "storage/batch_builder.h"
#include "storage/record_batch.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>

namespace runnel::kafka {

struct offsets_log::pending {
    offsets_log* home = nullptr;
    int32_t partition = 0;
    std::vector<std::byte> batch;
    std::function<void(bool)> done;
    storage::append_waiter waiter;
    bool appended = false; // in the log, waiting for its ack_after level
    bool failed = false;   // could not be appended: answered false from poll()
    std::list<std::unique_ptr<pending>>::iterator self;
};

namespace {

int64_t wall_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::string_view as_text(const std::vector<std::byte>& b) {
    return {reinterpret_cast<const char*>(b.data()), b.size()};
}

} // namespace

offsets_log::offsets_log(storage::shard_storage& storage, int32_t partitions)
  : _storage(storage), _partitions(partitions) {
    RUNNEL_ASSERT(partitions > 0);
}

offsets_log::~offsets_log() = default;

int32_t offsets_log::partition_of(std::string_view group_id, int32_t partitions) {
    uint32_t h = 2166136261u; // FNV-1a
    for (char c : group_id) {
        h = (h ^ uint8_t(c)) * 16777619u;
    }
    return int32_t(h % uint32_t(partitions));
}

void offsets_log::append(std::string_view group_id, std::vector<group_record> records,
                         std::function<void(bool ok)> done) {
    RUNNEL_ASSERT(!records.empty());
    queue(partition_of(group_id, _partitions), records, std::move(done));
    // Appended from poll(), which keeps the order and never answers inside append().
}

void offsets_log::queue(int32_t partition, const std::vector<group_record>& records,
                        std::function<void(bool ok)> done) {
    std::vector<storage::record_spec> specs;
    specs.reserve(records.size());
    for (const auto& r : records) {
        specs.push_back({.key = as_text(r.key),
                         .value = r.value ? std::optional(as_text(*r.value)) : std::nullopt});
    }
    auto p = std::make_unique<pending>();
    p->home = this;
    p->partition = partition;
    p->batch = storage::build_batch(specs, {.base_timestamp = model::timestamp_ms(wall_ms())});
    p->done = std::move(done);
    _pending.push_back(std::move(p));
    _pending.back()->self = std::prev(_pending.end());
}

uint64_t offsets_log::record_count() const {
    uint64_t n = 0;
    for (int32_t p = 0; p < _partitions; ++p) {
        if (const auto* log = _storage.find(std::string(offsets_topic), p)) {
            n += uint64_t(log->log_end() - log->log_start());
        }
    }
    return n;
}

void offsets_log::compact(std::vector<group_record> live) {
    RUNNEL_ASSERT(idle());
    std::vector<std::vector<group_record>> by_partition(static_cast<size_t>(_partitions));
    for (auto& r : live) {
        protocol::reader key(r.key);
        (void)key.int16(); // key version: both kinds start with the group id
        const std::string_view group_id = key.string();
        RUNNEL_ASSERT(key.ok());
        by_partition[size_t(partition_of(group_id, _partitions))].push_back(std::move(r));
    }
    constexpr size_t records_per_batch = 1000;
    for (int32_t p = 0; p < _partitions; ++p) {
        storage::partition_log* log = _storage.find(std::string(offsets_topic), p);
        if (log == nullptr) {
            continue;
        }
        // Nothing is waiting, so the first batch queued now is appended at today's log end.
        const model::offset start = log->log_end();
        // Every batch of the rewrite must be durable before the prefix goes: a failed one (and
        // a log reopened after it) must not leave its keys only in the deleted part.
        auto failed = std::make_shared<bool>(false);
        auto drop_prefix = [this, p, start, failed](bool ok) {
            storage::partition_log* l = _storage.find(std::string(offsets_topic), p);
            if (!ok || *failed || l == nullptr) {
                return; // the old records stay; a replay reads them and then the new ones
            }
            if (auto r = l->delete_records(start); !r) {
                std::fprintf(stderr, "kafka: compacting %s-%d: %.*s\n", offsets_topic.data(), p,
                             int(storage::to_string(r.error()).size()),
                             storage::to_string(r.error()).data());
            }
        };
        const auto& records = by_partition[size_t(p)];
        if (records.empty()) {
            drop_prefix(true);
            continue;
        }
        for (size_t at = 0; at < records.size(); at += records_per_batch) {
            const size_t end = std::min(records.size(), at + records_per_batch);
            std::vector<group_record> part(records.begin() + long(at), records.begin() + long(end));
            queue(p, part, end == records.size()
                             ? std::function<void(bool)>(drop_prefix)
                             : [failed](bool ok) { *failed = *failed || !ok; });
        }
    }
}

// Appends waiting records in order (stopping at the first back-pressure, so a group's records
// never overtake each other) and answers the ones that failed.
uint32_t offsets_log::poll() {
    uint32_t work = 0;
    const model::timestamp_ms now(wall_ms());
    for (auto it = _pending.begin(); it != _pending.end();) {
        pending& p = **it;
        ++it;
        if (p.failed) {
            auto done = std::move(p.done);
            _pending.erase(p.self);
            done(false);
            ++work;
            continue;
        }
        if (p.appended) {
            continue;
        }
        storage::partition_log* log = _storage.find(std::string(offsets_topic), p.partition);
        if (log == nullptr) {
            p.failed = true;
            continue;
        }
        auto r = log->append(p.batch, model::epoch(0), now);
        if (!r && r.error() == storage::errc::backpressure) {
            break;
        }
        ++work;
        if (!r) {
            p.failed = true;
            continue;
        }
        p.waiter = storage::append_waiter{.done = &offsets_log::on_appended, .owner = &p};
        log->wait(r->last_offset, p.waiter);
        p.appended = true;
        p.batch = {};
    }
    return work;
}

void offsets_log::on_appended(storage::append_waiter& w) {
    auto& p = *static_cast<pending*>(w.owner);
    auto done = std::move(p.done);
    const bool ok = !w.error.has_value();
    p.home->_pending.erase(p.self);
    done(ok);
}

result<uint64_t, std::string> offsets_log::replay(const visitor& visit) {
    uint64_t count = 0;
    for (int32_t p = 0; p < _partitions; ++p) {
        if (auto r = replay_partition(p, visit, count); !r) {
            return failure(r.error());
        }
    }
    return count;
}

result<void, std::string> offsets_log::replay_partition(int32_t p, const visitor& visit,
                                                        uint64_t& count) {
    storage::partition_log* log = _storage.find(std::string(offsets_topic), p);
    if (log == nullptr) {
        return {}; // another shard owns it
    }
    bool readable = true;
    auto scanned = _storage.scan(*log, log->log_start(), [&](std::span<const std::byte> batch) {
        readable = readable && storage::batch::for_each_record(
                                 batch, [&](const auto& key, const auto& value) {
                                     if (key) {
                                         visit(*key, value);
                                         ++count;
                                     }
                                 });
    });
    const std::string where = std::string(offsets_topic) + "-" + std::to_string(p);
    if (!scanned) {
        return failure(where + ": cannot be read: " +
                       std::string(storage::to_string(scanned.error())));
    }
    if (!readable) {
        return failure(where + ": holds a batch this broker did not write (compressed)");
    }
    return {};
}

} // namespace runnel::kafka
