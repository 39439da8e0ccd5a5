// CRC32C (Castagnoli), as Kafka's RecordBatch v2 uses it, on the SSE4.2 crc32 instruction
// (three interleaved streams for inputs of 3 KiB and more).
// Pure function; any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace runnel::storage {

// Extends `crc` (0 for a fresh checksum) over `data`.
uint32_t crc32c(std::span<const std::byte> data, uint32_t crc = 0);

} // namespace runnel::storage
