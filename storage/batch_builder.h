// Builds Kafka RecordBatch v2 bytes as a producer does (uncompressed records, CRC32C), for
// librunnel's producer, tests, benchmarks and the storage test driver.
#pragma once

#include "base/named_type.h"

#include <cstddef>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace runnel::storage {

struct record_spec {
    std::optional<std::string_view> key;
    std::optional<std::string_view> value;
    int64_t timestamp_delta = 0;
};

struct batch_spec {
    model::timestamp_ms base_timestamp{0};
    model::producer_id producer_id{-1};
    int16_t producer_epoch = -1;
    int32_t base_sequence = -1;
};

std::vector<std::byte> build_batch(std::span<const record_spec> records, batch_spec spec = {});
// The same into `out` (replacing its contents; allocates only when it needs more capacity).
void build_batch(std::vector<std::byte>& out, std::span<const record_spec> records,
                 batch_spec spec = {});

} // namespace runnel::storage
