// The storage engine's I/O interface. Everything in storage/ reaches the disk only through it,
// so tests can replace the kernel with a simulated disk that injects torn writes, short writes,
// EIO, ENOSPC and delays (storage/sim_io.h), and a seed reproduces any failure.
//
// Two kinds of calls:
// - Control path (open, truncate, allocate, small metadata writes, recovery reads): synchronous.
// - Data path (segment writes and reads): asynchronous. The caller owns an io_op that lives until
//   it completes; submit() queues it, flush() hands all queued ops to the kernel in one batch, and
//   reap() collects finished ops onto a list that the caller then completes. Callbacks never run
//   inside reap(), so no completion re-enters the duty cycle.
//
// Lifecycle: one io per shard, created before its partitions open, destroyed after they close.
// Thread-safety: none; only the owning shard's thread calls it.
#pragma once

#include "base/result.h"
#include "storage/errc.h"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace runnel::storage {

// Alignment of O_DIRECT buffers, file offsets and lengths.
inline constexpr size_t block_bytes = 4096;

constexpr uint64_t align_down(uint64_t v) { return v & ~uint64_t(block_bytes - 1); }
constexpr uint64_t align_up(uint64_t v) { return align_down(v + block_bytes - 1); }

using file_id = int32_t;

enum class open_mode : uint8_t {
    read_direct,          // O_RDONLY | O_DIRECT
    write_direct,         // O_RDWR | O_CREAT | O_DIRECT: segment files
    read_buffered,        // O_RDONLY: small metadata files
};

struct io_op {
    enum class kind : uint8_t { write, write_dsync, read, fdatasync };
    kind op = kind::write;
    file_id file = -1;
    uint64_t position = 0;   // file offset; block aligned for write/read
    std::byte* buffer = nullptr; // block aligned; lives until completion
    uint32_t length = 0;     // block multiple for write/read
    // Set by the io on completion: bytes transferred, or -errno.
    int32_t res = 0;
    // Completion: called by the owner of the reaped list, never by the io itself.
    void (*done)(io_op&) = nullptr;
    void* owner = nullptr;
    io_op* next = nullptr;   // intrusive list link, owned by the io while in flight
};

class io {
public:
    virtual ~io() = default;

    // Control path, synchronous.
    virtual result<file_id, errc> open(const std::string& path, open_mode mode) = 0;
    virtual void close(file_id f) = 0;
    virtual result<uint64_t, errc> size(file_id f) = 0;
    virtual result<size_t, errc> read_at(file_id f, std::span<std::byte> out, uint64_t pos) = 0;
    virtual result<void, errc> truncate(file_id f, uint64_t length) = 0;
    virtual result<void, errc> allocate(file_id f, uint64_t position, uint64_t length) = 0;
    virtual result<void, errc> sync(file_id f) = 0;
    // Writes the whole file at `path` atomically: temporary file, fsync, rename, fsync directory.
    virtual result<void, errc> write_file_atomic(const std::string& path,
                                                 std::span<const std::byte> data) = 0;
    virtual result<std::vector<std::byte>, errc> read_file(const std::string& path) = 0;
    // Durable (directory synced) when it returns; ENOENT is success.
    virtual result<void, errc> remove(const std::string& path) = 0;
    virtual result<void, errc> make_directory(const std::string& path) = 0; // exists is success
    virtual result<void, errc> remove_directory(const std::string& path) = 0;
    virtual result<std::vector<std::string>, errc> list_directory(const std::string& path) = 0;
    virtual bool exists(const std::string& path) = 0;

    // Data path, asynchronous.
    virtual void submit(io_op& op) = 0;
    // Hands queued ops to the kernel; returns how many.
    virtual uint32_t flush() = 0;
    // Moves up to `max` finished ops onto `done` (in completion order); returns how many. With
    // `wait`, blocks until at least one op finishes when any is in flight.
    virtual uint32_t reap(std::vector<io_op*>& done, uint32_t max, bool wait) = 0;
    virtual uint32_t in_flight() const = 0;
};

// Aligned heap buffer for O_DIRECT I/O. Allocated on the control path only.
class aligned_buffer {
public:
    aligned_buffer() = default;
    explicit aligned_buffer(size_t bytes);
    aligned_buffer(aligned_buffer&& o) noexcept;
    aligned_buffer& operator=(aligned_buffer&& o) noexcept;
    aligned_buffer(const aligned_buffer&) = delete;
    aligned_buffer& operator=(const aligned_buffer&) = delete;
    ~aligned_buffer();
    std::byte* data() const { return _p; }
    size_t size() const { return _n; }
    std::span<std::byte> span() const { return {_p, _n}; }

private:
    std::byte* _p = nullptr;
    size_t _n = 0;
};

} // namespace runnel::storage
