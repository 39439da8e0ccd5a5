#include "log_harness.h"

#include "storage/detail/endian.h"

using namespace runnel;
using namespace runnel::storage;
using namespace runnel::storage::testing;

namespace {

constexpr model::epoch epoch0{0};
constexpr model::timestamp_ms now{50'000};

struct fixture : ::testing::Test {
    sim_io disk{1};
    harness h{disk, nullptr, {}};
    partition_log::options opts = small_options();

    void open() {
        auto l = partition_log::open(disk, opts);
        ASSERT_TRUE(l.ok()) << to_string(l.error());
        h.log = std::move(l.value());
    }
    append_info append(const std::vector<std::byte>& b, model::epoch e = epoch0) {
        auto r = h.log->append(b, e, now);
        EXPECT_TRUE(r.ok());
        return r.ok() ? r.value() : append_info{};
    }
    // The stored batch equals the produced one apart from baseOffset and partitionLeaderEpoch.
    static void expect_same_batch(const std::vector<std::byte>& stored,
                                  const std::vector<std::byte>& produced) {
        ASSERT_EQ(stored.size(), produced.size());
        EXPECT_TRUE(std::equal(stored.begin() + batch::magic_at, stored.end(),
                               produced.begin() + batch::magic_at));
    }
};

struct counting_waiter : append_waiter {
    int fired = 0;
    counting_waiter() {
        done = [](append_waiter& w) { ++static_cast<counting_waiter&>(w).fired; };
    }
};

} // namespace

TEST_F(fixture, appends_get_consecutive_offsets_and_read_back_from_memory) {
    open();
    auto b1 = make_batch(3);
    auto b2 = make_batch(5);
    EXPECT_EQ(append(b1).base_offset, model::offset(0));
    auto i2 = append(b2);
    EXPECT_EQ(i2.base_offset, model::offset(3));
    EXPECT_EQ(i2.last_offset, model::offset(7));
    EXPECT_EQ(h.log->log_end(), model::offset(8));
    h.drain();
    auto got = h.read_all(model::offset(0));
    ASSERT_EQ(got.size(), 2u);
    expect_same_batch(got[0], b1);
    expect_same_batch(got[1], b2);
    EXPECT_EQ(batch::read_header(got[1]).base_offset, model::offset(3));
    // A read that starts inside a batch returns that whole batch.
    auto mid = h.read_all(model::offset(5));
    ASSERT_EQ(mid.size(), 1u);
    EXPECT_EQ(batch::read_header(mid[0]).base_offset, model::offset(3));
}

TEST_F(fixture, waiter_fires_only_at_the_ack_level) {
    for (auto level : {ack_after::memory, ack_after::write, ack_after::fsync}) {
        opts.directory = "/data/ack-" + std::string(to_string(level));
        opts.log.ack = level;
        open();
        disk.set_faults({.delay_reaps_max = 3});
        counting_waiter w;
        h.log->wait(append(make_batch(2)).last_offset, w);
        EXPECT_EQ(w.fired, 0) << "never inside append()";
        EXPECT_EQ(h.log->high_watermark(), level == ack_after::memory ? model::offset(2) : model::offset(0));
        h.drain();
        EXPECT_EQ(w.fired, 1);
        EXPECT_FALSE(w.error);
        EXPECT_EQ(h.log->high_watermark(), model::offset(2));
        if (level == ack_after::fsync) {
            EXPECT_EQ(h.log->flushed_end(), model::offset(2));
        }
        disk.set_faults({});
    }
}

// Waiting for an offset appended earlier (a retransmit's original) keeps the waiters in offset
// order, and one already at the level fires from the next poll.
TEST_F(fixture, waiting_for_an_older_offset_fires_in_offset_order) {
    opts.log.ack = ack_after::write;
    open();
    struct order_waiter : append_waiter {
        std::vector<int>* fired = nullptr;
        int name = 0;
        order_waiter(std::vector<int>& f, int n) : fired(&f), name(n) {
            done = [](append_waiter& w) {
                auto& o = static_cast<order_waiter&>(w);
                o.fired->push_back(o.name);
            };
        }
    };
    std::vector<int> fired;
    order_waiter first(fired, 1), second(fired, 2), old(fired, 3), late(fired, 4);
    const auto a = append(make_batch(2)); // offsets 0..1
    const auto b = append(make_batch(3)); // offsets 2..4
    h.log->wait(a.last_offset, first);
    h.log->wait(b.last_offset, second);
    h.log->wait(a.last_offset, old); // before `second`, which waits for more
    EXPECT_TRUE(fired.empty()) << "never inside wait()";
    h.drain();
    EXPECT_EQ(fired, (std::vector<int>{1, 3, 2}));
    h.log->wait(a.last_offset, late);
    EXPECT_EQ(fired.size(), 3u);
    h.log->poll(0, true);
    EXPECT_EQ(fired, (std::vector<int>{1, 3, 2, 4})) << "already written: the next poll";
}

TEST_F(fixture, memory_level_writes_wait_for_their_deadline_not_for_idle) {
    opts.log.ack = ack_after::memory;
    opts.engine.memory_flush_deadline_us = 100;
    open();
    counting_waiter w;
    h.log->wait(append(make_batch(2)).last_offset, w);
    EXPECT_EQ(h.log->poll(10, true), 1u) << "the ack fires";
    EXPECT_EQ(w.fired, 1);
    EXPECT_EQ(h.log->poll(20, true), 0u) << "idle, but no write yet";
    EXPECT_EQ(h.log->poll(109, true), 0u);
    EXPECT_EQ(disk.flush(), 0u);
    EXPECT_EQ(h.log->poll(110, false), 1u) << "the deadline passed";
    EXPECT_EQ(disk.flush(), 1u);
    h.drain();
    EXPECT_EQ(h.log->written_end(), model::offset(2));
}

TEST_F(fixture, invalid_batch_is_refused_and_nothing_moves) {
    open();
    append(make_batch(2));
    auto bad = make_batch(2);
    bad.back() ^= std::byte(1);
    auto r = h.log->append(bad, epoch0, now);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error(), errc::invalid_batch);
    EXPECT_EQ(h.log->last_batch_error(), batch::errc::bad_crc);
    EXPECT_EQ(h.log->log_end(), model::offset(2));
    EXPECT_EQ(append(make_batch(1)).base_offset, model::offset(2));
}

