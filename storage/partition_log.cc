#include "storage/partition_log.h"

#include "storage/crc32c.h"
#include "storage/detail/endian.h"
#include "storage/detail/segment_files.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace runnel::storage {

using detail::index_entry;
using detail::time_entry;

struct partition_log::segment {
    model::offset base;
    file_id file = -1;
    uint64_t size = 0;      // bytes of whole appended batches
    uint64_t written = 0;   // bytes the device has (O_DIRECT write completed)
    uint64_t allocated = 0; // file length reserved with fallocate
    model::offset next_offset;
    model::timestamp_ms max_timestamp{-1};
    model::offset max_timestamp_offset{-1};
    int64_t first_append_ms = -1;
    uint64_t bytes_since_index = 0;
    std::vector<index_entry> index;
    std::vector<time_entry> time_index;
    bool sealed = false;        // no more appends; index files follow once fully written
    bool index_on_disk = false; // index files describe at least the first `size` bytes
};

struct partition_log::chunk {
    aligned_buffer buffer;
    model::offset segment_base{-1}; // -1: holds nothing
    uint64_t file_pos = 0;          // segment position of buffer[0]; block aligned
    uint32_t fill = 0;
};

struct partition_log::pending_batch {
    model::offset segment_base;
    uint64_t end_pos;
    model::offset next_offset;
};

namespace {

constexpr uint64_t scan_window_bytes = 1u << 20;
constexpr uint64_t read_window_min_bytes = 64u << 10;
constexpr uint32_t read_rounds_max = 64;
constexpr uint32_t writes_per_sync_max = 4;
constexpr uint64_t read_window_max_bytes = 8u << 20;
constexpr const char* clean_marker = "clean_shutdown";
constexpr const char* epochs_file = "leader-epoch-checkpoint";
constexpr const char* log_start_file = "log-start-offset";

void write_done(io_op& op) { static_cast<partition_log*>(op.owner)->complete(op); }
void read_done(io_op& op) { static_cast<read_op*>(op.owner)->log->complete(op); }

bool framing_ok(const batch::header& h) {
    return h.batch_length >= int32_t(batch::header_bytes - batch::log_overhead_bytes) &&
           uint32_t(h.batch_length) <= batch::size_max;
}

void log_error(const std::string& dir, const char* what, errc e) {
    std::fprintf(stderr, "storage: %s: %s: %.*s\n", dir.c_str(), what, int(to_string(e).size()),
                 to_string(e).data());
}

} // namespace

partition_log::partition_log(io& io, options opts) : _io(io), _opts(std::move(opts)) {
    RUNNEL_ASSERT(_opts.engine.chunk_bytes % block_bytes == 0);
    RUNNEL_ASSERT(_opts.engine.chunk_count >= 2);
    _chunks.resize(_opts.engine.chunk_count);
    for (auto& c : _chunks) {
        c.buffer = aligned_buffer(_opts.engine.chunk_bytes);
    }
    uint64_t buffered = uint64_t(_opts.engine.chunk_bytes) * _opts.engine.chunk_count;
    _pending.resize(buffered / batch::header_bytes + 1);
}

partition_log::~partition_log() {
    RUNNEL_ASSERT(_ios_in_flight == 0);
    if (_failure) {
        fail_waiters(); // a failed log replaced before its next poll still answers them
    }
    unload();
}

result<std::unique_ptr<partition_log>, errc> partition_log::open(io& io, options opts) {
    std::unique_ptr<partition_log> log(new partition_log(io, std::move(opts)));
    if (auto r = log->load(); !r) {
        log_error(log->_opts.directory, "open failed", r.error());
        return failure(r.error());
    }
    return log;
}

uint32_t partition_log::batch_bytes_max() const {
    uint64_t spare = uint64_t(_opts.engine.chunk_bytes) * (_opts.engine.chunk_count - 1);
    return uint32_t(std::min<uint64_t>(spare, batch::size_max));
}

model::offset partition_log::active_segment_base() const {
    RUNNEL_ASSERT(!_segments.empty());
    return _segments.back()->base;
}

uint64_t partition_log::size_bytes() const {
    uint64_t n = 0;
    for (const auto& s : _segments) {
        n += s->size;
    }
    return n;
}

// ---- recovery -------------------------------------------------------------------------------

void partition_log::unload() {
    for (auto& s : _segments) {
        if (s->file >= 0) {
            _io.close(s->file);
        }
    }
    _segments.clear();
    for (auto& c : _chunks) {
        c.segment_base = model::offset(-1);
        c.fill = 0;
    }
    _pending_head = _pending_count = 0;
    _epochs.clear();
    RUNNEL_ASSERT(_waiters_head == nullptr);
}

