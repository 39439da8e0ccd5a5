// The peer brokers' drivers and servers (design: src/design/20261201-runnel-perf.md): Redis
// Streams over RESP and NATS JetStream over its text protocol, each with a client just big enough
// for the harness. Every driver owns one non-blocking connection and never blocks in send() or
// poll(); only setup (connecting, creating streams and consumers) waits for answers.
#include "perf/harness/peers.h"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <random>
#include <unordered_map>
#include <vector>

namespace runnel::perf {

namespace {

using steady = std::chrono::steady_clock;
constexpr auto setup_timeout = std::chrono::seconds(10);
constexpr int server_start_ms = 10000;

std::string_view text(std::span<const std::byte> b) {
    return {reinterpret_cast<const char*>(b.data()), b.size()};
}

std::span<const std::byte> bytes(std::string_view s) {
    return std::as_bytes(std::span(s.data(), s.size()));
}

template <typename T>
bool parse_number(std::string_view s, T& v) {
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    return ec == std::errc() && end == s.data() + s.size() && !s.empty();
}

void append_number(std::string& out, uint64_t v) {
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof(buf), v);
    out.append(buf, r.ptr);
}

// For error messages: the start of what could not be understood, control bytes escaped.
std::string excerpt(std::string_view s) {
    std::string out;
    for (const char c : s.substr(0, 80)) {
        if (c == '\r') {
            out += "\\r";
        } else if (c == '\n') {
            out += "\\n";
        } else if (c < ' ' || c > '~') {
            out += '.';
        } else {
            out += c;
        }
    }
    return s.size() > 80 ? out + "..." : out;
}

std::string random_token() {
    std::random_device rd;
    const uint64_t v = (uint64_t(rd()) << 32) | rd();
    char buf[17];
    std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(v));
    return buf;
}

result<void, std::string> check_workload(const workload& w) {
    if (w.topic.empty()) {
        return failure(std::string("the topic has no name"));
    }
    if (w.partitions == 0 || w.batch == 0 || w.window == 0) {
        return failure(std::string("partitions, batch and window must be at least 1"));
    }
    if (w.record_bytes < record_tag::bytes) {
        return failure("record_bytes " + std::to_string(w.record_bytes) + " is below the " +
                       std::to_string(record_tag::bytes) + " bytes of the record tag");
    }
    return {};
}

// Waits for more input on a connection being set up. Input that came with the close still
// counts, so that a server's last word (an error line) is read before the close is reported.
result<void, std::string> await_input(stream& s, steady::time_point until, std::string_view what) {
    if (!s.flush()) {
        return failure(std::string(what) + ": " + s.error());
    }
    for (;;) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(until - steady::now()).count();
        if (left <= 0) {
            return failure("timed out waiting for " + std::string(what));
        }
        pollfd p{s.fd(), POLLIN, 0};
        const int n = ::poll(&p, 1, static_cast<int>(left));
        if (n < 0 && errno != EINTR) {
            return failure(std::string("poll: ") + std::strerror(errno));
        }
        if (n > 0) {
            const size_t had = s.in().size();
            if (!s.fill() && s.in().size() == had) {
                return failure(std::string(what) + ": " + s.error());
            }
            return {};
        }
    }
}

// A driver's connection loss, reported to the sink once.
class loss {
public:
    bool lost() const { return !_why.empty(); }
    void set(std::string why) {
        if (_why.empty()) {
            _why = std::move(why);
        }
    }
    uint32_t report(sink& s) {
        if (_why.empty() || _reported) {
            return 0;
        }
        _reported = true;
        s.broken(_why);
        return 1;
    }

private:
    std::string _why;
    bool _reported = false;
};

// ---- Redis ----------------------------------------------------------------------------------

// One RESP2 reply; its texts point into the stream's input, valid until the next fill().
struct resp {
    char type = 0; // '+' status, '-' error, ':' integer, '$' bulk string, '*' array
    bool nil = false;
    std::string_view text;
    std::vector<resp> items;
};