TEST_F(fixture, rolls_segments_and_reads_old_data_from_disk) {
    open();
    std::vector<std::vector<std::byte>> sent;
    for (int i = 0; i < 600; ++i) {
        sent.push_back(make_batch(4, 1000 + i, 100, char('a' + i % 20)));
        append(sent.back());
        h.cycle();
    }
    h.drain();
    EXPECT_GT(h.log->segment_count(), 3u);
    auto got = h.read_all(model::offset(0), 3000);
    ASSERT_EQ(got.size(), sent.size());
    for (size_t i = 0; i < sent.size(); ++i) {
        expect_same_batch(got[i], sent[i]);
        EXPECT_EQ(batch::read_header(got[i]).base_offset, model::offset(int64_t(i) * 4));
    }
    // Index lookups land in the middle of old segments.
    for (int64_t o : {1, 401, 555, 1199, 2398}) {
        auto part = h.read_all(model::offset(o), 1);
        ASSERT_FALSE(part.empty());
        EXPECT_EQ(batch::read_header(part[0]).base_offset, model::offset(o - o % 4));
    }
}

TEST_F(fixture, clean_close_and_reopen_keeps_everything) {
    open();
    std::vector<std::vector<std::byte>> sent;
    for (int i = 0; i < 120; ++i) {
        sent.push_back(make_batch(3, 2000 + i, 200));
        append(sent.back(), model::epoch(i < 60 ? 1 : 4));
        h.cycle(i % 3 == 0);
    }
    ASSERT_TRUE(h.log->close().ok());
    EXPECT_TRUE(disk.exists(opts.directory + "/clean_shutdown"));
    h.log.reset();
    open();
    EXPECT_FALSE(disk.exists(opts.directory + "/clean_shutdown"));
    EXPECT_EQ(h.log->log_end(), model::offset(360));
    auto got = h.read_all(model::offset(0));
    ASSERT_EQ(got.size(), sent.size());
    for (size_t i = 0; i < sent.size(); ++i) {
        expect_same_batch(got[i], sent[i]);
    }
    auto e = h.log->end_offset_for_epoch(model::epoch(2));
    ASSERT_TRUE(e);
    EXPECT_EQ(e->first, model::epoch(1));
    EXPECT_EQ(e->second, model::offset(180));
    EXPECT_EQ(h.log->end_offset_for_epoch(model::epoch(9))->second, model::offset(360));
    EXPECT_FALSE(h.log->end_offset_for_epoch(model::epoch(0)));
    EXPECT_EQ(append(make_batch(1), model::epoch(4)).base_offset, model::offset(360));
}

