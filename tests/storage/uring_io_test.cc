// The partition log on the real kernel io (io_uring, O_DIRECT) in a temporary directory.
#include "log_harness.h"

#include "storage/uring_io.h"

#include <filesystem>
#include <unistd.h>

using namespace runnel;
using namespace runnel::storage;
using namespace runnel::storage::testing;

namespace {
std::string temp_dir() {
    auto p = std::filesystem::temp_directory_path() /
             ("runnel-uring-" + std::to_string(::getpid()) + "-" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(p);
    return p.string();
}
} // namespace

TEST(uring_io, log_survives_clean_and_unclean_restarts) {
    auto uring = uring_io::create(64);
    ASSERT_TRUE(uring.ok());
    auto dir = temp_dir();
    auto opts = small_options(dir + "/topic-0");
    opts.log.ack = ack_after::fsync;
    std::vector<std::vector<std::byte>> sent;
    {
        auto l = partition_log::open(*uring.value(), opts);
        ASSERT_TRUE(l.ok()) << to_string(l.error());
        harness h{*uring.value(), std::move(l.value()), {}};
        for (int i = 0; i < 500; ++i) {
            sent.push_back(make_batch(3, 1000 + i, 150, char('a' + i % 26)));
            auto r = h.log->append(sent.back(), model::epoch(0), model::timestamp_ms(1000 + i));
            // Back-pressure waits for the disk (a blocking reap), so the bound on tries does not
            // depend on how fast the machine is.
            for (int tries = 0; !r && r.error() == errc::backpressure && tries < 100000; ++tries) {
                h.cycle(true, 64, h.log->ios_in_flight() > 0);
                r = h.log->append(sent.back(), model::epoch(0), model::timestamp_ms(1000 + i));
            }
            ASSERT_TRUE(r.ok()) << to_string(r.error());
            h.cycle(i % 4 == 0);
        }
        h.drain();
        EXPECT_EQ(h.log->flushed_end(), model::offset(1500));
        ASSERT_TRUE(h.log->close().ok());
    }
    for (int round = 0; round < 2; ++round) {
        auto l = partition_log::open(*uring.value(), opts);
        ASSERT_TRUE(l.ok()) << to_string(l.error());
        harness h{*uring.value(), std::move(l.value()), {}};
        EXPECT_EQ(h.log->log_end(), model::offset(1500 + round));
        auto got = h.read_all(model::offset(0), 8192);
        ASSERT_EQ(got.size(), sent.size() + size_t(round));
        for (size_t i = 0; i < sent.size(); ++i) {
            ASSERT_TRUE(std::equal(got[i].begin() + batch::magic_at, got[i].end(),
                                   sent[i].begin() + batch::magic_at));
        }
        // Unclean: append, drain, and drop the log without close().
        ASSERT_TRUE(h.log->append(make_batch(1), model::epoch(0), model::timestamp_ms(9)).ok());
        h.drain();
    }
    std::filesystem::remove_all(dir);
}

TEST(uring_io, read_only_directory_is_a_clear_error) {
    auto uring = uring_io::create(8);
    ASSERT_TRUE(uring.ok());
    auto dir = temp_dir();
    std::filesystem::create_directories(dir);
    // Root ignores permission bits, so as root the directory is a read-only tmpfs mount.
    bool mounted = false;
    if (::geteuid() == 0) {
        std::string cmd = "mount -t tmpfs -o ro,size=1m runnel-ro " + dir + " 2>/dev/null";
        mounted = std::system(cmd.c_str()) == 0;
        if (!mounted) {
            std::filesystem::remove_all(dir);
            GTEST_SKIP() << "cannot mount a read-only tmpfs here";
        }
    } else {
        std::filesystem::permissions(dir, std::filesystem::perms::owner_read |
                                            std::filesystem::perms::owner_exec);
    }
    auto l = partition_log::open(*uring.value(), small_options(dir + "/t-0"));
    EXPECT_FALSE(l.ok());
    if (!l.ok()) {
        EXPECT_EQ(l.error(), errc::read_only);
    }
    if (mounted) {
        EXPECT_EQ(std::system(("umount " + dir).c_str()), 0);
    } else {
        std::filesystem::permissions(dir, std::filesystem::perms::owner_all);
    }
    std::filesystem::remove_all(dir);
}