result<void, errc> partition_log::load() {
    const std::string& dir = _opts.directory;
    if (auto r = _io.make_directory(dir); !r) {
        return r;
    }
    bool clean = _io.exists(dir + "/" + clean_marker);
    if (auto f = _io.read_file(dir + "/" + log_start_file); f) {
        auto o = detail::decode_log_start(f.value());
        if (!o) {
            return failure(errc::corrupt);
        }
        _log_start = *o;
    }
    if (auto f = _io.read_file(dir + "/" + epochs_file); f) {
        auto m = detail::decode_epochs(f.value());
        if (!m) {
            return failure(errc::corrupt);
        }
        _epochs = std::move(*m);
    }
    auto names = _io.list_directory(dir);
    if (!names) {
        return failure(names.error());
    }
    std::vector<model::offset> bases;
    for (const auto& n : names.value()) {
        if (auto b = detail::parse_segment_name(n)) {
            bases.push_back(*b);
        }
    }
    std::sort(bases.begin(), bases.end());
    for (size_t i = 0; i < bases.size(); ++i) {
        bool last = i + 1 == bases.size();
        if (auto r = load_segment(bases[i], last, clean); !r) {
            return r;
        }
        if (!last && _segments.back()->next_offset != bases[i + 1]) {
            // Corruption inside a sealed segment: the log ends at its last valid batch.
            std::fprintf(stderr, "storage: %s: segment %s is corrupt after offset %lld; "
                         "removing the segments after it\n", dir.c_str(),
                         detail::segment_name(bases[i]).c_str(),
                         static_cast<long long>(_segments.back()->next_offset()));
            for (size_t j = i + 1; j < bases.size(); ++j) {
                if (auto r = remove_segment_files(bases[j], {".log", ".index", ".timeindex"}); !r) {
                    return r;
                }
            }
            break;
        }
    }
    if (!_segments.empty() && _log_start > _segments.back()->next_offset) {
        // delete-records moved the start past data that never became durable: the log restarts
        // empty at its start offset (Kafka's truncate-fully-and-start-at).
        for (auto& seg : _segments) {
            _io.close(seg->file);
            if (auto r = remove_segment_files(seg->base, {".log", ".index", ".timeindex"}); !r) {
                return r;
            }
        }
        _segments.clear();
    }
    if (_segments.empty()) {
        auto seg = std::make_unique<segment>();
        seg->base = seg->next_offset = _log_start;
        auto f = _io.open(dir + "/" + detail::segment_name(seg->base) + ".log",
                          open_mode::write_direct);
        if (!f) {
            return failure(f.error());
        }
        seg->file = f.value();
        _segments.push_back(std::move(seg));
    }
    segment& active = *_segments.back();
    active.sealed = false;
    active.index_on_disk = false; // it grows from here; sealed (indexed anew) when it rolls
    _active_chunk = 0;
    chunk& c = _chunks[0];
    c.segment_base = active.base;
    c.file_pos = align_down(active.size);
    c.fill = uint32_t(active.size - c.file_pos);
    if (c.fill > 0) {
        auto got = _io.read_at(active.file, c.buffer.span().first(block_bytes), c.file_pos);
        if (!got) {
            return failure(got.error());
        }
        if (got.value() < c.fill) {
            return failure(errc::corrupt);
        }
    }
    _log_end = _written_end = _flushed_end = _high_watermark = active.next_offset;
    _log_start = std::max(_log_start, _segments.front()->base);
    RUNNEL_ASSERT(_log_start <= _log_end);
    size_t epochs_before = _epochs.size();
    std::erase_if(_epochs, [&](const auto& e) { return e.second > _log_end; });
    if (_epochs.size() != epochs_before) {
        if (auto r = persist_epochs(); !r) {
            return r;
        }
    }
    if (clean) {
        // io::remove syncs the directory: the marker must be gone before new data lands.
        if (auto r = _io.remove(dir + "/" + clean_marker); !r) {
            return r;
        }
    }
    _failure.reset();
    _closing = false;
    return {};
}

result<void, errc> partition_log::load_segment(model::offset base, bool last, bool clean) {
    const std::string path = _opts.directory + "/" + detail::segment_name(base);
    auto f = _io.open(path + ".log", open_mode::write_direct);
    if (!f) {
        return failure(f.error());
    }
    auto seg_owned = std::make_unique<segment>();
    segment& seg = *seg_owned;
    _segments.push_back(std::move(seg_owned));
    seg.base = seg.next_offset = base;
    seg.file = f.value();
    auto file_size = _io.size(seg.file);
    if (!file_size) {
        return failure(file_size.error());
    }
    uint64_t trusted = 0;
    auto idx = _io.read_file(path + ".index");
    auto tidx = _io.read_file(path + ".timeindex");
    auto oi = idx ? detail::decode_offset_index(idx.value()) : std::nullopt;
    auto ti = tidx ? detail::decode_time_index(tidx.value()) : std::nullopt;
    if (oi && ti && oi->first.size_bytes == ti->first.size_bytes &&
        oi->first.size_bytes <= file_size.value() && oi->first.next_offset >= base) {
        const auto& s = oi->first;
        seg.size = trusted = s.size_bytes;
        seg.next_offset = s.next_offset;
        seg.max_timestamp = s.max_timestamp;
        seg.max_timestamp_offset = s.max_timestamp_offset;
        seg.index = std::move(oi->second);
        seg.time_index = std::move(ti->second);
        seg.bytes_since_index = seg.index.empty() ? s.size_bytes : s.size_bytes - seg.index.back().position;
        seg.index_on_disk = true;
    }
    seg.written = file_size.value(); // what walk() may read from disk
    uint64_t end = trusted;
    // Index files describe the first `trusted` bytes. Bytes past them (an active segment, or one
    // appended to after an earlier recovery sealed it) are scanned, unless the clean-shutdown
    // marker says the files are whole.
    if (!seg.index_on_disk || (file_size.value() > trusted && !(last && clean))) {
        auto walked = walk(seg, trusted, [&](const batch::header& h, uint64_t pos, auto) {
            if (h.base_offset != seg.next_offset) {
                return false;
            }
            index_batch(seg, h, pos);
            if (h.leader_epoch() >= 0 &&
                (_epochs.empty() || h.leader_epoch > _epochs.back().first)) {
                _epochs.emplace_back(h.leader_epoch, h.base_offset);
            }
            return true;
        });
        if (!walked) {
            return failure(walked.error());
        }
        end = walked.value();
        if (end > trusted) {
            seg.index_on_disk = false; // stale: a prefix only
            // What the scan found may sit in the device cache only (plain writes, or the tail of
            // a failed write); it becomes visible below the high watermark, so make it durable.
            if (auto r = _io.sync(seg.file); !r) {
                return r;
            }
        }
    }
    seg.size = end;
    if (end < file_size.value()) {
        // A torn or corrupt tail, preallocated space, or a seal whose truncate did not persist.
        // Cut the file at the last valid batch so stale bytes can never be read back.
        if (auto r = _io.truncate(seg.file, end); !r) {
            return r;
        }
    }
    seg.written = seg.allocated = end;
    if (!last && !seg.index_on_disk) {
        seg.sealed = true;
        if (auto r = seal(seg); !r) {
            return r;
        }
    }
    seg.sealed = !last;
    return {};
}

