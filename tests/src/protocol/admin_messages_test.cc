// The admin and InitProducerId messages: every version of every message round-trips, every strict
// prefix of an encoding fails to decode, and byte vectors written by hand from the spec pin the
// exact classic and flexible encodings in both directions.
#include "protocol/admin_messages.h"

#include "bytes.h"

#include <gtest/gtest.h>

#include <limits>

using namespace runnel::protocol;

namespace {

const uuid some_id = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

template <typename T>
std::vector<std::byte> encoded(const T& m, int16_t version) {
    writer w;
    encode(w, m, version);
    return w.bytes();
}

// Encodes `full` at every version we claim and decodes it again: the result must equal `full`
// with the fields that version lacks put back to their defaults (`at_version` does that), the
// decoder must use every byte, and no strict prefix of the encoding may decode.
template <typename T, typename Strip>
void round_trip_all_versions(const T& full, Strip at_version) {
    for (int16_t v = T::min_version; v <= T::max_version; ++v) {
        SCOPED_TRACE(testing::Message() << "api " << T::api_key << " v" << v);
        const auto wire = encoded(full, v);
        reader r(wire);
        const auto got = decode<T>(r, v);
        ASSERT_TRUE(got);
        EXPECT_EQ(r.remaining(), 0u);
        T want = full;
        at_version(want, v);
        ASSERT_NE(wire, encoded(T{}, v)) << "the message must carry something at every version";
        EXPECT_TRUE(*got == want);
        for (size_t cut = 0; cut < wire.size(); ++cut) {
            reader rt(std::span<const std::byte>(wire.data(), cut));
            EXPECT_FALSE(decode<T>(rt, v)) << "prefix of " << cut << " of " << wire.size();
        }
    }
}

// `m` encodes at `version` to exactly `wire`, and `wire` decodes to `m`.
template <typename T>
void expect_wire(const T& m, int16_t version, const std::vector<std::byte>& wire) {
    EXPECT_EQ(encoded(m, version), wire);
    reader r(wire);
    const auto got = decode<T>(r, version);
    ASSERT_TRUE(got);
    EXPECT_TRUE(*got == m);
}

template <typename T>
bool decodes(const std::vector<std::byte>& wire, int16_t version) {
    reader r(wire);
    return decode<T>(r, version).has_value();
}

} // namespace

TEST(admin_messages, flexible_versions_match_the_spec) {
    EXPECT_EQ(create_topics_request::first_flexible, 5);
    EXPECT_EQ(delete_topics_request::first_flexible, 4);
    EXPECT_EQ(create_partitions_request::first_flexible, 2);
    EXPECT_EQ(describe_configs_request::first_flexible, 4);
    EXPECT_EQ(alter_configs_request::first_flexible, 2);
    EXPECT_EQ(incremental_alter_configs_request::first_flexible, 1);
    EXPECT_EQ(delete_records_request::first_flexible, 2);
    EXPECT_EQ(init_producer_id_request::first_flexible, 2);
    EXPECT_EQ(describe_cluster_request::first_flexible, 0);
    EXPECT_EQ(offset_for_leader_epoch_request::first_flexible, 4);
}

// ---- CreateTopics ----

TEST(admin_messages, create_topics_round_trip) {
    create_topics_request req;
    req.topics.push_back({.name = "orders",
                          .num_partitions = 3,
                          .replication_factor = 2,
                          .assignments = {{0, {1, 2}}, {1, {2, 3}}},
                          .configs = {{"cleanup.policy", "compact"}, {"retention.ms", {}}}});
    req.topics.push_back({.name = "empty"});
    req.timeout_ms = 1234;
    req.validate_only = true;
    round_trip_all_versions(req, [](create_topics_request& m, int16_t v) {
        if (v < 1) {
            m.validate_only = false;
        }
    });

    create_topics_response resp;
    resp.throttle_time_ms = 7;
    resp.topics.push_back({.name = "orders",
                           .topic_id = some_id,
                           .error_code = error_topic_already_exists,
                           .error_message = "exists",
                           .num_partitions = 3,
                           .replication_factor = 2,
                           .configs = std::vector<create_topics_response_config>{
                               {"cleanup.policy", "compact", true, 5, false},
                               {"secret", {}, false, 4, true}}});
    resp.topics.push_back({.name = "other", .error_message = {}, .configs = {}});
    round_trip_all_versions(resp, [](create_topics_response& m, int16_t v) {
        if (v < 2) {
            m.throttle_time_ms = 0;
        }
        for (auto& t : m.topics) {
            if (v < 7) {
                t.topic_id = {};
            }
            if (v < 1) {
                t.error_message.reset();
            }
            if (v < 5) {
                t.num_partitions = -1;
                t.replication_factor = -1;
                t.configs.reset();
            }
        }
    });
}

