// The minimal in-harness Kafka client: Produce v7 and Fetch v11, pipelined on one connection each,
// so that the broker's share of a latency can be told apart from a full client's (rdkafka.cc).
// Answers on a connection come in request order, so a FIFO matches them to requests.
#include "perf/harness/driver.h"
#include "perf/harness/net.h"
#include "perf/harness/load.h"
#include "protocol/admin_messages.h"
#include "protocol/data_messages.h"
#include "storage/batch_builder.h"
#include "storage/record_batch.h"

#include <poll.h>

#include <deque>

namespace runnel::perf {

namespace {

constexpr int16_t produce_version = 7;
constexpr int16_t fetch_version = 11;
constexpr int16_t create_topics_version = 4;

// Starts a request frame (size patched by end_request); header v1, client id "runnel-perf".
void begin_request(protocol::writer& w, int16_t key, int16_t version, int32_t correlation) {
    w.bytes().clear();
    w.int32(0);
    w.int16(key);
    w.int16(version);
    w.int32(correlation);
    w.string("runnel-perf");
}
void end_request(protocol::writer& w) { w.patch_int32(0, int32_t(w.size() - 4)); }

// One whole response frame at the front of `in`: its correlation id and body, or nothing yet.
struct frame {
    int32_t correlation = 0;
    std::span<const std::byte> body;
    size_t bytes = 0;
    bool malformed = false; // a size no response has: the connection is of no further use
};
std::optional<frame> next_frame(std::span<const std::byte> in) {
    if (in.size() < 4) {
        return std::nullopt;
    }
    protocol::reader size(in.first(4));
    const int32_t declared = size.int32();
    if (declared < 4) {
        return frame{.malformed = true};
    }
    const auto n = size_t(declared);
    if (in.size() < 4 + n) {
        return std::nullopt;
    }
    protocol::reader corr(in.subspan(4, 4));
    return frame{.correlation = corr.int32(), .body = in.subspan(8, n - 4), .bytes = 4 + n};
}

// Blocks (polling) for the answer to the one request on `s`; the setup path only.
result<frame, std::string> call(stream& s, protocol::writer& w, int timeout_ms) {
    s.write(std::span<const std::byte>(w.bytes()));
    const int64_t until = now_ns() + int64_t(timeout_ms) * 1'000'000;
    while (now_ns() < until) {
        if (!s.flush() || !s.fill()) {
            return failure(s.error());
        }
        if (auto f = next_frame(s.in())) {
            if (f->malformed) {
                return failure(std::string("a response with a size below 4"));
            }
            return *f;
        }
        pollfd p{.fd = s.fd(), .events = POLLIN, .revents = 0};
        ::poll(&p, 1, 10);
    }
    return failure(std::string("no answer within ") + std::to_string(timeout_ms) + " ms");
}

class kafka_producer_impl final : public producer {
public:
    kafka_producer_impl(int fd, const workload& w) : _s(fd), _w(w), _values(w) {}

    bool send(uint64_t request) override {
        if (_pending.size() >= _w.window) {
            return false;
        }
        storage::build_batch(_batch, _values.tagged(request));
        protocol::produce_request req{.acks = -1, .timeout_ms = 30000};
        req.topics.push_back(
          {.name = _w.topic,
           .partitions = {{.index = int32_t(request % _w.partitions), .records = _batch}}});
        begin_request(_out, protocol::produce_request::api_key, produce_version, _next_corr++);
        protocol::encode(_out, req, produce_version);
        end_request(_out);
        _s.write(std::span<const std::byte>(_out.bytes()));
        _pending.push_back(request);
        _s.flush();
        return true;
    }

    uint32_t poll(sink& k) override {
        if (!_s.flush() || !_s.fill()) {
            k.broken("kafka producer: " + _s.error());
            return 1;
        }
        uint32_t n = 0;
        while (auto f = next_frame(_s.in())) {
            if (f->malformed) {
                k.broken("kafka producer: a response with a size below 4");
                return n + 1;
            }
            if (_pending.empty()) {
                k.broken("kafka producer: an answer to no request");
                return n + 1;
            }
            const uint64_t request = _pending.front();
            _pending.pop_front();
            protocol::reader r(f->body);
            const auto resp = protocol::decode<protocol::produce_response>(r, produce_version);
            if (!resp || resp->topics.size() != 1 || resp->topics[0].partitions.size() != 1) {
                k.failed(request, "a malformed Produce response");
            } else if (const auto e = resp->topics[0].partitions[0].error_code; e != 0) {
                k.failed(request, "Produce answered error code " + std::to_string(e));
            } else {
                k.done(request);
            }
            _s.consume(f->bytes);
            ++n;
        }
        return n;
    }

    int fd() const override { return _s.fd(); }

private:
    stream _s;
    workload _w;
    record_values _values;
    std::vector<std::byte> _batch;
    protocol::writer _out;
    int32_t _next_corr = 1;
    std::deque<uint64_t> _pending;
};

class kafka_consumer_impl final : public consumer {
public:
    kafka_consumer_impl(int fd, const workload& w, uint32_t index, uint32_t of) : _s(fd), _w(w) {
        for (uint32_t p = index; p < w.partitions; p += of) {
            _offsets.push_back({int32_t(p), 0});
        }
    }

