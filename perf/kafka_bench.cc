// runnel-kafka-bench: produce→ack latency and produce throughput through a real Kafka client
// (librdkafka) against a running broker, beside the raw loopback TCP round trip measured in the
// same run. perf/kafka_bench.sh starts runneld and runs this; results in RESULTS.md.
//
// 1. floor: a 100-byte ping-pong over loopback TCP (TCP_NODELAY) with an echo thread.
// 2. latency: for each ack level, a producer with linger.ms=0 sends 100-byte records at a fixed
//    rate (open loop: each record's latency runs from its scheduled send time, so a stall is
//    not hidden by the sends it delayed) to one partition of topic bench-<level>
//    (runnel.ack.after=<level>), acks=1; warm-up excluded. p50/p90/p99/p99.9/max.
// 2b. the same through a minimal in-bench Kafka client (one connection, Produce v7 with one
//    prebuilt batch, closed loop: send, wait for the answer), so that the broker's part can be
//    told apart from librdkafka's.
// 3. throughput: a producer with batching (linger.ms=5, batch.size 1 MiB) sends 100-byte
//    records as fast as it can to one partition (one shard); records acknowledged per second.
#include "perf/histogram.h"
#include "protocol/data_messages.h"
#include "storage/batch_builder.h"

#include <librdkafka/rdkafka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <ctime>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
             clock_type::now().time_since_epoch())
      .count();
}

struct options {
    std::string bootstrap = "127.0.0.1:9092";
    int rate = 5000;          // records per second in the latency runs
    int seconds = 10;         // measured part of each latency run
    int warmup_seconds = 2;
    long throughput_records = 3'000'000;
    int record_bytes = 100;
};

void print_percentiles(const char* name, const std::vector<int64_t>& ns, double floor_p50_us) {
    if (ns.empty()) {
        std::printf("| %s | no samples |\n", name);
        return;
    }
    const auto h = runnel::perf::histogram::of(ns);
    std::printf("| %s | %zu | %.1f | %.1f | %.1f | %.1f | %.1f |", name, ns.size(), h.us(0.5),
                h.us(0.9), h.us(0.99), h.us(0.999), h.us(1.0));
    if (floor_p50_us > 0) {
        std::printf(" %.2f |", h.us(0.5) / floor_p50_us);
    } else {
        std::printf("  |");
    }
    std::printf("\n");
}

// Loopback TCP ping-pong of record_bytes, the floor of any request/response over the kernel.
std::vector<int64_t> tcp_round_trips(int bytes, int count) {
    int listener = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::listen(listener, 1) != 0) {
        std::perror("tcp floor: listen");
        std::exit(1);
    }
    socklen_t len = sizeof(addr);
    ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
    auto exactly = [](int fd, char* p, int n, bool send) {
        for (int done = 0; done < n;) {
            ssize_t r = send ? ::send(fd, p + done, size_t(n - done), MSG_NOSIGNAL)
                             : ::recv(fd, p + done, size_t(n - done), 0);
            if (r <= 0) {
                return false;
            }
            done += int(r);
        }
        return true;
    };
    std::thread echo([&] {
        int fd = ::accept(listener, nullptr, nullptr);
        int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        std::vector<char> buf(static_cast<size_t>(bytes));
        while (exactly(fd, buf.data(), bytes, false) && exactly(fd, buf.data(), bytes, true)) {
        }
        ::close(fd);
    });
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
        std::perror("tcp floor: connect");
        std::exit(1);
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    std::vector<char> buf(static_cast<size_t>(bytes), 'x');
    std::vector<int64_t> out;
    for (int i = 0; i < count + count / 10; ++i) {
        const int64_t t0 = now_ns();
        exactly(fd, buf.data(), bytes, true);
        exactly(fd, buf.data(), bytes, false);
        if (i >= count / 10) { // the first tenth warms up
            out.push_back(now_ns() - t0);
        }
    }
    ::close(fd);
    echo.join();
    ::close(listener);
    return out;
}

void set(rd_kafka_conf_t* conf, const char* key, const std::string& value) {
    char err[512];
    if (rd_kafka_conf_set(conf, key, value.c_str(), err, sizeof(err)) != RD_KAFKA_CONF_OK) {
        std::fprintf(stderr, "%s: %s\n", key, err);
        std::exit(1);
    }
}

rd_kafka_t* make_producer(const options& o, bool batching, rd_kafka_conf_t* conf) {
    set(conf, "bootstrap.servers", o.bootstrap);
    set(conf, "acks", "1");
    set(conf, "linger.ms", batching ? "5" : "0");
    set(conf, "socket.nagle.disable", "true");
    if (batching) {
        set(conf, "batch.size", "1000000");
        set(conf, "queue.buffering.max.messages", "1000000");
        set(conf, "queue.buffering.max.kbytes", "1048576");
    }
    char err[512];
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (rk == nullptr) {
        std::fprintf(stderr, "rd_kafka_new: %s\n", err);
        std::exit(1);
    }
    return rk;
}

