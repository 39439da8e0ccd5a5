#include "storage/batch_builder.h"
#include "storage/shard_storage.h"
#include "storage/sim_io.h"
#include "storage/topic_store.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <unistd.h>

using namespace runnel;
using namespace runnel::storage;

TEST(topic_store, names_follow_kafka_rules) {
    EXPECT_EQ(check_topic_name("orders.v2_EU-1"), "");
    EXPECT_NE(check_topic_name(""), "");
    EXPECT_NE(check_topic_name("."), "");
    EXPECT_NE(check_topic_name(".."), "");
    EXPECT_NE(check_topic_name("a/b"), "");
    EXPECT_NE(check_topic_name(std::string(250, 'a')), "");
    EXPECT_EQ(check_topic_name(std::string(249, 'a')), "");
}

TEST(topic_store, configs_are_validated_with_precise_messages) {
    log_config c;
    ASSERT_TRUE(apply_topic_config(c, "retention.ms", "60000").ok());
    EXPECT_EQ(c.retention_ms, 60000);
    ASSERT_TRUE(apply_topic_config(c, "runnel.ack.after", "write").ok());
    EXPECT_EQ(c.ack, ack_after::write);
    ASSERT_TRUE(apply_topic_config(c, "message.timestamp.type", "LogAppendTime").ok());
    EXPECT_EQ(c.timestamps, timestamp_type::log_append_time);
    auto r = apply_topic_config(c, "segment.bytes", "12");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error(), "topic config segment.bytes = \"12\" is not allowed; use an integer "
                         "from 65536 to 2147483648");
    EXPECT_FALSE(apply_topic_config(c, "runnel.ack.after", "sometimes").ok());
    EXPECT_EQ(apply_topic_config(c, "cleanup.policy", "compact").error(),
              "topic config cleanup.policy = \"compact\" is not allowed; use delete "
              "(compaction of user topics is not built)");
    EXPECT_TRUE(apply_topic_config(c, "cleanup.policy", "delete").ok());
    EXPECT_EQ(apply_topic_config(c, "min.insync.replicas", "1").error(),
              "unknown topic config min.insync.replicas");
}

TEST(topic_store, metadata_round_trips_and_torn_files_are_refused) {
    topic_metadata t{"orders", random_topic_id(), 6, {{"retention.ms", "1000"}}};
    auto f = encode_topic(t);
    auto d = decode_topic(f);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->name, "orders");
    EXPECT_EQ(d->id, t.id);
    EXPECT_EQ(d->partition_count, 6);
    EXPECT_EQ(d->overrides, t.overrides);
    f.resize(f.size() - 4); // "end\n" lost
    EXPECT_FALSE(decode_topic(f));
}

TEST(topic_store, local_store_persists_topics) {
    sim_io disk(3);
    local_metadata_store store(disk, "/data");
    EXPECT_TRUE(store.load_topics().value().empty());
    topic_metadata a{"a", random_topic_id(), 2, {}};
    topic_metadata b{"b", random_topic_id(), 1, {{"segment.ms", "5000"}}};
    ASSERT_TRUE(store.put_topic(a).ok());
    ASSERT_TRUE(store.put_topic(b).ok());
    local_metadata_store reopened(disk, "/data");
    auto topics = reopened.load_topics();
    ASSERT_TRUE(topics.ok());
    ASSERT_EQ(topics->size(), 2u);
    ASSERT_TRUE(reopened.remove_topic("a").ok());
    EXPECT_EQ(reopened.load_topics()->size(), 1u);
}

TEST(shard_storage, partitions_spread_over_shards_and_each_opens_its_own) {
    auto dir = std::filesystem::temp_directory_path() /
               ("runnel-shards-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    topic_metadata t{"spread", random_topic_id(), 8, {}};
    std::set<int32_t> seen;
    for (uint32_t s = 0; s < 2; ++s) {
        auto engine = shard_storage::create({dir.string(), engine_config{}, 2, s});
        ASSERT_TRUE(engine.ok());
        ASSERT_TRUE(engine.value()->open_partitions(t, log_config{}).ok());
        for (int32_t p = 0; p < 8; ++p) {
            bool mine = shard_storage::owner_shard("spread", p, 2) == s;
            EXPECT_EQ(engine.value()->find("spread", p) != nullptr, mine);
            if (mine) {
                EXPECT_TRUE(seen.insert(p).second);
            }
        }
        ASSERT_TRUE(engine.value()->close().ok());
    }
    EXPECT_EQ(seen.size(), 8u);
    EXPECT_TRUE(std::filesystem::exists(dir / "spread-7" / "clean_shutdown"));
    std::filesystem::remove_all(dir);
}

TEST(shard_storage, a_log_that_failed_a_write_is_recovered_by_housekeeping) {
    auto owned = std::make_unique<sim_io>(5);
    sim_io& disk = *owned;
    auto engine = shard_storage::create({"/data", engine_config{}, 1, 0}, std::move(owned));
    topic_metadata t{"t", random_topic_id(), 1, {}};
    ASSERT_TRUE(engine->open_partitions(t, log_config{}).ok());
    std::vector<record_spec> r{{"k", "v", 0}};
    auto batch = build_batch(r);
    uint64_t now = 1'000'000;
    auto append_and_settle = [&] {
        auto info = engine->find("t", 0)->append(batch, model::epoch(0), model::timestamp_ms(1));
        for (int i = 0; i < 10; ++i) {
            engine->poll(now, true);
        }
        return info;
    };
    ASSERT_TRUE(append_and_settle().ok());
    disk.set_faults({.eio_rate = 1.0});
    ASSERT_TRUE(append_and_settle().ok()); // accepted in memory; its write fails
    EXPECT_EQ(engine->find("t", 0)->failed(), errc::io_error);
    EXPECT_EQ(engine->find("t", 0)->append(batch, model::epoch(0), model::timestamp_ms(1)).error(),
              errc::log_failed);
    disk.set_faults({});
    now += 2'000'000; // the next housekeeping tick reopens the log from disk
    engine->poll(now, true);
    partition_log* log = engine->find("t", 0);
    ASSERT_NE(log, nullptr);
    EXPECT_FALSE(log->failed());
    EXPECT_EQ(log->log_end(), model::offset(1)) << "only the written batch survives";
    auto again = append_and_settle();
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->base_offset, model::offset(1));
    ASSERT_TRUE(engine->close().ok());
}
