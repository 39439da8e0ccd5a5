#include "kafka/listener.h"

#include "protocol/api_versions.h"
#include "protocol/wire.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace runnel::kafka {

namespace {

constexpr uint32_t ring_entries = 256;
constexpr size_t recv_chunk_bytes = 64u << 10;
constexpr size_t frame_header_min_bytes = 8; // api key, version, correlation id

// What this broker serves; ApiVersions answers from it, so it claims nothing else.
constexpr protocol::api_range served_apis[] = {
    {protocol::metadata_key, 0, protocol::metadata_version_max},
    {protocol::api_versions_key, 0, protocol::api_versions_version_max},
};

const protocol::api_range* served(int16_t key) {
    for (const auto& a : served_apis) {
        if (a.api_key == key) {
            return &a;
        }
    }
    return nullptr;
}

// First flexible version of each served API (request header v2, tagged fields).
int16_t first_flexible(int16_t key) {
    return key == protocol::api_versions_key ? 3 : protocol::metadata_first_flexible;
}

std::string errno_text(int err) { return std::strerror(err); }

} // namespace

listener::listener(listener_options o) : _opts(std::move(o)) {}

result<std::unique_ptr<listener>, std::string> listener::create(listener_options o) {
    std::unique_ptr<listener> l(new listener(std::move(o)));
    const std::string where = l->_opts.address + ":" + std::to_string(l->_opts.port);
    l->_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (l->_fd < 0) {
        return failure("kafka listener: socket: " + errno_text(errno));
    }
    int one = 1;
    ::setsockopt(l->_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    ::setsockopt(l->_fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(l->_opts.port);
    if (inet_pton(AF_INET, l->_opts.address.c_str(), &addr.sin_addr) != 1) {
        return failure("kafka listener: " + l->_opts.address + " is not an IPv4 address");
    }
    if (::bind(l->_fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::listen(l->_fd, 1024) != 0) {
        return failure("kafka listener: cannot listen on " + where + ": " + errno_text(errno) +
                       " (set kafka.listen_address / kafka.listen_port)");
    }
    socklen_t len = sizeof(addr);
    ::getsockname(l->_fd, reinterpret_cast<sockaddr*>(&addr), &len);
    l->_port = ntohs(addr.sin_port);
    if (int rc = io_uring_queue_init(ring_entries, &l->_ring, 0); rc < 0) {
        ::close(l->_fd);
        l->_fd = -1;
        return failure("kafka listener: io_uring: " + errno_text(-rc));
    }
    return l;
}

listener::~listener() {
    if (_fd < 0) {
        return;
    }
    // Shutting the sockets down completes their pending operations; wait for those completions
    // (bounded) so the kernel is done with every buffer before the buffers are freed.
    ::shutdown(_fd, SHUT_RDWR);
    for (auto& c : _connections) {
        ::shutdown(c->fd, SHUT_RDWR);
    }
    for (int i = 0; i < 1000 && _in_flight > 0; ++i) {
        io_uring_cqe* cqe = nullptr;
        __kernel_timespec timeout{.tv_sec = 0, .tv_nsec = 1'000'000};
        if (io_uring_wait_cqe_timeout(&_ring, &cqe, &timeout) == 0 && cqe != nullptr) {
            io_uring_cqe_seen(&_ring, cqe);
            --_in_flight;
        }
    }
    for (auto& c : _connections) {
        ::close(c->fd);
    }
    ::close(_fd);
    io_uring_queue_exit(&_ring);
}

uint32_t listener::poll(uint64_t, bool) {
    uint32_t work = post_ops();
    io_uring_cqe* cqe = nullptr;
    uint32_t seen = 0;
    while (seen < ring_entries && io_uring_peek_cqe(&_ring, &cqe) == 0 && cqe != nullptr) {
        auto* o = static_cast<op*>(io_uring_cqe_get_data(cqe));
        int res = cqe->res;
        io_uring_cqe_seen(&_ring, cqe);
        --_in_flight;
        ++seen;
        o->posted = false;
        switch (o->kind) {
        case op_kind::accept: on_accept(res); break;
        case op_kind::recv: on_recv(*o->conn, res); break;
        case op_kind::send: on_send(*o->conn, res); break;
        }
    }
    reap_closed();
    return work + seen;
}

// Posts what is missing: the accept, a recv per open connection, a send per connection with
// unsent responses. Returns how many it posted.
uint32_t listener::post_ops() {
    uint32_t posted = 0;
    auto sqe_for = [&](op& o) -> io_uring_sqe* {
        io_uring_sqe* sqe = io_uring_get_sqe(&_ring);
        if (sqe != nullptr) {
            io_uring_sqe_set_data(sqe, &o);
            o.posted = true;
            ++_in_flight;
            ++posted;
        }
        return sqe;
    };
    if (!_accept_op.posted && _connections.size() < _opts.connections_max) {
        if (io_uring_sqe* sqe = sqe_for(_accept_op)) {
            io_uring_prep_accept(sqe, _fd, nullptr, nullptr, SOCK_CLOEXEC);
        }
    }
    for (auto& cp : _connections) {
        connection& c = *cp;
        if (c.closing) {
            continue;
        }
        if (!c.recv_op.posted) {
            if (c.in.size() - c.in_len < recv_chunk_bytes / 4) {
                c.in.resize(std::max(c.in.size() * 2, c.in_len + recv_chunk_bytes));
            }
            if (io_uring_sqe* sqe = sqe_for(c.recv_op)) {
                io_uring_prep_recv(sqe, c.fd, c.in.data() + c.in_len, c.in.size() - c.in_len, 0);
            }
        }
        if (!c.send_op.posted && c.out_sent < c.out.size()) {
            if (io_uring_sqe* sqe = sqe_for(c.send_op)) {
                io_uring_prep_send(sqe, c.fd, c.out.data() + c.out_sent, c.out.size() - c.out_sent,
                                   MSG_NOSIGNAL);
            }
        }
    }
    if (posted > 0) {
        io_uring_submit(&_ring);
    }
    return posted;
}

void listener::on_accept(int res) {
    if (res < 0) {
        std::fprintf(stderr, "kafka listener: accept: %s\n", errno_text(-res).c_str());
        return;
    }
    int one = 1;
    ::setsockopt(res, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    auto c = std::make_unique<connection>();
    c->fd = res;
    c->recv_op.conn = c.get();
    c->send_op.conn = c.get();
    _connections.push_back(std::move(c));
}

void listener::on_recv(connection& c, int res) {
    if (res <= 0) {
        close_connection(c, res == 0 ? nullptr : "recv failed");
        return;
    }
    c.in_len += size_t(res);
    if (!handle_frames(c)) {
        return;
    }
}

void listener::on_send(connection& c, int res) {
    if (res < 0) {
        close_connection(c, "send failed");
        return;
    }
    c.out_sent += size_t(res);
    if (c.out_sent == c.out.size()) {
        c.out.clear();
        c.out_sent = 0;
    }
}

// Answers every whole frame in the buffer, in order; false when the connection was closed.
bool listener::handle_frames(connection& c) {
    size_t at = 0;
    while (c.in_len - at >= 4) {
        protocol::reader size_reader(std::span(c.in).subspan(at, 4));
        int32_t size = size_reader.int32();
        if (size < int32_t(frame_header_min_bytes) || uint32_t(size) > _opts.request_bytes_max) {
            close_connection(c, "request size out of range (kafka.request_bytes_max)");
            return false;
        }
        if (c.in_len - at - 4 < size_t(size)) {
            break; // the rest of this frame has not arrived
        }
        if (!handle_request(c, std::span(c.in).subspan(at + 4, size_t(size)))) {
            return false;
        }
        at += 4 + size_t(size);
    }
    std::memmove(c.in.data(), c.in.data() + at, c.in_len - at);
    c.in_len -= at;
    return true;
}

bool listener::handle_request(connection& c, std::span<const std::byte> frame) {
    protocol::reader peek(frame);
    const int16_t api_key = peek.int16();
    const int16_t api_version = peek.int16();
    const protocol::api_range* api = served(api_key);
    if (api == nullptr) {
        std::fprintf(stderr, "kafka listener: api key %d is not served yet; closing\n", api_key);
        close_connection(c, nullptr);
        return false;
    }
    const bool known_version = api_version >= api->min_version && api_version <= api->max_version;
    const bool flexible = known_version && api_version >= first_flexible(api_key);
    protocol::reader r(frame);
    auto header = protocol::read_request_header(r, flexible ? 2 : 1);
    protocol::writer w;
    w.int32(0); // size, patched below
    w.int32(header.correlation_id);
    if (api_key == protocol::api_versions_key) {
        // Response header v0 for every version, so any client can read the answer.
        if (!known_version) {
            protocol::encode_api_versions_response(w, 0, protocol::error_unsupported_version,
                                                   served_apis, 0);
        } else if (!r.ok() || !protocol::decode_api_versions_request(r, api_version)) {
            close_connection(c, "malformed ApiVersions request");
            return false;
        } else {
            protocol::encode_api_versions_response(w, api_version, protocol::error_none,
                                                   served_apis, 0);
        }
    } else {
        std::optional<protocol::metadata_request> m;
        if (known_version && r.ok()) {
            m = protocol::decode_metadata_request(r, api_version);
        }
        if (!m) {
            // A client must ask ApiVersions first; a version outside it is a malformed request.
            close_connection(c, "malformed or unsupported Metadata request");
            return false;
        }
        if (flexible) {
            w.empty_tagged_fields(); // response header v1
        }
        answer_metadata(w, api_version, *m);
    }
    w.patch_int32(0, int32_t(w.size() - 4));
    c.out.insert(c.out.end(), w.bytes().begin(), w.bytes().end());
    return true;
}

// One node leads every partition at epoch 0 (single-node mode); unknown names get
// UNKNOWN_TOPIC_OR_PARTITION (no automatic topic creation yet).
void listener::answer_metadata(protocol::writer& w, int16_t version,
                               const protocol::metadata_request& m) {
    protocol::metadata_response res;
    res.brokers.push_back({_opts.node_id, _opts.address, int32_t(_port)});
    res.controller_id = _opts.node_id;
    auto add = [&](const storage::topic_metadata& t) {
        protocol::metadata_topic mt{.error_code = 0, .name = t.name, .id = t.id};
        for (int32_t p = 0; p < t.partition_count; ++p) {
            mt.partitions.push_back({.error_code = 0, .index = p, .leader = _opts.node_id,
                                     .leader_epoch = 0, .replicas = {_opts.node_id},
                                     .isr = {_opts.node_id}});
        }
        res.topics.push_back(std::move(mt));
    };
    if (!m.topics) {
        for (const auto& t : _opts.topics) {
            add(t);
        }
    } else {
        for (std::string_view name : *m.topics) {
            auto it = std::find_if(_opts.topics.begin(), _opts.topics.end(),
                                   [&](const auto& t) { return t.name == name; });
            if (it != _opts.topics.end()) {
                add(*it);
            } else {
                res.topics.push_back({.error_code = protocol::error_unknown_topic_or_partition,
                                      .name = name});
            }
        }
    }
    protocol::encode_metadata_response(w, version, res);
}

void listener::close_connection(connection& c, const char* why) {
    if (why != nullptr) {
        std::fprintf(stderr, "kafka listener: closing a connection: %s\n", why);
    }
    if (!c.closing) {
        c.closing = true;
        ::shutdown(c.fd, SHUT_RDWR); // ends its pending recv and send
    }
}

// Frees closed connections once none of their operations is still posted.
void listener::reap_closed() {
    std::erase_if(_connections, [](const std::unique_ptr<connection>& c) {
        if (c->closing && !c->recv_op.posted && !c->send_op.posted) {
            ::close(c->fd);
            return true;
        }
        return false;
    });
}

} // namespace runnel::kafka
