// Deterministic crash simulation: a seeded stream of appends, duty cycles and delayed, reordered
// completions on the simulated disk is cut by a power failure at a random point, twice per seed.
// After each recovery: every batch acknowledged under ack_after=fsync is present and intact,
// the log holds only batches that were appended at exactly their offset (nothing after a torn
// batch is served), and new appends never reuse an acknowledged offset.
#include "log_harness.h"

#include <map>
#include <random>

using namespace runnel;
using namespace runnel::storage;
using namespace runnel::storage::testing;

namespace {

struct tracked_waiter : append_waiter {
    bool fired = false;
};

void check_seed(uint64_t seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937_64 rng(seed);
    auto opts = small_options("/data/crash-0");
    opts.log.ack = ack_after::fsync;
    opts.engine.chunk_count = 3 + uint32_t(rng() % 3);
    std::map<int64_t, std::vector<std::byte>> appended; // base offset -> produced batch
    std::map<int64_t, bool> acked;
    sim_disk image;
    model::offset acked_end{0};

    for (int life = 0; life < 3; ++life) {
        sim_io disk(seed * 7 + uint64_t(life), image);
        // One life in four also suffers EIO, ENOSPC and short writes.
        bool faulty = rng() % 4 == 0;
        disk.set_faults({.eio_rate = faulty ? 0.02 : 0.0,
                         .enospc_rate = faulty ? 0.02 : 0.0,
                         .short_write_rate = faulty ? 0.02 : 0.0,
                         .delay_reaps_max = uint32_t(rng() % 4)});
        auto opened = partition_log::open(disk, opts);
        ASSERT_TRUE(opened.ok()) << to_string(opened.error());
        harness h{disk, std::move(opened.value()), {}};

        if (std::getenv("RUNNEL_CRASH_TRACE")) {
            std::fprintf(stderr, "life %d: log_end %lld acked_end %lld segments %zu\n", life,
                         (long long)h.log->log_end()(), (long long)acked_end(),
                         h.log->segment_count());
        }
        // Recovery checks.
        ASSERT_GE(h.log->log_end(), acked_end) << "an acknowledged batch was lost";
        auto got = h.read_all(h.log->log_start());
        model::offset expect_next = h.log->log_start();
        for (const auto& b : got) {
            auto hdr = batch::check_stored(b);
            ASSERT_TRUE(hdr.ok());
            ASSERT_EQ(hdr->base_offset, expect_next) << "offsets are not contiguous";
            auto it = appended.find(hdr->base_offset());
            ASSERT_NE(it, appended.end()) << "a batch nobody appended at this offset";
            ASSERT_TRUE(std::equal(b.begin() + batch::magic_at, b.end(),
                                   it->second.begin() + batch::magic_at))
              << "batch at " << hdr->base_offset << " differs from what was appended";
            expect_next = hdr->last_offset() + 1;
        }
        ASSERT_EQ(expect_next, h.log->log_end());
        // What survived is now the truth: forget appends beyond it (they were never acked).
        appended.erase(appended.lower_bound(h.log->log_end()()), appended.end());

        std::vector<std::unique_ptr<tracked_waiter>> waiters;
        int steps = 20 + int(rng() % 300);
        for (int s = 0; s < steps; ++s) {
            switch (rng() % 3) {
            case 0: {
                int records = 1 + int(rng() % 5);
                auto b = make_batch(records, 1000 + s, 1 + rng() % 700, char('a' + rng() % 26));
                auto w = std::make_unique<tracked_waiter>();
                w->done = [](append_waiter& x) { static_cast<tracked_waiter&>(x).fired = true; };
                auto r = h.log->append(b, model::epoch(life), model::timestamp_ms(1000 + s), w.get());
                if (r) {
                    ASSERT_GE(r->base_offset, acked_end) << "an acknowledged offset was reused";
                    appended[r->base_offset()] = std::move(b);
                    waiters.push_back(std::move(w));
                } else {
                    // A failed write leaves the log refusing appends until it is reopened.
                    ASSERT_TRUE(r.error() == errc::backpressure || r.error() == errc::log_failed)
                      << to_string(r.error());
                }
                break;
            }
            default: h.cycle(rng() % 2 == 0, uint32_t(1 + rng() % 3)); break;
            }
            for (auto& w : waiters) {
                if (w->fired && w->error) {
                    ASSERT_TRUE(faulty) << "an append failed without an injected fault";
                }
                if (w->fired && !w->error) {
                    acked_end = std::max(acked_end, w->last_offset + 1);
                }
            }
        }
        image = disk.crash(seed * 131 + uint64_t(life));
        // The process dies: in-flight ops are abandoned with it.
        h.log.release();
    }
}

} // namespace

TEST(crash_sim, acknowledged_fsync_data_survives_random_power_cuts) {
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
        if (::testing::Test::HasFatalFailure()) {
            return;
        }
    }
}