// Parses the reply at the front of `in`: the bytes it took, 0 when it has not all arrived, -1
// when it is not RESP.
ptrdiff_t parse_resp(std::string_view in, resp& v) {
    const size_t eol = in.find("\r\n");
    if (eol == std::string_view::npos) {
        return 0;
    }
    if (eol == 0) {
        return -1;
    }
    v.type = in[0];
    v.nil = false;
    v.text = {};
    v.items.clear();
    const std::string_view line = in.substr(1, eol - 1);
    size_t at = eol + 2;
    long long n = 0;
    switch (v.type) {
    case '+':
    case '-':
    case ':':
        v.text = line;
        return ptrdiff_t(at);
    case '$':
        if (!parse_number(line, n)) {
            return -1;
        }
        if (n < 0) {
            v.nil = true;
            return ptrdiff_t(at);
        }
        if (in.size() < at + size_t(n) + 2) {
            return 0;
        }
        if (in.substr(at + size_t(n), 2) != "\r\n") {
            return -1;
        }
        v.text = in.substr(at, size_t(n));
        return ptrdiff_t(at + size_t(n) + 2);
    case '*':
        if (!parse_number(line, n)) {
            return -1;
        }
        if (n < 0) {
            v.nil = true;
            return ptrdiff_t(at);
        }
        v.items.resize(size_t(n));
        for (resp& item : v.items) {
            const ptrdiff_t got = parse_resp(in.substr(at), item);
            if (got <= 0) {
                return got;
            }
            at += size_t(got);
        }
        return ptrdiff_t(at);
    default:
        return -1;
    }
}

void resp_bulk(std::string& out, std::string_view arg) {
    out += '$';
    append_number(out, arg.size());
    out += "\r\n";
    out += arg;
    out += "\r\n";
}

std::string resp_command(const std::vector<std::string>& args) {
    std::string out = "*";
    append_number(out, args.size());
    out += "\r\n";
    for (const auto& a : args) {
        resp_bulk(out, a);
    }
    return out;
}

std::string redis_key(const workload& w, uint32_t partition) {
    return w.topic + "-" + std::to_string(partition);
}

class redis_producer_impl final : public producer {
public:
    redis_producer_impl(int fd, const workload& w) : _s(fd), _w(w), _value(w.record_bytes, 'x') {
        for (uint32_t p = 0; p < w.partitions; ++p) {
            // Everything of "XADD <key> * v <value>" up to the value's bytes.
            std::string head = "*5\r\n$4\r\nXADD\r\n";
            resp_bulk(head, redis_key(w, p));
            head += "$1\r\n*\r\n$1\r\nv\r\n$";
            append_number(head, w.record_bytes);
            head += "\r\n";
            _heads.push_back(std::move(head));
        }
    }

    bool send(uint64_t request) override {
        if (_loss.lost() || _pending.size() >= _w.window) {
            return false;
        }
        const std::string& head = _heads[request % _w.partitions];
        const auto value = std::as_writable_bytes(std::span(_value.data(), _value.size()));
        for (uint32_t i = 0; i < _w.batch; ++i) {
            write_tag(value, {request, i, _w.batch});
            _s.write(head);
            _s.write(_value);
            _s.write("\r\n");
        }
        _pending.push_back({request, _w.batch, false});
        if (!_s.flush()) {
            _loss.set("redis: " + _s.error());
        }
        return true;
    }

    uint32_t poll(sink& sk) override {
        if (_loss.lost()) {
            return _loss.report(sk);
        }
        const bool alive = _s.fill();
        uint32_t events = 0;
        while (!_loss.lost()) {
            const std::string_view in = text(_s.in());
            const ptrdiff_t n = parse_resp(in, _reply);
            if (n == 0) {
                break;
            }
            if (n < 0) {
                _loss.set("redis: a reply that is not RESP: " + excerpt(in));
                break;
            }
            _s.consume(size_t(n));
            if (_pending.empty()) {
                _loss.set("redis: a reply to nothing sent: " + excerpt(in));
                break;
            }
            answer(_pending.front(), sk);
            ++events;
        }
        if (!alive || !_s.flush()) {
            _loss.set("redis: " + _s.error());
        }
        return events + _loss.report(sk);
    }

    int fd() const override { return _s.fd(); }

private:
    struct pending {
        uint64_t request;
        uint32_t left; // XADD replies still to come
        bool failed;
    };

    void answer(pending& p, sink& sk) {
        const bool ok = _reply.type == '$' && !_reply.nil;
        if (!ok && !p.failed) {
            p.failed = true;
            const std::string what = _reply.type == '-' ? std::string(_reply.text)
                                                        : "unexpected reply type " +
                                                              std::string(1, _reply.type);
            sk.failed(p.request, "redis: XADD " +
                                     redis_key(_w, uint32_t(p.request % _w.partitions)) +
                                     " (record " + std::to_string(_w.batch - p.left) + " of " +
                                     std::to_string(_w.batch) + "): " + what);
        }
        if (--p.left == 0) {
            const uint64_t request = p.request;
            const bool failed = p.failed;
            _pending.pop_front();
            if (!failed) {
                sk.done(request);
            }
        }
    }

    stream _s;
    workload _w;
    std::string _value;
    std::vector<std::string> _heads; // per partition
    std::deque<pending> _pending;    // in send order, as the replies come
    resp _reply;
    loss _loss;
};

