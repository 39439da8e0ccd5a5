#include "protocol/api_versions.h"

namespace runnel::protocol {

std::optional<api_versions_request> decode_api_versions_request(reader& r, int16_t version) {
    api_versions_request req;
    if (version >= 3) {
        req.client_software_name = r.compact_string();
        req.client_software_version = r.compact_string();
        r.skip_tagged_fields();
    }
    if (!r.ok() || r.remaining() != 0) {
        return std::nullopt;
    }
    return req;
}

void encode_api_versions_response(writer& w, int16_t version, int16_t error_code,
                                  std::span<const api_range> apis, int32_t throttle_time_ms) {
    const bool flexible = version >= 3;
    w.int16(error_code);
    w.versioned_array_length(flexible, int32_t(apis.size()));
    for (const auto& a : apis) {
        w.int16(a.api_key);
        w.int16(a.min_version);
        w.int16(a.max_version);
        if (flexible) {
            w.empty_tagged_fields();
        }
    }
    if (version >= 1) {
        w.int32(throttle_time_ms);
    }
    if (flexible) {
        w.empty_tagged_fields(); // no supported or finalized features
    }
}

} // namespace runnel::protocol