TEST_F(fixture, recovery_truncates_a_torn_tail) {
    open();
    for (int i = 0; i < 10; ++i) {
        append(make_batch(2, 1000, 300));
    }
    h.drain();
    h.log.reset(); // no close: unclean
    // Tear the last batch: zero its final 100 bytes on the durable image.
    auto f = disk.open(opts.directory + "/00000000000000000000.log", open_mode::write_direct);
    auto size = disk.size(f.value()).value();
    std::vector<std::byte> all(size);
    ASSERT_TRUE(disk.read_at(f.value(), all, 0).ok());
    // Find the end of the valid data: ten batches.
    uint64_t end = 0;
    for (int i = 0; i < 10; ++i) {
        end += batch::read_header(std::span(all).subspan(end)).size_bytes();
    }
    std::fill(all.begin() + long(end - 100), all.begin() + long(end), std::byte(0));
    ASSERT_TRUE(disk.truncate(f.value(), 0).ok());
    io_op w;
    aligned_buffer buf(align_up(end));
    std::copy(all.begin(), all.begin() + long(end), buf.data());
    w.op = io_op::kind::write_dsync;
    w.file = f.value();
    w.buffer = buf.data();
    w.length = uint32_t(buf.size());
    disk.submit(w);
    disk.flush();
    std::vector<io_op*> done;
    disk.reap(done, 1, true);
    disk.close(f.value());
    open();
    EXPECT_EQ(h.log->log_end(), model::offset(18));
    EXPECT_EQ(h.read_all(model::offset(0)).size(), 9u);
    EXPECT_EQ(append(make_batch(1)).base_offset, model::offset(18));
}

TEST_F(fixture, retention_by_size_and_time_advances_log_start) {
    opts.log.retention_bytes = int64_t(segment_bytes_min) * 2;
    open();
    for (int i = 0; i < 1000; ++i) {
        append(make_batch(2, 1000 + i, 200));
        h.cycle();
    }
    h.drain();
    size_t before = h.log->segment_count();
    auto removed = h.log->apply_retention(now);
    ASSERT_TRUE(removed.ok());
    EXPECT_GT(removed.value(), 0u);
    EXPECT_EQ(h.log->segment_count(), before - removed.value());
    EXPECT_LE(h.log->size_bytes(), uint64_t(opts.log.retention_bytes) + segment_bytes_min);
    model::offset start = h.log->log_start();
    EXPECT_GT(start, model::offset(0));
    read_op op;
    op.start = model::offset(0);
    op.upto = h.log->high_watermark();
    EXPECT_TRUE(h.log->read(op));
    EXPECT_EQ(op.error, errc::offset_out_of_range);
    EXPECT_FALSE(h.read_all(start).empty());

    // By time: every sealed segment is older than retention.ms at a late enough `now`.
    opts.log.retention_bytes = -1;
    opts.log.retention_ms = 1000;
    h.log.reset();
    open();
    EXPECT_EQ(h.log->log_start(), start); // persisted
    ASSERT_TRUE(h.log->apply_retention(model::timestamp_ms(1'000'000)).ok());
    EXPECT_EQ(h.log->segment_count(), 1u);
}

