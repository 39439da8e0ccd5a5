// The fast-path request handler of one port: decodes each datagram (fast_path.h), runs it against
// the broker through `log_service`, and sends the answer to its sender through the port.
// Resolve and produce are served; subscriptions (subscribe, credit, range, heartbeat,
// unsubscribe) are answered with not_served until they are built. Malformed frames that name a
// request id are answered with an error frame; the others are dropped. Every outcome is counted.
// Lifecycle and thread: created and used on the shard that polls the port; the log_service and
// the port outlive it.
#pragma once

#include "dataplane/fast_path.h"
#include "dataplane/packet.h"

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string_view>

namespace runnel::dataplane {

class port;

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
    // `batch` is valid during the call only; `done` runs once, now or from a later duty cycle
    // of the same shard, when the batch reached its topic's ack level (or failed).
    virtual void produce(uint32_t topic_handle, uint32_t partition,
                         std::span<const std::byte> batch, std::function<void(produced)> done) = 0;
};

struct service_counters {
    uint64_t requests = 0;
    uint64_t answers = 0;
    uint64_t answers_not_sent = 0; // no mbuf was free
    std::array<uint64_t, size_t(fast_path::decode_errc::bad_body) + 1> malformed{};
    uint64_t not_served = 0;
};

class service {
public:
    explicit service(log_service& log) : _log(log) {}

    // The port's handler: one datagram from `from`.
    void on_datagram(std::span<const std::byte> payload, const packet::remote_endpoint& from,
                     port& p);
    const service_counters& counters() const { return _counters; }

private:
    void answer(port& p, const packet::remote_endpoint& to, uint64_t request_id,
                const fast_path::message& m);

    log_service& _log;
    service_counters _counters;
};

} // namespace runnel::dataplane
