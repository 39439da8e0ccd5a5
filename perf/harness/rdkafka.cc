// librdkafka as the Kafka client users run: a producer with linger.ms=0 and acks=all, and a
// consumer assigned its partitions from the beginning. Their event queues signal a pipe, so the
// load loop can sleep on an fd like the other drivers.
#include "perf/harness/driver.h"

#include <librdkafka/rdkafka.h>

#include <fcntl.h>
#include <unistd.h>

#include <optional>
#include <unordered_set>
#include <string>
#include <vector>

namespace runnel::perf {

namespace {

result<rd_kafka_conf_t*, std::string> config(
  const endpoints& e, std::initializer_list<std::pair<const char*, std::string>> extra) {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    char err[512];
    auto set = [&](const char* k, const std::string& v) {
        return rd_kafka_conf_set(conf, k, v.c_str(), err, sizeof(err)) == RD_KAFKA_CONF_OK;
    };
    bool ok = set("bootstrap.servers", e.kafka) && set("socket.nagle.disable", "true");
    for (const auto& [k, v] : extra) {
        ok = ok && set(k, v);
    }
    if (!ok) {
        rd_kafka_conf_destroy(conf);
        return failure(std::string("librdkafka config: ") + err);
    }
    return conf;
}

// A pipe that librdkafka writes a byte to when `q` gets an event.
struct wakeup {
    int fds[2] = {-1, -1};
    wakeup() { (void)::pipe2(fds, O_NONBLOCK | O_CLOEXEC); }
    void enable(rd_kafka_queue_t* q) const { rd_kafka_queue_io_event_enable(q, fds[1], "1", 1); }
    ~wakeup() {
        ::close(fds[0]);
        ::close(fds[1]);
    }
    void drain() const {
        char b[256];
        while (::read(fds[0], b, sizeof(b)) > 0) {
        }
    }
};

class rdkafka_producer_impl final : public producer {
public:
    explicit rdkafka_producer_impl(const workload& w)
        : _w(w), _values(w) {}
    // The delivery callback finds the producer through librdkafka's opaque, which is set before
    // the handle is made: so the handle comes after.
    void attach(rd_kafka_t* rk) {
        _rk = rk;
        _queue = rd_kafka_queue_get_main(rk);
        _wake.enable(_queue);
    }
    ~rdkafka_producer_impl() override {
        _sink = nullptr; // the flush below reports to nobody: the run is over
        if (_rk != nullptr) {
            rd_kafka_flush(_rk, 5000);
            rd_kafka_queue_destroy(_queue);
            rd_kafka_destroy(_rk);
        }
    }

    // A request of `batch` records is `batch` produce calls; done when the last is delivered.
    bool send(uint64_t request) override {
        if (_pending >= _w.window) {
            return false;
        }
        const auto records = _values.tagged(request);
        const auto count = uint32_t(records.size());
        for (uint32_t i = 0; i < count; ++i) {
            const std::string_view v = *records[i].value;
            const uint64_t opaque = (request << 1) | (i + 1 == count ? 1 : 0);
            const auto err = rd_kafka_producev(
              _rk, RD_KAFKA_V_TOPIC(_w.topic.c_str()),
              RD_KAFKA_V_PARTITION(int32_t(request % _w.partitions)),
              RD_KAFKA_V_VALUE(const_cast<char*>(v.data()), v.size()),
              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
              RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(opaque)), RD_KAFKA_V_END);
            if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
                _refused = std::string("librdkafka refused a record: ") + rd_kafka_err2str(err);
            }
        }
        ++_pending;
        return true;
    }

    uint32_t poll(sink& k) override {
        _wake.drain();
        _sink = &k;
        _events = 0;
        if (!_refused.empty()) {
            k.broken(_refused);
        }
        rd_kafka_poll(_rk, 0);
        return _events;
    }

    int fd() const override { return _wake.fds[0]; }

    static void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
        auto* self = static_cast<rdkafka_producer_impl*>(opaque);
        const auto tag = uint64_t(reinterpret_cast<uintptr_t>(m->_private));
        const uint64_t request = tag >> 1;
        const bool last = (tag & 1) != 0;
        ++self->_events;
        if (self->_sink == nullptr) {
            return;
        }
        // A request fails once, at its first failed record; it leaves the window at its last.
        if (m->err && self->_failed.insert(request).second) {
            self->_sink->failed(request, rd_kafka_err2str(m->err));
        }
        if (last) {
            --self->_pending;
            if (self->_failed.erase(request) == 0) {
                self->_sink->done(request);
            }
        }
    }