// Creates `topic` (one partition) with runnel.ack.after=level; an existing one is fine.
void create_topic(rd_kafka_t* rk, const std::string& topic, const char* level) {
    char err[512];
    rd_kafka_NewTopic_t* t = rd_kafka_NewTopic_new(topic.c_str(), 1, 1, err, sizeof(err));
    rd_kafka_NewTopic_set_config(t, "runnel.ack.after", level);
    rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &t, 1, nullptr, q);
    rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 30000);
    if (ev != nullptr) {
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(t);
}

struct latency_state {
    std::vector<int64_t> scheduled; // per record
    std::vector<int64_t> latency;
    size_t warmup = 0;
    long failed = 0;
};

void on_latency_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    auto* s = static_cast<latency_state*>(opaque);
    const auto i = size_t(reinterpret_cast<intptr_t>(m->_private));
    if (m->err) {
        ++s->failed;
        return;
    }
    if (i >= s->warmup) {
        s->latency.push_back(now_ns() - s->scheduled[i]);
    }
}

std::vector<int64_t> produce_latency(const options& o, const char* level) {
    latency_state s;
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set_dr_msg_cb(conf, on_latency_delivery);
    rd_kafka_conf_set_opaque(conf, &s);
    rd_kafka_t* rk = make_producer(o, false, conf);
    const std::string topic = std::string("bench-") + level;
    create_topic(rk, topic, level);
    const size_t total = size_t(o.rate) * size_t(o.seconds + o.warmup_seconds);
    s.warmup = size_t(o.rate) * size_t(o.warmup_seconds);
    s.scheduled.resize(total);
    s.latency.reserve(total);
    std::string value(size_t(o.record_bytes), 'v');
    const int64_t interval = 1'000'000'000 / o.rate;
    const int64_t start = now_ns() + 100'000'000;
    for (size_t i = 0; i < total; ++i) {
        s.scheduled[i] = start + int64_t(i) * interval;
    }
    // Delivery reports are served by their own thread, blocked in rd_kafka_poll, so that a report
    // is timed when it arrives rather than when the sending loop next wakes up.
    std::atomic<bool> sending{true};
    std::thread reports([&] {
        while (sending.load() || rd_kafka_outq_len(rk) > 0) {
            rd_kafka_poll(rk, 10);
        }
    });
    for (size_t i = 0; i < total; ++i) {
        // Sleep (not spin) to the send time: the machine has two cores for the broker, the
        // client's threads and this one.
        for (int64_t left; (left = s.scheduled[i] - now_ns()) > 0;) {
            timespec ts{0, long(left)};
            nanosleep(&ts, nullptr);
        }
        rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(0),
                          RD_KAFKA_V_VALUE(value.data(), value.size()),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                          RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(intptr_t(i))), RD_KAFKA_V_END);
    }
    sending.store(false);
    reports.join();
    rd_kafka_destroy(rk);
    if (s.failed > 0) {
        std::fprintf(stderr, "%s: %ld deliveries failed\n", level, s.failed);
    }
    return s.latency;
}

// Produce round trips over one raw connection, after `produce_latency` created the topic.
std::vector<int64_t> raw_produce_latency(const options& o, const char* level, int count) {
    using namespace runnel;
    const std::string topic = std::string("bench-") + level;
    const std::string value(size_t(o.record_bytes), 'v');
    const storage::record_spec record{.value = value};
    const auto batch = storage::build_batch(std::span(&record, 1));
    protocol::produce_request req{.acks = 1, .timeout_ms = 30000};
    req.topics.push_back({.name = topic, .partitions = {{.index = 0, .records = batch}}});
    constexpr int16_t version = 7;
    protocol::writer w;
    w.int32(0);
    w.int16(protocol::produce_request::api_key);
    w.int16(version);
    w.int32(1);       // correlation id
    w.string("raw");  // client id
    protocol::encode(w, req, version);
    w.patch_int32(0, int32_t(w.size() - 4));
    const auto colon = o.bootstrap.find(':');
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(uint16_t(std::atoi(o.bootstrap.c_str() + colon + 1)));
    inet_pton(AF_INET, o.bootstrap.substr(0, colon).c_str(), &addr.sin_addr);
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
        std::perror("raw client: connect");
        std::exit(1);
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    std::vector<char> in(1 << 16);
    std::vector<int64_t> out;
    for (int i = 0; i < count + count / 10; ++i) {
        const int64_t t0 = now_ns();
        if (::send(fd, w.bytes().data(), w.size(), MSG_NOSIGNAL) != ssize_t(w.size())) {
            std::perror("raw client: send");
            std::exit(1);
        }
        size_t got = 0;
        size_t need = 4;
        while (got < need) {
            const ssize_t n = ::recv(fd, in.data() + got, in.size() - got, 0);
            if (n <= 0) {
                std::perror("raw client: recv");
                std::exit(1);
            }
            got += size_t(n);
            if (need == 4 && got >= 4) {
                protocol::reader size(std::as_bytes(std::span(in.data(), 4)));
                need = 4 + size_t(size.int32());
            }
        }
        if (i >= count / 10) {
            out.push_back(now_ns() - t0);
        }
    }
    ::close(fd);
    return out;
}

