#include "dataplane/service.h"

#include "dataplane/port.h"

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
    if (const auto* r = std::get_if<produce>(&f->body)) {
        // The answer may come from a later duty cycle: `from` and `p` are captured by value and
        // by pointer (the port outlives the service).
        _log.produce(r->topic, r->partition, r->batch,
                     [this, &p, from, id](log_service::produced d) {
                         answer(p, from, id, ack{d.error, d.base_offset, d.last_offset});
                     });
        return;
    }
    if (std::holds_alternative<subscribe>(f->body) || std::holds_alternative<credit>(f->body) ||
        std::holds_alternative<range>(f->body) || std::holds_alternative<heartbeat>(f->body) ||
        std::holds_alternative<unsubscribe>(f->body)) {
        ++_counters.not_served;
        answer(p, from, id, error{error_code::not_served});
        return;
    }
    // Answers (resolve_answer, ack, subscribe_answer, push, error) are not requests.
    ++_counters.malformed[size_t(decode_errc::unknown_type)];
    answer(p, from, id, error{error_code::unknown_type});
}

void service::answer(port& p, const packet::remote_endpoint& to, uint64_t request_id,
                     const message& m) {
    const bool sent = p.send(to, [&](std::span<std::byte> room) {
        return encode(room, frame{.request_id = request_id, .body = m});
    });
    ++(sent ? _counters.answers : _counters.answers_not_sent);
}

} // namespace runnel::dataplane