class redis_consumer_impl final : public consumer {
public:
    redis_consumer_impl(int fd, std::vector<std::string> keys)
        : _s(fd), _keys(std::move(keys)), _ids(_keys.size(), "0") {}

    uint32_t poll(sink& sk) override {
        if (_loss.lost()) {
            return _loss.report(sk);
        }
        if (!_waiting && !_keys.empty()) {
            issue();
        }
        const bool alive = _s.fill();
        uint32_t events = 0;
        const std::string_view in = text(_s.in());
        // A large reply arrives in pieces: parse again only when more of it came.
        if (in.size() != _partial) {
            const ptrdiff_t n = parse_resp(in, _reply);
            if (n < 0) {
                _loss.set("redis: a reply that is not RESP: " + excerpt(in));
            } else if (n == 0) {
                _partial = in.size();
            } else {
                _s.consume(size_t(n));
                _partial = 0;
                _waiting = false;
                events += handle(sk);
                if (!_loss.lost()) {
                    issue();
                }
            }
        }
        if (!alive || !_s.flush()) {
            _loss.set("redis: " + _s.error());
        }
        return events + _loss.report(sk);
    }

    int fd() const override { return _s.fd(); }

private:
    void issue() {
        std::vector<std::string> args{"XREAD", "BLOCK", "0", "COUNT", "1000", "STREAMS"};
        args.insert(args.end(), _keys.begin(), _keys.end());
        args.insert(args.end(), _ids.begin(), _ids.end());
        _s.write(resp_command(args));
        _waiting = true;
    }

    uint32_t handle(sink& sk) {
        if (_reply.type == '-') {
            _loss.set("redis: XREAD: " + std::string(_reply.text));
            return 0;
        }
        if (_reply.nil) {
            return 0; // timed out (BLOCK 0 never does)
        }
        if (_reply.type != '*') {
            _loss.set("redis: XREAD answered type " + std::string(1, _reply.type));
            return 0;
        }
        uint32_t events = 0;
        for (const resp& k : _reply.items) {
            // [key, [[id, [field, value, ...]], ...]]
            if (k.type != '*' || k.items.size() != 2 || k.items[1].type != '*') {
                _loss.set("redis: XREAD: a key's entry is not [key, entries]");
                return events;
            }
            size_t key = 0;
            while (key < _keys.size() && _keys[key] != k.items[0].text) {
                ++key;
            }
            if (key == _keys.size()) {
                _loss.set("redis: XREAD answered for a key not asked: " + excerpt(k.items[0].text));
                return events;
            }
            for (const resp& e : k.items[1].items) {
                if (e.type != '*' || e.items.size() != 2 || e.items[1].type != '*') {
                    _loss.set("redis: XREAD: an entry of " + _keys[key] + " is not [id, fields]");
                    return events;
                }
                events += record(e, _keys[key], sk);
                _ids[key] = std::string(e.items[0].text);
            }
        }
        return events;
    }

    static uint32_t record(const resp& entry, const std::string& key, sink& sk) {
        const auto& fields = entry.items[1].items;
        for (size_t i = 0; i + 1 < fields.size(); i += 2) {
            if (fields[i].text != "v") {
                continue;
            }
            record_tag t;
            if (!read_tag(bytes(fields[i + 1].text), t)) {
                break;
            }
            if (t.index + 1 == t.count) {
                sk.done(t.request);
                return 1;
            }
            return 0;
        }
        sk.broken("redis: entry " + std::string(entry.items[0].text) + " of " + key +
                  " has no readable record tag in field v");
        return 1;
    }

    stream _s;
    std::vector<std::string> _keys;
    std::vector<std::string> _ids; // the last read of each key
    bool _waiting = false;         // an XREAD is outstanding
    size_t _partial = 0;           // the input's size when a reply was last found incomplete
    resp _reply;
    loss _loss;
};

// ---- NATS -----------------------------------------------------------------------------------

// One operation from the server; its views point into the stream's input, valid until the next
// fill().
struct nats_op {
    enum class kind { info, msg, ping, pong, ok, err };
    kind k = kind::ok;
    std::string_view subject, reply, headers, payload; // of MSG and HMSG
    std::string_view text;                             // of INFO and -ERR
};

