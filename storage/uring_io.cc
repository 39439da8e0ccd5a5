#include "storage/uring_io.h"

#include <cerrno>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

namespace runnel::storage {

namespace {

failure<errc> last_error() { return failure(errc_from_errno(errno)); }

result<void, errc> write_all(int fd, std::span<const std::byte> data) {
    size_t done = 0;
    while (done < data.size()) {
        ssize_t n = ::pwrite(fd, data.data() + done, data.size() - done, off_t(done));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return last_error();
        }
        if (n == 0) {
            return failure(errc::no_space);
        }
        done += size_t(n);
    }
    return {};
}

result<void, errc> sync_directory_of(const std::string& path) {
    auto dir = std::filesystem::path(path).parent_path();
    int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return last_error();
    }
    int rc = ::fsync(fd);
    int err = errno;
    ::close(fd);
    if (rc != 0) {
        return failure(errc_from_errno(err));
    }
    return {};
}

} // namespace

result<std::unique_ptr<uring_io>, errc> uring_io::create(uint32_t queue_depth) {
    std::unique_ptr<uring_io> u(new uring_io());
    int rc = io_uring_queue_init(queue_depth, &u->_ring, 0);
    if (rc < 0) {
        return failure(errc_from_errno(-rc));
    }
    return u;
}

uring_io::~uring_io() {
    RUNNEL_ASSERT(_in_flight == 0);
    for (int f : _fds) {
        if (f >= 0) {
            ::close(f);
        }
    }
    io_uring_queue_exit(&_ring);
}

int uring_io::fd(file_id f) const {
    RUNNEL_ASSERT(f >= 0);
    RUNNEL_ASSERT(size_t(f) < _fds.size());
    RUNNEL_ASSERT(_fds[size_t(f)] >= 0);
    return _fds[size_t(f)];
}

result<file_id, errc> uring_io::open(const std::string& path, open_mode mode) {
    int flags = O_CLOEXEC;
    switch (mode) {
    case open_mode::read_direct: flags |= O_RDONLY | O_DIRECT; break;
    case open_mode::write_direct: flags |= O_RDWR | O_CREAT | O_DIRECT; break;
    case open_mode::read_buffered: flags |= O_RDONLY; break;
    }
    int f = ::open(path.c_str(), flags, 0644);
    if (f < 0) {
        return last_error();
    }
    for (size_t i = 0; i < _fds.size(); ++i) {
        if (_fds[i] < 0) {
            _fds[i] = f;
            return file_id(i);
        }
    }
    _fds.push_back(f);
    return file_id(_fds.size() - 1);
}

void uring_io::close(file_id f) {
    ::close(fd(f));
    _fds[size_t(f)] = -1;
}

result<uint64_t, errc> uring_io::size(file_id f) {
    struct stat st {};
    if (::fstat(fd(f), &st) != 0) {
        return last_error();
    }
    return uint64_t(st.st_size);
}

result<size_t, errc> uring_io::read_at(file_id f, std::span<std::byte> out, uint64_t pos) {
    size_t done = 0;
    while (done < out.size()) {
        ssize_t n = ::pread(fd(f), out.data() + done, out.size() - done, off_t(pos + done));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return last_error();
        }
        if (n == 0) {
            break;
        }
        done += size_t(n);
    }
    return done;
}

result<void, errc> uring_io::truncate(file_id f, uint64_t length) {
    if (::ftruncate(fd(f), off_t(length)) != 0) {
        return last_error();
    }
    return {};
}

result<void, errc> uring_io::allocate(file_id f, uint64_t position, uint64_t length) {
    if (::fallocate(fd(f), 0, off_t(position), off_t(length)) != 0) {
        return last_error();
    }
    return {};
}

result<void, errc> uring_io::sync(file_id f) {
    if (::fdatasync(fd(f)) != 0) {
        return last_error();
    }
    return {};
}

result<void, errc> uring_io::write_file_atomic(const std::string& path,
                                               std::span<const std::byte> data) {
    std::string tmp = path + ".tmp";
    int f = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (f < 0) {
        return last_error();
    }
    auto written = write_all(f, data);
    if (written && ::fsync(f) != 0) {
        written = last_error();
    }
    ::close(f);
    if (!written) {
        ::unlink(tmp.c_str());
        return written;
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        auto err = last_error();
        ::unlink(tmp.c_str());
        return err;
    }
    return sync_directory_of(path);
}

