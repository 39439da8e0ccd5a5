// Byte vectors written by hand from the ApiVersions schema (protocol spec): field order, classic
// vs compact encodings, and where tagged-field sections fall.
#include "protocol/api_versions.h"

#include "bytes.h"

#include <gtest/gtest.h>

using namespace runnel::protocol;

namespace {
const api_range apis[] = {{0, 3, 9}, {18, 0, 3}};
} // namespace

TEST(api_versions, response_v0_is_classic) {
    writer w;
    encode_api_versions_response(w, 0, error_none, apis, 0);
    EXPECT_EQ(w.bytes(), bytes({0, 0,         // error code
                                0, 0, 0, 2,   // array length
                                0, 0, 0, 3, 0, 9, 0, 18, 0, 0, 0, 3}));
}

TEST(api_versions, response_v1_adds_throttle_time) {
    writer w;
    encode_api_versions_response(w, 1, error_none, apis, 7);
    EXPECT_EQ(w.bytes(), bytes({0, 0, 0, 0, 0, 2, 0, 0, 0, 3, 0, 9, 0, 18, 0, 0, 0, 3,
                                0, 0, 0, 7}));
}

TEST(api_versions, response_v3_is_flexible) {
    writer w;
    encode_api_versions_response(w, 3, error_unsupported_version, apis, 0);
    EXPECT_EQ(w.bytes(), bytes({0, 35,                  // error code
                                3,                      // compact array: 2 + 1
                                0, 0, 0, 3, 0, 9, 0,    // key, min, max, no tags
                                0, 18, 0, 0, 0, 3, 0,
                                0, 0, 0, 0,             // throttle time
                                0}));                   // no tagged fields
}

TEST(api_versions, request_v3_carries_the_client_software) {
    auto body = bytes({7, 'r', 'd', 'k', 'a', 'f', 'k', 3, '2', '.', 0});
    reader r(body);
    auto req = decode_api_versions_request(r, 3);
    ASSERT_TRUE(req);
    EXPECT_EQ(req->client_software_name, "rdkafk");
    EXPECT_EQ(req->client_software_version, "2.");
    reader empty(std::span<const std::byte>{});
    EXPECT_TRUE(decode_api_versions_request(empty, 0));
    auto torn = bytes({7, 'r', 'd'});
    reader t(torn);
    EXPECT_FALSE(decode_api_versions_request(t, 3));
    auto trailing = bytes({1});
    reader x(trailing);
    EXPECT_FALSE(decode_api_versions_request(x, 2)) << "v0-2 have an empty body";
}