private:
    rd_kafka_t* _rk = nullptr;
    workload _w;
    rd_kafka_queue_t* _queue = nullptr;
    wakeup _wake;
    record_values _values;
    uint32_t _pending = 0;
    std::unordered_set<uint64_t> _failed; // requests with a failed record, until their last
    std::string _refused;
    sink* _sink = nullptr;
    uint32_t _events = 0;
};

class rdkafka_consumer_impl final : public consumer {
public:
    explicit rdkafka_consumer_impl(rd_kafka_t* rk)
        : _rk(rk), _queue(rd_kafka_queue_get_consumer(rk)) {
        _wake.enable(_queue);
    }
    ~rdkafka_consumer_impl() override {
        rd_kafka_queue_destroy(_queue);
        rd_kafka_consumer_close(_rk);
        rd_kafka_destroy(_rk);
    }

    uint32_t poll(sink& k) override {
        _wake.drain();
        uint32_t n = 0;
        while (rd_kafka_message_t* m = rd_kafka_consumer_poll(_rk, 0)) {
            ++n;
            record_tag t;
            if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            } else if (m->err) {
                k.broken(std::string("librdkafka consumer: ") + rd_kafka_message_errstr(m));
            } else if (!read_tag({static_cast<const std::byte*>(m->payload), m->len}, t)) {
                k.broken("librdkafka consumer: a record without a runnel-perf tag");
            } else if (t.index + 1 == t.count) {
                k.done(t.request);
            }
            rd_kafka_message_destroy(m);
        }
        return n;
    }

    int fd() const override { return _wake.fds[0]; }

private:
    rd_kafka_t* _rk;
    rd_kafka_queue_t* _queue;
    wakeup _wake;
};

} // namespace

made<producer> rdkafka_producer(const endpoints& e, const workload& w, uint32_t) {
    auto conf = config(e, {{"acks", "all"}, {"linger.ms", "0"}});
    if (!conf) {
        return failure(conf.error());
    }
    auto p = std::make_unique<rdkafka_producer_impl>(w);
    rd_kafka_conf_set_dr_msg_cb(conf.value(), rdkafka_producer_impl::on_delivery);
    rd_kafka_conf_set_opaque(conf.value(), p.get());
    char err[512];
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf.value(), err, sizeof(err));
    if (rk == nullptr) {
        return failure(std::string("rd_kafka_new: ") + err);
    }
    p->attach(rk);
    // Connected before the clock starts: the first requests are not charged the handshake.
    const rd_kafka_metadata_t* md = nullptr;
    if (const auto r = rd_kafka_metadata(rk, 1, nullptr, &md, 10000);
        r != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return failure("librdkafka: no metadata from " + e.kafka + ": " + rd_kafka_err2str(r));
    }
    rd_kafka_metadata_destroy(md);
    return std::unique_ptr<producer>(std::move(p));
}

made<consumer> rdkafka_consumer(const endpoints& e, const workload& w, uint32_t index,
                                uint32_t of) {
    auto conf = config(e, {{"group.id", "runnel-perf-" + w.topic},
                           {"enable.auto.commit", "false"},
                           {"fetch.wait.max.ms", "100"},
                           {"enable.partition.eof", "false"}});
    if (!conf) {
        return failure(conf.error());
    }
    char err[512];
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf.value(), err, sizeof(err));
    if (rk == nullptr) {
        return failure(std::string("rd_kafka_new: ") + err);
    }
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(int(w.partitions));
    for (uint32_t p = index; p < w.partitions; p += of) {
        rd_kafka_topic_partition_list_add(parts, w.topic.c_str(), int32_t(p))->offset =
          RD_KAFKA_OFFSET_BEGINNING;
    }
    const auto r = rd_kafka_assign(rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    if (r != RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_destroy(rk);
        return failure(std::string("rd_kafka_assign: ") + rd_kafka_err2str(r));
    }
    return std::unique_ptr<consumer>(new rdkafka_consumer_impl(rk));
}

} // namespace runnel::perf