result<std::vector<std::byte>, errc> uring_io::read_file(const std::string& path) {
    auto f = open(path, open_mode::read_buffered);
    if (!f) {
        return failure(f.error());
    }
    auto n = size(f.value());
    std::vector<std::byte> data(n ? n.value() : 0);
    auto got = n ? read_at(f.value(), data, 0) : failure(n.error());
    close(f.value());
    if (!got) {
        return failure(got.error());
    }
    data.resize(got.value());
    return data;
}

result<void, errc> uring_io::remove(const std::string& path) {
    if (::unlink(path.c_str()) != 0) {
        return errno == ENOENT ? result<void, errc>() : last_error();
    }
    return sync_directory_of(path); // the removal is durable when this returns
}

result<void, errc> uring_io::make_directory(const std::string& path) {
    std::error_code ec;
    std::filesystem::create_directories(path, ec);
    if (ec) {
        return failure(errc_from_errno(ec.value()));
    }
    return sync_directory_of(path);
}

result<void, errc> uring_io::remove_directory(const std::string& path) {
    if (::rmdir(path.c_str()) != 0 && errno != ENOENT) {
        return last_error();
    }
    return sync_directory_of(path);
}

result<std::vector<std::string>, errc> uring_io::list_directory(const std::string& path) {
    DIR* d = ::opendir(path.c_str());
    if (d == nullptr) {
        return last_error();
    }
    std::vector<std::string> names;
    while (dirent* e = ::readdir(d)) {
        std::string n = e->d_name;
        if (n != "." && n != "..") {
            names.push_back(std::move(n));
        }
    }
    ::closedir(d);
    return names;
}

bool uring_io::exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

void uring_io::submit(io_op& op) {
    op.next = nullptr;
    if (_queued_tail != nullptr) {
        _queued_tail->next = &op;
    } else {
        _queued_head = &op;
    }
    _queued_tail = &op;
}

uint32_t uring_io::flush() {
    uint32_t n = 0;
    while (_queued_head != nullptr) {
        io_uring_sqe* sqe = io_uring_get_sqe(&_ring);
        if (sqe == nullptr) {
            // The submission queue is full. If the kernel takes nothing (e.g. -EBUSY until
            // completions are reaped), leave the rest queued for the next flush.
            if (io_uring_submit(&_ring) <= 0) {
                break;
            }
            continue;
        }
        io_op* op = _queued_head;
        _queued_head = op->next;
        int f = fd(op->file);
        switch (op->op) {
        case io_op::kind::write:
            io_uring_prep_write(sqe, f, op->buffer, op->length, op->position);
            break;
        case io_op::kind::write_dsync:
            io_uring_prep_write(sqe, f, op->buffer, op->length, op->position);
            sqe->rw_flags = RWF_DSYNC;
            break;
        case io_op::kind::read:
            io_uring_prep_read(sqe, f, op->buffer, op->length, op->position);
            break;
        case io_op::kind::fdatasync:
            io_uring_prep_fsync(sqe, f, IORING_FSYNC_DATASYNC);
            break;
        }
        io_uring_sqe_set_data(sqe, op);
        ++n;
    }
    if (_queued_head == nullptr) {
        _queued_tail = nullptr;
    }
    if (n > 0) {
        io_uring_submit(&_ring);
        _in_flight += n;
    }
    return n;
}

uint32_t uring_io::reap(std::vector<io_op*>& done, uint32_t max, bool wait) {
    uint32_t n = 0;
    while (n < max && _in_flight > 0) {
        io_uring_cqe* cqe = nullptr;
        int rc = (wait && n == 0) ? io_uring_wait_cqe(&_ring, &cqe) : io_uring_peek_cqe(&_ring, &cqe);
        if (rc == -EINTR) {
            continue;
        }
        if (rc != 0 || cqe == nullptr) {
            break;
        }
        auto* op = static_cast<io_op*>(io_uring_cqe_get_data(cqe));
        op->res = cqe->res;
        io_uring_cqe_seen(&_ring, cqe);
        --_in_flight;
        done.push_back(op);
        ++n;
    }
    return n;
}

} // namespace runnel::storage
