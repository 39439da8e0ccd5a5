// Metadata (key 3), versions 0-12: which brokers exist and which topics and partitions they lead.
// Flexible from v9 (compact encodings, tagged fields, request header v2, response header v1).
// Any thread; the response views its strings, which must outlive encode_metadata_response().
#pragma once

#include "protocol/codec.h"

#include <optional>
#include <string_view>
#include <vector>

namespace runnel::protocol {

inline constexpr int16_t metadata_key = 3;
inline constexpr int16_t metadata_version_max = 12;
inline constexpr int16_t metadata_first_flexible = 9;

struct metadata_request {
    std::optional<std::vector<std::string_view>> topics; // nullopt: every topic
    bool allow_auto_topic_creation = true;               // v4+
};

struct metadata_partition {
    int16_t error_code = 0;
    int32_t index = 0;
    int32_t leader = -1;
    int32_t leader_epoch = -1; // v7+
    std::vector<int32_t> replicas;
    std::vector<int32_t> isr;
};

struct metadata_topic {
    int16_t error_code = 0;
    std::string_view name;
    uuid id{};           // v10+
    bool internal = false;
    std::vector<metadata_partition> partitions;
};

struct metadata_broker {
    int32_t node_id = 0;
    std::string_view host;
    int32_t port = 0;
};

struct metadata_response {
    int32_t throttle_time_ms = 0; // v3+
    std::vector<metadata_broker> brokers;
    std::optional<std::string_view> cluster_id; // v2+
    int32_t controller_id = -1;                 // v1+
    std::vector<metadata_topic> topics;
};

// Decodes the body (after the request header). nullopt when it is malformed; topics named by id
// only (v10+, null name) are not supported yet and decode as malformed.
std::optional<metadata_request> decode_metadata_request(reader& r, int16_t version);
void encode_metadata_response(writer& w, int16_t version, const metadata_response& m);

} // namespace runnel::protocol