// Walks whole, valid batches of `seg` from `pos`: bytes below `written` come from the disk and
// bytes in the write buffer from memory. fn(header, pos, bytes) returns false to stop. Returns the
// position where the walk stopped: the end of the last accepted batch.
template <typename Fn>
result<uint64_t, errc> partition_log::walk(segment& seg, uint64_t pos, Fn&& fn) {
    aligned_buffer window(scan_window_bytes);
    uint64_t window_pos = 0;
    uint64_t window_len = 0;
    uint64_t limit = std::max(seg.written, seg.size);
    auto load = [&](uint64_t at, uint64_t need) -> result<void, errc> {
        window_pos = align_down(at);
        if (at - window_pos + need > window.size()) {
            window = aligned_buffer(at - window_pos + need + block_bytes);
        }
        uint64_t disk_end = std::min(seg.written, window_pos + window.size());
        window_len = 0;
        if (disk_end > window_pos) {
            uint64_t len = align_up(disk_end - window_pos);
            auto got = _io.read_at(seg.file, window.span().first(len), window_pos);
            if (!got) {
                return failure(got.error());
            }
            window_len = std::min<uint64_t>(got.value(), disk_end - window_pos);
        }
        uint64_t mem = std::max(memory_start(seg), window_pos);
        uint64_t mem_end = std::min(seg.size, window_pos + window.size());
        if (mem < mem_end) {
            copy_out(seg, mem, window.span().subspan(mem - window_pos, mem_end - mem));
            window_len = std::max(window_len, mem_end - window_pos);
        }
        return {};
    };
    while (pos + batch::header_bytes <= limit) {
        if (pos < window_pos || pos + batch::header_bytes > window_pos + window_len) {
            if (auto r = load(pos, batch::header_bytes); !r) {
                return failure(r.error());
            }
            if (pos + batch::header_bytes > window_pos + window_len) {
                break;
            }
        }
        auto h = batch::read_header(window.span().subspan(pos - window_pos));
        if (!framing_ok(h) || pos + h.size_bytes() > limit) {
            break;
        }
        if (pos + h.size_bytes() > window_pos + window_len) {
            if (auto r = load(pos, h.size_bytes()); !r) {
                return failure(r.error());
            }
            if (pos + h.size_bytes() > window_pos + window_len) {
                break;
            }
        }
        auto bytes = window.span().subspan(pos - window_pos, h.size_bytes());
        if (!batch::check_stored(bytes) || !fn(h, pos, std::span<const std::byte>(bytes))) {
            break;
        }
        pos += h.size_bytes();
    }
    return pos;
}

void partition_log::index_batch(segment& seg, const batch::header& h, uint64_t pos) {
    RUNNEL_ASSERT(h.base_offset >= seg.base);
    RUNNEL_ASSERT(pos == seg.size);
    if (h.max_timestamp > seg.max_timestamp) {
        seg.max_timestamp = h.max_timestamp;
        seg.max_timestamp_offset = h.base_offset;
    }
    auto relative = uint32_t(h.base_offset - seg.base);
    if (seg.index.empty() || seg.bytes_since_index >= _opts.log.index_interval_bytes) {
        seg.index.push_back({relative, uint32_t(pos)});
        seg.bytes_since_index = 0;
        if (seg.time_index.empty() || seg.max_timestamp > seg.time_index.back().timestamp) {
            seg.time_index.push_back(
              {seg.max_timestamp, uint32_t(seg.max_timestamp_offset - seg.base)});
        }
    }
    seg.bytes_since_index += h.size_bytes();
    seg.size = pos + h.size_bytes();
    seg.next_offset = h.last_offset() + 1;
}

result<void, errc> partition_log::seal(segment& seg) {
    RUNNEL_ASSERT(seg.sealed);
    RUNNEL_ASSERT(seg.written >= seg.size);
    // Index files promise durable data: sync first (nearly free after an RWF_DSYNC write).
    if (auto r = _io.sync(seg.file); !r) {
        return r;
    }
    if (auto r = _io.truncate(seg.file, seg.size); !r) {
        return r;
    }
    seg.allocated = seg.size;
    detail::segment_summary s{seg.size, seg.next_offset, seg.max_timestamp,
                              seg.max_timestamp_offset};
    if (seg.time_index.empty() || seg.max_timestamp > seg.time_index.back().timestamp) {
        if (seg.max_timestamp() >= 0) {
            seg.time_index.push_back(
              {seg.max_timestamp, uint32_t(seg.max_timestamp_offset - seg.base)});
        }
    }
    const std::string path = _opts.directory + "/" + detail::segment_name(seg.base);
    if (auto r = _io.write_file_atomic(path + ".timeindex",
                                       detail::encode_time_index(s, seg.time_index));
        !r) {
        return r;
    }
    if (auto r = _io.write_file_atomic(path + ".index", detail::encode_offset_index(s, seg.index));
        !r) {
        return r;
    }
    seg.index_on_disk = true;
    return {};
}

// ---- appends and writes ------------------------------------------------------------------------

bool partition_log::chunk_reusable(const chunk& c) const {
    if (c.segment_base() < 0) {
        return true;
    }
    for (const auto& s : _segments) {
        if (s->base == c.segment_base) {
            return s->written >= c.file_pos + c.fill;
        }
    }
    return true; // its segment was deleted
}