// Parses the operation at the front of `in`: the bytes it took, 0 when it has not all arrived,
// -1 when it is not the NATS protocol.
ptrdiff_t parse_nats(std::string_view in, nats_op& op) {
    const size_t eol = in.find("\r\n");
    if (eol == std::string_view::npos) {
        return 0;
    }
    const std::string_view line = in.substr(0, eol);
    const size_t body = eol + 2;
    const size_t space = line.find(' ');
    const std::string_view verb = line.substr(0, space);
    const std::string_view rest = space == std::string_view::npos ? "" : line.substr(space + 1);
    op = nats_op{};
    if (verb == "PING" || verb == "PONG" || verb == "+OK") {
        op.k = verb == "PING" ? nats_op::kind::ping
               : verb == "PONG" ? nats_op::kind::pong
                                : nats_op::kind::ok;
        return ptrdiff_t(body);
    }
    if (verb == "INFO" || verb == "-ERR") {
        op.k = verb == "INFO" ? nats_op::kind::info : nats_op::kind::err;
        op.text = rest;
        return ptrdiff_t(body);
    }
    const bool has_headers = verb == "HMSG";
    if (verb != "MSG" && !has_headers) {
        return -1;
    }
    // MSG <subject> <sid> [reply] <bytes>; HMSG <subject> <sid> [reply] <header bytes> <bytes>
    std::string_view words[7];
    size_t n = 0;
    for (size_t at = 0; at < line.size();) {
        const size_t end = std::min(line.find(' ', at), line.size());
        if (end > at) {
            if (n == 7) {
                return -1;
            }
            words[n++] = line.substr(at, end - at);
        }
        at = end + 1;
    }
    const size_t lengths = has_headers ? 2 : 1;
    if (n != 3 + lengths && n != 4 + lengths) {
        return -1;
    }
    size_t header_bytes = 0;
    size_t total = 0;
    if (!parse_number(words[n - 1], total) ||
        (has_headers && (!parse_number(words[n - 2], header_bytes) || header_bytes > total))) {
        return -1;
    }
    if (in.size() < body + total + 2) {
        return 0;
    }
    if (in.substr(body + total, 2) != "\r\n") {
        return -1;
    }
    op.k = nats_op::kind::msg;
    op.subject = words[1];
    if (n == 4 + lengths) {
        op.reply = words[3];
    }
    op.headers = in.substr(body, header_bytes);
    op.payload = in.substr(body + header_bytes, total - header_bytes);
    return ptrdiff_t(body + total + 2);
}

// The status in a message's headers ("NATS/1.0 100 Idle Heartbeat": 100), 0 when there is none.
int header_status(std::string_view headers, std::string_view& description) {
    std::string_view line = headers.substr(0, headers.find("\r\n"));
    if (!line.starts_with("NATS/1.0")) {
        return 0;
    }
    line.remove_prefix(8);
    while (line.starts_with(' ')) {
        line.remove_prefix(1);
    }
    int status = 0;
    const size_t space = line.find(' ');
    if (!parse_number(line.substr(0, space), status)) {
        return 0;
    }
    description = space == std::string_view::npos ? "" : line.substr(space + 1);
    return status;
}

// The error of a JetStream API reply or publish ack ({"error":{"code":..,"description":".."}}),
// empty when it has none.
std::string api_error(std::string_view json) {
    if (json.find("\"error\"") == std::string_view::npos) {
        return {};
    }
    constexpr std::string_view key = "\"description\":\"";
    const size_t at = json.find(key);
    if (at == std::string_view::npos) {
        return std::string(json);
    }
    const size_t from = at + key.size();
    return std::string(json.substr(from, json.find('"', from) - from));
}

// Stream and subject names: a dot would split the subject, and the names go into JSON unquoted.
bool nats_name_ok(const std::string& name) {
    for (const char c : name) {
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) {
            return false;
        }
    }
    return !name.empty();
}

result<void, std::string> check_nats_workload(const workload& w) {
    if (auto ok = check_workload(w); !ok) {
        return failure("nats: " + ok.error());
    }
    if (!nats_name_ok(w.topic)) {
        return failure("nats: topic " + w.topic +
                       " is not a stream name (letters, digits, - and _)");
    }
    return {};
}

// A connection to nats-server: the protocol's framing and PINGs, and blocking requests to the
// JetStream API for setup.
class nats_link {
public:
    explicit nats_link(int fd) : _s(fd), _inbox("_INBOX." + random_token()) {}

    static result<std::unique_ptr<nats_link>, std::string> open(const std::string& host_port) {
        auto fd = tcp_connect(host_port);
        if (!fd) {
            return failure("nats: " + fd.error());
        }
        auto l = std::make_unique<nats_link>(fd.value());
        // no_responders: a publish nobody takes (no stream for its subject) is answered with a
        // 503 at once instead of never.
        l->_s.write("CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,"
                    "\"no_responders\":true,\"protocol\":1,\"name\":\"runnel-perf\"}\r\n");
        if (auto ok = l->ping(); !ok) {
            return failure(ok.error());
        }
        return l;
    }

    stream& s() { return _s; }
    const std::string& inbox() const { return _inbox; }

