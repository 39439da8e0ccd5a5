// partition_log: one Kafka partition's log on this shard — segments of RecordBatch v2 in their own
// directory, sparse offset and time indexes, a leader-epoch map, and the write buffer that turns
// many appends into few O_DIRECT writes (group commit). Formats: storage/log_format.md.
//
// Lifecycle: open() creates or recovers the directory; the owning shard then calls append(),
// read(), poll() from its duty cycle and complete() for every io_op of this log that its io
// reaped; close() flushes and seals the active segment and writes the clean-shutdown marker.
// Owning core: exactly one shard; no call from any other thread. No locks, no atomics.
//
// Offsets, lowest to highest:
//   log_start <= high_watermark <= log_end, and flushed_end <= written_end <= log_end.
// - log_end: next offset to assign. Appended batches are readable in memory at once.
// - written_end: batches below it were written to the device (O_DIRECT completed).
// - flushed_end: batches below it are on stable storage (RWF_DSYNC completed).
// - high_watermark: the "visible up to" point that readers normally pass as `upto`. With one node
//   it follows the topic's ack_after level; replication will drive it instead.
#pragma once

#include "base/named_type.h"
#include "base/result.h"
#include "storage/errc.h"
#include "storage/io.h"
#include "storage/log_config.h"
#include "storage/record_batch.h"

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace runnel::storage {

class partition_log;

// Caller-owned notification that an append reached the log's ack_after level (or failed). It must
// live until `done` runs; `done` runs once, from poll() or complete(), never inside append().
struct append_waiter {
    model::offset last_offset;       // set by wait()
    std::optional<errc> error;       // set before done() when the append could not be made durable
    void (*done)(append_waiter&) = nullptr;
    void* owner = nullptr;
    append_waiter* next = nullptr;   // owned by the log while queued
};

struct append_info {
    model::offset base_offset;
    model::offset last_offset;
    model::timestamp_ms log_append_time{-1}; // -1 unless the topic uses LogAppendTime
};

// Caller-owned read. The result bytes are whole batches, returned exactly as stored.
struct read_op {
    // In.
    model::offset start;
    uint32_t max_bytes = 1u << 20;   // the first batch is returned whole even when larger
    model::offset upto;              // only batches whose last offset is below this are returned
    void (*done)(read_op&) = nullptr; // for reads that went to disk (read() returned false)
    void* owner = nullptr;
    // Out: valid once read() returned true or done() ran.
    std::span<const std::byte> bytes;
    std::optional<errc> error;
    // Internal to the log.
    aligned_buffer buffer;
    io_op io;
    partition_log* log = nullptr;
    uint64_t window_pos = 0;   // segment position of buffer[0]
    uint64_t window_len = 0;   // valid bytes in buffer
    uint64_t scan_pos = 0;     // segment position where the scan resumes
    uint32_t rounds = 0;
    model::offset segment_base;
};

class partition_log {
public:
    struct options {
        std::string directory;
        log_config log;
        engine_config engine;
    };

    // Opens the partition directory, creating it if needed, and recovers it: the last segment is
    // scanned (CRC and offsets checked) unless the clean-shutdown marker is present, a torn or
    // corrupt tail is truncated to the last valid batch, and missing or stale indexes are rebuilt.
    static result<std::unique_ptr<partition_log>, errc> open(io& io, options opts);
    ~partition_log();
    partition_log(const partition_log&) = delete;
    partition_log& operator=(const partition_log&) = delete;

    // Validates `batch` (one whole RecordBatch v2, only read during the call), assigns offsets and
    // copies it into the write buffer stamped with `leader_epoch`. On success the batch is in
    // memory; wait() tells when it reaches the log's ack_after level.
    // Errors: invalid_batch (see last_batch_error()), backpressure (buffers full: poll and retry),
    // log_failed (an earlier write failed; see failed()).
    result<append_info, errc> append(std::span<const std::byte> batch, model::epoch leader_epoch,
                                     model::timestamp_ms now);
    // Notifies `w` once every offset up to `last` (below log_end) is at the log's ack_after
    // level, or fails it when a write fails first. It runs from a later poll() or complete(),
    // never inside wait() or append(). Any appended offset may be waited for, also an old one
    // (a producer's retransmit of a batch still on its way to the disk).
    void wait(model::offset last, append_waiter& w);
    batch::errc last_batch_error() const { return _last_batch_error; }

    // Starts a read. Returns true when it completed at once (memory, or an error); false when it
    // went to disk, in which case `op.done` runs after the shard hands the reaped io to complete().
    bool read(read_op& op);

    // Duty-cycle step: submits the next write when due (a chunk's worth pending, the flush deadline
    // passed, the shard is idle, or a segment is being sealed) and completes memory-level waiters.
    uint32_t poll(uint64_t now_us, bool idle);
    // Completion of one of this log's io_ops (writes and reads), called by the shard after reap.
    void complete(io_op& op);

    // First offset whose batch has max timestamp >= ts (record-exact for uncompressed batches),
    // or nullopt when none. Reads the disk synchronously: a control-path call.
    result<std::optional<model::offset>, errc> offset_for_timestamp(model::timestamp_ms ts);
    // Largest timestamp in the log and the offset of its batch (ListOffsets max timestamp).
    std::pair<model::timestamp_ms, model::offset> max_timestamp() const;
    // OffsetForLeaderEpoch: the largest epoch <= `e` and the offset where it ended (log_end for the
    // latest epoch); nullopt when `e` is below every epoch in the log.
    std::optional<std::pair<model::epoch, model::offset>> end_offset_for_epoch(model::epoch e) const;

    // Removes every batch at or above the batch containing `o` (a follower that diverged) and
    // rebuilds the indexes and the epoch map. Needs no write or read in flight and nothing
    // unwritten (backpressure otherwise).
    result<void, errc> truncate(model::offset o);
    // Advances the log start offset to `o` (<= high watermark) and deletes wholly covered segments.
    result<void, errc> delete_records(model::offset o);
    // Deletes head segments past retention.bytes / retention.ms; returns how many.
    result<uint32_t, errc> apply_retention(model::timestamp_ms now);

    // Writes out everything buffered (blocking on this shard's io), then seals the active segment
    // and writes the clean-shutdown marker. The log accepts nothing afterwards.
    result<void, errc> close();

    model::offset log_start() const { return _log_start; }
    model::offset log_end() const { return _log_end; }
    model::offset written_end() const { return _written_end; }
    model::offset flushed_end() const { return _flushed_end; }
    model::offset high_watermark() const { return _high_watermark; }
    // Replication drives the high watermark; with one node the log moves it itself.
    void set_high_watermark(model::offset hw);
    void set_high_watermark_follows_ack(bool v) { _hw_follows_ack = v; }
    // Set when a write failed: the log serves reads of written data but refuses appends until it is
    // reopened (which recovers it from disk).
    std::optional<errc> failed() const { return _failure; }
    uint32_t ios_in_flight() const { return _ios_in_flight; }
    size_t segment_count() const { return _segments.size(); }
    // Base offset of the segment appends go to (the start of the recent data a restart rescans).
    model::offset active_segment_base() const;
    uint64_t size_bytes() const;
    const options& config() const { return _opts; }
    // New settings for what comes next (roll, retention, index interval, timestamps). The
    // ack_after level must stay as it is: waiters already queued were promised it.
    void set_log_config(const log_config& c) {
        RUNNEL_ASSERT(c.ack == _opts.log.ack);
        _opts.log = c;
    }
    // Largest batch append() accepts: one batch must fit in the write buffer with a chunk spare.
    uint32_t batch_bytes_max() const;

private:
    struct segment;
    struct chunk;
    struct pending_batch;

    partition_log(io& io, options opts);
    result<void, errc> load();
    void unload();
    result<void, errc> roll(model::timestamp_ms now);
    bool chunk_reusable(const chunk& c) const;
    result<void, errc> submit_write(segment& seg);
    void on_write_done(io_op& op);
    void on_read_done(read_op& op);
    void fail(errc e, bool inside_append = false);
    void fail_waiters();
    void advance_durable(model::offset written, bool flushed);
    void complete_waiters();
    model::offset ack_level() const; // log_end, written_end or flushed_end, by ack_after
    result<void, errc> seal(segment& seg);
    result<void, errc> persist_log_start(model::offset o); // sets _log_start once durable
    result<void, errc> remove_segment_files(model::offset base,
                                            std::initializer_list<const char*> exts);
    result<void, errc> persist_epochs();
    result<void, errc> remove_head_segment();
    segment* segment_for(model::offset o);
    uint64_t memory_start(const segment& seg) const;
    void copy_out(const segment& seg, uint64_t pos, std::span<std::byte> out) const;
    void index_batch(segment& seg, const batch::header& h, uint64_t pos);
    template <typename Fn>
    result<uint64_t, errc> walk(segment& seg, uint64_t pos, Fn&& fn);
    result<void, errc> load_segment(model::offset base, bool last, bool clean);
    segment* segment_at(model::offset base);
    bool advance_read(read_op& op);
    bool fill_window(read_op& op, const segment& seg, uint64_t pos, uint64_t min_bytes);
    std::optional<uint64_t> scan_window(read_op& op, const segment& seg);

    io& _io;
    options _opts;
    std::vector<std::unique_ptr<segment>> _segments;
    std::vector<chunk> _chunks;
    size_t _active_chunk = 0;
    std::vector<pending_batch> _pending;  // ring: unwritten batches in append order
    size_t _pending_head = 0;
    size_t _pending_count = 0;
    std::vector<std::pair<model::epoch, model::offset>> _epochs;
    model::offset _log_start{0};
    model::offset _log_end{0};
    model::offset _written_end{0};
    model::offset _flushed_end{0};
    model::offset _high_watermark{0};
    bool _hw_follows_ack = true;
    append_waiter* _waiters_head = nullptr;
    append_waiter* _waiters_tail = nullptr;
    io_op _write_op;
    bool _write_in_flight = false;
    uint64_t _write_end_pos = 0;          // segment position the in-flight write makes whole
    uint32_t _writes_since_sync = 0;      // plain writes since the last RWF_DSYNC one
    uint64_t _unwritten_since_us = 0;     // when the oldest unwritten byte was appended; 0: none
    uint32_t _ios_in_flight = 0;
    std::optional<errc> _failure;
    bool _closing = false;
    batch::errc _last_batch_error = batch::errc::too_short;
};

} // namespace runnel::storage
