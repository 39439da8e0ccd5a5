// The Kafka protocol listener of one shard: a TCP socket bound with SO_REUSEPORT (so every shard
// listens on the same address and the kernel spreads connections), driven by the shard's own
// io_uring-based duty cycle: accept, recv into a per-connection buffer, frame by the int32 size
// prefix, hand each request to the shard's request_handler, send the answers in arrival order.
//
// Answers may complete out of order (a produce waits for its acknowledgement while a later
// metadata request is answered at once); each connection queues its requests and sends from the
// front as they finish, so pipelining clients see Kafka's in-order guarantee.
// Back-pressure: a connection stops being read while it has pending_requests_max requests
// unanswered or more than output_bytes_max of answers unsent (a client that does not read).
// Frames smaller than a header or larger than request_bytes_max, and APIs or versions the
// handler does not serve, close the connection with a log line: the protocol has no error
// answer for them (ApiVersions is the exception, answered by the handler).
// Lifecycle: created and destroyed on the owning shard's thread (its on_start / on_stop hooks).
// Thread-safety: none; one shard thread.
#pragma once

#include "base/result.h"
#include "kafka/request.h"
#include "shard/shard.h"

#include <liburing.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace runnel::kafka {

// What the listener needs from the broker.
class request_handler {
public:
    struct header_versions {
        int request = 1;  // 1: classic, 2: flexible (tagged fields after the client id)
        int response = 0; // 0: correlation id only, 1: plus tagged fields
    };
    virtual ~request_handler() = default;
    // The header versions of (api_key, api_version), or nullopt when it is not served at all
    // (the listener then closes the connection).
    virtual std::optional<header_versions> header_version(int16_t api_key,
                                                          int16_t api_version) const = 0;
    // Answers the request: now or later, by appending the body to r.response and calling
    // r.finish() exactly once (with r.send_response = false for a request without an answer),
    // or by returning false when the body is malformed (the connection is then closed and
    // finish() must not be called).
    virtual bool handle(kafka_request& r) = 0;
};

struct listener_options {
    std::string address = "127.0.0.1";
    uint16_t port = 9092;
    uint32_t request_bytes_max = 100u << 20;
    uint32_t connections_max = 4096;
    uint32_t pending_requests_max = 256;
    uint32_t output_bytes_max = 64u << 20;
};

class listener final : public pollable {
public:
    static result<std::unique_ptr<listener>, std::string> create(listener_options o,
                                                                 request_handler& handler);
    ~listener() override;
    listener(const listener&) = delete;
    listener& operator=(const listener&) = delete;

    // Fails with a message when address:port is taken. Every shard binds with SO_REUSEPORT, which
    // would let a second broker on the same port silently take half the connections; a plain
    // bind first (before the shards start) refuses that. Port 0 is always free.
    static result<void, std::string> check_port_free(const std::string& address, uint16_t port);

    uint32_t poll(uint64_t now_us, bool idle) override;
    uint16_t port() const { return _port; } // the bound port (useful with port 0 in tests)
    size_t connection_count() const { return _connections.size(); }

private:
    struct connection;
    enum class op_kind : uint8_t { accept, recv, send };
    struct op {
        op_kind kind;
        connection* conn;
        bool posted = false;
    };
    struct connection {
        listener* home = nullptr;
        int fd = -1;
        std::string host; // "/a.b.c.d", Kafka's form of the peer address
        std::vector<std::byte> in;  // received bytes not yet framed
        size_t in_len = 0;
        std::vector<std::byte> out;     // answers queued behind the send in flight
        std::vector<std::byte> sending; // the bytes of the send in flight; untouched until done
        size_t sent = 0;
        std::deque<kafka_request*> pending; // in arrival order
        bool closing = false;
        op recv_op{op_kind::recv, nullptr};
        op send_op{op_kind::send, nullptr};
    };

    listener(listener_options o, request_handler& handler);
    uint32_t post_ops();
    bool blocked(const connection& c) const;
    void on_accept(int res);
    void on_recv(connection& c, int res);
    void on_send(connection& c, int res);
    bool handle_frames(connection& c);
    bool handle_request(connection& c, std::span<const std::byte> frame);
    static void on_request_finished(kafka_request& r);
    void queue_answers(connection& c);
    void close_connection(connection& c, const char* why);
    void reap_closed();

    listener_options _opts;
    request_handler& _handler;
    int _fd = -1;
    uint16_t _port = 0;
    io_uring _ring{};
    op _accept_op{op_kind::accept, nullptr};
    std::vector<std::unique_ptr<connection>> _connections;
    uint32_t _in_flight = 0;
};

} // namespace runnel::kafka