    // The next whole operation off the input, answering the server's PINGs: 1, 0 when none has
    // all arrived, -1 when the input is not the NATS protocol.
    int next(nats_op& op) {
        const ptrdiff_t n = parse_nats(text(_s.in()), op);
        if (n <= 0) {
            return int(n);
        }
        _s.consume(size_t(n));
        if (op.k == nats_op::kind::ping) {
            _s.write("PONG\r\n");
        }
        return 1;
    }

    // Waits (setup only) until the server has taken everything sent before: it answers PINGs in
    // order. Messages arriving meanwhile are dropped, so nothing may be subscribed to yet, except
    // subscriptions whose deliveries only start later.
    result<void, std::string> ping() {
        _s.write("PING\r\n");
        auto op = await("PONG", [](const nats_op& o) { return o.k == nats_op::kind::pong; });
        if (!op) {
            return failure(op.error());
        }
        return {};
    }

    // A request to the JetStream API, waited for (setup only): the reply's body.
    result<std::string, std::string> request(const std::string& subject, std::string_view body) {
        const std::string reply = _inbox + ".setup" + std::to_string(++_requests);
        const std::string sid = std::to_string(1000 + _requests);
        _s.write("SUB " + reply + " " + sid + "\r\nUNSUB " + sid + " 1\r\n");
        _s.write("PUB " + subject + " " + reply + " " + std::to_string(body.size()) + "\r\n");
        _s.write(body);
        _s.write("\r\n");
        auto op = await(subject, [&](const nats_op& o) {
            return o.k == nats_op::kind::msg && o.subject == reply;
        });
        if (!op) {
            return failure(op.error());
        }
        std::string_view why;
        if (const int status = header_status(op->headers, why); status != 0) {
            return failure("nats: " + subject + ": status " + std::to_string(status) + " " +
                           std::string(why) + (status == 503 ? " (is JetStream enabled?)" : ""));
        }
        return std::string(op->payload);
    }

private:
    // The first operation `want` takes (setup only; what it skips is dropped). Its views stay
    // valid until the next read.
    template <typename F>
    result<nats_op, std::string> await(const std::string& what, F want) {
        const auto until = steady::now() + setup_timeout;
        nats_op op;
        for (;;) {
            for (int got; (got = next(op)) != 0;) {
                if (got < 0) {
                    return failure("nats: not the NATS protocol: " + excerpt(text(_s.in())));
                }
                if (op.k == nats_op::kind::err) {
                    return failure("nats: " + what + ": -ERR " + std::string(op.text));
                }
                if (want(op)) {
                    return op;
                }
            }
            if (auto in = await_input(_s, until, "nats: " + what); !in) {
                return failure(in.error());
            }
        }
    }

    stream _s;
    std::string _inbox;
    uint32_t _requests = 0;
};

// Reads what arrived on `link` and hands each message to `on_msg` (which returns the events it
// made); a loss of the connection or of the protocol is reported to `sk` once.
template <typename F>
uint32_t pump(nats_link& link, loss& l, sink& sk, F on_msg) {
    if (l.lost()) {
        return l.report(sk);
    }
    stream& s = link.s();
    const bool alive = s.fill();
    uint32_t events = 0;
    nats_op op;
    while (!l.lost()) {
        const int got = link.next(op);
        if (got == 0) {
            break;
        }
        if (got < 0) {
            l.set("nats: not the NATS protocol: " + excerpt(text(s.in())));
        } else if (op.k == nats_op::kind::msg) {
            events += on_msg(op);
        } else if (op.k == nats_op::kind::err) {
            l.set("nats: -ERR " + std::string(op.text));
        }
    }
    if (!alive || !s.flush()) {
        l.set("nats: " + s.error());
    }
    return events + l.report(sk);
}

class nats_producer_impl final : public producer {
public:
    nats_producer_impl(std::unique_ptr<nats_link> link, const workload& w)
        : _link(std::move(link)), _w(w), _value(w.record_bytes, 'x'),
          _acks(_link->inbox() + ".") {
        for (uint32_t p = 0; p < w.partitions; ++p) {
            _subjects.push_back(w.topic + "." + std::to_string(p));
        }
        // Taken before any publish: the server reads the connection in order.
        _link->s().write("SUB " + _acks + "> 1\r\n");
    }

    bool send(uint64_t request) override {
        if (_loss.lost() || _pending.size() >= _w.window) {
            return false;
        }
        const std::string& subject = _subjects[request % _w.partitions];
        const auto value = std::as_writable_bytes(std::span(_value.data(), _value.size()));
        stream& s = _link->s();
        for (uint32_t i = 0; i < _w.batch; ++i) {
            write_tag(value, {request, i, _w.batch});
            // PUB <subject> <inbox>.<request>.<index> <bytes>
            _line = "PUB ";
            _line += subject;
            _line += ' ';
            _line += _acks;
            append_number(_line, request);
            _line += '.';
            append_number(_line, i);
            _line += ' ';
            append_number(_line, _w.record_bytes);
            _line += "\r\n";
            s.write(_line);
            s.write(_value);
            s.write("\r\n");
        }
        _pending[request] = {_w.batch, false};
        if (!s.flush()) {
            _loss.set("nats: " + s.error());
        }
        return true;
    }