result<void, errc> partition_log::roll(model::timestamp_ms now) {
    segment& old = *_segments.back();
    auto seg = std::make_unique<segment>();
    seg->base = seg->next_offset = _log_end;
    auto f = _io.open(_opts.directory + "/" + detail::segment_name(seg->base) + ".log",
                      open_mode::write_direct);
    if (!f) {
        return failure(f.error());
    }
    seg->file = f.value();
    seg->first_append_ms = now();
    old.sealed = true;
    _active_chunk = (_active_chunk + 1) % _chunks.size();
    chunk& c = _chunks[_active_chunk];
    c.segment_base = seg->base;
    c.file_pos = 0;
    c.fill = 0;
    _segments.push_back(std::move(seg));
    if (old.written >= old.size) {
        return seal(old);
    }
    return {}; // sealed when its last write completes
}

result<append_info, errc> partition_log::append(std::span<const std::byte> bytes,
                                                 model::epoch leader_epoch,
                                                 model::timestamp_ms now) {
    if (_failure || _closing) {
        return failure(errc::log_failed);
    }
    if (bytes.size() > batch_bytes_max()) {
        return failure(errc::batch_too_large);
    }
    if (!_epochs.empty() && leader_epoch < _epochs.back().first) {
        return failure(errc::invalid_argument);
    }
    if (_pending_count == _pending.size()) {
        return failure(errc::backpressure);
    }
    const uint32_t n = uint32_t(bytes.size());
    const uint32_t chunk_bytes = _opts.engine.chunk_bytes;
    segment* seg = _segments.back().get();
    bool roll_due = seg->size > 0 && (seg->size + n > _opts.log.segment_bytes ||
                                      now() - seg->first_append_ms >= _opts.log.segment_ms);
    // Every chunk this batch needs must already be written out.
    uint32_t room = roll_due ? 0 : chunk_bytes - _chunks[_active_chunk].fill;
    uint32_t extra = n > room ? (n - room + chunk_bytes - 1) / chunk_bytes : 0;
    for (uint32_t k = 1; k <= extra; ++k) {
        if (!chunk_reusable(_chunks[(_active_chunk + k) % _chunks.size()])) {
            return failure(errc::backpressure);
        }
    }
    // Validated only once there is room: a caller retrying after back-pressure must not pay
    // for a CRC of the whole batch on every duty cycle.
    auto h = batch::validate(bytes);
    if (!h) {
        _last_batch_error = h.error();
        return failure(errc::invalid_batch);
    }
    if (roll_due) {
        if (auto r = roll(now); !r) {
            fail(r.error(), true);
            return failure(r.error());
        }
        seg = _segments.back().get();
    }
    if (seg->first_append_ms < 0) {
        seg->first_append_ms = now();
    }
    if (_epochs.empty() || leader_epoch > _epochs.back().first) {
        _epochs.emplace_back(leader_epoch, _log_end);
        if (auto r = persist_epochs(); !r) {
            _epochs.pop_back();
            return failure(r.error());
        }
    }

    // Stamp offsets, epoch and (LogAppendTime) the timestamp on a copy of the header; the CRC
    // then covers the new attributes and max timestamp plus the unchanged records.
    std::array<std::byte, batch::header_bytes> header;
    std::memcpy(header.data(), bytes.data(), header.size());
    batch::set_base_offset(header, _log_end);
    detail::store_be<int32_t>(header.data() + batch::leader_epoch_at, leader_epoch());
    append_info info{_log_end, _log_end + h->last_offset_delta, model::timestamp_ms(-1)};
    if (_opts.log.timestamps == timestamp_type::log_append_time) {
        auto attributes = detail::load_be<uint16_t>(header.data() + batch::attributes_at);
        detail::store_be<uint16_t>(header.data() + batch::attributes_at,
                                   attributes | batch::timestamp_type_bit);
        detail::store_be<int64_t>(header.data() + batch::max_timestamp_at, now());
        uint32_t crc = crc32c(std::span(header).subspan(batch::attributes_at));
        crc = crc32c(bytes.subspan(batch::header_bytes), crc);
        detail::store_be<uint32_t>(header.data() + batch::crc_at, crc);
        info.log_append_time = now;
    }

    uint64_t pos = seg->size;
    auto copy_in = [&](std::span<const std::byte> src) {
        while (!src.empty()) {
            chunk* c = &_chunks[_active_chunk];
            if (c->fill == chunk_bytes) {
                uint64_t next_pos = c->file_pos + chunk_bytes;
                _active_chunk = (_active_chunk + 1) % _chunks.size();
                c = &_chunks[_active_chunk];
                c->segment_base = seg->base;
                c->file_pos = next_pos;
                c->fill = 0;
            }
            size_t take = std::min<size_t>(src.size(), chunk_bytes - c->fill);
            std::memcpy(c->buffer.data() + c->fill, src.data(), take);
            c->fill += uint32_t(take);
            src = src.subspan(take);
        }
    };
    copy_in(header);
    copy_in(bytes.subspan(batch::header_bytes));
    index_batch(*seg, batch::read_header(header), pos);
    RUNNEL_ASSERT(seg->size == _chunks[_active_chunk].file_pos + _chunks[_active_chunk].fill);

    _log_end = info.last_offset + 1;
    size_t slot = (_pending_head + _pending_count) % _pending.size();
    _pending[slot] = {seg->base, seg->size, _log_end};
    ++_pending_count;
    if (_opts.log.ack == ack_after::memory && _hw_follows_ack) {
        _high_watermark = _log_end;
    }
    return info;
}

