// librunnel: a producer and subscriber of the fast path (grammar: dataplane/fast_path.md) over a
// transport that carries its datagrams to one broker: a kernel UDP socket (any host) or a DPDK
// port (memif on the same host, af_packet or a NIC elsewhere). The plain C API is runnel.h.
//
// Produce is asynchronous: produce() queues one batch and returns; poll() receives the acks, runs
// the completions and retransmits what was not answered in time. Each partition produced to gets
// a producer id of the broker's; its batches carry consecutive sequence numbers, at most `window`
// unacknowledged, so a retransmit is never appended twice. A batch that fails for good fails the
// ones sent after it too (the broker cannot append them without it), and the next produce
// continues from its sequence; a timed-out or fenced partition starts again under a new id.
// Subscriptions get records in offset order: a gap is asked for again by range, and a silent
// subscription asks again from where it is, which also recovers a lost last push.
//
// Lifecycle: one client per broker and transport; resolve() and subscribe() block (polling)
// until answered. Thread-safety: none; one thread drives a client. The steady state (produce,
// poll) reuses its buffers; the first produce to a partition allocates its state.
#pragma once

#include "base/result.h"
#include "dataplane/fast_path.h"
#include "storage/batch_builder.h"

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace runnel::client {

namespace fast_path = dataplane::fast_path;

// The broker's error codes (fast_path::error_code, same numbers) and the client's own.
enum class status : uint16_t {
    ok = 0,
    would_block = 100, // the partition's window is full: poll() and try again
    timed_out = 101,   // unanswered for timeout_ms (a batch may or may not have been appended)
    too_large = 102,   // the batch does not fit one datagram
    bad_argument = 103,
    closed = 104, // the client went away before an answer
};
inline status from_wire(fast_path::error_code e) { return status(uint16_t(e)); }
std::string_view to_string(status s);

// Carries datagrams to and from one broker.
class transport {
public:
    using sink = void (*)(void* ctx, std::span<const std::byte> datagram);
    virtual ~transport() = default;
    // Sends one datagram; false when it cannot now (the retransmit timer covers it).
    virtual bool send(std::span<const std::byte> datagram) = 0;
    // Hands every datagram that has arrived to `on` (valid during the call); returns the count.
    virtual uint32_t receive(sink on, void* ctx) = 0;
    // The largest datagram it carries.
    virtual size_t datagram_max() const = 0;
    // A descriptor that becomes readable when a datagram arrives, for a caller that sleeps
    // between polls; -1 when there is none (DPDK: poll it).
    virtual int fd() const { return -1; }
};

struct udp_options {
    std::string broker_address = "127.0.0.1";
    uint16_t broker_port = 9093;
    std::string bind_address = "0.0.0.0";
    uint16_t bind_port = 0;      // 0: any
    size_t datagram_max = 1472;  // a 1500-byte MTU; up to 65507 where the path allows
};
result<std::unique_ptr<transport>, std::string> open_udp(const udp_options& o);

struct dpdk_options {
    std::vector<std::string> eal_args; // e.g. {"--no-huge", "-m", "256", "--vdev=net_memif0,..."}
    std::string self_address;          // this port's IPv4 address
    uint16_t self_port = 40000;
    std::string broker_address;
    uint16_t broker_port = 9093;
    uint32_t mbufs = 4096;
    uint16_t mtu = 1500;           // the port's IP MTU: datagrams up to mtu - 28 bytes
    uint32_t link_wait_ms = 10000; // how long to wait for the link to come up
};
// Initialises DPDK's EAL (once per process), opens its first port, waits for its link and finds
// the broker's MAC by ARP (both within link_wait_ms).
result<std::unique_ptr<transport>, std::string> open_dpdk(const dpdk_options& o);

struct client_options {
    // A produce unanswered this long is sent again: at least retransmit_us, more when acks take
    // longer (the smoothed ack time + 4x its variation, as TCP's timer), doubling on each resend,
    // at most 50x retransmit_us.
    uint32_t retransmit_us = 2000;
    uint32_t timeout_ms = 10000;   // then it fails with timed_out
    uint32_t window = 5;           // unacknowledged batches per partition, 1..5
    // Records produced while a partition's window is full wait here (copied), up to this many
    // bytes a partition, and leave as one batch when a slot frees, as a Kafka client batches
    // while it lingers; each produce still gets its own delivery. 0: produce() says would_block.
    // At most what one datagram carries.
    uint32_t queue_bytes = 0;
};

struct topic {
    uint32_t handle = 0;
    uint32_t partition_count = 0;
};

using record = storage::record_spec;

struct delivery {
    status error = status::ok;
    int64_t base_offset = -1;
    int64_t last_offset = -1;
};
using delivery_fn = std::function<void(const delivery&)>;

struct record_view {
    int64_t offset = 0;
    int64_t timestamp = 0;
    std::optional<std::span<const std::byte>> key;
    std::optional<std::span<const std::byte>> value;
};
using record_fn = std::function<void(const record_view&)>;

struct subscribe_options {
    int64_t start_offset = -2;     // -2 the log start, -1 the log end, else an offset
    uint8_t visibility = 0;        // 0 memory, 1 written, 2 fsynced
    uint32_t window_bytes = 256u << 10;
    uint32_t lease_ms = 3000;      // heartbeats go out every lease_ms / 4
};

class client {
public:
    explicit client(std::unique_ptr<transport> t, client_options o = {});
    ~client(); // fails what is still in flight with status::closed, unsubscribes
    client(const client&) = delete;
    client& operator=(const client&) = delete;

    result<topic, status> resolve(std::string_view name);

    // Queues `records` as one batch to `partition`; `done` runs from a later poll(). ok, or
    // would_block (window full, and the queue too when there is one), too_large, bad_argument;
    // another error when the partition's producer id could not be had (the call then waited up
    // to timeout_ms for it).
    status produce(const topic& t, uint32_t partition, std::span<const record> records,
                   delivery_fn done);

    // Subscribes to one partition; `on_record` runs from poll() for each record, in offset order.
    result<uint32_t, status> subscribe(const topic& t, uint32_t partition,
                                       const subscribe_options& o, record_fn on_record);
    void unsubscribe(uint32_t subscription);
    // The offset the subscription delivers next.
    int64_t next_offset(uint32_t subscription) const;

    // Receives and handles what arrived, fires the timers; returns the events handled.
    uint32_t poll();
    // Polls until no produce is in flight; false if some still are after timeout_ms.
    bool flush(uint32_t timeout_ms);
    size_t in_flight() const { return _in_flight; }
    const transport& link() const { return *_transport; }

    struct counters {
        uint64_t sent = 0;
        uint64_t retransmits = 0;
        uint64_t send_failures = 0; // the transport refused a datagram
        uint64_t stale_answers = 0; // answers to requests already answered
        uint64_t gaps = 0;          // ranges asked for again
    };
    const counters& stats() const { return _counters; }

private:
    struct slot {
        bool busy = false;
        int32_t sequence = 0; // of the batch's first record
        uint32_t batch = 0;   // the partition's batch number: picks the slot, names the request
        uint64_t first_sent_us = 0;
        uint64_t last_sent_us = 0;
        uint64_t resend_after_us = 0; // doubles with each retransmit
        bool resent = false;          // its ack time is not a sample (which send does it answer?)
        std::vector<std::byte> datagram; // the encoded produce frame, resent as is
        delivery_fn done;
    };
    // Records waiting for a slot (queue_bytes), in one buffer reused from batch to batch.
    struct queued_record {
        int32_t key_at = -1, key_bytes = -1; // -1: null
        int32_t value_at = -1, value_bytes = -1;
        int64_t timestamp_delta = 0;
    };
    struct partition_state {
        uint32_t topic_handle = 0;
        uint32_t partition = 0;
        size_t index = 0; // in _partitions
        int64_t producer_id = -1;
        int16_t epoch = 0;
        int32_t next_sequence = 0; // of the next batch's first record
        uint32_t next_batch = 0;
        uint32_t busy = 0;
        std::vector<slot> slots; // by batch % window
        std::string queue_data;
        std::vector<queued_record> queue;
        std::vector<std::pair<delivery_fn, uint32_t>> queue_waiting; // a produce, its records
    };
    struct subscription {
        subscribe_options opts;
        int64_t next = 0;
        bool moved = false;  // records arrived since the last credit
        bool closed = false; // unsubscribed; erased by the next poll
        uint64_t last_push_us = 0;
        uint64_t last_sent_us = 0;
        record_fn on_record;
    };

    static void on_datagram(void* self, std::span<const std::byte> d);
    void handle(const fast_path::frame& f);
    void on_ack(uint64_t request_id, const fast_path::ack& a);
    void on_push(const fast_path::push& p);
    // Sends a control request until it is answered; the answer, or timed_out.
    result<fast_path::frame, status> call(const fast_path::message& m);
    bool send(const fast_path::frame& f);
    bool send_datagram(std::span<const std::byte> d);
    void complete(partition_state& p, slot& s, const delivery& d);
    // Builds, sends and keeps one batch in the partition's next slot (which is free).
    status send_batch(partition_state& p, std::span<const record> records, delivery_fn done);
    status enqueue(partition_state& p, std::span<const record> records, delivery_fn done);
    void send_queued(partition_state& p); // as one batch, when a slot is free
    // Fails the partition's batches from `first` on; all of them when null, and then its
    // producer id goes too.
    void fail_from(partition_state& p, const slot* first, status why);
    uint32_t fire_timers(uint64_t now);

    std::unique_ptr<transport> _transport;
    client_options _opts;
    std::deque<partition_state> _partitions; // stable: completions may add to it
    std::unordered_map<uint64_t, size_t> _partition_index; // topic << 32 | partition
    std::unordered_map<uint32_t, subscription> _subscriptions;
    uint64_t _next_request = 1;
    uint64_t _awaited = 0; // the control request call() waits for
    std::optional<fast_path::frame> _answer;
    size_t _in_flight = 0;
    uint64_t _last_timers_us = 0;
    uint64_t _ack_us = 0;     // smoothed ack time of produces answered on their first send
    uint64_t _ack_var_us = 0; // and its mean deviation
    uint64_t resend_after_us() const;
    uint64_t resend_max_us() const;
    std::vector<std::byte> _scratch; // encoding buffer for control frames and credits
    std::vector<std::byte> _batch;   // the batch being built
    std::vector<record> _queued;     // the queue's records as one batch's
    counters _counters;
};

} // namespace runnel::client