long delivered_ok;

void on_count_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void*) {
    static bool told = false;
    if (!m->err) {
        ++delivered_ok;
    } else if (!told) {
        told = true;
        std::fprintf(stderr, "throughput: delivery failed: %s\n", rd_kafka_err2str(m->err));
    }
}

void produce_throughput(const options& o, const char* level) {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set_dr_msg_cb(conf, on_count_delivery);
    rd_kafka_t* rk = make_producer(o, true, conf);
    const std::string topic = std::string("bench-") + level;
    create_topic(rk, topic, level);
    std::string value(size_t(o.record_bytes), 'v');
    delivered_ok = 0;
    const int64_t t0 = now_ns();
    for (long i = 0; i < o.throughput_records; ++i) {
        while (rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(0),
                                 RD_KAFKA_V_VALUE(value.data(), value.size()),
                                 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                 RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_poll(rk, 1);
        }
        if (i % 10000 == 0) {
            rd_kafka_poll(rk, 0);
        }
    }
    while (rd_kafka_outq_len(rk) > 0) {
        rd_kafka_poll(rk, 1);
    }
    const double seconds = double(now_ns() - t0) / 1e9;
    rd_kafka_destroy(rk);
    if (delivered_ok != o.throughput_records) {
        std::fprintf(stderr, "throughput: %ld of %ld records failed\n",
                     o.throughput_records - delivered_ok, o.throughput_records);
    }
    std::printf("| throughput, ack_after=%s, linger 5 ms | %ld records of %d B acknowledged in "
                "%.2f s | **%.0f records/s** | %.0f MiB/s |\n",
                level, delivered_ok, o.record_bytes, seconds, double(delivered_ok) / seconds,
                double(delivered_ok) * o.record_bytes / seconds / (1 << 20));
}

options parse(int argc, char** argv) {
    options o;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string k = argv[i];
        const char* v = argv[i + 1];
        if (k == "--bootstrap") {
            o.bootstrap = v;
        } else if (k == "--rate") {
            o.rate = std::atoi(v);
        } else if (k == "--seconds") {
            o.seconds = std::atoi(v);
        } else if (k == "--records") {
            o.throughput_records = std::atol(v);
        } else {
            std::fprintf(stderr, "usage: runnel-kafka-bench [--bootstrap H:P] [--rate N] "
                                 "[--seconds N] [--records N]\n");
            std::exit(2);
        }
    }
    return o;
}

} // namespace

int main(int argc, char** argv) {
    const options o = parse(argc, argv);
    prctl(PR_SET_TIMERSLACK, 1UL); // sleeps to a send time end on time, not 50 us late
    std::printf("librdkafka %s, %d-byte records, latency runs at %d records/s for %d s "
                "(+%d s warm-up)\n\n",
                rd_kafka_version_str(), o.record_bytes, o.rate, o.seconds, o.warmup_seconds);
    std::printf("| measurement | samples | p50 us | p90 us | p99 us | p99.9 us | max us | "
                "p50 / floor p50 |\n|---|--:|--:|--:|--:|--:|--:|--:|\n");
    auto floor = tcp_round_trips(o.record_bytes, 20000);
    const double floor_p50 = runnel::perf::histogram::of(floor).us(0.5);
    print_percentiles("floor: loopback TCP round trip", floor, 0);
    for (const char* level : {"memory", "write", "fsync"}) {
        auto lat = produce_latency(o, level);
        const std::string name = std::string("produce→ack, acks=1, ack_after=") + level;
        print_percentiles(name.c_str(), lat, floor_p50);
        auto raw = raw_produce_latency(o, level, o.rate * o.seconds);
        const std::string raw_name = std::string("same, minimal client, closed loop, ack_after=") +
                                     level;
        print_percentiles(raw_name.c_str(), raw, floor_p50);
    }
    std::printf("\n");
    produce_throughput(o, "memory");
    produce_throughput(o, "write");
    return 0;
}