TEST(admin_messages, create_topics_request_v1_classic) {
    create_topics_request m;
    m.topics.push_back({.name = "t",
                        .num_partitions = 3,
                        .replication_factor = 1,
                        .assignments = {},
                        .configs = {{"k", "v"}}});
    m.timeout_ms = 1000;
    m.validate_only = true;
    expect_wire(m, 1, bytes({0, 0, 0, 1,               // topics
                             0, 1, 't', 0, 0, 0, 3, 0, 1, // name, partitions, replication
                             0, 0, 0, 0,               // assignments
                             0, 0, 0, 1, 0, 1, 'k', 0, 1, 'v', // configs
                             0, 0, 3, 0xe8,            // timeout
                             1}));                     // validate only
}

TEST(admin_messages, create_topics_request_v5_flexible) {
    create_topics_request m;
    m.topics.push_back({.name = "t",
                        .num_partitions = 3,
                        .replication_factor = 1,
                        .assignments = {{0, {1}}},
                        .configs = {{"k", {}}}});
    m.timeout_ms = 1000;
    expect_wire(m, 5, bytes({2, 2, 't', 0, 0, 0, 3, 0, 1, // topics, name, partitions, replication
                             2, 0, 0, 0, 0, 2, 0, 0, 0, 1, 0, // assignment 0 -> [1], tags
                             2, 2, 'k', 0, 0,               // config k = null, tags
                             0,                             // topic tags
                             0, 0, 3, 0xe8, 0,              // timeout, validate only
                             0}));                          // tags
}

TEST(admin_messages, create_topics_response_v0_classic_and_v7_flexible) {
    create_topics_response v0;
    v0.topics.push_back({.name = "t", .error_code = error_invalid_partitions});
    expect_wire(v0, 0, bytes({0, 0, 0, 1, 0, 1, 't', 0, 37}));

    create_topics_response m;
    m.throttle_time_ms = 16;
    m.topics.push_back({.name = "t",
                        .topic_id = some_id,
                        .error_code = 0,
                        .error_message = {},
                        .num_partitions = 3,
                        .replication_factor = 1,
                        .configs = std::vector<create_topics_response_config>{
                            {"k", "v", false, 5, false}}});
    expect_wire(m, 7, bytes({0, 0, 0, 16, 2, 2, 't', // throttle, topics, name
                             1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, // topic id
                             0, 0, 0,                // error, null message
                             0, 0, 0, 3, 0, 1,       // partitions, replication
                             2, 2, 'k', 2, 'v', 0, 5, 0, 0, // config, tags
                             0, 0}));                // topic tags, tags
}

TEST(admin_messages, create_topics_response_skips_the_tagged_config_error) {
    // v5 topic carrying tag 0 (TopicConfigErrorCode, 2 bytes) in its tagged section.
    const auto wire = bytes({0, 0, 0, 0, 2, 2, 't', 0, 0, 0, 0, 0, 0, 3, 0, 1,
                             0, // null configs
                             1, 0, 2, 0, 40, // one tag: tag 0, size 2, INVALID_CONFIG
                             0});
    reader r(wire);
    const auto m = decode<create_topics_response>(r, 5);
    ASSERT_TRUE(m);
    ASSERT_EQ(m->topics.size(), 1u);
    EXPECT_EQ(m->topics[0].num_partitions, 3);
    EXPECT_FALSE(m->topics[0].configs);
}

// ---- DeleteTopics ----

