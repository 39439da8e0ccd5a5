// ApiVersions (key 18), versions 0-3: the request a client sends first, and the response listing
// every API and version range the broker serves. Versions 3+ are flexible (compact encodings,
// tagged fields), but the response header stays v0 for every version, so that a client that sent
// a version the broker does not know can still read the error (Kafka's rule). Any thread.
#pragma once

#include "protocol/codec.h"

#include <optional>
#include <span>
#include <string_view>

namespace runnel::protocol {

inline constexpr int16_t api_versions_key = 18;
inline constexpr int16_t api_versions_version_max = 3;

struct api_range {
    int16_t api_key;
    int16_t min_version;
    int16_t max_version;
};

struct api_versions_request {
    std::optional<std::string_view> client_software_name;    // v3+
    std::optional<std::string_view> client_software_version; // v3+
};

// Decodes the body (after the request header). nullopt when it is malformed.
std::optional<api_versions_request> decode_api_versions_request(reader& r, int16_t version);

// Encodes the body (after the response header). An UNSUPPORTED_VERSION answer is encoded at
// version 0 with the broker's ranges, as Kafka does, so any client can read it.
void encode_api_versions_response(writer& w, int16_t version, int16_t error_code,
                                  std::span<const api_range> apis, int32_t throttle_time_ms);

} // namespace runnel::protocol