    uint32_t poll(sink& sk) override {
        return pump(*_link, _loss, sk, [&](const nats_op& op) { return ack(op, sk); });
    }

    int fd() const override { return _link->s().fd(); }

private:
    struct pending {
        uint32_t left; // acks still to come
        bool failed;
    };

    uint32_t ack(const nats_op& op, sink& sk) {
        if (!op.subject.starts_with(_acks)) {
            return 0;
        }
        const std::string_view id = op.subject.substr(_acks.size());
        const size_t dot = id.find('.');
        uint64_t request = 0;
        uint32_t index = 0;
        if (dot == std::string_view::npos || !parse_number(id.substr(0, dot), request) ||
            !parse_number(id.substr(dot + 1), index)) {
            _loss.set("nats: an ack on an unknown subject: " + std::string(op.subject));
            return 0;
        }
        const auto it = _pending.find(request);
        if (it == _pending.end()) {
            _loss.set("nats: an ack for request " + std::to_string(request) +
                      ", which is not outstanding");
            return 0;
        }
        const std::string& subject = _subjects[request % _w.partitions];
        std::string_view status_text;
        const int status = header_status(op.headers, status_text);
        std::string why;
        if (status == 503) {
            why = "no JetStream stream takes subject " + subject + " (503 no responders)";
        } else if (status != 0) {
            why = "status " + std::to_string(status) + " " + std::string(status_text);
        } else if (why = api_error(op.payload); why.empty() &&
                                                op.payload.find("\"seq\"") == std::string::npos) {
            why = "not a publish ack: " + excerpt(op.payload);
        }
        pending& p = it->second;
        if (!why.empty() && !p.failed) {
            p.failed = true;
            sk.failed(request, "nats: publish to " + subject + " (record " +
                                   std::to_string(index) + " of " + std::to_string(_w.batch) +
                                   "): " + why);
        }
        if (--p.left == 0) {
            const bool failed = p.failed;
            _pending.erase(it);
            if (!failed) {
                sk.done(request);
            }
        }
        return 1;
    }

    std::unique_ptr<nats_link> _link;
    workload _w;
    std::string _value;
    std::string _acks; // "<inbox>.": the prefix of every publish's reply subject
    std::vector<std::string> _subjects;
    std::unordered_map<uint64_t, pending> _pending;
    std::string _line;
    loss _loss;
};

class nats_consumer_impl final : public consumer {
public:
    explicit nats_consumer_impl(std::unique_ptr<nats_link> link) : _link(std::move(link)) {}

    uint32_t poll(sink& sk) override {
        return pump(*_link, _loss, sk, [&](const nats_op& op) { return deliver(op, sk); });
    }

    int fd() const override { return _link->s().fd(); }

private:
    uint32_t deliver(const nats_op& op, sink& sk) {
        std::string_view description;
        const int status = header_status(op.headers, description);
        if (status == 100) {
            // An idle heartbeat, or a flow-control request, which wants an empty reply before
            // the server delivers more.
            if (!op.reply.empty()) {
                _link->s().write("PUB " + std::string(op.reply) + " 0\r\n\r\n");
            }
            return 0;
        }
        if (status != 0) {
            sk.broken("nats: delivery on " + std::string(op.subject) + " with status " +
                      std::to_string(status) + " " + std::string(description));
            return 1;
        }
        record_tag t;
        if (!read_tag(bytes(op.payload), t)) {
            sk.broken("nats: a message on " + std::string(op.subject) + " (" +
                      std::string(op.reply) + ") has no readable record tag");
            return 1;
        }
        if (t.index + 1 == t.count) {
            sk.done(t.request);
            return 1;
        }
        return 0;
    }

    std::unique_ptr<nats_link> _link;
    loss _loss;
};

// ---- Servers --------------------------------------------------------------------------------

result<void, std::string> make_dir(const std::string& dir) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) {
        return failure(dir + ": " + ec.message());
    }
    return {};
}