TEST(admin_messages, delete_topics_round_trip) {
    delete_topics_request req;
    req.topics = {{"a", some_id}, {{}, some_id}};
    req.topic_names = {"a", "bc"};
    req.timeout_ms = 500;
    round_trip_all_versions(req, [](delete_topics_request& m, int16_t v) {
        if (v >= 6) {
            m.topic_names.clear();
        } else {
            m.topics.clear();
        }
    });

    delete_topics_response resp;
    resp.throttle_time_ms = 3;
    resp.responses = {{"a", some_id, error_unknown_server_error, "boom"}, {"b", {}, 0, {}}};
    round_trip_all_versions(resp, [](delete_topics_response& m, int16_t v) {
        if (v < 1) {
            m.throttle_time_ms = 0;
        }
        for (auto& t : m.responses) {
            if (v < 6) {
                t.topic_id = {};
            }
            if (v < 5) {
                t.error_message.reset();
            }
        }
    });
}

TEST(admin_messages, delete_topics_request_v3_classic_v4_and_v6_flexible) {
    delete_topics_request names;
    names.topic_names = {"a", "bc"};
    names.timeout_ms = 500;
    expect_wire(names, 3, bytes({0, 0, 0, 2, 0, 1, 'a', 0, 2, 'b', 'c', 0, 0, 1, 0xf4}));
    expect_wire(names, 4, bytes({3, 2, 'a', 3, 'b', 'c', 0, 0, 1, 0xf4, 0}));

    delete_topics_request ids;
    ids.topics = {{{}, some_id}};
    ids.timeout_ms = 500;
    expect_wire(ids, 6, bytes({2, 0, // topics, null name
                               1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 0, // id, tags
                               0, 0, 1, 0xf4, 0}));
}

TEST(admin_messages, delete_topics_response_v1_classic_and_v6_flexible) {
    delete_topics_response v1;
    v1.throttle_time_ms = 2;
    v1.responses = {{"t", {}, 0, {}}};
    expect_wire(v1, 1, bytes({0, 0, 0, 2, 0, 0, 0, 1, 0, 1, 't', 0, 0}));

    delete_topics_response v6;
    v6.responses = {{{}, some_id, error_unknown_topic_id, "no"}};
    expect_wire(v6, 6, bytes({0, 0, 0, 0, 2, 0, // throttle, responses, null name
                              1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, // id
                              0, 100, 3, 'n', 'o', 0, 0}));
}

TEST(admin_messages, delete_topics_response_name_is_nullable_only_from_v6) {
    // The same bodies with an empty name instead of a null one decode.
    EXPECT_TRUE(decodes<delete_topics_response>(bytes({0, 0, 0, 0, 2, 1, 0, 0, 0, 0, 0}), 5));
    EXPECT_FALSE(decodes<delete_topics_response>(bytes({0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0}), 5));
    EXPECT_TRUE(decodes<delete_topics_response>(bytes({0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0}), 1));
    EXPECT_FALSE(decodes<delete_topics_response>(bytes({0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0, 0}),
                                                 1));
    EXPECT_TRUE(decodes<delete_topics_response>(
        bytes({0, 0, 0, 0, 2, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 0, 0, 0, 0,
               0}),
        6));
}

TEST(admin_messages_death_test, encoding_a_null_delete_topics_name_before_v6_asserts) {
    delete_topics_response m;
    m.responses = {{{}, some_id, 0, {}}};
    EXPECT_DEATH(encoded(m, 5), "has_value");
}

// ---- CreatePartitions ----

TEST(admin_messages, create_partitions_round_trip) {
    create_partitions_request req;
    using assignments = std::vector<create_partitions_request_assignment>;
    req.topics.push_back({"a", 4, assignments{{{1, 2}}, {{3}}}});
    req.topics.push_back({"b", 2, {}});
    req.timeout_ms = 100;
    req.validate_only = true;
    round_trip_all_versions(req, [](create_partitions_request&, int16_t) {});

    create_partitions_response resp;
    resp.throttle_time_ms = 9;
    resp.results = {{"a", 0, {}}, {"b", error_invalid_partitions, "too few"}};
    round_trip_all_versions(resp, [](create_partitions_response&, int16_t) {});
}