TEST_F(fixture, delete_records_moves_log_start_and_survives_reopen) {
    open();
    for (int i = 0; i < 200; ++i) {
        append(make_batch(2, 1000, 200));
        h.cycle();
    }
    h.drain();
    EXPECT_EQ(h.log->delete_records(model::offset(1000)).error(), errc::offset_out_of_range);
    ASSERT_TRUE(h.log->delete_records(model::offset(301)).ok());
    EXPECT_EQ(h.log->log_start(), model::offset(301));
    h.log.reset();
    open();
    EXPECT_EQ(h.log->log_start(), model::offset(301));
    auto got = h.read_all(model::offset(301));
    ASSERT_FALSE(got.empty());
    EXPECT_EQ(batch::read_header(got[0]).base_offset, model::offset(300));
}

TEST_F(fixture, truncate_drops_the_tail_and_the_epochs_after_it) {
    open();
    for (int i = 0; i < 150; ++i) {
        append(make_batch(2, 1000, 200), model::epoch(i < 100 ? 1 : 2));
        h.cycle();
    }
    h.drain();
    ASSERT_TRUE(h.log->truncate(model::offset(151)).ok()); // inside batch 150..151
    EXPECT_EQ(h.log->log_end(), model::offset(150));
    EXPECT_EQ(h.read_all(model::offset(0)).size(), 75u);
    EXPECT_EQ(h.log->end_offset_for_epoch(model::epoch(2))->first, model::epoch(1));
    EXPECT_EQ(append(make_batch(1), model::epoch(3)).base_offset, model::offset(150));
    h.drain();
    EXPECT_EQ(h.log->end_offset_for_epoch(model::epoch(2))->second, model::offset(150));
}

