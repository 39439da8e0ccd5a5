// The fast-path request handler of one port: decodes each datagram (fast_path.h), runs it against
// the broker through `log_service`, and sends the answer to its sender through the port.
// Resolve, produce and subscriptions are served. A subscription pushes whole batches from its
// cursor as they become visible at its level (memory, write, fsync), while the bytes pushed past
// the subscriber's next_offset stay within its window; credit moves both, range moves the cursor
// back, and a subscription not heard from for its lease is dropped. poll() drives the pushes.
// Malformed frames that name a request id are answered with an error frame; the others are
// dropped. Every outcome is counted.
// Lifecycle and thread: created and used on the shard that polls the port; the log_service and
// the port outlive it.
#pragma once

#include "dataplane/fast_path.h"
#include "telemetry/counters_file.h"
#include "dataplane/packet.h"
#include "shard/shard.h"

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string_view>

namespace runnel::dataplane {

class port;
class produce_sink;

// What the fast path needs of the broker (runneld implements it over kafka::broker).
class log_service {
public:
    struct topic {
        uint32_t handle = 0;
        uint32_t partition_count = 0;
    };
    struct produced {
        fast_path::error_code error = fast_path::error_code::none;
        int64_t base_offset = -1;
        int64_t last_offset = -1;
    };
    virtual ~log_service() = default;
    virtual std::optional<topic> resolve(std::string_view name) = 0;
    // A new producer id (epoch 0) for an idempotent producer, as InitProducerId gives one.
    virtual int64_t new_producer_id() = 0;
    // `batch` is valid during the call only; `to.produced(cookie, ...)` runs once, now or from a
    // later duty cycle of the same shard, when the batch reached its topic's ack level (or
    // failed). No allocation per produce on either side.
    virtual void produce(uint32_t topic_handle, uint32_t partition,
                         std::span<const std::byte> batch, produce_sink& to, uint64_t cookie) = 0;
    // A partition's log start and the end of what is visible at `visibility` (0 memory, 1
    // written, 2 fsynced), or an error.
    struct extent {
        fast_path::error_code error = fast_path::error_code::none;
        int64_t log_start = 0;
        int64_t visible_end = 0;
    };
    virtual extent visible(uint32_t topic_handle, uint32_t partition, uint8_t visibility) = 0;
    // Whole stored batches from `offset` below `upto`, about max_bytes (the first one whole).
    // `done` runs once, now or later; the bytes are valid during the call only.
    using read_done = std::function<void(fast_path::error_code, std::span<const std::byte>)>;
    virtual void read(uint32_t topic_handle, uint32_t partition, int64_t offset, int64_t upto,
                      uint32_t max_bytes, read_done done) = 0;
};

// Where a produce's answer goes, with the cookie it was made with.
class produce_sink {
public:
    virtual ~produce_sink() = default;
    virtual void produced(uint64_t cookie, const log_service::produced& p) = 0;
};

struct service_counters {
    uint64_t requests = 0;
    uint64_t answers = 0;
    uint64_t answers_not_sent = 0; // no mbuf was free
    std::array<uint64_t, size_t(fast_path::decode_errc::bad_body) + 1> malformed{};
    uint64_t not_served = 0;
    uint64_t pushes = 0;
    uint64_t pushes_not_sent = 0;   // no mbuf was free: the cursor stays, the push repeats
    uint64_t leases_expired = 0;
    uint64_t batches_too_large = 0; // a batch larger than a datagram ends its subscription
};

class service final : public pollable, public produce_sink {
public:
    explicit service(log_service& log) : _log(log) {}

    // The port's handler: one datagram from `from`.
    void on_datagram(std::span<const std::byte> payload, const packet::remote_endpoint& from,
                     port& p);
    // Pushes what the subscriptions may have and expires their leases.
    uint32_t poll(uint64_t now_us, bool idle) override;
    const service_counters& counters() const { return _counters; }
    // Every counter by name ("dataplane.service.*"), for the counters file.
    std::vector<telemetry::counters_file::source> counter_sources() const;
    size_t subscription_count() const { return _subscriptions.size(); }
    void produced(uint64_t cookie, const log_service::produced& p) override;

private:
    struct subscription {
        uint32_t topic = 0;
        uint32_t partition = 0;
        uint8_t visibility = 0;
        port* via = nullptr;
        packet::remote_endpoint peer;
        int64_t cursor = 0;      // the next offset to push
        int64_t next_offset = 0; // what the subscriber has everything below
        uint32_t window_bytes = 0;
        std::deque<std::pair<int64_t, uint32_t>> in_window; // pushed: (next offset after, bytes)
        uint64_t window_used = 0;
        uint64_t lease_us = 0;
        uint64_t last_heard_us = 0;
        bool reading = false;
    };
    void answer(port& p, const packet::remote_endpoint& to, uint64_t request_id,
                const fast_path::message& m);
    void on_subscription_request(const fast_path::frame& f, const packet::remote_endpoint& from,
                                 port& p);
    void start_subscription(const fast_path::subscribe& s, uint64_t id,
                            const packet::remote_endpoint& from, port& p);
    bool push_more(uint32_t id, subscription& s);
    void on_read(uint32_t id, fast_path::error_code e, std::span<const std::byte> bytes);
    void take_credit(subscription& s, int64_t next_offset, uint32_t window_bytes);

    // Produces waiting for their answer, by cookie; freed slots are reused.
    struct pending_ack {
        port* via = nullptr;
        packet::remote_endpoint to;
        uint64_t request_id = 0;
    };
    log_service& _log;
    std::vector<pending_ack> _pending;
    std::vector<uint32_t> _free_pending;
    service_counters _counters;
    std::map<uint32_t, subscription> _subscriptions;
    uint32_t _next_subscription = 1;
    std::vector<uint32_t> _poll_ids; // poll()'s snapshot of the subscription ids
    uint64_t _now_us = 0;
};

} // namespace runnel::dataplane