TEST(admin_messages, create_partitions_request_v1_classic_and_v2_flexible) {
    create_partitions_request v1;
    v1.topics.push_back({"t", 4, {}});
    v1.timeout_ms = 100;
    v1.validate_only = true;
    expect_wire(v1, 1, bytes({0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 4, // topics, name, count
                              0xff, 0xff, 0xff, 0xff,            // null assignments
                              0, 0, 0, 100, 1}));

    create_partitions_request v2;
    v2.topics.push_back({"t", 4, std::vector<create_partitions_request_assignment>{{{1, 2}}}});
    v2.timeout_ms = 100;
    expect_wire(v2, 2, bytes({2, 2, 't', 0, 0, 0, 4,        // topics, name, count
                              2, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, // assignments [[1, 2]], tags
                              0,                               // topic tags
                              0, 0, 0, 100, 0, 0}));
}

TEST(admin_messages, create_partitions_response_v3_flexible) {
    create_partitions_response m;
    m.results = {{"t", error_invalid_partitions, "bad"}};
    expect_wire(m, 3, bytes({0, 0, 0, 0, 2, 2, 't', 0, 37, 4, 'b', 'a', 'd', 0, 0}));
}

// ---- DescribeConfigs ----

TEST(admin_messages, describe_configs_round_trip) {
    describe_configs_request req;
    req.resources.push_back({2, "orders", std::vector<std::string_view>{"retention.ms", "a"}});
    req.resources.push_back({4, "1", {}});
    req.include_synonyms = true;
    req.include_documentation = true;
    round_trip_all_versions(req, [](describe_configs_request& m, int16_t v) {
        if (v < 1) {
            m.include_synonyms = false;
        }
        if (v < 3) {
            m.include_documentation = false;
        }
    });

    describe_configs_response resp;
    resp.throttle_time_ms = 11;
    describe_configs_response_result result{.error_code = 0,
                                            .error_message = {},
                                            .resource_type = 2,
                                            .resource_name = "orders",
                                            .configs = {}};
    result.configs.push_back({.name = "retention.ms",
                              .value = "1000",
                              .read_only = false,
                              .is_default = true,
                              .config_source = 1,
                              .is_sensitive = false,
                              .synonyms = {{"retention.ms", "1000", 1}, {"log.retention", {}, 5}},
                              .config_type = 5,
                              .documentation = "how long"});
    result.configs.push_back({.name = "password", .value = {}, .is_sensitive = true});
    resp.results.push_back(result);
    resp.results.push_back({error_invalid_request, "no such resource", 9, "x", {}});
    round_trip_all_versions(resp, [](describe_configs_response& m, int16_t v) {
        for (auto& r : m.results) {
            for (auto& c : r.configs) {
                if (v == 0) {
                    c.config_source = -1;
                    c.synonyms.clear();
                } else {
                    c.is_default = false;
                }
                if (v < 3) {
                    c.config_type = 0;
                    c.documentation.reset();
                }
            }
        }
    });
}

TEST(admin_messages, describe_configs_request_v0_v3_classic_and_v4_flexible) {
    describe_configs_request all;
    all.resources.push_back({2, "t", {}});
    expect_wire(all, 0, bytes({0, 0, 0, 1, 2, 0, 1, 't', 0xff, 0xff, 0xff, 0xff}));

    describe_configs_request some;
    some.resources.push_back({2, "t", std::vector<std::string_view>{"a"}});
    some.include_synonyms = true;
    some.include_documentation = true;
    expect_wire(some, 3, bytes({0, 0, 0, 1, 2, 0, 1, 't', 0, 0, 0, 1, 0, 1, 'a', 1, 1}));
    some.include_documentation = false;
    expect_wire(some, 4, bytes({2, 2, 2, 't', 2, 2, 'a', 0, 1, 0, 0}));
}

TEST(admin_messages, describe_configs_response_v0_classic_and_v4_flexible) {
    describe_configs_response v0;
    v0.results.push_back({0, {}, 2, "t", {}});
    v0.results[0].configs.push_back({.name = "k", .value = "v", .is_default = true});
    expect_wire(v0, 0, bytes({0, 0, 0, 0, 0, 0, 0, 1,        // throttle, results
                              0, 0, 0xff, 0xff, 2, 0, 1, 't', // error, null message, resource
                              0, 0, 0, 1, 0, 1, 'k', 0, 1, 'v', // configs, name, value
                              0, 1, 0}));                     // read only, default, sensitive

    describe_configs_response v4;
    v4.results.push_back({0, {}, 2, "t", {}});
    v4.results[0].configs.push_back({.name = "k",
                                     .value = "v",
                                     .read_only = true,
                                     .config_source = 5,
                                     .is_sensitive = false,
                                     .synonyms = {{"s", {}, 4}},
                                     .config_type = 2,
                                     .documentation = "d"});
    expect_wire(v4, 4, bytes({0, 0, 0, 0, 2, 0, 0, 0, 2, 2, 't', // throttle, result header
                              2, 2, 'k', 2, 'v', 1, 5, 0,      // config
                              2, 2, 's', 0, 4, 0,              // synonym, tags
                              2, 2, 'd', 0,                    // type, documentation, tags
                              0, 0}));                         // result tags, tags
}