void partition_log::wait(model::offset last, append_waiter& w) {
    RUNNEL_ASSERT(last < _log_end);
    w.last_offset = last;
    w.error.reset();
    // In offset order, so that completing stops at the first waiter not reached. A new batch's
    // goes last; an older one's before the first that waits for more.
    append_waiter** at = &_waiters_head;
    if (_waiters_tail != nullptr && _waiters_tail->last_offset <= last) {
        at = &_waiters_tail->next;
    }
    while (*at != nullptr && (*at)->last_offset <= last) {
        at = &(*at)->next;
    }
    w.next = *at;
    *at = &w;
    if (w.next == nullptr) {
        _waiters_tail = &w;
    }
}

model::offset partition_log::ack_level() const {
    switch (_opts.log.ack) {
    case ack_after::memory: return _log_end;
    case ack_after::write: return _written_end;
    case ack_after::fsync: return _flushed_end;
    }
    return _log_end;
}

uint32_t partition_log::poll(uint64_t now_us, bool idle) {
    uint32_t work = 0;
    if (_failure && _waiters_head != nullptr) {
        fail_waiters();
        ++work;
    } else if (_waiters_head != nullptr && _waiters_head->last_offset < ack_level()) {
        complete_waiters(); // memory level, or an old offset waited for after it got there
        ++work;
    }
    if (_write_in_flight || _failure) {
        return work;
    }
    segment* seg = nullptr;
    for (auto& s : _segments) {
        if (s->written < s->size) {
            seg = s.get();
            break;
        }
    }
    if (seg == nullptr) {
        _unwritten_since_us = 0;
        return work;
    }
    if (_unwritten_since_us == 0) {
        _unwritten_since_us = now_us;
    }
    // No ack of a memory-level topic waits for its write: writing it when the shard is idle
    // would only put the submission (tens of microseconds in the kernel) in front of the next
    // request. Such writes wait for a full chunk or their own, longer deadline.
    const bool acks_wait = _opts.log.ack != ack_after::memory;
    const uint32_t deadline_us =
      acks_wait ? _opts.engine.flush_deadline_us : _opts.engine.memory_flush_deadline_us;
    bool due = (idle && acks_wait) || _closing || seg->sealed ||
               seg->size - seg->written >= _opts.engine.chunk_bytes ||
               now_us - _unwritten_since_us >= deadline_us;
    if (!due) {
        return work;
    }
    if (auto r = submit_write(*seg); !r) {
        fail(r.error());
    }
    return work + 1;
}

result<void, errc> partition_log::submit_write(segment& seg) {
    const uint64_t start = align_down(seg.written);
    chunk* c = nullptr;
    for (auto& ch : _chunks) {
        if (ch.segment_base == seg.base && ch.file_pos <= start &&
            start < ch.file_pos + _opts.engine.chunk_bytes) {
            c = &ch;
        }
    }
    RUNNEL_ASSERT(c != nullptr);
    const uint64_t data_end = std::min(seg.size, c->file_pos + c->fill);
    const uint64_t end = align_up(data_end);
    RUNNEL_ASSERT(data_end > seg.written);
    // The chunk may hold stale bytes past its fill from an earlier use: zero the tail block.
    std::memset(c->buffer.data() + (data_end - c->file_pos), 0, end - data_end);
    if (end > seg.allocated && _opts.log.preallocate_bytes > 0) {
        uint64_t step = std::max<uint64_t>(_opts.log.preallocate_bytes, end - seg.allocated);
        if (auto r = _io.allocate(seg.file, seg.allocated, step); !r) {
            return r;
        }
        seg.allocated += step;
    }
    // fsync topics: a write that leaves more data behind it goes out plain, and the write that
    // catches up (or the fourth in a row) carries RWF_DSYNC, which makes all before it durable
    // too. Under load that is one sync per four chunks instead of one per chunk (perf/RESULTS.md);
    // at low load every write catches up, so it is one RWF_DSYNC write, as before.
    // This relies on a RWF_DSYNC write flushing the device cache for the whole file, which holds
    // because plain writes end on a chunk boundary, so the next write always starts a fresh
    // block: ext4 then commits through a full flush, never a FUA-only overwrite.
    bool catches_up = data_end == seg.size;
    bool dsync = seg.sealed || _closing ||
                 (_opts.log.ack == ack_after::fsync &&
                  (catches_up || _writes_since_sync + 1 >= writes_per_sync_max));
    _writes_since_sync = dsync ? 0 : _writes_since_sync + 1;
    _write_op = io_op{};
    _write_op.op = dsync ? io_op::kind::write_dsync : io_op::kind::write;
    _write_op.file = seg.file;
    _write_op.position = start;
    _write_op.buffer = c->buffer.data() + (start - c->file_pos);
    _write_op.length = uint32_t(end - start);
    _write_op.done = write_done;
    _write_op.owner = this;
    _write_end_pos = data_end;
    _write_in_flight = true;
    ++_ios_in_flight;
    _io.submit(_write_op);
    return {};
}

void partition_log::complete(io_op& op) {
    RUNNEL_ASSERT(_ios_in_flight > 0);
    --_ios_in_flight;
    if (&op == &_write_op) {
        on_write_done(op);
    } else {
        on_read_done(*static_cast<read_op*>(op.owner));
    }
}

void partition_log::on_write_done(io_op& op) {
    RUNNEL_ASSERT(_write_in_flight);
    _write_in_flight = false;
    _unwritten_since_us = 0;
    if (op.res < 0) {
        fail(errc_from_errno(-op.res));
        return;
    }
    if (uint32_t(op.res) != op.length) {
        fail(errc::no_space); // a short O_DIRECT write: the device ran out of room
        return;
    }
    segment* seg = nullptr;
    for (auto& s : _segments) {
        if (s->file == op.file) {
            seg = s.get();
        }
    }
    RUNNEL_ASSERT(seg != nullptr);
    seg->written = std::max(seg->written, _write_end_pos);
    model::offset written = _written_end;
    while (_pending_count > 0) {
        const pending_batch& p = _pending[_pending_head];
        if (p.segment_base > seg->base || (p.segment_base == seg->base && p.end_pos > seg->written)) {
            break;
        }
        written = p.next_offset;
        _pending_head = (_pending_head + 1) % _pending.size();
        --_pending_count;
    }
    advance_durable(written, op.op == io_op::kind::write_dsync);
    if (seg->sealed && seg->written >= seg->size && !seg->index_on_disk) {
        if (auto r = seal(*seg); !r) {
            fail(r.error());
        }
    }
}

