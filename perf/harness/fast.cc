// The fast path through librunnel, over kernel UDP or DPDK memif. One librunnel client per
// process carries every producer and consumer of a run (a DPDK process has one port), so the
// drivers share it: each poll() polls the client, and the completions report to the sink of
// the kind of driver they belong to.
#include "dataplane/client/client.h"
#include "perf/harness/driver.h"
#include "perf/harness/servers.h"

namespace runnel::perf {

namespace {

// Holds what completes before a driver's first poll() names its sink (an ack that arrives while
// another partition's produce waits for its producer id; a push during subscribe).
class early_sink final : public sink {
public:
    void done(uint64_t r) override { _events.push_back({r, {}}); }
    void failed(uint64_t r, std::string_view why) override {
        _events.push_back({r, std::string(why)});
    }
    void broken(std::string_view why) override {
        _events.push_back({UINT64_MAX, std::string(why)});
    }
    void replay(sink& to) {
        for (const auto& [r, why] : _events) {
            if (r == UINT64_MAX) {
                to.broken(why);
            } else if (why.empty()) {
                to.done(r);
            } else {
                to.failed(r, why);
            }
        }
        _events.clear();
    }

private:
    std::vector<std::pair<uint64_t, std::string>> _events;
};

struct session {
    client::topic t;
    early_sink early_producers, early_consumers;
    sink* producers = &early_producers;
    sink* consumers = &early_consumers;
    uint8_t visibility = 0;
    // Last, so it goes first: closing fails what is in flight into the sinks above.
    std::unique_ptr<client::client> c;
};

result<std::unique_ptr<client::transport>, std::string> open_link(const endpoints& e, bool memif) {
    const auto colon = e.fast_udp.rfind(':');
    const std::string host = e.fast_udp.substr(0, colon);
    const auto port = uint16_t(std::atoi(e.fast_udp.c_str() + colon + 1));
    if (memif) {
        return client::open_dpdk(
          {.eal_args = {"--no-huge", "-m", "256", "--no-pci", "--no-shconf", "--log-level=3",
                        "--vdev=net_memif0,role=client,socket=" + e.memif_socket +
                          ",socket-abstract=no"},
           .self_address = "192.0.2.2",
           .broker_address = host,
           .broker_port = port});
    }
    return in_namespace(e.udp_netns, [&] {
        return client::open_udp({.broker_address = host,
                                 .broker_port = port,
                                 .datagram_max = size_t(e.udp_mtu) - 28});
    });
}

// The run's session: made by the first driver, shared by the rest (one run at a time).
result<std::shared_ptr<session>, std::string> shared_session(const endpoints& e,
                                                               const workload& w, bool memif) {
    static std::weak_ptr<session> current;
    if (auto s = current.lock()) {
        return s;
    }
    auto link = open_link(e, memif);
    if (!link) {
        return failure(link.error());
    }
    auto s = std::make_shared<session>();
    // With a queue, as a Kafka client lingers: produces made while a partition's five batches
    // are out leave together in the next one (librunnel caps it at one datagram).
    s->c = std::make_unique<client::client>(
      std::move(link.value()),
      client::client_options{.window = std::min(w.window, 5u), .queue_bytes = 1u << 16});
    auto t = s->c->resolve(w.topic);
    if (!t) {
        return failure("resolve " + w.topic + ": " + std::string(client::to_string(t.error())));
    }
    s->t = t.value();
    s->visibility = w.durability == "fsync" ? 2 : w.durability == "write" ? 1 : 0;
    current = s;
    return s;
}

class fast_producer_impl final : public producer {
public:
    fast_producer_impl(std::shared_ptr<session> s, const workload& w)
        : _s(std::move(s)), _w(w), _values(w) {}
    // The run's sink is gone: what the client fails as it closes goes nowhere that matters.
    ~fast_producer_impl() override { _s->producers = &_s->early_producers; }

    bool send(uint64_t request) override {
        session* s = _s.get();
        const auto st = s->c->produce(_s->t, uint32_t(request % _w.partitions),
                                      _values.tagged(request),
                                      [s, request](const client::delivery& d) {
                                          if (d.error == client::status::ok) {
                                              s->producers->done(request);
                                          } else {
                                              s->producers->failed(
                                                request, client::to_string(d.error));
                                          }
                                      });
        if (st == client::status::would_block) {
            return false;
        }
        if (st != client::status::ok) {
            _refused = "librunnel refused a produce: " + std::string(client::to_string(st));
        }
        return true;
    }

    uint32_t poll(sink& k) override {
        _s->producers = &k;
        _s->early_producers.replay(k);
        if (!_refused.empty()) {
            k.broken(_refused);
        }
        return _s->c->poll();
    }

    int fd() const override { return _s->c->link().fd(); }

private:
    std::shared_ptr<session> _s;
    workload _w;
    record_values _values;
    std::string _refused;
};

class fast_consumer_impl final : public consumer {
public:
    explicit fast_consumer_impl(std::shared_ptr<session> s) : _s(std::move(s)) {}
    ~fast_consumer_impl() override { _s->consumers = &_s->early_consumers; }

    uint32_t poll(sink& k) override {
        _s->consumers = &k;
        _s->early_consumers.replay(k);
        return _s->c->poll();
    }
    int fd() const override { return _s->c->link().fd(); }

    std::shared_ptr<session> _s;
};

} // namespace

made<producer> fast_producer(const endpoints& e, const workload& w, uint32_t, bool memif) {
    auto s = shared_session(e, w, memif);
    if (!s) {
        return failure(s.error());
    }
    return std::unique_ptr<producer>(new fast_producer_impl(s.value(), w));
}

made<consumer> fast_consumer(const endpoints& e, const workload& w, uint32_t index, uint32_t of,
                             bool memif) {
    auto s = shared_session(e, w, memif);
    if (!s) {
        return failure(s.error());
    }
    session* raw = s.value().get();
    for (uint32_t p = index; p < w.partitions; p += of) {
        auto sub = raw->c->subscribe(
          raw->t, p, {.start_offset = -2, .visibility = raw->visibility},
          [raw](const client::record_view& r) {
              record_tag t;
              if (!r.value || !read_tag(*r.value, t)) {
                  raw->consumers->broken("fast-path subscriber: a record without a tag");
              } else if (t.index + 1 == t.count) {
                  raw->consumers->done(t.request);
              }
          });
        if (!sub) {
            return failure("subscribe to " + w.topic + "/" + std::to_string(p) + ": " +
                           std::string(client::to_string(sub.error())));
        }
    }
    return std::unique_ptr<consumer>(new fast_consumer_impl(s.value()));
}

} // namespace runnel::perf
