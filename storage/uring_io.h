// The kernel implementation of storage::io: io_uring for the data path (O_DIRECT writes with
// RWF_DSYNC for durable appends, reads, fdatasync) and plain syscalls for the control path.
// Lifecycle: created by its shard's thread at start-up, destroyed after its partitions close.
// Thread-safety: none; one shard thread owns it.
#pragma once

#include "storage/io.h"

#include <liburing.h>

#include <memory>

namespace runnel::storage {

class uring_io final : public io {
public:
    static result<std::unique_ptr<uring_io>, errc> create(uint32_t queue_depth);
    ~uring_io() override;
    uring_io(const uring_io&) = delete;
    uring_io& operator=(const uring_io&) = delete;

    result<file_id, errc> open(const std::string& path, open_mode mode) override;
    void close(file_id f) override;
    result<uint64_t, errc> size(file_id f) override;
    result<size_t, errc> read_at(file_id f, std::span<std::byte> out, uint64_t pos) override;
    result<void, errc> truncate(file_id f, uint64_t length) override;
    result<void, errc> allocate(file_id f, uint64_t position, uint64_t length) override;
    result<void, errc> sync(file_id f) override;
    result<void, errc> write_file_atomic(const std::string& path,
                                         std::span<const std::byte> data) override;
    result<std::vector<std::byte>, errc> read_file(const std::string& path) override;
    result<void, errc> remove(const std::string& path) override;
    result<void, errc> make_directory(const std::string& path) override;
    result<void, errc> remove_directory(const std::string& path) override;
    result<std::vector<std::string>, errc> list_directory(const std::string& path) override;
    bool exists(const std::string& path) override;

    void submit(io_op& op) override;
    uint32_t flush() override;
    uint32_t reap(std::vector<io_op*>& done, uint32_t max, bool wait) override;
    uint32_t in_flight() const override { return _in_flight; }

private:
    uring_io() = default;
    int fd(file_id f) const;

    io_uring _ring{};
    std::vector<int> _fds;      // file_id -> fd; -1 when free
    io_op* _queued_head = nullptr;
    io_op* _queued_tail = nullptr;
    uint32_t _in_flight = 0;
};

} // namespace runnel::storage