void partition_log::advance_durable(model::offset written, bool flushed) {
    RUNNEL_ASSERT(written >= _written_end);
    RUNNEL_ASSERT(written <= _log_end);
    _written_end = written;
    if (flushed) {
        _flushed_end = written;
    }
    complete_waiters();
}

void partition_log::complete_waiters() {
    const model::offset level = ack_level();
    if (_hw_follows_ack && level > _high_watermark) {
        _high_watermark = level;
    }
    while (_waiters_head != nullptr && _waiters_head->last_offset < level) {
        append_waiter* w = _waiters_head;
        _waiters_head = w->next;
        if (_waiters_head == nullptr) {
            _waiters_tail = nullptr;
        }
        w->next = nullptr;
        w->done(*w);
    }
}

void partition_log::fail(errc e, bool inside_append) {
    log_error(_opts.directory, "write failed; appends refused until the log is reopened", e);
    _failure = e;
    if (_hw_follows_ack) {
        _high_watermark = std::min(_high_watermark, _written_end);
    }
    if (!inside_append) {
        fail_waiters();
    }
    // Inside append() the waiters learn of it from the next poll(): a waiter never runs there.
}

void partition_log::fail_waiters() {
    RUNNEL_ASSERT(_failure.has_value());
    while (_waiters_head != nullptr) {
        append_waiter* w = _waiters_head;
        _waiters_head = w->next;
        w->next = nullptr;
        w->error = *_failure;
        w->done(*w);
    }
    _waiters_tail = nullptr;
}

result<void, errc> partition_log::persist_epochs() {
    return _io.write_file_atomic(_opts.directory + "/" + epochs_file,
                                 detail::encode_epochs(_epochs));
}

result<void, errc> partition_log::persist_log_start(model::offset o) {
    auto r = _io.write_file_atomic(_opts.directory + "/" + log_start_file,
                                   detail::encode_log_start(o));
    if (r) {
        _log_start = o;
    }
    return r;
}

void partition_log::set_high_watermark(model::offset hw) {
    RUNNEL_ASSERT(hw <= _log_end);
    RUNNEL_ASSERT(hw >= _high_watermark);
    _high_watermark = hw;
}

// ---- reads -------------------------------------------------------------------------------------

partition_log::segment* partition_log::segment_for(model::offset o) {
    for (auto it = _segments.rbegin(); it != _segments.rend(); ++it) {
        if ((*it)->base <= o) {
            return it->get();
        }
    }
    return nullptr;
}

partition_log::segment* partition_log::segment_at(model::offset base) {
    for (auto& s : _segments) {
        if (s->base == base) {
            return s.get();
        }
    }
    return nullptr;
}

uint64_t partition_log::memory_start(const segment& seg) const {
    uint64_t start = seg.size;
    for (const auto& c : _chunks) {
        if (c.segment_base == seg.base) {
            start = std::min(start, c.file_pos);
        }
    }
    return start;
}

void partition_log::copy_out(const segment& seg, uint64_t pos, std::span<std::byte> out) const {
    while (!out.empty()) {
        const chunk* c = nullptr;
        for (const auto& ch : _chunks) {
            if (ch.segment_base == seg.base && ch.file_pos <= pos && pos < ch.file_pos + ch.fill) {
                c = &ch;
            }
        }
        RUNNEL_ASSERT(c != nullptr);
        size_t take = std::min<size_t>(out.size(), c->file_pos + c->fill - pos);
        std::memcpy(out.data(), c->buffer.data() + (pos - c->file_pos), take);
        out = out.subspan(take);
        pos += take;
    }
}

bool partition_log::read(read_op& op) {
    op.error.reset();
    op.bytes = {};
    op.log = this;
    if (op.start < _log_start || op.start > _log_end) {
        op.error = errc::offset_out_of_range;
        return true;
    }
    if (op.start == _log_end || op.start >= op.upto) {
        return true;
    }
    segment* seg = segment_for(op.start);
    if (seg == nullptr || op.start >= seg->next_offset) {
        op.error = _failure ? errc::log_failed : errc::offset_out_of_range;
        return true;
    }
    auto rel = uint32_t(op.start - seg->base);
    auto it = std::upper_bound(seg->index.begin(), seg->index.end(), rel,
                               [](uint32_t r, const index_entry& e) { return r < e.relative_offset; });
    op.scan_pos = it == seg->index.begin() ? 0 : std::prev(it)->position;
    op.segment_base = seg->base;
    op.window_pos = align_down(op.scan_pos);
    op.window_len = 0;
    op.rounds = 0;
    return advance_read(op);
}

// Scans what the window holds and loads more until the read finishes (true) or waits for the
// disk (false; complete() resumes it).
bool partition_log::advance_read(read_op& op) {
    for (;;) {
        const segment* seg = segment_at(op.segment_base);
        if (seg == nullptr) {
            op.error = errc::offset_out_of_range; // deleted by retention while reading
            return true;
        }
        auto need = scan_window(op, *seg);
        if (!need) {
            return true;
        }
        if (++op.rounds > read_rounds_max) {
            op.error = errc::corrupt; // the window never came to hold a whole batch
            return true;
        }
        if (!fill_window(op, *seg, op.scan_pos, *need)) {
            return false;
        }
    }
}

