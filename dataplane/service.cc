#include "dataplane/service.h"

#include "dataplane/port.h"

#include <algorithm>
#include <vector>

namespace runnel::dataplane {

using namespace fast_path;

void service::on_datagram(std::span<const std::byte> payload, const packet::remote_endpoint& from,
                          port& p) {
    auto f = decode(payload);
    if (!f) {
        const decode_failure why = f.error();
        ++_counters.malformed[size_t(why.errc)];
        switch (why.errc) {
        case decode_errc::too_short:
        case decode_errc::bad_magic: return; // not ours to answer: no request id to name
        case decode_errc::unsupported_version:
            answer(p, from, why.request_id, error{error_code::unsupported_version});
            return;
        case decode_errc::unknown_type:
            answer(p, from, why.request_id, error{error_code::unknown_type});
            return;
        case decode_errc::bad_flags:
        case decode_errc::bad_length:
        case decode_errc::bad_body:
            answer(p, from, why.request_id, error{error_code::malformed});
            return;
        }
        return;
    }
    ++_counters.requests;
    const uint64_t id = f->request_id;
    if (const auto* r = std::get_if<resolve>(&f->body)) {
        const auto t = _log.resolve(r->name);
        answer(p, from, id,
               t ? message(resolve_answer{error_code::none, t->handle, t->partition_count})
                 : message(resolve_answer{error_code::unknown_topic}));
        return;
    }
    if (std::holds_alternative<init_producer>(f->body)) {
        // A retransmitted request gets a second id; the first one is simply never used.
        answer(p, from, id, init_producer_answer{error_code::none, 0, _log.new_producer_id()});
        return;
    }
    if (const auto* r = std::get_if<produce>(&f->body)) {
        // The answer may come from a later duty cycle: whom to answer waits in a slot (the port
        // outlives the service).
        uint32_t slot;
        if (_free_pending.empty()) {
            slot = uint32_t(_pending.size());
            _pending.emplace_back();
        } else {
            slot = _free_pending.back();
            _free_pending.pop_back();
        }
        _pending[slot] = {.via = &p, .to = from, .request_id = id};
        _log.produce(r->topic, r->partition, r->batch, *this, slot);
        return;
    }
    if (std::holds_alternative<subscribe>(f->body) || std::holds_alternative<credit>(f->body) ||
        std::holds_alternative<range>(f->body) || std::holds_alternative<heartbeat>(f->body) ||
        std::holds_alternative<unsubscribe>(f->body)) {
        on_subscription_request(f.value(), from, p);
        return;
    }
    // Answers (resolve_answer, ack, subscribe_answer, push, error, init_producer_answer) are not
    // requests.
    ++_counters.malformed[size_t(decode_errc::unknown_type)];
    answer(p, from, id, error{error_code::unknown_type});
}

void service::produced(uint64_t cookie, const log_service::produced& d) {
    const pending_ack a = _pending[size_t(cookie)];
    _free_pending.push_back(uint32_t(cookie));
    answer(*a.via, a.to, a.request_id, ack{d.error, d.base_offset, d.last_offset});
}

namespace {

uint32_t subscription_of(const message& m) {
    if (const auto* c = std::get_if<credit>(&m)) {
        return c->subscription;
    }
    if (const auto* r = std::get_if<range>(&m)) {
        return r->subscription;
    }
    if (const auto* h = std::get_if<heartbeat>(&m)) {
        return h->subscription;
    }
    return std::get<unsubscribe>(m).subscription;
}

// The few RecordBatch header fields a push needs (big-endian; storage/log_format.md).
int64_t load_be(std::span<const std::byte> b, size_t at, size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) {
        v = v << 8 | uint8_t(b[at + i]);
    }
    return int64_t(v);
}
constexpr size_t batch_header_bytes = 61;

} // namespace

void service::on_subscription_request(const frame& f, const packet::remote_endpoint& from,
                                      port& p) {
    if (const auto* s = std::get_if<subscribe>(&f.body)) {
        start_subscription(*s, f.request_id, from, p);
        return;
    }
    const uint32_t id = subscription_of(f.body);
    auto it = _subscriptions.find(id);
    if (it == _subscriptions.end()) {
        answer(p, from, f.request_id, error{error_code::unknown_subscription});
        return;
    }
    subscription& s = it->second;
    s.last_heard_us = _now_us;
    if (const auto* c = std::get_if<credit>(&f.body)) {
        take_credit(s, c->next_offset, c->window_bytes);
    } else if (const auto* r = std::get_if<range>(&f.body)) {
        // The subscriber lacks [from, to): push again from `from` (it drops what it has).
        s.cursor = std::min(s.cursor, r->from_offset);
        s.next_offset = std::min(s.next_offset, r->from_offset);
        s.in_window.clear();
        s.window_used = 0;
    } else if (std::holds_alternative<unsubscribe>(f.body)) {
        _subscriptions.erase(it); // a read in flight finds it gone
    }
}

void service::start_subscription(const fast_path::subscribe& req, uint64_t request_id,
                                 const packet::remote_endpoint& from, port& p) {
    if (req.visibility > 2) {
        answer(p, from, request_id, subscribe_answer{error_code::malformed});
        return;
    }
    const auto e = _log.visible(req.topic, req.partition, req.visibility);
    if (e.error != error_code::none) {
        answer(p, from, request_id, subscribe_answer{e.error});
        return;
    }
    const int64_t start = req.start_offset == -1   ? e.visible_end
                          : req.start_offset == -2 ? e.log_start
                                                   : req.start_offset;
    if (start < e.log_start || start > e.visible_end) {
        answer(p, from, request_id, subscribe_answer{error_code::offset_out_of_range});
        return;
    }
    const uint32_t id = _next_subscription++;
    _subscriptions[id] = subscription{.topic = req.topic,
                                      .partition = req.partition,
                                      .visibility = req.visibility,
                                      .via = &p,
                                      .peer = from,
                                      .cursor = start,
                                      .next_offset = start,
                                      .window_bytes = req.window_bytes,
                                      .lease_us = uint64_t(std::max(req.lease_ms, 100u)) * 1000,
                                      .last_heard_us = _now_us};
    answer(p, from, request_id, subscribe_answer{error_code::none, id, start});
}

