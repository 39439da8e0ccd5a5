// The broker's Kafka semantics without sockets: requests encoded with the project's codecs are
// handed to broker::handle on a simulated disk, and the answers decoded. Error paths that real
// clients rarely take are tested here; the process tests drive the happy paths with real clients.
#include "kafka/broker.h"

#include "protocol/admin_messages.h"
#include "protocol/data_messages.h"
#include "protocol/group_messages.h"
#include "storage/batch_builder.h"
#include "storage/crc32c.h"
#include "storage/record_batch.h"
#include "storage/sim_io.h"

#include <gtest/gtest.h>

using namespace runnel;
using namespace runnel::kafka;
using namespace runnel::protocol;

namespace {

std::vector<std::byte> records(int count, storage::batch_spec spec = {}) {
    std::vector<std::string> values;
    std::vector<storage::record_spec> specs;
    for (int i = 0; i < count; ++i) {
        values.push_back("value-" + std::to_string(i));
    }
    for (int i = 0; i < count; ++i) {
        specs.push_back({.key = std::nullopt, .value = values[size_t(i)], .timestamp_delta = i});
    }
    return storage::build_batch(specs, spec);
}

struct fixture : ::testing::Test {
    std::unique_ptr<storage::shard_storage> storage = storage::shard_storage::create(
      {.data_dir = "/data"}, std::make_unique<storage::sim_io>(7));
    std::unique_ptr<broker> b;
    uint64_t compact_records_min = 1'000'000;

    void SetUp() override {
        ASSERT_TRUE(storage->disk().make_directory("/data").ok());
        storage::log_config log;
        log.ack = storage::ack_after::write;
        b = std::make_unique<broker>(
          broker_options{.data_dir = "/data", .log_defaults = log, .default_partitions = 2,
                         .offsets_compact_records_min = compact_records_min,
                         .offsets_compact_interval_us = 0},
          *storage, std::vector<storage::topic_metadata>{});
        auto started = b->start();
        ASSERT_TRUE(started.ok()) << started.error();
    }

    // Sends one request and runs duty cycles until it is answered; returns the answer's body.
    template <typename Response, typename Request>
    std::optional<Response> call(const Request& req, int16_t version, int cycles_max = 10000) {
        auto r = std::make_unique<kafka_request>();
        writer body;
        encode(body, req, version);
        r->api_key = Request::api_key;
        r->api_version = version;
        r->frame = std::move(body.bytes());
        bool finished = false;
        r->owner = &finished;
        r->on_finish = [](kafka_request& q) { *static_cast<bool*>(q.owner) = true; };
        EXPECT_TRUE(b->handle(*r));
        for (int i = 0; i < cycles_max && !finished; ++i) {
            storage->poll(now_us(), true);
            b->poll(now_us(), true);
        }
        EXPECT_TRUE(finished);
        if (!finished) {
            r.release(); // storage may still hold its waiter; leaking it is the safe failure
            return std::nullopt;
        }
        answers.push_back(std::move(r));
        reader rd(answers.back()->response.bytes());
        return decode<Response>(rd, version);
    }
    std::vector<std::unique_ptr<kafka_request>> answers; // answers view their requests' buffers

    produce_response_partition produce(std::string_view topic, int32_t partition,
                                       std::span<const std::byte> batch, int16_t acks = -1) {
        produce_request req{.acks = acks, .timeout_ms = 1000};
        req.topics.push_back({.name = topic, .partitions = {{.index = partition, .records = batch}}});
        auto res = call<produce_response>(req, 9);
        EXPECT_TRUE(res.has_value());
        return res ? res->topics.at(0).partitions.at(0) : produce_response_partition{};
    }

