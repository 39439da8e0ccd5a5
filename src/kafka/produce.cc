// Produce: every partition's records (one or more RecordBatch v2) are checked against the
// idempotent producer's sequence, appended to the partition log unchanged but for the offsets
// the log stamps, and acknowledged when the last batch reaches the topic's ack_after level.
#include "kafka/broker.h"

#include "kafka/detail/jobs.h"
#include "storage/record_batch.h"

#include <chrono>

namespace runnel::kafka {

using namespace protocol;
namespace batch = storage::batch;


namespace {

int64_t wall_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

int32_t next_sequence(int32_t s) { return s == INT32_MAX ? 0 : s + 1; }

int32_t last_sequence(const batch::header& h) {
    const int64_t last = int64_t(h.base_sequence) + h.last_offset_delta;
    return int32_t(last > INT32_MAX ? last - INT32_MAX - 1 : last);
}

// Kafka's idempotent-producer rules for one batch of producer `h.producer_id`: error_none to
// append it, or an error; a retried batch that matches one of the recent ones answers with its
// original offset in `duplicate_offset`. Ids from `fresh_from` on were handed out since this
// broker started.
int16_t check_sequence(std::map<int64_t, producer_entry>& producers, const batch::header& h,
                       int64_t fresh_from, std::optional<int64_t>& duplicate_offset) {
    auto it = producers.find(h.producer_id());
    if (it == producers.end()) {
        // A producer this partition has not seen. One whose id was handed out since this start
        // is new: its first batch has sequence 0, and a later one means that an earlier batch
        // is still on its way (appending it would put it before the missing one). One from
        // before a restart may be known only to the state the restart lost (it is rebuilt from
        // the active segment only): it starts wherever it is.
        return h.producer_id() >= fresh_from && h.base_sequence != 0
                 ? error_out_of_order_sequence_number
                 : error_none;
    }
    producer_entry& p = it->second;
    if (h.producer_epoch < p.epoch) {
        return error_invalid_producer_epoch;
    }
    if (h.producer_epoch > p.epoch) {
        return h.base_sequence == 0 ? error_none : error_out_of_order_sequence_number;
    }
    for (const producer_batch& b : p.recent) {
        if (b.first_sequence == h.base_sequence && b.last_sequence == last_sequence(h)) {
            duplicate_offset = b.base_offset;
            return error_none;
        }
    }
    if (h.base_sequence != next_sequence(p.last_sequence)) {
        return error_out_of_order_sequence_number;
    }
    return error_none;
}

} // namespace

void remember_sequence(std::map<int64_t, producer_entry>& producers, const batch::header& h,
                       int64_t base_offset) {
    producer_entry& p = producers[h.producer_id()];
    if (h.producer_epoch != p.epoch) {
        p = producer_entry{.epoch = h.producer_epoch};
    }
    p.last_sequence = last_sequence(h);
    if (p.recent.size() == producer_batches_kept) {
        p.recent.erase(p.recent.begin());
    }
    p.recent.push_back({h.base_sequence, p.last_sequence, base_offset});
}

namespace {

// The size of the batch at the start of `rest`, or 0 when the bytes there cannot be one.
size_t batch_size_at(std::span<const std::byte> rest) {
    if (rest.size() < batch::header_bytes) {
        return 0;
    }
    const batch::header h = batch::read_header(rest);
    if (h.batch_length < 0 || h.size_bytes() > rest.size()) {
        return 0;
    }
    return h.size_bytes();
}

// A batch that failed validation: CORRUPT_MESSAGE for a bad CRC (or any defect before v8, which
// has no INVALID_RECORD), INVALID_RECORD otherwise.
int16_t batch_error_code(batch::errc why, int16_t api_version) {
    return why == batch::errc::bad_crc || api_version < 8 ? int16_t(error_corrupt_message)
                                                          : int16_t(error_invalid_record);
}

// Validates every batch of a partition before any is appended, so that a request appends all
// of a partition's batches or none (Kafka's rule).
int16_t check_all(std::span<const std::byte> records, int16_t api_version) {
    size_t at = 0;
    while (at < records.size()) {
        const size_t n = batch_size_at(records.subspan(at));
        if (n == 0) {
            return error_corrupt_message;
        }
        auto v = batch::validate(records.subspan(at, n));
        if (!v) {
            return batch_error_code(v.error(), api_version);
        }
        at += n;
    }
    return error_none;
}

} // namespace

// Rebuilds every local partition's idempotent-producer state from the batches of its active
// segment, so that a producer retrying across a broker restart is answered as a duplicate
// instead of being appended twice.
result<void, std::string> broker::load_producer_state() {
    for (auto& [name, t] : _topics) {
        for (int32_t p = 0; p < t.meta.partition_count; ++p) {
            storage::partition_log* log = t.internal ? nullptr : _storage.find(t.meta.name, p);
            if (log == nullptr) {
                continue;
            }
            auto& producers = t.producers[size_t(p)];
            auto scanned = _storage.scan(*log, log->active_segment_base(),
                                         [&](std::span<const std::byte> b) {
                                             const batch::header h = batch::read_header(b);
                                             if (h.producer_id() >= 0) {
                                                 remember_sequence(producers, h,
                                                                   h.base_offset());
                                             }
                                         });
            if (!scanned) {
                return failure("cannot read " + name + "-" + std::to_string(p) +
                               " for its producer state: " +
                               std::string(storage::to_string(scanned.error())));
            }
        }
    }
    return {};
}

// Why a partition of a produce request cannot be appended to, or error_none.
int16_t broker::partition_error(topic_entry* topic, std::string_view name,
                                const produce_request_partition& p, bool acks_valid,
                                bool transactional) {
    if (!acks_valid) {
        return error_invalid_required_acks;
    }
    if (transactional) {
        return error_invalid_request;
    }
    if (topic == nullptr && !storage::check_topic_name(name).empty()) {
        return error_invalid_topic_exception;
    }
    int16_t error = error_none;
    if (log_of(topic, p.index, error) == nullptr) {
        return error;
    }
    if (topic->internal) {
        return error_invalid_topic_exception;
    }
    if (!p.records || p.records->empty()) {
        return error_corrupt_message;
    }
    return error_none;
}

bool broker::produce(kafka_request& r) {
    reader body(r.body());
    auto msg = decode<produce_request>(body, r.api_version);
    if (!msg) {
        return false;
    }
    auto job = std::make_unique<produce_job>(
      produce_job{.req = &r, .api_version = r.api_version, .msg = std::move(*msg)});
    job->home = this;
    size_t count = 0;
    for (const auto& t : job->msg.topics) {
        count += t.partitions.size();
    }
    job->parts.reserve(count);
    job->res.topics.reserve(job->msg.topics.size());
    const bool acks_valid = job->msg.acks == 0 || job->msg.acks == 1 || job->msg.acks == -1;
    const bool transactional = job->msg.transactional_id.has_value();
    for (const auto& t : job->msg.topics) {
        auto& rt = job->res.topics.emplace_back(produce_response_topic{.name = t.name});
        rt.partitions.reserve(t.partitions.size());
        topic_entry* topic = acks_valid && !transactional ? topic_or_create(t.name) : nullptr;
        for (const auto& p : t.partitions) {
            auto& out = rt.partitions.emplace_back(produce_response_partition{.index = p.index});
            auto& part = job->parts.emplace_back();
            part.job = job.get();
            part.topic = t.name;
            part.index = p.index;
            part.out = &out;
            out.error_code = partition_error(topic, t.name, p, acks_valid, transactional);
            if (out.error_code == error_none) {
                part.records = *p.records;
            } else if (transactional) {
                out.error_message = "transactions are not supported";
            }
        }
    }
    start_produce(std::move(job));
    return true;
}

void broker::start_produce(std::unique_ptr<produce_job> job) {
    produce_job& ref = *job;
    _produces.push_back(std::move(job));
    ref.self = std::prev(_produces.end());
    begin_produce(ref);
}

void broker::begin_produce(produce_job& job) {
    if (_produce_blocked) {
        job.retry = true; // behind a produce that met back-pressure: appends keep arrival order
        return;
    }
    _produce_blocked = run_produce(job);
}

void broker::retire_produce(produce_job& job) {
    if (job.req == nullptr) {
        _spare_fast_jobs.splice(_spare_fast_jobs.end(), _produces, job.self);
    } else {
        _produces.erase(job.self);
    }
}

void broker::answer_fast(uint64_t cookie, int16_t error, int64_t base_offset,
                         int64_t last_offset) {
    if (_fast_sink != nullptr) {
        _fast_sink->produced(cookie, error, base_offset, last_offset);
    }
}

// A handle is this boot's generation (12 random bits, above) and an index into _handle_names, so
// a handle from before a restart never names another topic: it is refused and resolved again.
namespace {
constexpr uint32_t handle_index_bits = 20;
constexpr uint32_t handle_index_mask = (1u << handle_index_bits) - 1;
constexpr size_t fast_produces_max = 4096; // queued fast-path produces before OVERLOADED
} // namespace

std::optional<broker::topic_handle> broker::resolve_topic(std::string_view name) {
    const topic_entry* t = topic_or_create(name);
    if (t == nullptr || t->internal) {
        return std::nullopt;
    }
    auto it = _handles.find(name);
    if (it == _handles.end()) {
        if (_handle_names.size() > handle_index_mask) {
            return std::nullopt;
        }
        _handle_names.emplace_back(name);
        const auto index = uint32_t(_handle_names.size() - 1);
        it = _handles.emplace(_handle_names.back(), _handle_generation << handle_index_bits | index)
               .first;
    }
    return topic_handle{it->second, t->meta.partition_count};
}

std::string_view broker::handle_name(uint32_t handle) const {
    const uint32_t index = handle & handle_index_mask;
    if (handle >> handle_index_bits != _handle_generation || index >= _handle_names.size()) {
        return {};
    }
    return _handle_names[index];
}

broker::topic_entry* broker::topic_of_handle(uint32_t handle) {
    const std::string_view name = handle_name(handle);
    return name.empty() ? nullptr : find_topic(name);
}

void broker::fast_produce(uint32_t handle, int32_t partition, std::span<const std::byte> batch,
                          uint64_t cookie) {
    const std::string_view name = handle_name(handle);
    int16_t error = error_none;
    if (name.empty()) {
        error = error_unknown_topic_id; // from another boot, or never handed out
    } else if (_produces.size() >= fast_produces_max) { // otherwise it queues, in order
        error = error_throttling_quota_exceeded; // the fast path's OVERLOADED
    } else if (batch.size() < storage::batch::header_bytes ||
               batch_size_at(batch) != batch.size()) {
        error = error_corrupt_message; // exactly one whole batch per frame
    }
    if (error != error_none) {
        answer_fast(cookie, error, -1, -1);
        return;
    }
    // A finished job is taken back with the capacity of its vectors: no allocation.
    if (_spare_fast_jobs.empty()) {
        auto fresh = std::make_unique<produce_job>(produce_job{.api_version = 9});
        fresh->home = this;
        fresh->res.topics.resize(1);
        fresh->res.topics[0].partitions.resize(1);
        _spare_fast_jobs.push_back(std::move(fresh));
    }
    _produces.splice(_produces.end(), _spare_fast_jobs, _spare_fast_jobs.begin());
    produce_job& job = *_produces.back();
    job.self = std::prev(_produces.end());
    job.cookie = cookie;
    job.waiting = 0;
    job.retry = false;
    job.res.topics[0].name = name;
    auto& out = job.res.topics[0].partitions[0];
    out = protocol::produce_response_partition{.index = partition};
    job.owned_batch.assign(batch.begin(), batch.end());
    job.last_offset_delta = storage::batch::read_header(job.owned_batch).last_offset_delta;
    job.parts.clear();
    auto& part = job.parts.emplace_back();
    part.job = &job;
    part.topic = name;
    part.index = partition;
    part.out = &out;
    const protocol::produce_request_partition p{.index = partition, .records = job.owned_batch};
    out.error_code = partition_error(find_topic(name), name, p, true, false);
    if (out.error_code == error_none) {
        part.records = job.owned_batch;
    }
    begin_produce(job);
}

// Appends what is left of every partition; returns early, to be run again from poll(), when a
// log pushes back. Finishes the job once nothing is left to append or wait for. Returns true when
// the job is held back (and alive); false when it finished or waits for acks (it may be gone).
bool broker::run_produce(produce_job& job) {
    job.retry = false;
    const model::timestamp_ms now(wall_ms());
    const bool acks = job.msg.acks != 0;
    for (auto& part : job.parts) {
        if (part.out->error_code != error_none || part.next_at == part.records.size()) {
            continue;
        }
        topic_entry* topic = find_topic(part.topic);
        storage::partition_log* log = log_of(topic, part.index, part.out->error_code);
        if (log == nullptr) {
            continue; // deleted meanwhile
        }
        if (!part.checked) {
            part.checked = true;
            const size_t first = batch_size_at(part.records);
            if (first == 0) {
                part.out->error_code = error_corrupt_message;
                continue;
            }
            if (first < part.records.size()) {
                part.out->error_code = check_all(part.records, job.api_version);
                if (part.out->error_code != error_none) {
                    continue;
                }
            }
        }
        auto& producers = topic->producers[size_t(part.index)];
        while (part.next_at < part.records.size()) {
            auto rest = part.records.subspan(part.next_at);
            const size_t n = batch_size_at(rest);
            if (n == 0) {
                part.out->error_code = error_corrupt_message;
                break;
            }
            const auto bytes = rest.subspan(0, n);
            const batch::header h = batch::read_header(bytes);
            std::optional<int64_t> duplicate;
            if (h.producer_id() >= 0) {
                part.out->error_code = check_sequence(producers, h, _first_producer_id, duplicate);
                if (part.out->error_code != error_none) {
                    break;
                }
            }
            if (duplicate) {
                if (!part.has_base) {
                    part.out->base_offset = *duplicate;
                    part.has_base = true;
                }
                // The answer waits for the original as for a new batch (answering before it is
                // at the ack level could acknowledge what a failing write then loses); the
                // produces behind it do not.
                part.wait_for = std::max(part.wait_for, *duplicate + h.last_offset_delta);
                part.next_at += n;
                continue;
            }
            auto appended = log->append(bytes, model::epoch(0), now);
            if (!appended) {
                if (appended.error() == storage::errc::backpressure) {
                    job.retry = true;
                    return true;
                }
                part.out->error_code =
                  appended.error() == storage::errc::invalid_batch
                    ? batch_error_code(log->last_batch_error(), job.api_version)
                    : storage_error_code(appended.error());
                break;
            }
            if (h.producer_id() >= 0) {
                remember_sequence(producers, h, appended->base_offset());
            }
            if (!part.has_base) {
                part.out->base_offset = appended->base_offset();
                part.has_base = true;
            }
            part.out->log_append_time_ms = appended->log_append_time();
            part.out->log_start_offset = log->log_start()();
            part.wait_for = appended->last_offset(); // above every duplicate's
            part.next_at += n;
        }
        // Only what is not visible yet waits; the rest (at memory level, all of it) is answered
        // now rather than from a later duty cycle.
        if (acks && part.wait_for >= 0 && part.out->error_code == error_none &&
            model::offset(part.wait_for) >= log->high_watermark()) {
            part.waiter = storage::append_waiter{.done = &broker::on_produce_ack, .owner = &part};
            log->wait(model::offset(part.wait_for), part.waiter);
            part.waiting = true;
            ++job.waiting;
        }
    }
    if (!acks) {
        job.req->send_response = false; // acks=0: no answer, and no waiter points at the job
        job.req->finish();
        retire_produce(job);
        return false;
    }
    if (job.waiting == 0) {
        finish_produce(job);
    }
    return false;
}

void broker::on_produce_ack(storage::append_waiter& w) {
    auto& part = *static_cast<produce_job::part*>(w.owner);
    produce_job& job = *part.job;
    RUNNEL_ASSERT(part.waiting);
    RUNNEL_ASSERT(job.waiting > 0);
    part.waiting = false;
    --job.waiting;
    if (w.error) {
        part.out->error_code = error_kafka_storage_error;
        part.out->base_offset = -1;
        // The log reopens from disk; sequences it never made durable must not read as duplicates.
        if (topic_entry* t = job.home->find_topic(part.topic)) {
            t->producers[size_t(part.index)].clear();
        }
    }
    if (job.waiting == 0 && !job.retry) {
        job.home->finish_produce(job);
    }
}

void broker::finish_produce(produce_job& job) {
    for (auto& part : job.parts) {
        if (part.out->error_code != error_none) {
            part.out->base_offset = -1;
        }
    }
    if (job.req == nullptr) {
        const auto& out = *job.parts[0].out;
        const bool ok = out.error_code == error_none;
        answer_fast(job.cookie, out.error_code, ok ? out.base_offset : -1,
                    ok ? out.base_offset + job.last_offset_delta : -1);
    } else {
        encode(job.req->response, job.res, job.api_version);
        job.req->finish();
    }
    retire_produce(job);
}

} // namespace runnel::kafka