// Debian installs nats-server in /usr/sbin, which a user's PATH often lacks.
std::string find_program(const std::string& name) {
    const char* path = std::getenv("PATH");
    std::string_view dirs = path ? path : "";
    while (!dirs.empty()) {
        const size_t colon = std::min(dirs.find(':'), dirs.size());
        const std::string candidate = std::string(dirs.substr(0, colon)) + "/" + name;
        if (colon > 0 && ::access(candidate.c_str(), X_OK) == 0) {
            return name;
        }
        dirs.remove_prefix(std::min(colon + 1, dirs.size()));
    }
    for (const char* dir : {"/usr/sbin", "/usr/local/sbin"}) {
        const std::string candidate = std::string(dir) + "/" + name;
        if (::access(candidate.c_str(), X_OK) == 0) {
            return candidate;
        }
    }
    return name; // the spawn's log will say it is missing
}

result<std::vector<std::string>, std::string>
redis_argv(const std::string& dir, uint16_t port, const std::string& durability) {
    std::vector<std::string> argv{find_program("redis-server"), "--bind", "127.0.0.1", "--port",
                                  std::to_string(port), "--save", "", "--dir", dir};
    if (durability == "memory") {
        argv.insert(argv.end(), {"--appendonly", "no"});
    } else if (durability == "write") {
        argv.insert(argv.end(), {"--appendonly", "yes", "--appendfsync", "everysec"});
    } else if (durability == "fsync") {
        argv.insert(argv.end(), {"--appendonly", "yes", "--appendfsync", "always"});
    } else {
        return failure("redis: durability " + durability + " is not memory, write or fsync");
    }
    return argv;
}

std::vector<std::string> nats_argv(const std::string& dir, uint16_t port) {
    return {find_program("nats-server"), "-a", "127.0.0.1", "-p", std::to_string(port), "-js",
            "-sd", dir};
}

result<std::unique_ptr<process>, std::string> start_server(const std::vector<std::string>& argv,
                                                           const std::string& dir,
                                                           const std::string& name,
                                                           uint16_t port, std::string& where) {
    if (auto ok = make_dir(dir); !ok) {
        return failure(name + ": " + ok.error());
    }
    auto p = process::spawn(argv, dir + "/" + name + ".log");
    if (!p) {
        return failure(name + ": " + p.error());
    }
    const std::string host_port = "127.0.0.1:" + std::to_string(port);
    if (auto up = wait_for_tcp(host_port, *p.value(), server_start_ms); !up) {
        return failure(name + ": " + up.error());
    }
    where = host_port;
    return std::move(p).value();
}

} // namespace

// ---- Drivers --------------------------------------------------------------------------------

made<producer> redis_producer(const endpoints& e, const workload& w, uint32_t) {
    if (auto ok = check_workload(w); !ok) {
        return failure("redis: " + ok.error());
    }
    auto fd = tcp_connect(e.redis);
    if (!fd) {
        return failure("redis: " + fd.error());
    }
    return made<producer>(std::make_unique<redis_producer_impl>(fd.value(), w));
}

made<consumer> redis_consumer(const endpoints& e, const workload& w, uint32_t index,
                              uint32_t of) {
    if (auto ok = check_workload(w); !ok) {
        return failure("redis: " + ok.error());
    }
    if (index >= of) {
        return failure("redis: consumer " + std::to_string(index) + " of " + std::to_string(of));
    }
    std::vector<std::string> keys;
    for (uint32_t p = index; p < w.partitions; p += of) {
        keys.push_back(redis_key(w, p));
    }
    auto fd = tcp_connect(e.redis);
    if (!fd) {
        return failure("redis: " + fd.error());
    }
    return made<consumer>(std::make_unique<redis_consumer_impl>(fd.value(), std::move(keys)));
}

result<void, std::string> redis_create_topic(const endpoints& e, const workload& w) {
    if (auto ok = check_workload(w); !ok) {
        return failure("redis: " + ok.error());
    }
    auto fd = tcp_connect(e.redis);
    if (!fd) {
        return failure("redis: " + fd.error());
    }
    stream s(fd.value());
    // XADD creates the keys; removing what an earlier run left makes the consumers' reads from
    // id 0 see this run's records only.
    std::vector<std::string> args{"DEL"};
    for (uint32_t p = 0; p < w.partitions; ++p) {
        args.push_back(redis_key(w, p));
    }
    s.write(resp_command(args));
    const auto until = steady::now() + setup_timeout;
    resp r;
    for (;;) {
        if (auto in = await_input(s, until, "redis: the reply to DEL"); !in) {
            return failure(in.error());
        }
        const ptrdiff_t n = parse_resp(text(s.in()), r);
        if (n < 0) {
            return failure("redis: a reply that is not RESP: " + excerpt(text(s.in())));
        }
        if (n > 0) {
            break;
        }
    }
    if (r.type == '-') {
        return failure("redis: DEL " + w.topic + "-*: " + std::string(r.text));
    }
    return {};
}