// Loads the window at `pos` into op.buffer: from memory at once (true), or from disk through the
// io (false).
bool partition_log::fill_window(read_op& op, const segment& seg, uint64_t pos, uint64_t min_bytes) {
    op.window_pos = align_down(pos);
    // At least the next whole batch; at most what the segment holds and read_window_max_bytes
    // (a fetch may return less than max_bytes).
    uint64_t want = std::max<uint64_t>(
      min_bytes, std::min<uint64_t>(std::max<uint64_t>(op.max_bytes, read_window_min_bytes) +
                                      _opts.log.index_interval_bytes,
                                    read_window_max_bytes));
    uint64_t length = std::min(align_up(pos - op.window_pos + want),
                               align_up(seg.size) - op.window_pos);
    if (op.buffer.size() < length) {
        op.buffer = aligned_buffer(length); // grows to the largest window this op has needed
    }
    if (op.window_pos >= memory_start(seg)) {
        uint64_t end = std::min(seg.size, op.window_pos + length);
        copy_out(seg, op.window_pos, op.buffer.span().first(end - op.window_pos));
        op.window_len = end - op.window_pos;
        return true;
    }
    uint64_t disk_end = std::min(seg.written, op.window_pos + length);
    RUNNEL_ASSERT(disk_end > op.window_pos);
    op.window_len = disk_end - op.window_pos;
    op.io = io_op{};
    op.io.op = io_op::kind::read;
    op.io.file = seg.file;
    op.io.position = op.window_pos;
    op.io.buffer = op.buffer.data();
    op.io.length = uint32_t(align_up(op.window_len));
    op.io.owner = &op;
    op.io.done = read_done;
    ++_ios_in_flight;
    _io.submit(op.io);
    return false;
}

void partition_log::on_read_done(read_op& op) {
    const segment* seg = segment_at(op.segment_base);
    if (op.io.res < 0) {
        op.error = errc_from_errno(-op.io.res);
    } else if (seg != nullptr) {
        op.window_len = std::min<uint64_t>(op.window_len, uint64_t(op.io.res));
        // Bytes past what was written when the read was issued may be in memory now.
        uint64_t mem = std::max(memory_start(*seg), op.window_pos);
        uint64_t end = std::min(seg->size, op.window_pos + op.buffer.size());
        if (mem <= op.window_pos + op.window_len && mem < end) {
            copy_out(*seg, mem, op.buffer.span().subspan(mem - op.window_pos, end - mem));
            op.window_len = end - op.window_pos;
        }
    }
    if (op.error || advance_read(op)) {
        op.done(op);
    }
}

// Scans the window from op.scan_pos. Returns nullopt when the read is finished (op.bytes or
// op.error set), or how many bytes the window must hold at op.scan_pos to go on.
std::optional<uint64_t> partition_log::scan_window(read_op& op, const segment& seg) {
    uint64_t pos = op.scan_pos;
    uint64_t first = 0;
    uint64_t total = 0;
    auto window = op.buffer.span().first(op.window_len);
    while (pos < seg.size) {
        uint64_t at = pos - op.window_pos;
        uint64_t need = batch::header_bytes;
        if (at + need <= window.size()) {
            auto h = batch::read_header(window.subspan(at));
            if (!framing_ok(h)) {
                op.error = errc::corrupt;
                return std::nullopt;
            }
            need = h.size_bytes();
            if (at + need <= window.size()) {
                if (!batch::check_stored(window.subspan(at, need))) {
                    op.error = errc::corrupt; // verified after the read as before the write
                    return std::nullopt;
                }
                if (h.last_offset() < op.start) {
                    pos += need;
                    continue;
                }
                if (!(h.last_offset() < op.upto) || (total > 0 && total + need > op.max_bytes)) {
                    break;
                }
                first = total == 0 ? at : first;
                total += need;
                pos += need;
                continue;
            }
        }
        if (total > 0) {
            break;
        }
        op.scan_pos = pos;
        return need;
    }
    op.bytes = window.subspan(first, total);
    return std::nullopt;
}

// ---- lookups -----------------------------------------------------------------------------------

result<std::optional<model::offset>, errc>
partition_log::offset_for_timestamp(model::timestamp_ms ts) {
    for (auto& s : _segments) {
        segment& seg = *s;
        if (seg.max_timestamp < ts) {
            continue;
        }
        // Every batch up to a time-index entry below `ts` is older than `ts`: start there.
        model::offset from = seg.base;
        for (const auto& e : seg.time_index) {
            if (e.timestamp < ts) {
                from = seg.base + e.relative_offset;
            }
        }
        uint64_t pos = 0;
        for (const auto& e : seg.index) {
            if (seg.base + e.relative_offset <= from) {
                pos = e.position;
            }
        }
        std::optional<model::offset> found;
        auto walked = walk(seg, pos, [&](const batch::header& h, uint64_t, auto bytes) {
            if (h.max_timestamp < ts || h.last_offset() < _log_start) {
                return true;
            }
            found = batch::first_offset_at_or_after(bytes, ts);
            return false;
        });
        if (!walked) {
            return failure(walked.error());
        }
        if (found) {
            return std::optional(std::max(*found, _log_start));
        }
    }
    return std::optional<model::offset>();
}

std::pair<model::timestamp_ms, model::offset> partition_log::max_timestamp() const {
    std::pair<model::timestamp_ms, model::offset> best{model::timestamp_ms(-1), model::offset(-1)};
    for (const auto& s : _segments) {
        if (s->max_timestamp > best.first) {
            best = {s->max_timestamp, s->max_timestamp_offset};
        }
    }
    return best;
}

std::optional<std::pair<model::epoch, model::offset>>
partition_log::end_offset_for_epoch(model::epoch e) const {
    for (size_t i = _epochs.size(); i-- > 0;) {
        if (_epochs[i].first <= e) {
            model::offset end = i + 1 < _epochs.size() ? _epochs[i + 1].second : _log_end;
            return std::pair{_epochs[i].first, end};
        }
    }
    return std::nullopt;
}

