// The load drivers of runnel-perf (design: src/design/20261201-runnel-perf.md). A producer sends
// requests, each one batch of `batch` records, and reports each acknowledged request; a consumer
// reads the records back and reports each request whose last record it has read. One thread
// drives them all; nothing here is thread-safe.
#pragma once

#include "base/result.h"
#include "storage/batch_builder.h"

#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace runnel::perf {

// What a request's records carry at the start of their values, so that a consumer can tell which
// request a record belongs to and when the request's last record has arrived.
struct record_tag {
    uint64_t request = 0;
    uint32_t index = 0; // within the request's batch
    uint32_t count = 0; // records in the batch
    static constexpr size_t bytes = 16;
};
inline void write_tag(std::span<std::byte> value, const record_tag& t) {
    std::memcpy(value.data(), &t.request, 8);
    std::memcpy(value.data() + 8, &t.index, 4);
    std::memcpy(value.data() + 12, &t.count, 4);
}
inline bool read_tag(std::span<const std::byte> value, record_tag& t) {
    if (value.size() < record_tag::bytes) {
        return false;
    }
    std::memcpy(&t.request, value.data(), 8);
    std::memcpy(&t.index, value.data() + 8, 4);
    std::memcpy(&t.count, value.data() + 12, 4);
    return t.count > 0 && t.index < t.count;
}

// Where the drivers report to.
class sink {
public:
    virtual ~sink() = default;
    virtual void done(uint64_t request) = 0;
    // The request failed for good (an error answer, a timeout); `why` is the precise reason.
    virtual void failed(uint64_t request, std::string_view why) = 0;
    // A consumer read a record whose tag it could not read, or the driver lost its connection.
    virtual void broken(std::string_view why) = 0;
};

class producer {
public:
    virtual ~producer() = default;
    // Sends request `request` (to partition request % partitions); false when it cannot now
    // (its window is full): the caller offers it again after the next poll.
    virtual bool send(uint64_t request) = 0;
    // Handles what has arrived and reports it to `s`; returns the events handled (0: idle).
    virtual uint32_t poll(sink& s) = 0;
    // Readable when poll() has work; -1 when the driver must be polled (spun on).
    virtual int fd() const { return -1; }
};

class consumer {
public:
    virtual ~consumer() = default;
    virtual uint32_t poll(sink& s) = 0;
    virtual int fd() const { return -1; }
};

// What a run asks of its drivers.
struct workload {
    std::string topic;           // created by the harness before the drivers open
    uint32_t partitions = 1;
    uint32_t record_bytes = 100; // >= record_tag::bytes
    uint32_t batch = 1;          // records per request
    uint32_t window = 5;         // requests a producer keeps unacknowledged, at most
    std::string durability = "memory"; // memory | write | fsync
};

// One request's records, rewritten for each request: `batch` values of record_bytes, each
// starting with its tag. Views into them stay valid until the next tagged().
class record_values {
public:
    explicit record_values(const workload& w)
        : _values(w.batch, std::string(w.record_bytes, 'v')), _specs(w.batch) {}
    std::span<const storage::record_spec> tagged(uint64_t request) {
        for (uint32_t i = 0; i < _values.size(); ++i) {
            write_tag(std::as_writable_bytes(std::span(_values[i].data(), _values[i].size())),
                      {.request = request, .index = i, .count = uint32_t(_values.size())});
            _specs[i] = {.value = _values[i]};
        }
        return _specs;
    }

private:
    std::vector<std::string> _values;
    std::vector<storage::record_spec> _specs;
};

// Where the servers listen (filled in by the harness when it starts them).
struct endpoints {
    std::string kafka = "127.0.0.1:9092";   // host:port
    std::string fast_udp = "192.0.2.1:9093"; // the broker's fast path seen from the harness
    std::string udp_netns;                   // the namespace the harness's UDP socket lives in
    uint16_t udp_mtu = 1500;                 // the link's IP MTU: datagrams up to 28 bytes less
    std::string memif_socket;                // runneld's memif server socket
    std::string redis = "127.0.0.1:6379";
    std::string nats = "127.0.0.1:4222";
};

template <typename T>
using made = result<std::unique_ptr<T>, std::string>;

// One function per transport; `index` tells producers (and consumers) of one run apart. A
// consumer reads partitions p with p % consumers == index, from the start of the (fresh) topic.
made<producer> kafka_producer(const endpoints&, const workload&, uint32_t index);
made<consumer> kafka_consumer(const endpoints&, const workload&, uint32_t index, uint32_t of);
made<producer> rdkafka_producer(const endpoints&, const workload&, uint32_t index);
made<consumer> rdkafka_consumer(const endpoints&, const workload&, uint32_t index, uint32_t of);
made<producer> fast_producer(const endpoints&, const workload&, uint32_t index, bool memif);
made<consumer> fast_consumer(const endpoints&, const workload&, uint32_t index, uint32_t of,
                             bool memif);
made<producer> redis_producer(const endpoints&, const workload&, uint32_t index);
made<consumer> redis_consumer(const endpoints&, const workload&, uint32_t index, uint32_t of);
made<producer> nats_producer(const endpoints&, const workload&, uint32_t index);
made<consumer> nats_consumer(const endpoints&, const workload&, uint32_t index, uint32_t of);

// Creates the run's topic (or stream) with its partitions and durability; an error says why.
result<void, std::string> kafka_create_topic(const endpoints&, const workload&);
result<void, std::string> redis_create_topic(const endpoints&, const workload&);
result<void, std::string> nats_create_topic(const endpoints&, const workload&);

} // namespace runnel::perf