made<producer> nats_producer(const endpoints& e, const workload& w, uint32_t) {
    if (auto ok = check_nats_workload(w); !ok) {
        return failure(ok.error());
    }
    auto link = nats_link::open(e.nats);
    if (!link) {
        return failure(link.error());
    }
    return made<producer>(std::make_unique<nats_producer_impl>(std::move(link).value(), w));
}

made<consumer> nats_consumer(const endpoints& e, const workload& w, uint32_t index,
                             uint32_t of) {
    if (auto ok = check_nats_workload(w); !ok) {
        return failure(ok.error());
    }
    if (index >= of) {
        return failure("nats: consumer " + std::to_string(index) + " of " + std::to_string(of));
    }
    auto link = nats_link::open(e.nats);
    if (!link) {
        return failure(link.error());
    }
    std::vector<std::string> filters; // one per JetStream consumer; empty: unfiltered
    for (uint32_t p = index; p < w.partitions; p += of) {
        filters.push_back(w.topic + "." + std::to_string(p));
    }
    if (filters.size() == w.partitions) {
        filters = {""};
    }
    // A subscription per deliver subject, literal: 2.9 does not count a wildcard subscription as
    // a push consumer's interest, and silently delivers nothing.
    const std::string inbox = link.value()->inbox();
    for (size_t i = 0; i < filters.size(); ++i) {
        link.value()->s().write("SUB " + inbox + "." + std::to_string(i) + " " +
                                std::to_string(i + 1) + "\r\n");
    }
    // The subscriptions must be in place before the JetStream consumers exist, or their first
    // deliveries find no interest.
    if (auto ok = link.value()->ping(); !ok) {
        return failure(ok.error());
    }
    // The consumers are created over a second connection: the first must not read (and drop)
    // deliveries that start before the last create's reply.
    auto setup = nats_link::open(e.nats);
    if (!setup) {
        return failure(setup.error());
    }
    for (size_t i = 0; i < filters.size(); ++i) {
        // One JetStream consumer per partition: 2.9 takes one filter subject per consumer.
        std::string config = "{\"stream_name\":\"" + w.topic + "\",\"config\":{" +
                             "\"deliver_subject\":\"" + inbox + "." + std::to_string(i) +
                             "\",\"deliver_policy\":\"all\",\"ack_policy\":\"none\"," +
                             "\"flow_control\":false";
        if (!filters[i].empty()) {
            config += ",\"filter_subject\":\"" + filters[i] + "\"";
        }
        config += "}}";
        auto reply = setup.value()->request("$JS.API.CONSUMER.CREATE." + w.topic, config);
        if (!reply) {
            return failure(reply.error());
        }
        if (const std::string err = api_error(reply.value()); !err.empty()) {
            return failure("nats: creating a consumer of stream " + w.topic + ": " + err);
        }
    }
    return made<consumer>(std::make_unique<nats_consumer_impl>(std::move(link).value()));
}

result<void, std::string> nats_create_topic(const endpoints& e, const workload& w) {
    if (auto ok = check_nats_workload(w); !ok) {
        return failure(ok.error());
    }
    auto link = nats_link::open(e.nats);
    if (!link) {
        return failure(link.error());
    }
    auto deleted = link.value()->request("$JS.API.STREAM.DELETE." + w.topic, "");
    if (!deleted) {
        return failure(deleted.error());
    }
    if (const std::string err = api_error(deleted.value());
        !err.empty() && deleted.value().find("\"code\":404") == std::string::npos) {
        return failure("nats: deleting stream " + w.topic + ": " + err);
    }
    // File storage whatever the durability: JetStream 2.9 fsyncs its files periodically only.
    const std::string config = "{\"name\":\"" + w.topic + "\",\"subjects\":[\"" + w.topic +
                               ".*\"],\"storage\":\"file\",\"num_replicas\":1}";
    auto created = link.value()->request("$JS.API.STREAM.CREATE." + w.topic, config);
    if (!created) {
        return failure(created.error());
    }
    if (const std::string err = api_error(created.value()); !err.empty()) {
        return failure("nats: creating stream " + w.topic + ": " + err);
    }
    return {};
}

// ---- Servers --------------------------------------------------------------------------------

result<std::unique_ptr<process>, std::string> start_redis(const std::string& dir,
                                                          const std::string& durability,
                                                          endpoints& e) {
    const uint16_t port = free_port();
    auto argv = redis_argv(dir, port, durability);
    if (!argv) {
        return failure(argv.error());
    }
    return start_server(argv.value(), dir, "redis-server", port, e.redis);
}

result<std::unique_ptr<process>, std::string> start_nats(const std::string& dir, endpoints& e) {
    const uint16_t port = free_port();
    return start_server(nats_argv(dir, port), dir, "nats-server", port, e.nats);
}

} // namespace runnel::perf
