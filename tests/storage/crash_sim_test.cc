// Deterministic crash simulation. Per seed: an ack level, then several lives of a partition log on
// the simulated disk. Each life runs a seeded mix of appends, duty cycles with delayed and
// reordered completions, delete-records, retention and, now and then, a clean close and reopen;
// one life in four also suffers EIO, ENOSPC and short writes. A life ends in a power cut (torn
// unsynced writes) or a process crash (the page cache survives). After every reopen:
// - open() succeeds;
// - the log is contiguous and holds only batches appended at exactly their offset (nothing after
//   a torn batch is served, offsets are never reused for different data);
// - nothing acknowledged at the durability its ack level promises for that kind of crash is lost
//   (fsync: any crash; write: a process crash), nor anything that a previous recovery made
//   visible (recovery syncs what it scanned).
#include "log_harness.h"

#include <map>
#include <memory>
#include <random>

using namespace runnel;
using namespace runnel::storage;
using namespace runnel::storage::testing;

namespace {

struct tracked_waiter : append_waiter {
    bool fired = false;
};

struct verdict {
    model::offset log_start;
    model::offset log_end;
};

// Reads the whole log and checks it against what was appended.
verdict check_log(harness& h, const std::map<int64_t, std::vector<std::byte>>& appended) {
    auto got = h.read_all(h.log->log_start());
    model::offset expect_next = h.log->log_start();
    bool first = true;
    for (const auto& b : got) {
        auto hdr = batch::check_stored(b);
        EXPECT_TRUE(hdr.ok());
        if (!hdr) {
            break;
        }
        if (!first) {
            EXPECT_EQ(hdr->base_offset, expect_next) << "offsets are not contiguous";
        }
        first = false;
        auto it = appended.find(hdr->base_offset());
        EXPECT_NE(it, appended.end()) << "a batch nobody appended at " << hdr->base_offset;
        if (it != appended.end()) {
            EXPECT_TRUE(std::equal(b.begin() + batch::magic_at, b.end(),
                                   it->second.begin() + batch::magic_at))
              << "batch at " << hdr->base_offset << " differs from what was appended";
        }
        expect_next = hdr->last_offset() + 1;
    }
    if (!got.empty()) {
        EXPECT_EQ(expect_next, h.log->log_end());
    }
    return {h.log->log_start(), h.log->log_end()};
}

void check_seed(uint64_t seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937_64 rng(seed);
    auto opts = small_options("/data/crash-0");
    const ack_after levels[] = {ack_after::fsync, ack_after::write, ack_after::memory};
    opts.log.ack = levels[rng() % 3];
    opts.engine.chunk_count = 3 + uint32_t(rng() % 3);
    if (rng() % 3 == 0) {
        opts.log.retention_bytes = int64_t(segment_bytes_min) * 2;
    }
    std::map<int64_t, std::vector<std::byte>> appended; // base offset -> produced batch
    model::offset must_keep{0}; // every reopen's log_end must reach this
    auto disk = std::make_unique<sim_io>(seed);
    std::vector<std::unique_ptr<partition_log>> dead; // logs of crashed processes (never run)

    for (int life = 0; life < 4; ++life) {
        bool faulty = rng() % 4 == 0;
        disk->set_faults({.eio_rate = faulty ? 0.02 : 0.0,
                          .enospc_rate = faulty ? 0.02 : 0.0,
                          .short_write_rate = faulty ? 0.02 : 0.0,
                          .delay_reaps_max = uint32_t(rng() % 4)});
        auto opened = partition_log::open(*disk, opts);
        ASSERT_TRUE(opened.ok()) << to_string(opened.error());
        harness h{*disk, std::move(opened.value()), {}};
        auto v = check_log(h, appended);
        ASSERT_FALSE(::testing::Test::HasFailure());
        ASSERT_GE(v.log_end, must_keep) << "acknowledged or recovered data was lost";
        // What survived is now the truth: forget appends beyond it (never acknowledged).
        appended.erase(appended.lower_bound(v.log_end()), appended.end());
        must_keep = v.log_end; // recovery made all of it durable

        std::vector<std::unique_ptr<tracked_waiter>> waiters;
        model::offset durable_ack{0}; // acked at a level that survives the coming crash kind
        const bool power_cut = rng() % 2 == 0;
        int steps = 20 + int(rng() % 300);
        for (int s = 0; s < steps; ++s) {
            uint64_t action = rng() % 16;
            if (action < 6) {
                int records = 1 + int(rng() % 5);
                auto b = make_batch(records, 1000 + s, 1 + rng() % 700, char('a' + rng() % 26));
                auto w = std::make_unique<tracked_waiter>();
                w->done = [](append_waiter& x) { static_cast<tracked_waiter&>(x).fired = true; };
                auto r = h.log->append(b, model::epoch(life), model::timestamp_ms(1000 + s));
                if (r) {
                    h.log->wait(r->last_offset, *w);
                    ASSERT_GE(r->base_offset, must_keep) << "a kept offset was reused";
                    appended[r->base_offset()] = std::move(b);
                    waiters.push_back(std::move(w));
                } else {
                    ASSERT_TRUE(r.error() == errc::backpressure || r.error() == errc::log_failed)
                      << to_string(r.error());
                }
            } else if (action == 6 && h.log->high_watermark() > h.log->log_start()) {
                auto span = uint64_t(h.log->high_watermark() - h.log->log_start());
                auto o = h.log->log_start() + int64_t(rng() % (span + 1));
                (void)h.log->delete_records(o); // may fail under injected faults
            } else if (action == 7) {
                (void)h.log->apply_retention(model::timestamp_ms(1000 + s));
            } else if (action == 8 && !faulty && rng() % 8 == 0) {
                ASSERT_TRUE(h.log->close().ok());
                h.log.reset();
                auto again = partition_log::open(*disk, opts);
                ASSERT_TRUE(again.ok()) << to_string(again.error());
                h.log = std::move(again.value());
                check_log(h, appended);
                ASSERT_FALSE(::testing::Test::HasFailure());
                durable_ack = std::max(durable_ack, h.log->log_end()); // close synced it
            } else {
                h.cycle(rng() % 2 == 0, uint32_t(1 + rng() % 3));
            }
            for (auto& w : waiters) {
                if (w->fired && w->error) {
                    ASSERT_TRUE(faulty) << "an append failed without an injected fault";
                }
                bool survives = opts.log.ack == ack_after::fsync ||
                                (opts.log.ack == ack_after::write && !power_cut);
                if (w->fired && !w->error && survives) {
                    durable_ack = std::max(durable_ack, w->last_offset + 1);
                }
            }
        }
        must_keep = std::max(must_keep, durable_ack);
        if (h.log->log_start() > must_keep) {
            must_keep = h.log->log_start(); // the start is durable as soon as it moves
        }
        if (power_cut) {
            auto image = disk->crash(seed * 131 + uint64_t(life));
            disk = std::make_unique<sim_io>(seed * 7 + uint64_t(life), std::move(image));
        } else {
            disk->abandon_ops();
        }
        dead.push_back(std::move(h.log)); // a dead process runs no destructor
    }
    for (auto& d : dead) {
        (void)d.release();
    }
}

} // namespace

TEST(crash_sim, acknowledged_and_recovered_data_survive_random_crashes) {
    uint64_t seeds = 300;
    if (const char* env = std::getenv("RUNNEL_CRASH_SEEDS")) {
        seeds = std::strtoull(env, nullptr, 10);
    }
    uint64_t first = 0;
    if (const char* env = std::getenv("RUNNEL_CRASH_SEED_FIRST")) {
        first = std::strtoull(env, nullptr, 10);
    }
    for (uint64_t seed = first; seed < first + seeds; ++seed) {
        check_seed(seed);
        if (::testing::Test::HasFailure()) {
            return;
        }
    }
}
