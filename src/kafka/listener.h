// The Kafka protocol listener of one shard: a TCP socket bound with SO_REUSEPORT (so every shard
// listens on the same address and the kernel spreads connections), driven by the shard's own
// io_uring-based duty cycle: accept, recv into a per-connection buffer, frame by the int32 size
// prefix, answer each request in order, send.
//
// Today it serves ApiVersions and Metadata (and claims nothing else); any other API closes the
// connection with a log line. Frames smaller than a header or larger than request_bytes_max
// close the connection too: the protocol has no error answer for them.
// Lifecycle: created and destroyed on the owning shard's thread (its on_start / on_stop hooks).
// Thread-safety: none; one shard thread.
#pragma once

#include "base/result.h"
#include "protocol/metadata.h"
#include "protocol/wire.h"
#include "shard/shard.h"
#include "storage/topic_store.h"

#include <liburing.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace runnel::kafka {

struct listener_options {
    std::string address = "127.0.0.1";
    uint16_t port = 9092;
    uint32_t request_bytes_max = 100u << 20;
    uint32_t connections_max = 4096;
    int32_t node_id = 0;
    // Topics as they were at start-up; copied. Topic administration will keep it current.
    std::vector<storage::topic_metadata> topics;
};

class listener final : public pollable {
public:
    static result<std::unique_ptr<listener>, std::string> create(listener_options o);
    ~listener() override;
    listener(const listener&) = delete;
    listener& operator=(const listener&) = delete;

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
        int fd = -1;
        std::vector<std::byte> in;  // received bytes not yet framed
        size_t in_len = 0;
        std::vector<std::byte> out; // encoded responses not yet sent
        size_t out_sent = 0;
        bool closing = false;
        op recv_op{op_kind::recv, nullptr};
        op send_op{op_kind::send, nullptr};
    };

    explicit listener(listener_options o);
    uint32_t post_ops();
    void on_accept(int res);
    void on_recv(connection& c, int res);
    void on_send(connection& c, int res);
    bool handle_frames(connection& c);
    bool handle_request(connection& c, std::span<const std::byte> frame);
    void answer_metadata(protocol::writer& w, int16_t version, const protocol::metadata_request& m);
    void close_connection(connection& c, const char* why);
    void reap_closed();

    listener_options _opts;
    int _fd = -1;
    uint16_t _port = 0;
    io_uring _ring{};
    op _accept_op{op_kind::accept, nullptr};
    std::vector<std::unique_ptr<connection>> _connections;
    uint32_t _in_flight = 0;
};

} // namespace runnel::kafka