    uint32_t poll(sink& k) override {
        if (!_waiting) {
            send_fetch();
        }
        if (!_s.flush() || !_s.fill()) {
            k.broken("kafka consumer: " + _s.error());
            return 1;
        }
        auto f = next_frame(_s.in());
        if (!f) {
            return 0;
        }
        if (f->malformed) {
            k.broken("kafka consumer: a response with a size below 4");
            return 1;
        }
        _waiting = false;
        protocol::reader r(f->body);
        const auto resp = protocol::decode<protocol::fetch_response>(r, fetch_version);
        uint32_t n = 1;
        if (!resp || resp->error_code != 0) {
            k.broken("kafka consumer: a malformed or failed Fetch response");
        } else {
            for (const auto& t : resp->topics) {
                for (const auto& p : t.partitions) {
                    n += take(p, k);
                }
            }
        }
        _s.consume(f->bytes);
        return n;
    }

    int fd() const override { return _s.fd(); }

private:
    struct position {
        int32_t partition;
        int64_t next;
    };

    void send_fetch() {
        protocol::fetch_request req{.max_wait_ms = 500, .min_bytes = 1, .max_bytes = 8 << 20};
        req.topics.push_back({.topic = _w.topic, .partitions = {}});
        for (const auto& o : _offsets) {
            req.topics[0].partitions.push_back(
              {.partition = o.partition, .fetch_offset = o.next, .partition_max_bytes = 4 << 20});
        }
        begin_request(_out, protocol::fetch_request::api_key, fetch_version, _next_corr++);
        protocol::encode(_out, req, fetch_version);
        end_request(_out);
        _s.write(std::span<const std::byte>(_out.bytes()));
        _waiting = true;
    }

    // Reports the requests whose last record is in `p`'s whole batches; moves its offset on.
    uint32_t take(const protocol::fetch_response_partition& p, sink& k) {
        position* pos = nullptr;
        for (auto& o : _offsets) {
            if (o.partition == p.partition) {
                pos = &o;
            }
        }
        if (pos == nullptr || p.error_code != 0) {
            k.broken("kafka consumer: Fetch of partition " + std::to_string(p.partition) +
                     " answered error code " + std::to_string(p.error_code));
            return 1;
        }
        if (!p.records) {
            return 0;
        }
        uint32_t n = 0;
        auto bytes = *p.records;
        while (bytes.size() >= storage::batch::header_bytes) {
            const auto h = storage::batch::read_header(bytes);
            if (h.size_bytes() > bytes.size()) {
                break; // a partial batch at the end: fetched again next time
            }
            const auto whole = bytes.first(h.size_bytes());
            bytes = bytes.subspan(h.size_bytes());
            if (h.last_offset()() < pos->next) {
                continue;
            }
            int64_t offset = h.base_offset();
            const bool ok = storage::batch::for_each_record(whole, [&](const auto&, const auto& v) {
                record_tag t;
                if (offset++ < pos->next) {
                    return;
                }
                if (!v || !read_tag(*v, t)) {
                    k.broken("kafka consumer: a record without a runnel-perf tag");
                } else if (t.index + 1 == t.count) {
                    k.done(t.request);
                    ++n;
                }
            });
            if (!ok) {
                k.broken("kafka consumer: a fetched batch that does not decode");
            }
            pos->next = h.last_offset()() + 1;
        }
        return n;
    }

    stream _s;
    workload _w;
    std::vector<position> _offsets;
    protocol::writer _out;
    int32_t _next_corr = 1;
    bool _waiting = false;
};

} // namespace

made<producer> kafka_producer(const endpoints& e, const workload& w, uint32_t) {
    auto fd = tcp_connect(e.kafka);
    if (!fd) {
        return failure(fd.error());
    }
    return std::unique_ptr<producer>(new kafka_producer_impl(fd.value(), w));
}

made<consumer> kafka_consumer(const endpoints& e, const workload& w, uint32_t index, uint32_t of) {
    auto fd = tcp_connect(e.kafka);
    if (!fd) {
        return failure(fd.error());
    }
    return std::unique_ptr<consumer>(new kafka_consumer_impl(fd.value(), w, index, of));
}

result<void, std::string> kafka_create_topic(const endpoints& e, const workload& w) {
    auto fd = tcp_connect(e.kafka);
    if (!fd) {
        return failure(fd.error());
    }
    stream s(fd.value());
    protocol::create_topics_request req;
    req.topics.push_back({.name = w.topic,
                          .num_partitions = int32_t(w.partitions),
                          .replication_factor = 1,
                          .assignments = {},
                          .configs = {{.name = "runnel.ack.after", .value = w.durability}}});
    protocol::writer out;
    begin_request(out, protocol::create_topics_request::api_key, create_topics_version, 1);
    protocol::encode(out, req, create_topics_version);
    end_request(out);
    auto f = call(s, out, 30000);
    if (!f) {
        return failure("CreateTopics " + w.topic + ": " + f.error());
    }
    protocol::reader r(f->body);
    const auto resp = protocol::decode<protocol::create_topics_response>(r, create_topics_version);
    if (!resp || resp->topics.size() != 1) {
        return failure("CreateTopics " + w.topic + ": a malformed response");
    }
    const auto& t = resp->topics[0];
    if (t.error_code != 0) {
        return failure("CreateTopics " + w.topic + ": error code " + std::to_string(t.error_code) +
                       (t.error_message ? " (" + std::string(*t.error_message) + ")" : ""));
    }
    return {};
}

} // namespace runnel::perf