TEST_F(fixture, offset_for_timestamp_finds_the_first_record_at_or_after) {
    open();
    for (int i = 0; i < 100; ++i) {
        append(make_batch(3, 10'000 + 100 * i, 100)); // records at +0, +1, +2 ms
        h.cycle();
    }
    h.drain();
    auto at = [&](int64_t ts) { return h.log->offset_for_timestamp(model::timestamp_ms(ts)).value(); };
    EXPECT_EQ(at(0), model::offset(0));
    EXPECT_EQ(at(10'001), model::offset(1));
    EXPECT_EQ(at(10'003), model::offset(3));
    EXPECT_EQ(at(15'002), model::offset(152));
    EXPECT_FALSE(at(99'999));
    auto [ts, off] = h.log->max_timestamp();
    EXPECT_EQ(ts, model::timestamp_ms(10'000 + 9'900 + 2));
    EXPECT_EQ(off, model::offset(297));
}

TEST_F(fixture, log_append_time_stamps_the_batch) {
    opts.log.timestamps = timestamp_type::log_append_time;
    open();
    auto info = append(make_batch(2, 5));
    EXPECT_EQ(info.log_append_time, now);
    h.drain();
    auto got = h.read_all(model::offset(0));
    ASSERT_EQ(got.size(), 1u);
    auto hdr = batch::check_stored(got[0]);
    ASSERT_TRUE(hdr.ok());
    EXPECT_TRUE(hdr->log_append_time());
    EXPECT_EQ(hdr->max_timestamp, now);
}

TEST_F(fixture, write_error_fails_waiters_and_reopen_recovers_written_data) {
    opts.log.ack = ack_after::fsync;
    open();
    append(make_batch(2));
    h.drain();
    disk.set_faults({.eio_rate = 1.0});
    counting_waiter w;
    h.log->wait(append(make_batch(2)).last_offset, w);
    h.drain();
    EXPECT_EQ(w.fired, 1);
    EXPECT_EQ(w.error, errc::io_error);
    EXPECT_EQ(h.log->failed(), errc::io_error);
    EXPECT_EQ(h.log->append(make_batch(1), epoch0, now).error(), errc::log_failed);
    EXPECT_EQ(h.read_all(model::offset(0)).size(), 1u) << "written data is still served";
    disk.set_faults({});
    h.log.reset();
    open();
    EXPECT_EQ(h.log->log_end(), model::offset(2));
    EXPECT_EQ(append(make_batch(1)).base_offset, model::offset(2));
}

TEST_F(fixture, disk_full_is_reported_and_the_log_stays_consistent) {
    opts.log.ack = ack_after::fsync;
    opts.log.preallocate_bytes = 0;
    open();
    append(make_batch(2));
    h.drain();
    disk.set_disk_full(true);
    counting_waiter w;
    std::vector<std::byte> big = make_batch(10, 1000, 1000);
    h.log->wait(append(big).last_offset, w);
    h.drain();
    EXPECT_EQ(w.error, errc::no_space);
    EXPECT_EQ(h.log->failed(), errc::no_space);
    disk.set_disk_full(false);
    h.log.reset();
    open();
    EXPECT_EQ(h.log->log_end(), model::offset(2));
}

TEST_F(fixture, backpressure_when_buffers_are_unwritten) {
    open();
    int accepted = 0;
    errc last = errc::io_error;
    for (int i = 0; i < 1000; ++i) {
        auto r = h.log->append(make_batch(5, 1000, 1000), epoch0, now);
        if (!r) {
            last = r.error();
            break;
        }
        ++accepted;
    }
    EXPECT_EQ(last, errc::backpressure);
    EXPECT_GT(accepted, 5);
    h.drain();
    EXPECT_TRUE(h.log->append(make_batch(5, 1000, 1000), epoch0, now).ok());
    auto too_big = make_batch(4, 1000, 16 << 10);
    EXPECT_EQ(h.log->append(too_big, epoch0, now).error(), errc::batch_too_large);
}

TEST_F(fixture, short_write_is_a_no_space_failure_and_nothing_acked_is_lost) {
    opts.log.ack = ack_after::fsync;
    open();
    auto first = make_batch(2);
    append(first);
    h.drain();
    disk.set_faults({.short_write_rate = 1.0});
    counting_waiter w;
    h.log->wait(append(make_batch(40, 1000, 500)).last_offset, w);
    h.drain();
    EXPECT_EQ(w.error, errc::no_space);
    disk.set_faults({});
    h.log.reset();
    open();
    auto got = h.read_all(model::offset(0));
    ASSERT_GE(got.size(), 1u);
    expect_same_batch(got[0], first);
}

TEST_F(fixture, rolls_by_age) {
    opts.log.segment_ms = 1000;
    open();
    ASSERT_TRUE(h.log->append(make_batch(1), epoch0, model::timestamp_ms(10'000)).ok());
    ASSERT_TRUE(h.log->append(make_batch(1), epoch0, model::timestamp_ms(10'999)).ok());
    EXPECT_EQ(h.log->segment_count(), 1u);
    ASSERT_TRUE(h.log->append(make_batch(1), epoch0, model::timestamp_ms(11'000)).ok());
    EXPECT_EQ(h.log->segment_count(), 2u);
    h.drain();
    EXPECT_EQ(h.read_all(model::offset(0)).size(), 3u);
}

TEST_F(fixture, a_failed_truncate_fails_the_log_and_reopen_keeps_acknowledged_data) {
    opts.log.ack = ack_after::fsync;
    open();
    for (int i = 0; i < 20; ++i) {
        append(make_batch(2));
    }
    h.drain();
    disk.set_disk_full(true); // persisting the epoch map fails mid-truncate
    auto r = h.log->truncate(model::offset(20));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(h.log->failed(), errc::no_space);
    EXPECT_EQ(h.log->append(make_batch(1), epoch0, now).error(), errc::log_failed);
    disk.set_disk_full(false);
    h.log.reset();
    open();
    EXPECT_EQ(h.log->log_end(), model::offset(20)) << "the cut batches were never acknowledged";
    EXPECT_EQ(append(make_batch(1)).base_offset, model::offset(20));
}
