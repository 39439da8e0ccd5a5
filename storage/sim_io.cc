#include "storage/sim_io.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

namespace runnel::storage {

namespace {
constexpr uint64_t sector_bytes = 512;

std::string parent_of(const std::string& path) {
    return std::filesystem::path(path).parent_path().string();
}
} // namespace

sim_io::sim_io(uint64_t seed, sim_disk disk) : _rng(seed), _directories(std::move(disk.directories)) {
    for (auto& [path, bytes] : disk.files) {
        auto f = std::make_shared<file_state>();
        f->current = bytes;
        f->durable = std::move(bytes);
        _files.emplace(path, std::move(f));
    }
}

bool sim_io::chance(double p) {
    return p > 0 && std::uniform_real_distribution<double>(0, 1)(_rng) < p;
}

sim_io::file_state& sim_io::file(file_id f) {
    RUNNEL_ASSERT(f >= 0 && size_t(f) < _handles.size());
    RUNNEL_ASSERT(_handles[size_t(f)] != nullptr);
    return *_handles[size_t(f)];
}

void sim_io::make_durable(file_state& f) {
    f.durable = f.current;
    f.unsynced.clear();
}

sim_disk sim_io::crash(uint64_t seed) const {
    std::mt19937_64 rng(seed);
    sim_disk disk;
    disk.directories = _directories;
    for (const auto& [path, f] : _files) {
        std::vector<std::byte> image = f->durable;
        for (const auto& w : f->unsynced) {
            for (uint64_t s = 0; s < w.data.size(); s += sector_bytes) {
                if (rng() % 2 == 0) {
                    continue; // this sector never reached the platter
                }
                uint64_t n = std::min<uint64_t>(sector_bytes, w.data.size() - s);
                if (image.size() < w.position + s + n) {
                    image.resize(w.position + s + n);
                }
                std::memcpy(image.data() + w.position + s, w.data.data() + s, n);
            }
        }
        disk.files.emplace(path, std::move(image));
    }
    return disk;
}

void sim_io::abandon_ops() {
    _queued.clear();
    _in_flight.clear();
}

result<file_id, errc> sim_io::open(const std::string& path, open_mode mode) {
    auto it = _files.find(path);
    if (it == _files.end()) {
        if (mode != open_mode::write_direct) {
            return failure(errc::not_found);
        }
        if (!_directories.contains(parent_of(path))) {
            return failure(errc::not_found);
        }
        if (_disk_full) {
            return failure(errc::no_space);
        }
        it = _files.emplace(path, std::make_shared<file_state>()).first;
    }
    _handles.push_back(it->second);
    return file_id(_handles.size() - 1);
}

void sim_io::close(file_id f) {
    file(f);
    _handles[size_t(f)] = nullptr;
}

result<uint64_t, errc> sim_io::size(file_id f) { return uint64_t(file(f).current.size()); }

result<size_t, errc> sim_io::read_at(file_id f, std::span<std::byte> out, uint64_t pos) {
    const auto& cur = file(f).current;
    if (pos >= cur.size()) {
        return size_t(0);
    }
    size_t n = std::min<size_t>(out.size(), cur.size() - pos);
    std::memcpy(out.data(), cur.data() + pos, n);
    return n;
}

result<void, errc> sim_io::truncate(file_id h, uint64_t length) {
    file_state& f = file(h);
    if (length > f.current.size() && _disk_full) {
        return failure(errc::no_space);
    }
    f.current.resize(length);
    f.durable.resize(length);
    for (auto& w : f.unsynced) {
        if (w.position >= length) {
            w.data.clear();
        } else if (w.position + w.data.size() > length) {
            w.data.resize(length - w.position);
        }
    }
    return {};
}

result<void, errc> sim_io::allocate(file_id h, uint64_t position, uint64_t length) {
    file_state& f = file(h);
    if (_disk_full) {
        return failure(errc::no_space);
    }
    if (f.current.size() < position + length) {
        f.current.resize(position + length);
    }
    if (f.durable.size() < position + length) {
        f.durable.resize(position + length);
    }
    return {};
}

result<void, errc> sim_io::sync(file_id h) {
    make_durable(file(h));
    return {};
}

result<void, errc> sim_io::write_file_atomic(const std::string& path,
                                             std::span<const std::byte> data) {
    if (_disk_full) {
        return failure(errc::no_space);
    }
    if (!_directories.contains(parent_of(path))) {
        return failure(errc::not_found);
    }
    auto f = std::make_shared<file_state>();
    f->current.assign(data.begin(), data.end());
    f->durable = f->current;
    _files[path] = std::move(f);
    return {};
}

result<std::vector<std::byte>, errc> sim_io::read_file(const std::string& path) {
    auto it = _files.find(path);
    if (it == _files.end()) {
        return failure(errc::not_found);
    }
    return it->second->current;
}

result<void, errc> sim_io::remove(const std::string& path) {
    _files.erase(path);
    return {};
}

result<void, errc> sim_io::make_directory(const std::string& path) {
    for (auto p = std::filesystem::path(path); !p.empty() && p != p.root_path(); p = p.parent_path()) {
        _directories.insert(p.string());
    }
    return {};
}

result<void, errc> sim_io::remove_directory(const std::string& path) {
    _directories.erase(path);
    return {};
}

result<std::vector<std::string>, errc> sim_io::list_directory(const std::string& path) {
    if (!_directories.contains(path)) {
        return failure(errc::not_found);
    }
    std::vector<std::string> names;
    for (const auto& [p, f] : _files) {
        if (parent_of(p) == path) {
            names.push_back(std::filesystem::path(p).filename().string());
        }
    }
    for (const auto& d : _directories) {
        if (parent_of(d) == path) {
            names.push_back(std::filesystem::path(d).filename().string());
        }
    }
    return names;
}

bool sim_io::exists(const std::string& path) {
    return _files.contains(path) || _directories.contains(path);
}

void sim_io::submit(io_op& op) { _queued.push_back(&op); }

uint32_t sim_io::flush() {
    for (io_op* op : _queued) {
        execute(*op);
        uint32_t delay = _faults.delay_reaps_max == 0
                           ? 0
                           : uint32_t(_rng() % (_faults.delay_reaps_max + 1));
        _in_flight.push_back({op, delay});
    }
    auto n = uint32_t(_queued.size());
    _queued.clear();
    return n;
}

// Applies the op to the current bytes now; its completion is delivered by reap().
void sim_io::execute(io_op& op) {
    file_state& f = file(op.file);
    switch (op.op) {
    case io_op::kind::read: {
        auto got = read_at(op.file, {op.buffer, op.length}, op.position);
        op.res = int32_t(got.value());
        return;
    }
    case io_op::kind::fdatasync:
        op.res = 0;
        return;
    case io_op::kind::write:
    case io_op::kind::write_dsync: break;
    }
    ++_data_writes;
    RUNNEL_ASSERT(op.position % block_bytes == 0);
    RUNNEL_ASSERT(op.length % block_bytes == 0);
    uint64_t length = op.length;
    if (chance(_faults.eio_rate)) {
        op.res = -EIO;
        return;
    }
    bool grows = op.position + length > f.current.size();
    if (chance(_faults.enospc_rate) || (_disk_full && grows)) {
        op.res = -ENOSPC;
        return;
    }
    if (chance(_faults.short_write_rate) && length > block_bytes) {
        length = align_down(length / 2);
    }
    if (f.current.size() < op.position + length) {
        f.current.resize(op.position + length);
    }
    std::memcpy(f.current.data() + op.position, op.buffer, length);
    f.unsynced.push_back({op.position, std::vector<std::byte>(op.buffer, op.buffer + length)});
    op.res = int32_t(length);
}

uint32_t sim_io::reap(std::vector<io_op*>& done, uint32_t max, bool wait) {
    uint32_t n = 0;
    for (auto it = _in_flight.begin(); it != _in_flight.end() && n < max;) {
        if (it->delay > 0) {
            --it->delay;
            ++it;
            continue;
        }
        io_op* op = it->op;
        it = _in_flight.erase(it);
        bool syncs = op->op == io_op::kind::write_dsync || op->op == io_op::kind::fdatasync;
        if (syncs && op->res >= 0) {
            make_durable(file(op->file));
        }
        done.push_back(op);
        ++n;
    }
    if (n == 0 && wait && !_in_flight.empty()) {
        _in_flight.front().delay = 0;
        return reap(done, max, wait);
    }
    return n;
}

} // namespace runnel::storage
