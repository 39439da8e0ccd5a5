// Fetch, ListOffsets: reads of the partition logs. A fetch reads every partition it names (from
// the logs' memory or, for older data, from disk through the shard's io), and answers when it has
// min_bytes, when max_wait_ms passed, or at once on an error. Short of min_bytes it parks; poll()
// runs it again when one of its partitions' high watermark moved past its fetch offset.
// Fetch sessions are declined (session id 0: every fetch is a full one).
#include "kafka/broker.h"

#include "kafka/detail/jobs.h"

#include <algorithm>

namespace runnel::kafka {

using namespace protocol;



bool broker::fetch(kafka_request& r) {
    reader body(r.body());
    auto msg = decode<fetch_request>(body, r.api_version);
    if (!msg) {
        return false;
    }
    auto job = std::make_unique<fetch_job>(fetch_job{.req = r, .msg = std::move(*msg)});
    job->home = this;
    size_t count = 0;
    for (const auto& t : job->msg.topics) {
        count += t.partitions.size();
    }
    job->parts.reserve(count);
    for (const auto& t : job->msg.topics) {
        for (const auto& p : t.partitions) {
            auto& part = job->parts.emplace_back();
            part.job = job.get();
            part.topic = t.topic;
            part.partition = p.partition;
            part.offset = p.fetch_offset;
            part.max_bytes = std::max(0, std::min(p.partition_max_bytes, job->msg.max_bytes));
        }
    }
    const uint64_t now = now_us();
    job->deadline_us = now + uint64_t(std::max(0, job->msg.max_wait_ms)) * 1000;
    fetch_job& ref = *job;
    _fetches.push_back(std::move(job));
    ref.self = std::prev(_fetches.end());
    run_fetch(ref, now);
    return true;
}

// Starts a read of every partition; answers when they are done and the fetch is satisfied,
// parks it otherwise.
void broker::run_fetch(fetch_job& job, uint64_t now_us) {
    job.parked = false;
    // An incremental fetch names a session this broker never created.
    const bool session_unknown = job.msg.session_id != 0;
    for (auto& part : job.parts) {
        part.error = error_none;
        part.read.bytes = {};
        if (session_unknown) {
            part.error = error_fetch_session_id_not_found;
            continue;
        }
        storage::partition_log* log = log_of(find_topic(part.topic), part.partition, part.error);
        if (log == nullptr) {
            continue;
        }
        part.high_watermark = log->high_watermark()();
        part.log_start = log->log_start()();
        part.read.start = model::offset(part.offset);
        part.read.max_bytes = uint32_t(part.max_bytes);
        part.read.upto = log->high_watermark();
        part.read.done = &broker::on_fetch_read;
        part.read.owner = &part;
        if (part.max_bytes == 0) {
            continue;
        }
        if (!log->read(part.read)) {
            part.reading = true;
            ++job.reading;
        } else if (part.read.error) {
            part.error = storage_error_code(*part.read.error);
        }
    }
    if (job.reading > 0) {
        return; // on_fetch_read continues
    }
    size_t bytes = 0;
    bool error = false;
    for (const auto& part : job.parts) {
        bytes += part.read.bytes.size();
        error = error || part.error != error_none;
    }
    if (error || bytes >= size_t(std::max(0, job.msg.min_bytes)) || now_us >= job.deadline_us) {
        answer_fetch(job);
        return;
    }
    job.parked = true;
}

void broker::on_fetch_read(storage::read_op& op) {
    auto& part = *static_cast<fetch_job::part*>(op.owner);
    fetch_job& job = *part.job;
    RUNNEL_ASSERT(part.reading);
    RUNNEL_ASSERT(job.reading > 0);
    part.reading = false;
    --job.reading;
    if (op.error) {
        part.error = storage_error_code(*op.error);
    }
    if (job.reading == 0) {
        // Data from disk is old data: answer with it rather than wait for more.
        job.home->answer_fetch(job);
    }
}

// A parked fetch runs again when its wait is over or when one of its partitions has data past
// what it saw when it parked.
bool broker::fetch_ready(const fetch_job& job, uint64_t now_us) const {
    if (!job.parked) {
        return false;
    }
    if (now_us >= job.deadline_us) {
        return true;
    }
    for (const auto& part : job.parts) {
        auto it = _topics.find(part.topic);
        if (it == _topics.end()) {
            return true;
        }
        // New data since the fetch parked (it parked short of min_bytes, maybe with some).
        auto* log = _storage.find(it->second.meta.name, part.partition);
        if (log == nullptr || log->high_watermark()() > std::max(part.offset,
                                                                 part.high_watermark)) {
            return true;
        }
    }
    return false;
}

// Encodes the answer: partitions in request order, their records within the request's max_bytes
// (the first non-empty partition whole even when larger, as Kafka does, so a consumer always
// progresses), then frees the job.
void broker::answer_fetch(fetch_job& job) {
    fetch_response res;
    size_t budget = size_t(std::max(0, job.msg.max_bytes));
    bool any = false;
    for (auto& part : job.parts) {
        if (res.topics.empty() || res.topics.back().topic != part.topic) {
            res.topics.push_back({.topic = part.topic});
        }
        fetch_response_partition p{.partition = part.partition, .error_code = part.error,
                                   .high_watermark = part.high_watermark,
                                   .last_stable_offset = part.high_watermark,
                                   .log_start_offset = part.log_start};
        auto bytes = part.read.bytes;
        if (part.error != error_none) {
            bytes = {};
        } else if (any && bytes.size() > budget) {
            bytes = {}; // over the response's max_bytes: the next fetch gets it
        }
        any = any || !bytes.empty();
        budget -= std::min(budget, bytes.size());
        p.records = bytes;
        res.topics.back().partitions.push_back(p);
    }
    encode(job.req.response, res, job.req.api_version);
    job.req.finish();
    _fetches.erase(job.self);
}

broker::fast_extent broker::fast_partition(uint32_t handle, int32_t partition) {
    fast_extent e;
    topic_entry* t = topic_of_handle(handle);
    if (t == nullptr) {
        e.error = error_unknown_topic_id;
        return e;
    }
    storage::partition_log* log = log_of(t, partition, e.error);
    if (log != nullptr) {
        e.log_start = log->log_start()();
        e.log_end = log->log_end()();
        e.written_end = log->written_end()();
        e.flushed_end = log->flushed_end()();
    }
    return e;
}

namespace {

void answer_fast_read(broker::fast_read_job& j) {
    j.done(j.op.error ? storage_error_code(*j.op.error) : int16_t(error_none), j.op.bytes);
}

} // namespace

void broker::fast_read(uint32_t handle, int32_t partition, int64_t offset, int64_t upto,
                       uint32_t max_bytes, fast_read_done done) {
    int16_t error = error_unknown_topic_id;
    topic_entry* t = topic_of_handle(handle);
    storage::partition_log* log = t == nullptr ? nullptr : log_of(t, partition, error);
    if (log == nullptr) {
        done(error, {});
        return;
    }
    // A subscriber at the tail reads from memory at every duty cycle with new records: such a
    // read completes at once, and its job (with the buffer the read grew) is kept for the next.
    std::unique_ptr<fast_read_job> f;
    if (_spare_fast_reads.empty()) {
        f = std::make_unique<fast_read_job>();
    } else {
        f = std::move(_spare_fast_reads.back());
        _spare_fast_reads.pop_back();
    }
    f->done = std::move(done);
    f->op.start = model::offset(offset);
    f->op.max_bytes = max_bytes;
    f->op.upto = model::offset(upto);
    f->op.owner = f.get();
    // A read that went to disk owns its job until it completes (it may outlive the broker).
    f->op.done = [](storage::read_op& op) {
        std::unique_ptr<fast_read_job> self(static_cast<fast_read_job*>(op.owner));
        answer_fast_read(*self);
    };
    if (!log->read(f->op)) {
        (void)f.release(); // now the read's
        return;
    }
    answer_fast_read(*f);
    f->done = nullptr;
    _spare_fast_reads.push_back(std::move(f));
}

bool broker::list_offsets(kafka_request& r) {
    reader body(r.body());
    auto msg = decode<list_offsets_request>(body, r.api_version);
    if (!msg) {
        return false;
    }
    list_offsets_response res;
    for (const auto& t : msg->topics) {
        auto& rt = res.topics.emplace_back(list_offsets_response_topic{.name = t.name});
        topic_entry* topic = find_topic(t.name);
        for (const auto& p : t.partitions) {
            auto& out = rt.partitions.emplace_back(
              list_offsets_response_partition{.partition_index = p.partition_index});
            storage::partition_log* log = log_of(topic, p.partition_index, out.error_code);
            if (log == nullptr) {
                continue;
            }
            out.leader_epoch = 0;
            if (p.timestamp == list_offsets_latest) {
                out.offset = log->high_watermark()();
            } else if (p.timestamp == list_offsets_earliest) {
                out.offset = log->log_start()();
            } else if (p.timestamp == list_offsets_max_timestamp) {
                auto [ts, offset] = log->max_timestamp();
                out.timestamp = ts();
                out.offset = ts() < 0 ? -1 : offset();
            } else if (p.timestamp < 0) {
                out.error_code = error_invalid_request;
            } else {
                auto found = log->offset_for_timestamp(model::timestamp_ms(p.timestamp));
                if (!found) {
                    out.error_code = storage_error_code(found.error());
                } else if (found.value() && *found.value() < log->high_watermark()) {
                    // The record's own timestamp is not looked up: the one asked for is a lower
                    // bound of it.
                    out.offset = (*found.value())();
                    out.timestamp = p.timestamp;
                }
            }
        }
    }
    encode(r.response, res, r.api_version);
    r.finish();
    return true;
}

} // namespace runnel::kafka