    fetch_response_partition fetch(std::string_view topic, int32_t partition, int64_t offset,
                                   int32_t max_wait_ms = 0, int32_t min_bytes = 0) {
        fetch_request req{.max_wait_ms = max_wait_ms, .min_bytes = min_bytes,
                          .max_bytes = 1 << 20};
        req.topics.push_back({.topic = topic,
                              .partitions = {{.partition = partition, .fetch_offset = offset,
                                              .partition_max_bytes = 1 << 20}}});
        auto res = call<fetch_response>(req, 12);
        EXPECT_TRUE(res.has_value());
        return res ? res->topics.at(0).partitions.at(0) : fetch_response_partition{};
    }
};

TEST_F(fixture, produce_auto_creates_the_topic_and_fetch_returns_the_batch_unchanged) {
    const auto batch = records(3);
    const auto p = produce("orders", 1, batch);
    EXPECT_EQ(p.error_code, error_none);
    EXPECT_EQ(p.base_offset, 0);
    EXPECT_EQ(produce("orders", 1, records(2)).base_offset, 3);
    const auto f = fetch("orders", 1, 0);
    EXPECT_EQ(f.error_code, error_none);
    EXPECT_EQ(f.high_watermark, 5);
    ASSERT_TRUE(f.records.has_value());
    ASSERT_GE(f.records->size(), batch.size());
    // Stored exactly as produced after the base offset and leader epoch the log stamped.
    EXPECT_TRUE(std::equal(batch.begin() + 16, batch.end(), f.records->begin() + 16));
}

TEST_F(fixture, produce_errors_are_per_partition) {
    EXPECT_EQ(produce("orders", 7, records(1)).error_code, error_unknown_topic_or_partition);
    EXPECT_EQ(produce("bad name!", 0, records(1)).error_code, error_invalid_topic_exception);
    EXPECT_EQ(produce("orders", 0, records(1), 2).error_code, error_invalid_required_acks);
    EXPECT_EQ(produce("__consumer_offsets", 0, records(1)).error_code,
              error_invalid_topic_exception);
    auto corrupt = records(2);
    corrupt.back() ^= std::byte{1};
    EXPECT_EQ(produce("orders", 0, corrupt).error_code, error_corrupt_message);
    EXPECT_EQ(produce("orders", 0, std::span(corrupt).subspan(0, 30)).error_code,
              error_corrupt_message);
    EXPECT_EQ(fetch("orders", 0, 0).high_watermark, 0); // nothing of the failures was appended
}

// A batch whose CRC is right but whose records are malformed: INVALID_RECORD from v8, whose
// clients know it, CORRUPT_MESSAGE before.
TEST_F(fixture, a_malformed_record_is_invalid_record_from_v8) {
    auto bad = records(2);
    bad[storage::batch::header_bytes] = std::byte{0x7f}; // the first record's length: too long
    const uint32_t crc = storage::crc32c(std::span(bad).subspan(storage::batch::attributes_at));
    for (int i = 0; i < 4; ++i) {
        bad[storage::batch::crc_at + size_t(i)] = std::byte(uint8_t(crc >> (24 - 8 * i)));
    }
    EXPECT_EQ(produce("orders", 0, bad).error_code, error_invalid_record);
    produce_request req{.acks = -1, .timeout_ms = 1000};
    req.topics.push_back({.name = "orders", .partitions = {{.index = 0, .records = bad}}});
    auto v7 = call<produce_response>(req, 7);
    ASSERT_TRUE(v7.has_value());
    EXPECT_EQ(v7->topics[0].partitions[0].error_code, error_corrupt_message);
}

TEST_F(fixture, a_partition_with_one_bad_batch_appends_none_of_its_batches) {
    auto two = records(2);
    auto bad = records(1);
    bad.back() ^= std::byte{1};
    two.insert(two.end(), bad.begin(), bad.end());
    EXPECT_EQ(produce("orders", 0, two).error_code, error_corrupt_message);
    EXPECT_EQ(fetch("orders", 0, 0).high_watermark, 0);
}

TEST_F(fixture, a_producer_id_handed_out_since_start_begins_at_sequence_zero) {
    const auto id = model::producer_id(b->new_producer_id());
    // Its first batch lost on the way: the second may not be appended before it.
    EXPECT_EQ(produce("orders", 0, records(1, {.producer_id = id, .producer_epoch = 0,
                                               .base_sequence = 1}))
                .error_code,
              error_out_of_order_sequence_number);
    EXPECT_EQ(produce("orders", 0, records(1, {.producer_id = id, .producer_epoch = 0,
                                               .base_sequence = 0}))
                .base_offset,
              0);
    EXPECT_EQ(produce("orders", 0, records(1, {.producer_id = id, .producer_epoch = 0,
                                               .base_sequence = 1}))
                .base_offset,
              1);
}

TEST_F(fixture, idempotent_retries_are_answered_with_the_first_offset_and_not_appended) {
    const storage::batch_spec first{.producer_id = model::producer_id(42), .producer_epoch = 0,
                                    .base_sequence = 0};
    const auto b0 = records(2, first);
    EXPECT_EQ(produce("orders", 0, b0).base_offset, 0);
    EXPECT_EQ(produce("orders", 0, records(3, {.producer_id = model::producer_id(42),
                                               .producer_epoch = 0, .base_sequence = 2}))
                .base_offset,
              2);
    const auto retry = produce("orders", 0, b0);
    EXPECT_EQ(retry.error_code, error_none);
    EXPECT_EQ(retry.base_offset, 0);
    EXPECT_EQ(fetch("orders", 0, 0).high_watermark, 5);
    // A gap in the sequence, and an epoch older than the one seen.
    EXPECT_EQ(produce("orders", 0, records(1, {.producer_id = model::producer_id(42),
                                               .producer_epoch = 0, .base_sequence = 9}))
                .error_code,
              error_out_of_order_sequence_number);
    EXPECT_EQ(produce("orders", 0, records(1, {.producer_id = model::producer_id(42),
                                               .producer_epoch = 1, .base_sequence = 0}))
                .error_code,
              error_none);
    EXPECT_EQ(produce("orders", 0, records(1, {.producer_id = model::producer_id(42),
                                               .producer_epoch = 0, .base_sequence = 5}))
                .error_code,
              error_invalid_producer_epoch);
    EXPECT_EQ(fetch("orders", 0, 0).high_watermark, 6);
}

TEST_F(fixture, fetch_checks_offsets_and_long_polls_until_data_arrives) {
    produce("orders", 0, records(1));
    EXPECT_EQ(fetch("orders", 0, 5).error_code, error_offset_out_of_range);
    EXPECT_EQ(fetch("nosuch", 0, 0).error_code, error_unknown_topic_or_partition);
    const auto empty = fetch("orders", 0, 1);
    EXPECT_EQ(empty.error_code, error_none);
    EXPECT_TRUE(!empty.records || empty.records->empty());

    // A long poll parks, and a produce to its partition wakes it with the new batch.
    fetch_request req{.max_wait_ms = 60'000, .min_bytes = 1, .max_bytes = 1 << 20};
    req.topics.push_back({.topic = "orders",
                          .partitions = {{.partition = 0, .fetch_offset = 1,
                                          .partition_max_bytes = 1 << 20}}});
    kafka_request parked;
    writer w;
    encode(w, req, 12);
    parked.api_key = fetch_request::api_key;
    parked.api_version = 12;
    parked.frame = std::move(w.bytes());
    bool done = false;
    parked.owner = &done;
    parked.on_finish = [](kafka_request& q) { *static_cast<bool*>(q.owner) = true; };
    ASSERT_TRUE(b->handle(parked));
    for (int i = 0; i < 100; ++i) {
        storage->poll(now_us(), true);
        b->poll(now_us(), true);
    }
    EXPECT_FALSE(done);
    EXPECT_EQ(produce("orders", 0, records(2)).base_offset, 1);
    for (int i = 0; i < 1000 && !done; ++i) {
        storage->poll(now_us(), true);
        b->poll(now_us(), true);
    }
    ASSERT_TRUE(done);
    reader rd(parked.response.bytes());
    auto res = decode<fetch_response>(rd, 12);
    ASSERT_TRUE(res.has_value());
    EXPECT_EQ(res->topics.at(0).partitions.at(0).high_watermark, 3);
    EXPECT_FALSE(res->topics.at(0).partitions.at(0).records->empty());
}

TEST_F(fixture, list_offsets_earliest_latest_and_max_timestamp) {
    produce("orders", 0, records(4, {.base_timestamp = model::timestamp_ms(1000)}));
    list_offsets_request req;
    req.topics.push_back({.name = "orders",
                          .partitions = {{.partition_index = 0, .timestamp = -2}}});
    auto at = [&](int64_t ts) {
        req.topics[0].partitions[0].timestamp = ts;
        auto res = call<list_offsets_response>(req, 7);
        return res ? res->topics.at(0).partitions.at(0) : list_offsets_response_partition{};
    };
    EXPECT_EQ(at(list_offsets_earliest).offset, 0);
    EXPECT_EQ(at(list_offsets_latest).offset, 4);
    const auto max = at(list_offsets_max_timestamp);
    EXPECT_EQ(max.timestamp, 1003);
    EXPECT_EQ(at(1002).offset, 2);
    EXPECT_EQ(at(5000).offset, -1);
}

TEST_F(fixture, create_topics_validates_and_validate_only_creates_nothing) {
    create_topics_request req{.validate_only = true};
    req.topics.push_back({.name = "t", .num_partitions = 3, .replication_factor = 1});
    auto res = call<create_topics_response>(req, 7);
    ASSERT_TRUE(res.has_value());
    EXPECT_EQ(res->topics[0].error_code, error_none);
    EXPECT_EQ(fetch("t", 0, 0).error_code, error_unknown_topic_or_partition);
    req.validate_only = false;
    req.topics.push_back({.name = "u", .num_partitions = 1, .replication_factor = 3});
    req.topics.push_back({.name = "v", .num_partitions = 1, .replication_factor = 1,
                          .configs = {{.name = "retention.ms", .value = "soon"}}});
    res = call<create_topics_response>(req, 7);
    ASSERT_TRUE(res.has_value());
    EXPECT_EQ(res->topics[0].error_code, error_none);
    EXPECT_EQ(res->topics[0].num_partitions, 3);
    EXPECT_EQ(res->topics[1].error_code, error_invalid_replication_factor);
    EXPECT_EQ(res->topics[2].error_code, error_invalid_config);
    EXPECT_NE(res->topics[2].error_message->find("retention.ms"), std::string_view::npos);
    res = call<create_topics_response>(req, 7);
    ASSERT_TRUE(res.has_value());
    EXPECT_EQ(res->topics[0].error_code, error_topic_already_exists);
}

// The fast path appends to the same log with the same idempotence state: a batch produced over
// Kafka and retransmitted over the fast path is answered with its first offset, and a fast-path
// batch is fetched over Kafka byte for byte.
TEST_F(fixture, fast_path_produce_shares_the_log_and_the_producer_state) {
    const auto h = b->resolve_topic("orders");
    ASSERT_TRUE(h.has_value());
    EXPECT_EQ(h->partition_count, 2);
    EXPECT_EQ(b->resolve_topic("orders")->handle, h->handle);
    EXPECT_FALSE(b->resolve_topic("bad name!").has_value());
    EXPECT_FALSE(b->resolve_topic("__consumer_offsets").has_value());

    struct fast_answers final : fast_produce_sink {
        std::optional<produce_response_partition> answer;
        uint64_t cookie = 0;
        int64_t last_offset = -1;
        void produced(uint64_t c, int16_t error, int64_t base, int64_t last) override {
            answer = produce_response_partition{.error_code = error, .base_offset = base};
            cookie = c;
            last_offset = last;
        }
    } sink;
    b->set_fast_sink(&sink);
    uint64_t cookie = 100;
    auto fast = [&](uint32_t handle, int32_t partition, std::span<const std::byte> batch) {
        auto& answer = sink.answer;
        answer.reset();
        b->fast_produce(handle, partition, batch, ++cookie);
        for (int i = 0; i < 10000 && !answer; ++i) {
            storage->poll(now_us(), true);
            b->poll(now_us(), true);
        }
        EXPECT_TRUE(answer.has_value());
        EXPECT_EQ(sink.cookie, cookie) << "the answer names its produce";
        return answer.value_or(produce_response_partition{});
    };
    const storage::batch_spec first{.producer_id = model::producer_id(7), .producer_epoch = 0,
                                    .base_sequence = 0};
    const auto kafka_batch = records(2, first);
    EXPECT_EQ(produce("orders", 0, kafka_batch).base_offset, 0);
    const auto retransmit = fast(h->handle, 0, kafka_batch);
    EXPECT_EQ(retransmit.error_code, error_none);
    EXPECT_EQ(retransmit.base_offset, 0);
    const auto next = records(3, {.producer_id = model::producer_id(7), .producer_epoch = 0,
                                  .base_sequence = 2});
    EXPECT_EQ(fast(h->handle, 0, next).base_offset, 2);
    EXPECT_EQ(sink.last_offset, 4) << "base offset + the batch's last offset delta";
    EXPECT_EQ(fast(h->handle, 9, next).error_code, error_unknown_topic_or_partition);
    EXPECT_EQ(fast(999, 0, next).error_code, error_unknown_topic_id);
    // A handle of another boot (another generation in its top bits) names no topic here.
    EXPECT_EQ(fast(h->handle ^ (1u << 31), 0, next).error_code, error_unknown_topic_id);
    // Exactly one whole batch per fast-path produce.
    auto two = next;
    two.insert(two.end(), next.begin(), next.end());
    EXPECT_EQ(fast(h->handle, 0, two).error_code, error_corrupt_message);
    EXPECT_EQ(fast(h->handle, 0, {}).error_code, error_corrupt_message) << "no batch at all";

    const auto f = fetch("orders", 0, 2);
    EXPECT_EQ(f.high_watermark, 5);
    ASSERT_TRUE(f.records.has_value());
    ASSERT_EQ(f.records->size(), next.size());
    EXPECT_TRUE(std::equal(next.begin() + 16, next.end(), f.records->begin() + 16));
}

// A retransmit of a batch that is appended but not yet at the ack level waits for the original,
// and the produces behind it do not: one slow write must not stall the partition's producers.
TEST_F(fixture, a_retransmit_waits_for_its_original_without_holding_back_later_produces) {
    const auto h = b->resolve_topic("orders");
    ASSERT_TRUE(h.has_value());
    struct in_order final : fast_produce_sink {
        std::vector<std::pair<uint64_t, produce_response_partition>> got;
        void produced(uint64_t c, int16_t error, int64_t base, int64_t) override {
            got.push_back({c, {.error_code = error, .base_offset = base}});
        }
    } sink;
    b->set_fast_sink(&sink);
    const auto original = records(2, {.producer_id = model::producer_id(9), .producer_epoch = 0,
                                      .base_sequence = 0});
    const auto later = records(3, {.producer_id = model::producer_id(9), .producer_epoch = 0,
                                   .base_sequence = 2});
    // No duty cycle in between: nothing is written yet when the retransmit and the next come.
    b->fast_produce(h->handle, 0, original, 1);
    b->fast_produce(h->handle, 0, original, 2);
    b->fast_produce(h->handle, 0, later, 3);
    EXPECT_EQ(b->fast_partition(h->handle, 0).log_end, 5) << "appended behind the retransmit";
    EXPECT_TRUE(sink.got.empty()) << "nothing is at the write level yet";
    for (int i = 0; i < 10000 && sink.got.size() < 3; ++i) {
        storage->poll(now_us(), true);
        b->poll(now_us(), true);
    }
    ASSERT_EQ(sink.got.size(), 3u);
    EXPECT_EQ(sink.got[0].first, 1u);
    EXPECT_EQ(sink.got[1].first, 2u);
    EXPECT_EQ(sink.got[2].first, 3u);
    for (uint64_t i : {0, 1}) {
        EXPECT_EQ(sink.got[i].second.error_code, error_none);
        EXPECT_EQ(sink.got[i].second.base_offset, 0) << "the retransmit gets the original's";
    }
    EXPECT_EQ(sink.got[2].second.base_offset, 2);
    EXPECT_EQ(b->fast_partition(h->handle, 0).written_end, 5) << "appended once";
}

// At ack_after=memory a batch is at its ack level once appended: it is answered at once, not
// from a later duty cycle; a write-level one waits for its write.
TEST_F(fixture, a_memory_level_produce_is_answered_without_a_duty_cycle) {
    create_topics_request req;
    req.topics.push_back({.name = "quotes", .num_partitions = 1, .replication_factor = 1,
                          .configs = {{.name = "runnel.ack.after", .value = "memory"}}});
    auto created = call<create_topics_response>(req, 7);
    ASSERT_TRUE(created.has_value());
    ASSERT_EQ(created->topics[0].error_code, error_none);
    struct last_answer final : fast_produce_sink {
        std::optional<int64_t> base;
        void produced(uint64_t, int16_t error, int64_t b, int64_t) override {
            EXPECT_EQ(error, error_none);
            base = b;
        }
    } sink;
    b->set_fast_sink(&sink);
    b->fast_produce(b->resolve_topic("quotes")->handle, 0, records(2), 1);
    EXPECT_EQ(sink.base, 0) << "answered inside fast_produce";
    sink.base.reset();
    b->fast_produce(b->resolve_topic("orders")->handle, 0, records(2), 2);
    EXPECT_FALSE(sink.base.has_value()) << "ack_after=write waits for the write";
    for (int i = 0; i < 10000 && !sink.base; ++i) {
        storage->poll(now_us(), true);
        b->poll(now_us(), true);
    }
    EXPECT_EQ(sink.base, 0);
}

struct compacting : fixture {
    compacting() { compact_records_min = 50; }
};

// Commits rewrite the same keys; compaction keeps the latest of each and drops the rest, and a
// replay of what is left rebuilds the same committed offsets.
TEST_F(compacting, the_offsets_log_keeps_the_latest_commit_of_each_key) {
    produce("orders", 0, records(1));
    for (int64_t i = 1; i <= 120; ++i) {
        offset_commit_request req{.group_id = "g", .generation_id_or_member_epoch = -1};
        req.topics.push_back({.name = "orders",
                              .partitions = {{.partition_index = 0, .committed_offset = i},
                                             {.partition_index = 1, .committed_offset = 2 * i}}});
        auto res = call<offset_commit_response>(req, 8);
        ASSERT_TRUE(res.has_value());
        ASSERT_EQ(res->topics[0].partitions[1].error_code, error_none);
    }
    storage::partition_log* log = storage->find("__consumer_offsets", 0);
    ASSERT_NE(log, nullptr);
    for (int i = 0; i < 1000 && log->log_start() == model::offset(0); ++i) {
        storage->poll(now_us(), true);
        b->poll(now_us(), true);
    }
    // 120 commits were stored; compaction keeps the log under its threshold (50 records).
    EXPECT_GT(log->log_start(), model::offset(0));
    EXPECT_LT(log->log_end() - log->log_start(), 50);

    struct no_log final : group_log {
        void append(std::string_view, std::vector<group_record>,
                    std::function<void(bool)>) override {}
    } unused;
    group_coordinator replayed({}, unused, [] { return int64_t(0); });
    offsets_log reader_log(*storage, 1);
    auto n = reader_log.replay([&](auto key, auto value) { replayed.load(key, value); });
    ASSERT_TRUE(n.ok()) << n.error();
    const auto f = replayed.fetch_offsets("g", std::nullopt);
    ASSERT_EQ(f.partitions.size(), 2u);
    EXPECT_EQ(f.partitions[0].offset, 120);
    EXPECT_EQ(f.partitions[1].offset, 240);
}

} // namespace