// ---- AlterConfigs ----

TEST(admin_messages, alter_configs_round_trip) {
    alter_configs_request req;
    req.resources.push_back({2, "orders", {{"retention.ms", "5"}, {"cleanup.policy", {}}}});
    req.resources.push_back({4, "0", {}});
    req.validate_only = true;
    round_trip_all_versions(req, [](alter_configs_request&, int16_t) {});

    alter_configs_response resp;
    resp.throttle_time_ms = 1;
    resp.responses = {{0, {}, 2, "orders"}, {error_invalid_config, "bad value", 4, "0"}};
    round_trip_all_versions(resp, [](alter_configs_response&, int16_t) {});
}

TEST(admin_messages, alter_configs_v0_classic_and_v2_flexible) {
    alter_configs_request v0;
    v0.resources.push_back({2, "t", {{"k", "v"}}});
    expect_wire(v0, 0, bytes({0, 0, 0, 1, 2, 0, 1, 't', 0, 0, 0, 1, 0, 1, 'k', 0, 1, 'v', 0}));

    alter_configs_request v2;
    v2.resources.push_back({2, "t", {{"k", {}}}});
    v2.validate_only = true;
    expect_wire(v2, 2, bytes({2, 2, 2, 't', 2, 2, 'k', 0, 0, 0, 1, 0}));

    alter_configs_response r1;
    r1.throttle_time_ms = 5;
    r1.responses = {{error_invalid_config, "x", 2, "t"}};
    expect_wire(r1, 1, bytes({0, 0, 0, 5, 0, 0, 0, 1, 0, 40, 0, 1, 'x', 2, 0, 1, 't'}));
}

// ---- IncrementalAlterConfigs ----

TEST(admin_messages, incremental_alter_configs_round_trip) {
    incremental_alter_configs_request req;
    req.resources.push_back({2, "orders", {{"retention.ms", 0, "5"}, {"cleanup.policy", 1, {}}}});
    req.validate_only = true;
    round_trip_all_versions(req, [](incremental_alter_configs_request&, int16_t) {});

    incremental_alter_configs_response resp;
    resp.throttle_time_ms = 4;
    resp.responses = {{0, {}, 2, "orders"}, {error_invalid_config, "bad", 2, "x"}};
    round_trip_all_versions(resp, [](incremental_alter_configs_response&, int16_t) {});
}

TEST(admin_messages, incremental_alter_configs_v0_classic_and_v1_flexible) {
    incremental_alter_configs_request m;
    m.resources.push_back({2, "t", {{"k", 1, {}}}});
    expect_wire(m, 0, bytes({0, 0, 0, 1, 2, 0, 1, 't',                 // resources, type, name
                             0, 0, 0, 1, 0, 1, 'k', 1, 0xff, 0xff, // config: name, delete, null
                             0}));
    expect_wire(m, 1, bytes({2, 2, 2, 't', 2, 2, 'k', 1, 0, 0, 0, 0, 0}));

    incremental_alter_configs_response r;
    r.responses = {{0, {}, 2, "t"}};
    expect_wire(r, 1, bytes({0, 0, 0, 0, 2, 0, 0, 0, 2, 2, 't', 0, 0}));
}

// ---- DeleteRecords ----

TEST(admin_messages, delete_records_round_trip) {
    delete_records_request req;
    req.topics.push_back({"a", {{0, 10}, {1, -1}}});
    req.topics.push_back({"b", {}});
    req.timeout_ms = 1000;
    round_trip_all_versions(req, [](delete_records_request&, int16_t) {});

    delete_records_response resp;
    resp.throttle_time_ms = 8;
    resp.topics.push_back({"a", {{0, 10, 0}, {1, -1, error_offset_out_of_range}}});
    round_trip_all_versions(resp, [](delete_records_response&, int16_t) {});
}

