#include "kafka/listener.h"

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

std::string errno_text(int err) { return std::strerror(err); }

// A request whose connection closed before it finished frees itself when it does.
void free_orphan(kafka_request& r) { delete &r; }

} // namespace

listener::listener(listener_options o, request_handler& handler)
  : _opts(std::move(o)), _handler(handler) {}

result<std::unique_ptr<listener>, std::string> listener::create(listener_options o,
                                                                request_handler& handler) {
    std::unique_ptr<listener> l(new listener(std::move(o), handler));
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

result<void, std::string> listener::check_port_free(const std::string& address, uint16_t port) {
    if (port == 0) {
        return {};
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    if (inet_pton(AF_INET, address.c_str(), &addr.sin_addr) != 1) {
        return failure("kafka listener: " + address + " is not an IPv4 address");
    }
    // A broker killed a moment ago holds its port until the kernel has torn down its io_uring
    // (an accept in flight keeps the socket): give that up to 3 s before calling it taken.
    int err = 0;
    for (int attempt = 0; attempt < 60; ++attempt) {
        const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            return failure("kafka listener: socket: " + errno_text(errno));
        }
        int one = 1;
        ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)); // TIME_WAIT is no owner
        const int rc = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
        err = errno;
        ::close(fd);
        if (rc == 0) {
            return {};
        }
        if (err != EADDRINUSE) {
            break;
        }
        ::usleep(50'000);
    }
    return failure("kafka listener: cannot listen on " + address + ":" + std::to_string(port) +
                   ": " + errno_text(err) +
                   " (another runneld or Kafka broker? set kafka.listen_port)");
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
        close_connection(*c, nullptr); // hands unfinished requests their own lifetime
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

// A connection is not read while it has too many requests unanswered or too many answers unsent.
bool listener::blocked(const connection& c) const {
    return c.pending.size() >= _opts.pending_requests_max ||
           c.out.size() + c.sending.size() > _opts.output_bytes_max;
}

// Posts what is missing: the accept, a recv per open connection that is not blocked, a send per
// connection with queued answers. Frames left unhandled while a connection was blocked are
// handled first (no recv is posted then, so the buffer may move). Returns the work done.
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
        if (!c.closing && !c.recv_op.posted && !blocked(c) && c.in_len > 0) {
            ++posted;
            (void)handle_frames(c);
        }
        if (c.closing) {
            continue;
        }
        if (!c.recv_op.posted && !blocked(c)) {
            if (c.in.size() > 4 * recv_chunk_bytes && c.in_len < recv_chunk_bytes) {
                // A large frame is done with: give its buffer back rather than keep it for the
                // life of the connection.
                c.in.resize(recv_chunk_bytes);
                c.in.shrink_to_fit();
            }
            if (c.in.size() - c.in_len < recv_chunk_bytes / 4) {
                c.in.resize(std::max(c.in.size() * 2, c.in_len + recv_chunk_bytes));
            }
            if (io_uring_sqe* sqe = sqe_for(c.recv_op)) {
                io_uring_prep_recv(sqe, c.fd, c.in.data() + c.in_len, c.in.size() - c.in_len, 0);
            }
        }
        if (!c.send_op.posted && c.sending.empty() && !c.out.empty()) {
            c.sending.swap(c.out);
            c.sent = 0;
        }
        if (!c.send_op.posted && c.sent < c.sending.size()) {
            if (io_uring_sqe* sqe = sqe_for(c.send_op)) {
                io_uring_prep_send(sqe, c.fd, c.sending.data() + c.sent, c.sending.size() - c.sent,
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
    c->home = this;
    c->fd = res;
    sockaddr_in peer{};
    socklen_t peer_len = sizeof(peer);
    char text[INET_ADDRSTRLEN] = "";
    if (::getpeername(res, reinterpret_cast<sockaddr*>(&peer), &peer_len) == 0 &&
        inet_ntop(AF_INET, &peer.sin_addr, text, sizeof(text)) != nullptr) {
        c->host = std::string("/") + text;
    }
    c->recv_op.conn = c.get();
    c->send_op.conn = c.get();
    _connections.push_back(std::move(c));
}

void listener::on_recv(connection& c, int res) {
    if (c.closing) {
        return; // closed earlier in this batch of completions: its bytes are dropped
    }
    if (res <= 0) {
        close_connection(c, res == 0 ? nullptr : "recv failed");
        return;
    }
    c.in_len += size_t(res);
    (void)handle_frames(c);
}

void listener::on_send(connection& c, int res) {
    if (res < 0) {
        close_connection(c, "send failed");
        return;
    }
    c.sent += size_t(res);
    if (c.sent == c.sending.size()) {
        c.sending.clear();
        c.sent = 0;
    }
}

// Hands every whole frame in the buffer to the handler, in order, until the connection is
// blocked; false when the connection was closed.
bool listener::handle_frames(connection& c) {
    RUNNEL_ASSERT(!c.recv_op.posted);
    size_t at = 0;
    bool open = true;
    while (c.in_len - at >= 4 && !blocked(c)) {
        protocol::reader size_reader(std::span(c.in).subspan(at, 4));
        int32_t size = size_reader.int32();
        if (size < int32_t(frame_header_min_bytes) || uint32_t(size) > _opts.request_bytes_max) {
            close_connection(c, "request size out of range (kafka.request_bytes_max)");
            open = false;
            break;
        }
        if (c.in_len - at - 4 < size_t(size)) {
            break; // the rest of this frame has not arrived
        }
        if (!handle_request(c, std::span(c.in).subspan(at + 4, size_t(size)))) {
            open = false;
            break;
        }
        at += 4 + size_t(size);
    }
    if (!open) {
        c.in_len = 0;
        return false;
    }
    std::memmove(c.in.data(), c.in.data() + at, c.in_len - at);
    c.in_len -= at;
    return true;
}

bool listener::handle_request(connection& c, std::span<const std::byte> frame) {
    protocol::reader peek(frame);
    const int16_t api_key = peek.int16();
    const int16_t api_version = peek.int16();
    const auto versions = _handler.header_version(api_key, api_version);
    if (!versions) {
        std::fprintf(stderr, "kafka listener: api key %d version %d is not served; closing\n",
                     api_key, api_version);
        close_connection(c, nullptr);
        return false;
    }
    auto* r = new kafka_request;
    r->frame.assign(frame.begin(), frame.end());
    protocol::reader hr(r->frame);
    const auto header = protocol::read_request_header(hr, versions->request);
    if (!hr.ok()) {
        delete r;
        close_connection(c, "malformed request header");
        return false;
    }
    r->api_key = api_key;
    r->api_version = api_version;
    r->correlation_id = header.correlation_id;
    r->client_id = header.client_id;
    r->client_host = c.host;
    r->body_at = hr.position();
    r->response.int32(0); // size, patched when queued
    r->response.int32(header.correlation_id);
    if (versions->response == 1) {
        r->response.empty_tagged_fields();
    }
    r->on_finish = &listener::on_request_finished;
    r->owner = &c;
    c.pending.push_back(r);
    if (!_handler.handle(*r)) {
        RUNNEL_ASSERT(!r->finished);
        c.pending.pop_back();
        delete r;
        std::fprintf(stderr, "kafka listener: malformed request (api key %d version %d); "
                             "closing\n", api_key, api_version);
        close_connection(c, nullptr);
        return false;
    }
    return true;
}

void listener::on_request_finished(kafka_request& r) {
    auto* c = static_cast<connection*>(r.owner);
    c->home->queue_answers(*c);
}

// Moves the answers of finished requests at the front of the queue to the output, in order.
void listener::queue_answers(connection& c) {
    while (!c.pending.empty() && c.pending.front()->finished) {
        kafka_request* r = c.pending.front();
        c.pending.pop_front();
        if (r->send_response) {
            r->response.patch_int32(0, int32_t(r->response.size() - 4));
            c.out.insert(c.out.end(), r->response.bytes().begin(), r->response.bytes().end());
        }
        delete r;
    }
}

void listener::close_connection(connection& c, const char* why) {
    if (why != nullptr) {
        std::fprintf(stderr, "kafka listener: closing a connection: %s\n", why);
    }
    for (kafka_request* r : c.pending) {
        if (r->finished) {
            delete r;
        } else {
            r->on_finish = &free_orphan;
            r->owner = nullptr;
        }
    }
    c.pending.clear();
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
