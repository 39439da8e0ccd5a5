// Sockets and processes for runnel-perf's drivers and servers.
#pragma once

#include "base/result.h"

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace runnel::perf {

// A connected, non-blocking TCP socket (TCP_NODELAY) to "host:port", or why not.
result<int, std::string> tcp_connect(std::string_view host_port);
// A file's whole text; nothing when it cannot be read.
std::optional<std::string> read_file(const std::string& path);
// A free TCP port on 127.0.0.1 (bound and released; good enough for servers started right away).
uint16_t free_port();

// A byte stream over a non-blocking socket: appends go out as the socket takes them, reads
// collect into `in` for the caller to consume from the front.
class stream {
public:
    explicit stream(int fd) : _fd(fd) {}
    ~stream();
    stream(const stream&) = delete;
    stream& operator=(const stream&) = delete;
    int fd() const { return _fd; }
    void write(std::span<const std::byte> bytes);
    void write(std::string_view s) { write(std::as_bytes(std::span(s.data(), s.size()))); }
    // Sends what is queued; false when the connection is gone (error() says why).
    bool flush();
    // Reads what has arrived into `in`; false when the connection is gone.
    bool fill();
    std::span<const std::byte> in() const {
        return {_in.data() + _in_start, _in.size() - _in_start};
    }
    void consume(size_t n);
    const std::string& error() const { return _error; }

private:
    int _fd;
    std::vector<std::byte> _out;
    size_t _out_start = 0;
    std::vector<std::byte> _in;
    size_t _in_start = 0;
    std::string _error;
};

// A child process; stopped (SIGTERM, then SIGKILL after 5 s) and reaped on destruction.
class process {
public:
    // Starts argv[0] (looked up in PATH) with stdout and stderr to `log_path`.
    static result<std::unique_ptr<process>, std::string> spawn(const std::vector<std::string>& argv,
                                                                const std::string& log_path);
    ~process();
    pid_t pid() const { return _pid; }
    bool running();
    // Waits for it to exit; its wait status.
    int wait();
    // The last lines of its log, for error messages.
    std::string log_tail() const;

private:
    process(pid_t pid, std::string log) : _pid(pid), _log(std::move(log)) {}
    pid_t _pid;
    std::string _log;
};

// Waits until "host:port" accepts a connection, the process exits or timeout_ms pass.
result<void, std::string> wait_for_tcp(const std::string& host_port, process& p, int timeout_ms);

} // namespace runnel::perf
