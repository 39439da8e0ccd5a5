// Test harness: drives a partition_log on a sim_io (or any io) the way a shard's duty cycle does.
#pragma once

#include "storage/batch_builder.h"
#include "storage/partition_log.h"
#include "storage/sim_io.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace runnel::storage::testing {

inline partition_log::options small_options(std::string dir = "/data/t-0") {
    partition_log::options o;
    o.directory = std::move(dir);
    o.log.segment_bytes = segment_bytes_min;
    o.log.preallocate_bytes = 64 << 10;
    o.log.index_interval_bytes = 1024;
    o.engine.chunk_bytes = 16 << 10;
    o.engine.chunk_count = 4;
    o.engine.flush_deadline_us = 0;
    o.engine.memory_flush_deadline_us = 0;
    return o;
}

inline std::vector<std::byte> make_batch(int records, int64_t ts = 1000, size_t value_bytes = 20,
                                         char fill = 'v') {
    std::vector<std::string> values;
    std::vector<record_spec> specs;
    values.reserve(size_t(records));
    for (int i = 0; i < records; ++i) {
        values.emplace_back(value_bytes, char(fill + i % 7));
    }
    for (int i = 0; i < records; ++i) {
        specs.push_back({std::nullopt, values[size_t(i)], i});
    }
    return build_batch(specs, {.base_timestamp = model::timestamp_ms(ts)});
}

struct harness {
    io& disk;
    std::unique_ptr<partition_log> log;
    std::vector<io_op*> reaped;

    // One duty cycle: poll, submit, reap, complete.
    void cycle(bool idle = true, uint32_t reap_max = 64, bool wait = false) {
        log->poll(0, idle);
        disk.flush();
        reaped.clear();
        disk.reap(reaped, reap_max, wait);
        for (io_op* op : reaped) {
            op->done(*op);
        }
    }
    void drain() {
        for (int i = 0; i < 100000 && (log->written_end() != log->log_end() || disk.in_flight() > 0 ||
                                       log->ios_in_flight() > 0);
             ++i) {
            if (log->failed()) {
                break;
            }
            cycle(true, 64, true);
        }
        if (!log->failed()) {
            ASSERT_EQ(log->written_end(), log->log_end());
        }
    }
    // Reads from `from` up to the high watermark; returns every batch's bytes in order.
    std::vector<std::vector<std::byte>> read_all(model::offset from, uint32_t max_bytes = 1 << 20) {
        std::vector<std::vector<std::byte>> out;
        read_op op;
        op.max_bytes = max_bytes;
        bool finished = false;
        op.done = [](read_op& r) { *static_cast<bool*>(r.owner) = true; };
        op.owner = &finished;
        model::offset next = from;
        for (int guard = 0; guard < 100000 && next < log->high_watermark(); ++guard) {
            op.start = next;
            op.upto = log->high_watermark();
            finished = log->read(op);
            for (int i = 0; i < 1000 && !finished; ++i) {
                cycle(true, 64, true);
            }
            EXPECT_TRUE(finished);
            EXPECT_FALSE(op.error) << int(*op.error);
            if (op.error || op.bytes.empty()) {
                break;
            }
            auto bytes = op.bytes;
            while (!bytes.empty()) {
                auto h = batch::read_header(bytes);
                out.emplace_back(bytes.begin(), bytes.begin() + h.size_bytes());
                next = h.last_offset() + 1;
                bytes = bytes.subspan(h.size_bytes());
            }
        }
        return out;
    }
};

} // namespace runnel::storage::testing
