// libFuzzer target: RecordBatch v2 validation. The input is used twice: as raw bytes, and as a
// list of byte edits applied to a valid batch whose CRC is then recomputed, so that the checks
// behind the CRC (lengths, counts, record framing) see hostile input too. Invariants: no crash,
// and whatever validates is also a well-formed stored batch of exactly the input's size.
#include "storage/batch_builder.h"
#include "storage/crc32c.h"
#include "storage/detail/endian.h"
#include "storage/record_batch.h"

#include <cstdint>
#include <cstdlib>
#include <vector>

using namespace runnel;
using namespace runnel::storage;

namespace {

void check(std::span<const std::byte> bytes) {
    auto h = batch::validate(bytes);
    if (!h) {
        return;
    }
    auto stored = batch::check_stored(bytes);
    if (!stored || h->size_bytes() != bytes.size() || h->record_count != h->last_offset_delta + 1) {
        std::abort();
    }
    (void)batch::first_offset_at_or_after(bytes, model::timestamp_ms(0));
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto raw = std::span(reinterpret_cast<const std::byte*>(data), size);
    check(raw);

    static const std::vector<std::byte> base = [] {
        std::vector<record_spec> r{{"key", "value", 0}, {std::nullopt, "v2", 3}, {"k3", "", 7}};
        return build_batch(r);
    }();
    std::vector<std::byte> b = base;
    for (size_t i = 0; i + 2 < size; i += 3) {
        size_t pos = (size_t(data[i]) << 8 | data[i + 1]) % (b.size() + 1);
        if (pos == b.size()) {
            b.resize(b.size() - std::min<size_t>(b.size(), data[i + 2]));
            continue;
        }
        b[pos] = std::byte(data[i + 2]);
    }
    if (b.size() >= batch::header_bytes) {
        auto covered = std::span<const std::byte>(b).subspan(batch::attributes_at);
        storage::detail::store_be<uint32_t>(b.data() + batch::crc_at, crc32c(covered));
    }
    check(b);
    return 0;
}
