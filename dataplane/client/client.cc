#include "dataplane/client/client.h"

#include "storage/record_batch.h"

#include <algorithm>
#include <chrono>
#include <limits>

namespace runnel::client {

using fast_path::ack;
using fast_path::credit;
using fast_path::decode;
using fast_path::encode;
using fast_path::error;
using fast_path::error_code;
using fast_path::frame;
using fast_path::init_producer;
using fast_path::init_producer_answer;
using fast_path::message;
using fast_path::push;
using fast_path::range;
using fast_path::resolve_answer;
using fast_path::subscribe_answer;

namespace {

uint64_t now_us() {
    using namespace std::chrono;
    return uint64_t(duration_cast<microseconds>(steady_clock::now().time_since_epoch()).count());
}

int64_t wall_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

// Produce request ids: the top bit set, the partition state's index, the batch's number.
// Control requests count up from 1 below the top bit.
constexpr uint64_t produce_bit = 1ull << 63;
uint64_t produce_id(size_t index, uint32_t batch) {
    return produce_bit | uint64_t(index) << 32 | batch;
}

bool is_answer(const message& m) {
    return std::holds_alternative<resolve_answer>(m) ||
           std::holds_alternative<subscribe_answer>(m) ||
           std::holds_alternative<init_producer_answer>(m) || std::holds_alternative<error>(m);
}

} // namespace

std::string_view to_string(status s) {
    switch (s) {
    case status::ok: return "ok";
    case status::would_block: return "the partition's window of unacknowledged batches is full";
    case status::timed_out: return "no answer from the broker in time";
    case status::too_large: return "the batch does not fit one datagram";
    case status::bad_argument: return "bad argument";
    case status::closed: return "the client closed before an answer";
    }
    switch (error_code(uint16_t(s))) {
    case error_code::none: return "ok";
    case error_code::malformed: return "the broker found the request malformed";
    case error_code::unsupported_version: return "the broker does not serve this version";
    case error_code::unknown_type: return "the broker does not serve this request type";
    case error_code::unknown_topic: return "unknown topic (resolve it again)";
    case error_code::unknown_partition: return "unknown partition";
    case error_code::invalid_batch: return "the broker refused the batch as invalid";
    case error_code::out_of_order_sequence: return "out of order sequence";
    case error_code::invalid_producer_epoch: return "the producer was fenced";
    case error_code::overloaded: return "the broker is overloaded";
    case error_code::not_leader: return "the broker does not lead the partition";
    case error_code::unknown_subscription: return "unknown subscription";
    case error_code::offset_out_of_range: return "offset out of range";
    case error_code::storage_error: return "the broker's storage failed";
    case error_code::batch_too_large: return "the batch is too large for the broker";
    case error_code::not_served: return "the broker does not serve this request";
    }
    return "unknown error";
}

client::client(std::unique_ptr<transport> t, client_options o)
    : _transport(std::move(t)), _opts(o), _scratch(_transport->datagram_max()) {
    _opts.window = std::clamp(_opts.window, 1u, 5u);
    _opts.retransmit_us = std::max(_opts.retransmit_us, 1u);
}

client::~client() {
    for (auto& p : _partitions) {
        fail_from(p, nullptr, status::closed);
    }
    for (const auto& [id, s] : _subscriptions) {
        if (!s.closed) {
            send({.body = fast_path::unsubscribe{id}});
        }
    }
}

bool client::send_datagram(std::span<const std::byte> d) {
    ++_counters.sent;
    if (!_transport->send(d)) {
        ++_counters.send_failures;
        return false;
    }
    return true;
}

bool client::send(const frame& f) {
    const size_t n = encode(_scratch, f);
    return n > 0 && send_datagram(std::span(_scratch).subspan(0, n));
}

result<frame, status> client::call(const message& m) {
    const uint64_t id = _next_request++;
    _awaited = id;
    _answer.reset();
    const uint64_t start = now_us();
    const uint64_t timeout = uint64_t(_opts.timeout_ms) * 1000;
    for (uint64_t sent = 0; !_answer;) {
        const uint64_t now = now_us();
        if (now - start >= timeout) {
            _awaited = 0;
            return failure(status::timed_out);
        }
        if (sent == 0 || now - sent >= _opts.retransmit_us) {
            send({.request_id = id, .body = m});
            sent = now;
        }
        poll();
    }
    _awaited = 0;
    frame f = *_answer;
    _answer.reset();
    if (const auto* e = std::get_if<error>(&f.body)) {
        return failure(from_wire(e->error));
    }
    return f;
}

result<topic, status> client::resolve(std::string_view name) {
    auto a = call(fast_path::resolve{name});
    if (!a) {
        return failure(a.error());
    }
    const auto* r = std::get_if<resolve_answer>(&a->body);
    if (r == nullptr) {
        return failure(status::bad_argument);
    }
    if (r->error != error_code::none) {
        return failure(from_wire(r->error));
    }
    return topic{.handle = r->topic, .partition_count = r->partition_count};
}

status client::produce(const topic& t, uint32_t partition, std::span<const record> records,
                       delivery_fn done) {
    if (partition >= t.partition_count || records.empty()) {
        return status::bad_argument;
    }
    const uint64_t key = uint64_t(t.handle) << 32 | partition;
    auto it = _partition_index.find(key);
    if (it == _partition_index.end()) {
        it = _partition_index.emplace(key, _partitions.size()).first;
        auto& fresh = _partitions.emplace_back();
        fresh.slots.resize(_opts.window);
        fresh.topic_handle = t.handle;
        fresh.partition = partition;
        fresh.index = _partitions.size() - 1;
    }
    const size_t index = it->second;
    if (_partitions[index].producer_id < 0) {
        auto a = call(init_producer{});
        if (!a) {
            return a.error();
        }
        const auto* r = std::get_if<init_producer_answer>(&a->body);
        if (r == nullptr || r->error != error_code::none) {
            return r == nullptr ? status::bad_argument : from_wire(r->error);
        }
        partition_state& p = _partitions[index];
        p.producer_id = r->producer_id;
        p.epoch = r->producer_epoch;
        p.next_sequence = 0;
    }
    partition_state& p = _partitions[index];
    send_queued(p); // what waits goes first
    if (p.busy >= _opts.window || p.slots[p.next_batch % _opts.window].busy ||
        !p.queue_waiting.empty()) {
        return enqueue(p, records, std::move(done));
    }
    return send_batch(p, records, std::move(done));
}

status client::send_batch(partition_state& p, std::span<const record> records,
                          delivery_fn done) {
    slot& s = p.slots[p.next_batch % _opts.window];
    storage::build_batch(_batch, records,
                         {.base_timestamp = model::timestamp_ms(wall_ms()),
                          .producer_id = model::producer_id(p.producer_id),
                          .producer_epoch = p.epoch,
                          .base_sequence = p.next_sequence});
    s.datagram.resize(_transport->datagram_max());
    const size_t n = encode(s.datagram, {.request_id = produce_id(p.index, p.next_batch),
                                         .body = fast_path::produce{
                                           p.topic_handle, p.partition, _batch}});
    if (n == 0) {
        return status::too_large;
    }
    s.datagram.resize(n);
    s.busy = true;
    s.sequence = p.next_sequence;
    s.batch = p.next_batch;
    s.done = std::move(done);
    s.first_sent_us = s.last_sent_us = now_us();
    s.resend_after_us = resend_after_us();
    s.resent = false;
    // Kafka numbers records, not batches: the next batch starts after this one's last record,
    // and sequences wrap from INT32_MAX to 0.
    p.next_sequence = int32_t((int64_t(p.next_sequence) + int64_t(records.size())) & INT32_MAX);
    ++p.next_batch;
    ++p.busy;
    ++_in_flight;
    send_datagram(s.datagram); // a refused send goes again on the retransmit timer
    return status::ok;
}

status client::enqueue(partition_state& p, std::span<const record> records, delivery_fn done) {
    // What a record adds to a batch at most besides its bytes (lengths, deltas, attributes), and
    // a batch and frame header: the queue never builds a batch one datagram cannot carry.
    constexpr size_t record_overhead = 24, batch_overhead = 128;
    const size_t room = std::min<size_t>(_opts.queue_bytes,
                                         _transport->datagram_max() - batch_overhead);
    size_t bytes = p.queue_data.size() + p.queue.size() * record_overhead;
    for (const auto& r : records) {
        bytes += r.key.value_or("").size() + r.value.value_or("").size() + record_overhead;
    }
    if (_opts.queue_bytes == 0 || bytes > room) {
        return status::would_block;
    }
    auto keep = [&](const std::optional<std::string_view>& v, int32_t& at, int32_t& n) {
        if (v) {
            at = int32_t(p.queue_data.size());
            n = int32_t(v->size());
            p.queue_data.append(*v);
        }
    };
    for (const auto& r : records) {
        queued_record& q = p.queue.emplace_back();
        keep(r.key, q.key_at, q.key_bytes);
        keep(r.value, q.value_at, q.value_bytes);
        q.timestamp_delta = r.timestamp_delta;
    }
    p.queue_waiting.emplace_back(std::move(done), uint32_t(records.size()));
    ++_in_flight;
    return status::ok;
}

void client::send_queued(partition_state& p) {
    if (p.queue_waiting.empty() || p.producer_id < 0 || p.busy >= _opts.window ||
        p.slots[p.next_batch % _opts.window].busy) {
        return;
    }
    _queued.clear();
    auto view = [&](int32_t at, int32_t n) -> std::optional<std::string_view> {
        if (n < 0) {
            return std::nullopt;
        }
        return std::string_view(p.queue_data).substr(size_t(at), size_t(n));
    };
    for (const auto& q : p.queue) {
        _queued.push_back({.key = view(q.key_at, q.key_bytes),
                           .value = view(q.value_at, q.value_bytes),
                           .timestamp_delta = q.timestamp_delta});
    }
    // One delivery for the batch, split among the produces in it, in order (this path, taken
    // only while the window is full, allocates).
    auto waiting = std::move(p.queue_waiting);
    p.queue_waiting.clear();
    _in_flight -= waiting.size();
    const status st = send_batch(p, _queued, [waiting](const delivery& d) {
        int64_t at = d.base_offset;
        for (const auto& [fn, count] : waiting) {
            delivery mine = d;
            if (d.error == status::ok) {
                mine.base_offset = at;
                mine.last_offset = at + count - 1;
                at += count;
            }
            if (fn) {
                fn(mine);
            }
        }
    });
    p.queue.clear();
    p.queue_data.clear();
    if (st != status::ok) { // cannot happen within `room`; if it did, say so to each
        for (const auto& [fn, count] : waiting) {
            if (fn) {
                fn(delivery{.error = st});
            }
        }
    }
}

uint64_t client::resend_after_us() const {
    return std::clamp<uint64_t>(_ack_us + 4 * _ack_var_us, _opts.retransmit_us,
                                resend_max_us());
}

// A lost datagram costs at most this much: a slow ack (a first write to a new segment) must not
// make every later loss a long wait.
uint64_t client::resend_max_us() const { return 50ull * _opts.retransmit_us; }

// Frees the slot, sends what queued for it, then runs its completion (which may produce again).
void client::complete(partition_state& p, slot& s, const delivery& d) {
    s.busy = false;
    --p.busy;
    --_in_flight;
    auto done = std::move(s.done);
    s.done = nullptr;
    send_queued(p);
    if (done) {
        done(d);
    }
}

void client::fail_from(partition_state& p, const slot* first, status why) {
    // The partition's state is settled before any completion runs, so that one that produces
    // again continues from it (failure path: allocates).
    const bool all = first == nullptr;
    const uint32_t from_batch = all ? 0 : first->batch;
    const int32_t from_sequence = all ? 0 : first->sequence;
    std::vector<delivery_fn> failed;
    for (slot& s : p.slots) {
        // Batch numbers wrap: a batch is at or after `first` when it is less than 2^31 ahead.
        if (s.busy && (all || uint32_t(s.batch - from_batch) < (1u << 31))) {
            s.busy = false;
            --p.busy;
            --_in_flight;
            failed.push_back(std::move(s.done));
            s.done = nullptr;
        }
    }
    if (all) {
        p.producer_id = -1; // the next produce asks for a new id and starts at sequence 0
    } else {
        p.next_sequence = from_sequence; // the failed batch's sequence is used again
    }
    // What waits in the queue was produced after the failed batches: it fails with them.
    for (auto& [fn, count] : p.queue_waiting) {
        failed.push_back(std::move(fn));
    }
    _in_flight -= p.queue_waiting.size();
    p.queue_waiting.clear();
    p.queue.clear();
    p.queue_data.clear();
    for (auto& done : failed) {
        if (done) {
            done(delivery{.error = why});
        }
    }
}

void client::on_ack(uint64_t request_id, const ack& a) {
    const size_t index = size_t((request_id & ~produce_bit) >> 32);
    const auto batch = uint32_t(request_id);
    if (index >= _partitions.size()) {
        ++_counters.stale_answers;
        return;
    }
    partition_state& p = _partitions[index];
    slot& s = p.slots[batch % _opts.window];
    if (!s.busy || s.batch != batch) {
        ++_counters.stale_answers; // a second answer to a retransmit, or after a failure
        return;
    }
    switch (a.error) {
    case error_code::none:
        if (!s.resent) { // RFC 6298's estimator, on answers to first sends only (Karn)
            const uint64_t sample = now_us() - s.first_sent_us;
            if (_ack_us == 0) {
                _ack_us = sample;
                _ack_var_us = sample / 2;
            } else {
                const uint64_t diff = sample > _ack_us ? sample - _ack_us : _ack_us - sample;
                _ack_var_us = (3 * _ack_var_us + diff) / 4;
                _ack_us = (7 * _ack_us + sample) / 8;
            }
        }
        complete(p, s, delivery{.base_offset = a.base_offset, .last_offset = a.last_offset});
        return;
    case error_code::out_of_order_sequence: // an earlier batch is not appended yet: it is resent
    case error_code::overloaded:
    case error_code::not_leader:
        return; // the retransmit timer sends it again
    case error_code::invalid_producer_epoch:
        fail_from(p, nullptr, from_wire(a.error));
        return;
    case error_code::malformed:
    case error_code::unsupported_version:
    case error_code::unknown_type:
    case error_code::unknown_topic:
    case error_code::unknown_partition:
    case error_code::invalid_batch:
    case error_code::unknown_subscription:
    case error_code::offset_out_of_range:
    case error_code::storage_error:
    case error_code::batch_too_large:
    case error_code::not_served:
        break;
    }
    // Not appended, and never will be: neither are the batches sent after it.
    fail_from(p, &s, from_wire(a.error));
}

void client::on_push(const push& m) {
    auto it = _subscriptions.find(m.subscription);
    if (it == _subscriptions.end() || it->second.closed ||
        m.batch.size() < storage::batch::header_bytes) {
        ++_counters.stale_answers;
        return;
    }
    subscription& s = it->second;
    s.last_push_us = now_us();
    const auto h = storage::batch::read_header(m.batch);
    const int64_t base = h.base_offset();
    const int64_t last = h.last_offset()();
    if (base > s.next) {
        // A gap: ask for [next, base) again, at most once per retransmit interval.
        if (s.last_sent_us + _opts.retransmit_us <= s.last_push_us) {
            ++_counters.gaps;
            send({.body = range{m.subscription, s.next, base}});
            s.last_sent_us = s.last_push_us;
        }
        return;
    }
    if (last < s.next) {
        return; // had it already
    }
    int64_t offset = base;
    const int64_t timestamp = h.base_timestamp();
    storage::batch::for_each_record(m.batch, [&](const auto& key, const auto& value) {
        const int64_t o = offset++;
        if (o < s.next || s.closed) { // the callback may unsubscribe (erased later)
            return;
        }
        s.on_record(record_view{.offset = o, .timestamp = timestamp, .key = key, .value = value});
    });
    s.next = std::max(s.next, last + 1);
    s.moved = true;
}

void client::handle(const frame& f) {
    if (const auto* p = std::get_if<push>(&f.body)) {
        on_push(*p);
        return;
    }
    if (f.request_id & produce_bit) {
        if (const auto* a = std::get_if<ack>(&f.body)) {
            on_ack(f.request_id, *a);
        } else if (const auto* e = std::get_if<error>(&f.body)) {
            on_ack(f.request_id, ack{.error = e->error});
        }
        return;
    }
    if (f.request_id != 0 && f.request_id == _awaited && is_answer(f.body)) {
        _answer = f; // control answers hold no views into the datagram
        return;
    }
    ++_counters.stale_answers;
}

void client::on_datagram(void* self, std::span<const std::byte> d) {
    auto f = decode(d);
    if (f) {
        static_cast<client*>(self)->handle(f.value());
    }
}

uint32_t client::fire_timers(uint64_t now) {
    uint32_t n = 0;
    const uint64_t timeout = uint64_t(_opts.timeout_ms) * 1000;
    for (size_t i = 0; i < _partitions.size(); ++i) { // completions may add partitions
        partition_state& p = _partitions[i];
        if (p.busy == 0) {
            continue;
        }
        for (slot& s : p.slots) {
            if (!s.busy) {
                continue;
            }
            if (now - s.first_sent_us >= timeout) {
                // Appended or not, nobody can tell: start the partition again under a new id.
                fail_from(p, nullptr, status::timed_out);
                ++n;
                break;
            }
            if (now - s.last_sent_us >= s.resend_after_us) {
                ++_counters.retransmits;
                send_datagram(s.datagram);
                s.last_sent_us = now;
                s.resend_after_us = std::min<uint64_t>(2 * s.resend_after_us, resend_max_us());
                s.resent = true;
                ++n;
            }
        }
    }
    std::erase_if(_subscriptions, [](const auto& e) { return e.second.closed; });
    for (auto& [id, s] : _subscriptions) {
        const uint64_t heartbeat_us = uint64_t(s.opts.lease_ms) * 250;
        if (s.moved) {
            s.moved = false;
            send({.body = credit{id, s.opts.window_bytes, s.next}});
            s.last_sent_us = now;
            ++n;
        } else if (now - s.last_sent_us >= heartbeat_us) {
            // Nothing pushed since the last heartbeat: ask again from where we are, which also
            // brings back a lost last push (the broker pushes only what it has beyond `next`).
            if (s.last_push_us < s.last_sent_us) {
                send({.body = range{id, s.next, std::numeric_limits<int64_t>::max()}});
            } else {
                send({.body = credit{id, s.opts.window_bytes, s.next}});
            }
            s.last_sent_us = now;
            ++n;
        }
    }
    return n;
}

uint32_t client::poll() {
    uint32_t n = _transport->receive(&client::on_datagram, this);
    const uint64_t now = now_us();
    if (now - _last_timers_us >= 50 || n > 0) {
        _last_timers_us = now;
        n += fire_timers(now);
    }
    return n;
}

bool client::flush(uint32_t timeout_ms) {
    const uint64_t until = now_us() + uint64_t(timeout_ms) * 1000;
    while (_in_flight > 0 && now_us() < until) {
        poll();
    }
    return _in_flight == 0;
}

result<uint32_t, status> client::subscribe(const topic& t, uint32_t partition,
                                           const subscribe_options& o, record_fn on_record) {
    if (partition >= t.partition_count || o.visibility > 2 || !on_record) {
        return failure(status::bad_argument);
    }
    auto a = call(fast_path::subscribe{t.handle, partition, o.start_offset,
                                                  o.window_bytes, o.lease_ms, o.visibility});
    if (!a) {
        return failure(a.error());
    }
    const auto* r = std::get_if<subscribe_answer>(&a->body);
    if (r == nullptr || r->error != error_code::none) {
        return failure(r == nullptr ? status::bad_argument : from_wire(r->error));
    }
    const uint64_t now = now_us();
    _subscriptions[r->subscription] = subscription{.opts = o,
                                                   .next = r->start_offset,
                                                   .last_push_us = now,
                                                   .last_sent_us = now,
                                                   .on_record = std::move(on_record)};
    return r->subscription;
}

void client::unsubscribe(uint32_t id) {
    auto it = _subscriptions.find(id);
    if (it != _subscriptions.end() && !it->second.closed) {
        it->second.closed = true;
        send({.body = fast_path::unsubscribe{id}}); // a lost one ends with its lease
    }
}

int64_t client::next_offset(uint32_t id) const {
    auto it = _subscriptions.find(id);
    return it == _subscriptions.end() || it->second.closed ? -1 : it->second.next;
}

} // namespace runnel::client
