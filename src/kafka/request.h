// One Kafka request in flight: its own copy of the frame (so the decoded views outlive the
// connection's receive buffer), its parsed header, and the response being written. The listener
// creates it, the broker answers it (at once or later, when a produce is acknowledged or a fetch
// has data), and the listener sends the answers of a connection in arrival order.
//
// Lifecycle: owned by the listener from arrival until finish() ran and its answer was queued for
// sending; when the connection closes first, the request lives on until finish() (storage may
// still hold its waiters) and is then freed. Owning core: the shard that accepted the connection.
#pragma once

#include "base/assert.h"
#include "protocol/wire.h"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace runnel::kafka {

struct kafka_request {
    int16_t api_key = 0;
    int16_t api_version = 0;
    int32_t correlation_id = 0;
    std::optional<std::string_view> client_id; // views `frame`
    std::string client_host;                   // the peer's address, as Kafka shows it ("/ip")
    std::vector<std::byte> frame;              // the whole request after its size prefix
    size_t body_at = 0;                        // where the body starts in `frame`
    // The answer: the listener wrote the size placeholder and the response header; the handler
    // appends the body and calls finish().
    protocol::writer response;
    bool send_response = true; // false: Produce with acks=0 has no answer
    bool finished = false;
    // Set by the listener: called once by finish(). Null once the connection is gone.
    void (*on_finish)(kafka_request&) = nullptr;
    void* owner = nullptr;

    std::span<const std::byte> body() const { return std::span(frame).subspan(body_at); }
    void finish() {
        RUNNEL_ASSERT(!finished);
        finished = true;
        on_finish(*this);
    }
};

} // namespace runnel::kafka