// ---- truncation, retention, close --------------------------------------------------------------

result<void, errc> partition_log::truncate(model::offset o) {
    if (_ios_in_flight > 0 || _written_end != _log_end) {
        return failure(errc::backpressure);
    }
    if (o >= _log_end) {
        return {};
    }
    // Cut at the start of the batch that holds `o` (Kafka's truncateTo).
    model::offset cut = std::max(o, _log_start);
    segment* seg = segment_for(cut);
    RUNNEL_ASSERT(seg != nullptr);
    uint64_t cut_pos = 0;
    model::offset cut_offset = seg->base;
    auto walked = walk(*seg, 0, [&](const batch::header& h, uint64_t at, auto) {
        cut_pos = at;
        cut_offset = h.base_offset;
        return h.last_offset() < cut;
    });
    if (!walked) {
        return failure(walked.error());
    }
    // From here on the disk changes; if a step fails, the in-memory state no longer describes
    // it, so the log fails and is reopened (recovered) from disk by its shard.
    auto cut_segments = [&]() -> result<void, errc> {
        while (_segments.back().get() != seg) {
            segment& last = *_segments.back();
            _io.close(last.file);
            last.file = -1;
            if (auto r = remove_segment_files(last.base, {".log", ".index", ".timeindex"}); !r) {
                return r;
            }
            _segments.pop_back();
        }
        if (auto r = _io.truncate(seg->file, cut_pos); !r) {
            return r;
        }
        if (auto r = remove_segment_files(seg->base, {".index", ".timeindex"}); !r) {
            return r;
        }
        std::erase_if(_epochs, [&](const auto& e) { return e.second >= cut_offset; });
        if (auto r = persist_epochs(); !r) {
            return r;
        }
        // Rebuild every in-memory structure from the disk, as recovery does.
        unload();
        return load();
    };
    auto r = cut_segments();
    if (!r) {
        fail(r.error());
    }
    return r;
}

result<void, errc> partition_log::remove_segment_files(model::offset base,
                                                       std::initializer_list<const char*> exts) {
    for (const char* ext : exts) {
        if (auto r = _io.remove(_opts.directory + "/" + detail::segment_name(base) + ext); !r) {
            return r;
        }
    }
    return {};
}

result<void, errc> partition_log::delete_records(model::offset o) {
    if (o > _high_watermark) {
        return failure(errc::offset_out_of_range);
    }
    if (o <= _log_start) {
        return {};
    }
    if (auto r = persist_log_start(o); !r) {
        return r;
    }
    if (auto r = apply_retention(model::timestamp_ms(-1)); !r) {
        return failure(r.error());
    }
    return {};
}

result<void, errc> partition_log::remove_head_segment() {
    RUNNEL_ASSERT(_segments.size() > 1);
    segment& head = *_segments.front();
    _io.close(head.file);
    head.file = -1;
    for (auto& c : _chunks) {
        if (c.segment_base == head.base) {
            c.segment_base = model::offset(-1);
            c.fill = 0;
        }
    }
    model::offset base = head.base;
    _segments.erase(_segments.begin());
    // Index files first: a crash in between leaves a segment that recovery re-indexes.
    auto r = remove_segment_files(base, {".index", ".timeindex", ".log"});
    if (!r) {
        log_error(_opts.directory, "could not delete a retained segment", r.error());
    }
    return r;
}

result<uint32_t, errc> partition_log::apply_retention(model::timestamp_ms now) {
    if (_ios_in_flight > (_write_in_flight ? 1u : 0u)) {
        return 0u; // a read may be using a head segment; try on a later tick
    }
    uint32_t removed = 0;
    while (_segments.size() > 1) {
        const segment& head = *_segments.front();
        if (!head.index_on_disk || head.written < head.size) {
            break;
        }
        bool below_start = _segments[1]->base <= _log_start;
        bool by_size = _opts.log.retention_bytes >= 0 &&
                       size_bytes() - head.size >= uint64_t(_opts.log.retention_bytes);
        bool by_time = now() >= 0 && _opts.log.retention_ms >= 0 && head.max_timestamp() >= 0 &&
                       head.max_timestamp() < now() - _opts.log.retention_ms;
        if (!below_start && !by_size && !by_time) {
            break;
        }
        // The start moves (durably) before any file goes, so no read can reach a missing one.
        model::offset next_base = _segments[1]->base;
        if (next_base > _log_start) {
            if (auto r = persist_log_start(next_base); !r) {
                return failure(r.error());
            }
        }
        if (auto r = remove_head_segment(); !r) {
            return failure(r.error());
        }
        ++removed;
    }
    return removed;
}

result<void, errc> partition_log::close() {
    _closing = true;
    std::vector<io_op*> done;
    auto complete_reaped = [&] {
        done.clear();
        _io.reap(done, 64, true);
        for (io_op* op : done) {
            op->done(*op);
        }
    };
    // Bounded: each round either submits a write or reaps at least one completion.
    while (!_failure && (_write_in_flight || _written_end != _log_end)) {
        poll(0, true);
        _io.flush();
        complete_reaped();
    }
    while (_ios_in_flight > 0) {
        complete_reaped();
    }
    if (_failure) {
        return failure(*_failure);
    }
    segment& active = *_segments.back();
    if (_flushed_end != _log_end) {
        if (auto r = _io.sync(active.file); !r) {
            return r;
        }
        _flushed_end = _log_end;
    }
    active.sealed = true;
    if (auto r = seal(active); !r) {
        return r;
    }
    active.sealed = false;
    auto marker = std::span<const std::byte>();
    return _io.write_file_atomic(_opts.directory + "/" + clean_marker, marker);
}

} // namespace runnel::storage
