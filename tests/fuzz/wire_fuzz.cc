// libFuzzer target: the Kafka wire reader and the request decoders built on it. The input's first bytes choose a sequence of field
// reads (every primitive the reader has); the rest is the message. Invariants: no crash, no read
// past the input (ASan), position never beyond the size, and after an error every read is zero.
#include "protocol/api_versions.h"
#include "protocol/metadata.h"
#include "protocol/wire.h"

#include <cstdlib>

using namespace runnel::protocol;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 8) {
        return 0;
    }
    auto ops = std::span(data, 8);
    reader r(std::span(reinterpret_cast<const std::byte*>(data + 8), size - 8));
    (void)read_request_header(r, ops[0] % 3);
    for (int round = 0; round < 64 && r.ok(); ++round) {
        switch (ops[size_t(round) % 8] % 16) {
        case 0: (void)r.int8(); break;
        case 1: (void)r.int16(); break;
        case 2: (void)r.int32(); break;
        case 3: (void)r.int64(); break;
        case 4: (void)r.varint(); break;
        case 5: (void)r.varlong(); break;
        case 6: (void)r.uvarint(); break;
        case 7: (void)r.uuid_value(); break;
        case 8: (void)r.string(); break;
        case 9: (void)r.nullable_string(); break;
        case 10: (void)r.compact_string(); break;
        case 11: (void)r.compact_nullable_string(); break;
        case 12: (void)r.nullable_bytes(); break;
        case 13: (void)r.compact_nullable_bytes(); break;
        case 14: (void)r.compact_array_length(); break;
        default: r.skip_tagged_fields(); break;
        }
        if (r.position() > size - 8) {
            std::abort();
        }
    }
    if (!r.ok() && (r.int64() != 0 || r.uvarint() != 0)) {
        std::abort();
    }
    // The request decoders, at every version, on the same bytes.
    auto body = std::span(reinterpret_cast<const std::byte*>(data + 8), size - 8);
    for (int16_t v = 0; v <= metadata_version_max; ++v) {
        reader m(body);
        if (auto req = decode_metadata_request(m, v); req && m.remaining() != 0) {
            std::abort();
        }
    }
    for (int16_t v = 0; v <= api_versions_version_max; ++v) {
        reader a(body);
        (void)decode_api_versions_request(a, v);
    }
    return 0;
}