TEST(admin_messages, delete_records_v0_classic_and_v2_flexible) {
    delete_records_request req;
    req.topics.push_back({"t", {{0, 10}}});
    req.timeout_ms = 1000;
    expect_wire(req, 0, bytes({0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 1, // topics, name, partitions
                               0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 10, // index, offset
                               0, 0, 3, 0xe8}));
    expect_wire(req, 2, bytes({2, 2, 't', 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 10, 0, 0, // topic
                               0, 0, 3, 0xe8, 0}));

    delete_records_response resp;
    resp.topics.push_back({"t", {{0, 10, 0}}});
    expect_wire(resp, 1, bytes({0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 1, // header, topic
                                0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 10, 0, 0}));   // partition
    expect_wire(resp, 2, bytes({0, 0, 0, 0, 2, 2, 't', 2,
                                0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 0, // partition, tags
                                0, 0}));
}

// ---- InitProducerId ----

TEST(admin_messages, init_producer_id_round_trip) {
    init_producer_id_request req;
    req.transactional_id = "tx-1";
    req.transaction_timeout_ms = 60000;
    req.producer_id = 42;
    req.producer_epoch = 3;
    round_trip_all_versions(req, [](init_producer_id_request& m, int16_t v) {
        if (v < 3) {
            m.producer_id = -1;
            m.producer_epoch = -1;
        }
    });
    req.transactional_id.reset();
    round_trip_all_versions(req, [](init_producer_id_request& m, int16_t v) {
        if (v < 3) {
            m.producer_id = -1;
            m.producer_epoch = -1;
        }
    });

    init_producer_id_response resp{.throttle_time_ms = 2,
                                   .error_code = error_producer_fenced,
                                   .producer_id = 42,
                                   .producer_epoch = 4};
    round_trip_all_versions(resp, [](init_producer_id_response&, int16_t) {});
}

TEST(admin_messages, init_producer_id_classic_and_flexible) {
    init_producer_id_request idempotent;
    idempotent.transaction_timeout_ms = 60000;
    expect_wire(idempotent, 0, bytes({0xff, 0xff, 0, 0, 0xea, 0x60}));
    expect_wire(idempotent, 2, bytes({0, 0, 0, 0xea, 0x60, 0}));

    init_producer_id_request tx;
    tx.transactional_id = "x";
    tx.transaction_timeout_ms = 60000;
    tx.producer_id = 7;
    tx.producer_epoch = 2;
    expect_wire(tx, 3, bytes({2, 'x', 0, 0, 0xea, 0x60, 0, 0, 0, 0, 0, 0, 0, 7, 0, 2, 0}));

    init_producer_id_response resp{.throttle_time_ms = 0,
                                   .error_code = 0,
                                   .producer_id = 7,
                                   .producer_epoch = 1};
    expect_wire(resp, 1, bytes({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7, 0, 1}));
    expect_wire(resp, 4, bytes({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7, 0, 1, 0}));
}

// ---- DescribeCluster ----

TEST(admin_messages, describe_cluster_round_trip) {
    describe_cluster_request req{.include_cluster_authorized_operations = true, .endpoint_type = 2};
    round_trip_all_versions(req, [](describe_cluster_request& m, int16_t v) {
        if (v < 1) {
            m.endpoint_type = 1;
        }
    });

    describe_cluster_response resp;
    resp.throttle_time_ms = 6;
    resp.error_code = error_invalid_request;
    resp.error_message = "why";
    resp.endpoint_type = 2;
    resp.cluster_id = "cluster-1";
    resp.controller_id = 1;
    resp.brokers = {{0, "h0", 9092, "rack-a"}, {1, "h1", 9093, {}}};
    resp.cluster_authorized_operations = 0x0f;
    round_trip_all_versions(resp, [](describe_cluster_response& m, int16_t v) {
        if (v < 1) {
            m.endpoint_type = 1;
        }
    });
}

