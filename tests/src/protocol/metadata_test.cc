// Byte vectors written by hand from the Metadata schema (protocol spec).
#include "protocol/metadata.h"

#include "bytes.h"

#include <gtest/gtest.h>

using namespace runnel::protocol;

namespace {
metadata_response one_topic() {
    metadata_response m;
    m.brokers.push_back({0, "h", 9});
    m.controller_id = 0;
    m.topics.push_back({.error_code = 0, .name = "t", .id = {}, .internal = false,
                        .partitions = {{0, 0, 0, 0, {0}, {0}}}});
    return m;
}
} // namespace

TEST(metadata, response_v0) {
    writer w;
    encode_metadata_response(w, 0, one_topic());
    EXPECT_EQ(w.bytes(), bytes({0, 0, 0, 1,                   // brokers
                                0, 0, 0, 0, 0, 1, 'h', 0, 0, 0, 9,
                                0, 0, 0, 1,                   // topics
                                0, 0, 0, 1, 't',              // error, name
                                0, 0, 0, 1,                   // partitions
                                0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // error, index, leader
                                0, 0, 0, 1, 0, 0, 0, 0,       // replicas
                                0, 0, 0, 1, 0, 0, 0, 0}));    // isr
}

TEST(metadata, response_v12_is_flexible) {
    writer w;
    auto m = one_topic();
    m.cluster_id = "c";
    encode_metadata_response(w, 12, m);
    EXPECT_EQ(w.bytes(), bytes({0, 0, 0, 0,                     // throttle
                                2, 0, 0, 0, 0, 2, 'h', 0, 0, 0, 9, 0, 0, // broker, null rack, tags
                                2, 'c', 0, 0, 0, 0,             // cluster id, controller
                                2, 0, 0, 2, 't',                // topics, error, name
                                0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // uuid
                                0,                              // internal
                                2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // partition...
                                2, 0, 0, 0, 0, 2, 0, 0, 0, 0, 1, 0, // replicas, isr, offline, tags
                                0x80, 0, 0, 0, 0,               // topic authorized ops, tags
                                0}));                           // tags
}

TEST(metadata, requests_decode_per_version) {
    auto v0_all = bytes({0, 0, 0, 0});
    reader r0(v0_all);
    auto m0 = decode_metadata_request(r0, 0);
    ASSERT_TRUE(m0);
    EXPECT_FALSE(m0->topics) << "v0: an empty list means every topic";

    auto v1_none = bytes({0, 0, 0, 0});
    reader r1(v1_none);
    auto m1 = decode_metadata_request(r1, 1);
    ASSERT_TRUE(m1 && m1->topics);
    EXPECT_TRUE(m1->topics->empty()) << "v1+: an empty list means no topic";

    auto v12 = bytes({2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 'a', 'b', 'c', 0,
                      0, 1, 0});
    reader r12(v12);
    auto m12 = decode_metadata_request(r12, 12);
    ASSERT_TRUE(m12 && m12->topics);
    EXPECT_EQ(m12->topics->at(0), "abc");
    EXPECT_FALSE(m12->allow_auto_topic_creation);

    auto torn = bytes({2, 0});
    reader rt(torn);
    EXPECT_FALSE(decode_metadata_request(rt, 12));
}
