// libFuzzer target: every request decoder the broker serves that is defined with the codec
// (protocol/codec.h), at every served version. The first input byte picks the API, the second the
// version within the broker's range, and the rest is the request body. Invariants: decoding never
// crashes or reads out of bounds (ASan, UBSan); a body that decodes was consumed whole; and
// encoding the result is a fixed point: its bytes decode again, to a message that encodes to the
// same bytes, and they are never longer than the body (re-encoding only drops tagged fields and
// shortens over-long varints). The input body itself is not the reference, since tags are skipped
// on decode and non-canonical varints and booleans are accepted. Metadata and ApiVersions have
// hand-written decoders and are fuzzed by wire_fuzz.
#include "protocol/admin_messages.h"
#include "protocol/codec.h"
#include "protocol/data_messages.h"
#include "protocol/group_messages.h"
#include "protocol/wire.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <span>

using namespace runnel::protocol;

namespace {

using body_span = std::span<const std::byte>;

template <typename T>
void round_trip(body_span body, int16_t version) {
    reader r(body);
    auto first = decode<T>(r, version);
    if (!first) {
        return;
    }
    if (r.remaining() != 0 || !r.ok()) {
        std::abort();
    }
    // Reused across inputs, so an input costs no buffer allocations once they have grown.
    static writer once;
    static writer twice;
    once.bytes().clear();
    twice.bytes().clear();
    encode(once, *first, version);
    if (once.size() > body.size()) {
        std::abort();
    }
    reader again(once.bytes());
    auto second = decode<T>(again, version);
    if (!second) {
        std::abort();
    }
    encode(twice, *second, version);
    if (!std::ranges::equal(once.bytes(), twice.bytes())) {
        std::abort();
    }
}

struct api_case {
    int16_t min_version;
    int16_t max_version;
    void (*run)(body_span, int16_t);
};

// The codec-defined rows of broker::apis() (src/kafka/broker.cc), with the same version ranges.
// Append new rows at the end: the seeds in tests/fuzz/corpus/request_fuzz/ name a row by index.
constexpr api_case cases[] = {
    {3, 9, &round_trip<produce_request>},
    {4, 12, &round_trip<fetch_request>},
    {1, 7, &round_trip<list_offsets_request>},
    {0, 4, &round_trip<offset_for_leader_epoch_request>},
    {0, 7, &round_trip<create_topics_request>},
    {0, 6, &round_trip<delete_topics_request>},
    {0, 2, &round_trip<delete_records_request>},
    {0, 4, &round_trip<init_producer_id_request>},
    {0, 4, &round_trip<describe_configs_request>},
    {0, 2, &round_trip<alter_configs_request>},
    {0, 3, &round_trip<create_partitions_request>},
    {0, 1, &round_trip<incremental_alter_configs_request>},
    {0, 4, &round_trip<find_coordinator_request>},
    {0, 9, &round_trip<join_group_request>},
    {0, 5, &round_trip<sync_group_request>},
    {0, 4, &round_trip<heartbeat_request>},
    {0, 5, &round_trip<leave_group_request>},
    {0, 8, &round_trip<offset_commit_request>},
    {0, 8, &round_trip<offset_fetch_request>},
    {0, 4, &round_trip<list_groups_request>},
    {0, 5, &round_trip<describe_groups_request>},
    {0, 2, &round_trip<delete_groups_request>},
    {0, 1, &round_trip<describe_cluster_request>},
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 2) {
        return 0;
    }
    const api_case& c = cases[data[0] % std::size(cases)];
    const int versions = c.max_version - c.min_version + 1;
    const auto version = int16_t(c.min_version + data[1] % versions);
    c.run(body_span(reinterpret_cast<const std::byte*>(data + 2), size - 2), version);
    return 0;
}