void service::take_credit(subscription& s, int64_t next_offset, uint32_t window_bytes) {
    s.window_bytes = window_bytes;
    s.next_offset = std::max(s.next_offset, next_offset);
    while (!s.in_window.empty() && s.in_window.front().first <= s.next_offset) {
        s.window_used -= s.in_window.front().second;
        s.in_window.pop_front();
    }
}

uint32_t service::poll(uint64_t now_us, bool) {
    _now_us = now_us;
    uint32_t work = 0;
    // By id: a read may complete at once and change the map. The list keeps its capacity.
    _poll_ids.clear();
    for (const auto& [id, s] : _subscriptions) {
        _poll_ids.push_back(id);
    }
    for (uint32_t id : _poll_ids) {
        auto it = _subscriptions.find(id);
        if (it == _subscriptions.end()) {
            continue;
        }
        if (now_us - it->second.last_heard_us > it->second.lease_us) {
            _subscriptions.erase(it);
            ++_counters.leases_expired;
            ++work;
            continue;
        }
        if (!it->second.reading && push_more(id, it->second)) {
            ++work;
        }
    }
    return work;
}

// Starts a read of what the subscription may be pushed now; false when there is nothing.
bool service::push_more(uint32_t id, subscription& s) {
    if (s.window_used >= s.window_bytes) {
        return false;
    }
    const auto e = _log.visible(s.topic, s.partition, s.visibility);
    if (e.error != error_code::none) {
        _subscriptions.erase(id); // the topic went away
        return true;
    }
    if (s.cursor < e.log_start) {
        s.cursor = e.log_start; // retention passed it: the subscriber sees the gap by offset
    }
    if (s.cursor >= e.visible_end) {
        return false;
    }
    s.reading = true;
    const auto room = uint32_t(std::min<uint64_t>(s.window_bytes - s.window_used, 64u << 10));
    _log.read(s.topic, s.partition, s.cursor, e.visible_end, room,
              [this, id](error_code err, std::span<const std::byte> bytes) {
                  on_read(id, err, bytes);
              });
    return true;
}

// Pushes the whole batches read, one per datagram, within the window.
void service::on_read(uint32_t id, error_code err, std::span<const std::byte> bytes) {
    auto it = _subscriptions.find(id);
    if (it == _subscriptions.end()) {
        return; // unsubscribed or expired while reading
    }
    subscription& s = it->second;
    s.reading = false;
    if (err != error_code::none) {
        return; // retried from the next poll (a moved log start is handled there)
    }
    while (bytes.size() >= batch_header_bytes) {
        const auto size = size_t(load_be(bytes, 8, 4)) + 12;
        if (size < batch_header_bytes || size > bytes.size()) {
            return; // the log hands out whole batches; anything else is not pushed
        }
        const auto batch = bytes.subspan(0, size);
        const int64_t next = load_be(batch, 0, 8) + load_be(batch, 23, 4) + 1;
        if (s.window_used > 0 && s.window_used + size > s.window_bytes) {
            return;
        }
        bool too_large = false;
        const bool sent = s.via->send(s.peer, [&](std::span<std::byte> room) {
            const size_t n = encode(room, frame{.body = push{id, batch}});
            too_large = n == 0;
            return n;
        });
        if (too_large) {
            ++_counters.batches_too_large;
            answer(*s.via, s.peer, 0, error{error_code::batch_too_large});
            _subscriptions.erase(it);
            return;
        }
        if (!sent) {
            ++_counters.pushes_not_sent;
            return;
        }
        ++_counters.pushes;
        s.cursor = std::max(s.cursor, next);
        s.in_window.emplace_back(next, uint32_t(size));
        s.window_used += size;
        bytes = bytes.subspan(size);
    }
}

void service::answer(port& p, const packet::remote_endpoint& to, uint64_t request_id,
                     const message& m) {
    const bool sent = p.send(to, [&](std::span<std::byte> room) {
        return encode(room, frame{.request_id = request_id, .body = m});
    });
    ++(sent ? _counters.answers : _counters.answers_not_sent);
}

std::vector<telemetry::counters_file::source> service::counter_sources() const {
    static constexpr const char* malformed_names[] = {
      "too_short", "bad_magic", "unsupported_version", "bad_flags", "bad_length", "unknown_type",
      "bad_body"};
    static_assert(std::size(malformed_names) == std::tuple_size_v<decltype(_counters.malformed)>);
    const std::string p = "dataplane.service.";
    std::vector<telemetry::counters_file::source> out{
      {p + "requests", &_counters.requests},
      {p + "answers", &_counters.answers},
      {p + "answers_not_sent", &_counters.answers_not_sent},
      {p + "not_served", &_counters.not_served},
      {p + "pushes", &_counters.pushes},
      {p + "pushes_not_sent", &_counters.pushes_not_sent},
      {p + "leases_expired", &_counters.leases_expired},
      {p + "batches_too_large", &_counters.batches_too_large}};
    for (size_t i = 0; i < std::size(malformed_names); ++i) {
        out.push_back({p + "malformed." + malformed_names[i], &_counters.malformed[i]});
    }
    return out;
}

} // namespace runnel::dataplane
