#include "perf/harness/net.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

namespace runnel::perf {

namespace {

bool parse_host_port(std::string_view hp, sockaddr_in& addr) {
    const auto colon = hp.rfind(':');
    if (colon == std::string_view::npos) {
        return false;
    }
    addr = {};
    addr.sin_family = AF_INET;
    const std::string host(hp.substr(0, colon));
    const int port = std::atoi(std::string(hp.substr(colon + 1)).c_str());
    addr.sin_port = htons(uint16_t(port));
    return port > 0 && port < 65536 && inet_pton(AF_INET, host.c_str(), &addr.sin_addr) == 1;
}

} // namespace

result<int, std::string> tcp_connect(std::string_view host_port) {
    sockaddr_in addr;
    if (!parse_host_port(host_port, addr)) {
        return failure(std::string("not an IPv4 host:port: ") + std::string(host_port));
    }
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
        const std::string why = std::strerror(errno);
        ::close(fd);
        return failure("connect to " + std::string(host_port) + ": " + why);
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

std::optional<std::string> read_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) {
        return std::nullopt;
    }
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

uint16_t free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return ntohs(addr.sin_port);
}

stream::~stream() { ::close(_fd); }

void stream::write(std::span<const std::byte> bytes) {
    _out.insert(_out.end(), bytes.begin(), bytes.end());
}

bool stream::flush() {
    while (_out_start < _out.size()) {
        const ssize_t n = ::send(_fd, _out.data() + _out_start, _out.size() - _out_start,
                                 MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) {
                return true;
            }
            _error = std::string("send: ") + std::strerror(errno);
            return false;
        }
        _out_start += size_t(n);
    }
    _out.clear();
    _out_start = 0;
    return true;
}

bool stream::fill() {
    if (_in_start > 0 && _in_start == _in.size()) {
        _in.clear();
        _in_start = 0;
    } else if (_in_start > (1u << 20)) {
        _in.erase(_in.begin(), _in.begin() + ptrdiff_t(_in_start));
        _in_start = 0;
    }
    for (;;) {
        const size_t old = _in.size();
        _in.resize(old + 65536);
        const ssize_t n = ::recv(_fd, _in.data() + old, 65536, MSG_DONTWAIT);
        _in.resize(old + size_t(n > 0 ? n : 0));
        if (n > 0) {
            continue;
        }
        if (n == 0) {
            _error = "the server closed the connection";
            return false;
        }
        if (errno == EAGAIN || errno == EINTR) {
            return true;
        }
        _error = std::string("recv: ") + std::strerror(errno);
        return false;
    }
}

void stream::consume(size_t n) { _in_start += n; }

namespace {

// Every child still running, stopped at exit: an error path that exits early leaves none behind.
std::vector<process*>& children() {
    static auto* all = new std::vector<process*>(); // never destroyed: exit handlers use it
    return *all;
}

void stop_children() {
    while (!children().empty()) {
        delete children().back(); // its destructor stops it and takes it off the list
    }
}

} // namespace

result<std::unique_ptr<process>, std::string> process::spawn(const std::vector<std::string>& argv,
                                                             const std::string& log_path) {
    const int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (log < 0) {
        return failure(log_path + ": " + std::strerror(errno));
    }
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::dup2(log, 1);
        ::dup2(log, 2);
        ::setpgid(0, 0); // a Ctrl-C on the terminal reaches runnel-perf only, which stops us
        std::vector<char*> args;
        for (const auto& a : argv) {
            args.push_back(const_cast<char*>(a.c_str()));
        }
        args.push_back(nullptr);
        ::execvp(args[0], args.data());
        std::fprintf(stderr, "exec %s: %s\n", args[0], std::strerror(errno));
        ::_exit(127);
    }
    ::close(log);
    if (pid < 0) {
        return failure(std::string("fork: ") + std::strerror(errno));
    }
    static const bool registered = std::atexit(stop_children) == 0;
    (void)registered;
    auto* p = new process(pid, log_path);
    children().push_back(p);
    return std::unique_ptr<process>(p);
}

bool process::running() {
    if (_pid <= 0) {
        return false;
    }
    int status = 0;
    if (::waitpid(_pid, &status, WNOHANG) == _pid) {
        _pid = -1;
        return false;
    }
    return true;
}

int process::wait() {
    int status = 0;
    if (_pid > 0 && ::waitpid(_pid, &status, 0) == _pid) {
        _pid = -1;
    }
    return status;
}

process::~process() {
    std::erase(children(), this);
    if (!running()) {
        return;
    }
    ::kill(_pid, SIGTERM);
    for (int i = 0; i < 500; ++i) {
        if (!running()) {
            return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ::kill(_pid, SIGKILL);
    ::waitpid(_pid, nullptr, 0);
}

std::string process::log_tail() const {
    std::string s = read_file(_log).value_or("");
    if (s.size() > 2000) {
        s = "..." + s.substr(s.size() - 2000);
    }
    return s;
}

result<void, std::string> wait_for_tcp(const std::string& host_port, process& p, int timeout_ms) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    std::string last;
    while (std::chrono::steady_clock::now() < until) {
        if (!p.running()) {
            return failure("exited before listening on " + host_port + ":\n" + p.log_tail());
        }
        auto fd = tcp_connect(host_port);
        if (fd) {
            ::close(fd.value());
            return {};
        }
        last = fd.error();
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return failure("not listening after " + std::to_string(timeout_ms) + " ms (" + last + "):\n" +
                   p.log_tail());
}

} // namespace runnel::perf