TEST(admin_messages, describe_cluster_v0_and_v1_are_both_flexible) {
    expect_wire(describe_cluster_request{.include_cluster_authorized_operations = true}, 0,
                bytes({1, 0}));
    expect_wire(describe_cluster_request{.endpoint_type = 2}, 1, bytes({0, 2, 0}));

    describe_cluster_response m;
    m.cluster_id = "c";
    m.controller_id = 0;
    m.brokers = {{0, "h", 9092, {}}};
    const auto tail = bytes({2, 'c', 0, 0, 0, 0,                   // cluster id, controller
                             2, 0, 0, 0, 0, 2, 'h', 0, 0, 0x23, 0x84, 0, 0, // broker, tags
                             0x80, 0, 0, 0, 0});                   // operations, tags
    auto v0 = bytes({0, 0, 0, 0, 0, 0, 0}); // throttle, error, null message
    v0.insert(v0.end(), tail.begin(), tail.end());
    expect_wire(m, 0, v0);
    auto v1 = bytes({0, 0, 0, 0, 0, 0, 0, 1}); // ... and the endpoint type
    v1.insert(v1.end(), tail.begin(), tail.end());
    expect_wire(m, 1, v1);
}

// ---- OffsetForLeaderEpoch ----

TEST(admin_messages, offset_for_leader_epoch_round_trip) {
    offset_for_leader_epoch_request req;
    req.replica_id = 3;
    req.topics.push_back({"a", {{0, 5, 4}, {1, 7, 7}}});
    req.topics.push_back({"b", {}});
    round_trip_all_versions(req, [](offset_for_leader_epoch_request& m, int16_t v) {
        if (v < 3) {
            m.replica_id = -2;
        }
        for (auto& t : m.topics) {
            for (auto& p : t.partitions) {
                if (v < 2) {
                    p.current_leader_epoch = -1;
                }
            }
        }
    });

    offset_for_leader_epoch_response resp;
    resp.throttle_time_ms = 12;
    resp.topics.push_back({"a", {{0, 0, 4, 100}, {error_fenced_leader_epoch, 1, 2, 50}}});
    round_trip_all_versions(resp, [](offset_for_leader_epoch_response& m, int16_t v) {
        if (v < 2) {
            m.throttle_time_ms = 0;
        }
        for (auto& t : m.topics) {
            for (auto& p : t.partitions) {
                if (v < 1) {
                    p.leader_epoch = -1;
                }
            }
        }
    });
}

TEST(admin_messages, offset_for_leader_epoch_classic_and_flexible) {
    offset_for_leader_epoch_request req;
    req.topics.push_back({"t", {{0, 5, 4}}});
    expect_wire(req, 2, bytes({0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 1, // topics, name, partitions
                               0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 4}));
    req.replica_id = -1;
    expect_wire(req, 4, bytes({0xff, 0xff, 0xff, 0xff, 2, 2, 't', 2, // replica, topic
                               0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 4, 0, 0, 0}));

    offset_for_leader_epoch_response v0;
    v0.topics.push_back({"t", {{0, 0, -1, 100}}});
    expect_wire(v0, 0, bytes({0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 1, // topics, name, partitions
                              0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 100}));

    offset_for_leader_epoch_response v4;
    v4.topics.push_back({"t", {{0, 0, 3, 100}}});
    expect_wire(v4, 4, bytes({0, 0, 0, 0, 2, 2, 't', 2, // throttle, topic
                              0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 100, 0, // part
                              0, 0}));
}

// ---- Malformed bodies ----

TEST(admin_messages, truncated_and_padded_bodies_fail) {
    const auto init = bytes({0xff, 0xff, 0, 0, 0xea, 0x60});
    EXPECT_TRUE(decodes<init_producer_id_request>(init, 0));
    EXPECT_FALSE(decodes<init_producer_id_request>(bytes({0xff, 0xff, 0, 0, 0xea}), 0));
    EXPECT_FALSE(decodes<init_producer_id_request>(bytes({0xff, 0xff, 0, 0, 0xea, 0x60, 0}), 0))
        << "bytes left over";
    // v3 needs the producer id and epoch that v0 does not have.
    EXPECT_FALSE(decodes<init_producer_id_request>(bytes({0, 0, 0, 0xea, 0x60, 0}), 3));
    // An array that claims more topics than there are bytes for.
    EXPECT_FALSE(decodes<create_topics_request>(bytes({0, 0, 0x10, 0, 0, 0, 0, 0}), 0));
    // A null topics array where the spec does not allow one.
    EXPECT_FALSE(decodes<delete_records_request>(bytes({0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}), 0));
}
