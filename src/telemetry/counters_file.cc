#include "telemetry/counters_file.h"

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace runnel::telemetry {

namespace {

constexpr char magic[8] = {'R', 'N', 'C', 'O', 'U', 'N', 'T', '1'};
constexpr uint32_t version = 1;
constexpr size_t header_bytes = 64;
constexpr size_t entry_bytes = 64;
constexpr size_t value_at = 56; // within an entry
constexpr size_t version_at = 8, count_at = 12, pid_at = 16, published_at = 24;

std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

void store(std::byte* at, uint64_t v) {
    std::atomic_ref<uint64_t>(*reinterpret_cast<uint64_t*>(at)).store(v, std::memory_order_relaxed);
}

uint64_t load(const std::byte* at) {
    return std::atomic_ref<uint64_t>(*const_cast<uint64_t*>(reinterpret_cast<const uint64_t*>(at)))
      .load(std::memory_order_relaxed);
}

} // namespace

result<counters_file, std::string> counters_file::create(const std::string& path,
                                                         std::vector<source> sources) {
    for (const auto& s : sources) {
        if (s.name.empty() || s.name.size() > counter_name_max || s.value == nullptr) {
            return failure("counter name '" + s.name + "' is empty or over 55 characters");
        }
    }
    const size_t bytes = header_bytes + entry_bytes * sources.size();
    ::unlink(path.c_str()); // a reader of the old file keeps its own mapping
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        return failure(errno_text("counters file " + path));
    }
    if (::ftruncate(fd, off_t(bytes)) != 0) {
        auto e = errno_text("counters file " + path + ": size");
        ::close(fd);
        return failure(e);
    }
    void* m = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ::close(fd);
    if (m == MAP_FAILED) {
        return failure(errno_text("counters file " + path + ": mmap"));
    }
    counters_file f;
    f._path = path;
    f._map = static_cast<std::byte*>(m);
    f._bytes = bytes;
    std::memcpy(f._map, magic, sizeof magic);
    const uint32_t count = uint32_t(sources.size());
    std::memcpy(f._map + version_at, &version, 4);
    std::memcpy(f._map + count_at, &count, 4);
    store(f._map + pid_at, uint64_t(::getpid()));
    for (size_t i = 0; i < sources.size(); ++i) {
        std::memcpy(f._map + header_bytes + i * entry_bytes, sources[i].name.data(),
                    sources[i].name.size());
        f._values.push_back(sources[i].value);
    }
    f.publish(0);
    return f;
}

counters_file::counters_file(counters_file&& o) noexcept
    : _path(std::move(o._path)), _values(std::move(o._values)), _map(o._map), _bytes(o._bytes) {
    o._map = nullptr;
}

counters_file::~counters_file() {
    if (_map != nullptr) {
        ::munmap(_map, _bytes);
        ::unlink(_path.c_str());
    }
}

void counters_file::publish(uint64_t unix_ms) {
    for (size_t i = 0; i < _values.size(); ++i) {
        store(_map + header_bytes + i * entry_bytes + value_at, *_values[i]);
    }
    store(_map + published_at, unix_ms);
}

result<snapshot, std::string> read_counters(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return failure(errno_text(path + " (is runneld running with this data directory?)"));
    }
    struct stat st{};
    if (::fstat(fd, &st) != 0 || size_t(st.st_size) < header_bytes) {
        ::close(fd);
        return failure(path + ": not a counters file (too short)");
    }
    const auto bytes = size_t(st.st_size);
    void* m = ::mmap(nullptr, bytes, PROT_READ, MAP_SHARED, fd, 0);
    ::close(fd);
    if (m == MAP_FAILED) {
        return failure(errno_text(path + ": mmap"));
    }
    const auto* p = static_cast<const std::byte*>(m);
    uint32_t v = 0;
    uint32_t count = 0;
    std::memcpy(&v, p + version_at, 4);
    std::memcpy(&count, p + count_at, 4);
    result<snapshot, std::string> out = failure(std::string());
    if (std::memcmp(p, magic, sizeof magic) != 0) {
        out = failure(path + ": not a counters file (bad magic)");
    } else if (v != version) {
        out = failure(path + ": counters file version " + std::to_string(v) + ", this tool reads " +
                      std::to_string(version));
    } else if (header_bytes + size_t(count) * entry_bytes > bytes) {
        out = failure(path + ": counters file shorter than its " + std::to_string(count) +
                      " counters");
    } else {
        snapshot s{.pid = load(p + pid_at), .published_unix_ms = load(p + published_at)};
        for (size_t i = 0; i < count; ++i) {
            const auto* e = p + header_bytes + i * entry_bytes;
            const auto* name = reinterpret_cast<const char*>(e);
            s.counters.emplace_back(std::string(name, strnlen(name, counter_name_max)),
                                    load(e + value_at));
        }
        out = std::move(s);
    }
    ::munmap(m, bytes);
    return out;
}

} // namespace runnel::telemetry
