#include "storage/crc32c.h"

#include <array>
#include <cstring>
#include <nmmintrin.h>

namespace runnel::storage {

namespace {

// The crc32 instruction has a latency of 3 cycles and a throughput of 1, so one dependent chain
// runs at a third of the instruction's speed. Long inputs are cut into rounds of three streams
// of stream_bytes, computed side by side and joined with the linearity of CRCs:
//   raw(r, A B) = shift_{|B|}(raw(r, A)) ^ raw(0, B)
// where shift_L (appending L zero bytes) is linear in the 32-bit register, so it is four
// lookups in tables built once with the instruction itself.
constexpr size_t stream_bytes = 1024;

uint64_t raw_update(uint64_t reg, const unsigned char* p, size_t n) {
    while (n >= 8) {
        uint64_t v;
        std::memcpy(&v, p, 8);
        reg = _mm_crc32_u64(reg, v);
        p += 8;
        n -= 8;
    }
    auto r = static_cast<uint32_t>(reg);
    while (n > 0) {
        r = _mm_crc32_u8(r, *p);
        ++p;
        --n;
    }
    return r;
}

struct shift_tables {
    std::array<std::array<uint32_t, 256>, 4> t{};
    shift_tables() {
        for (unsigned b = 0; b < 4; ++b) {
            for (unsigned v = 0; v < 256; ++v) {
                uint64_t reg = uint64_t(v) << (8 * b);
                for (size_t i = 0; i < stream_bytes / 8; ++i) {
                    reg = _mm_crc32_u64(reg, 0);
                }
                t[b][v] = static_cast<uint32_t>(reg);
            }
        }
    }
    uint32_t shift(uint32_t r) const {
        return t[0][r & 0xff] ^ t[1][(r >> 8) & 0xff] ^ t[2][(r >> 16) & 0xff] ^ t[3][r >> 24];
    }
};

// Built on first use, so a CRC computed during another file's static initialisation is right.
const shift_tables& tables() {
    static const shift_tables t;
    return t;
}

} // namespace

uint32_t crc32c(std::span<const std::byte> data, uint32_t crc) {
    const auto* p = reinterpret_cast<const unsigned char*>(data.data());
    size_t n = data.size();
    uint64_t reg = ~crc;
    const shift_tables& shift = tables();
    while (n >= 3 * stream_bytes) {
        uint64_t b = 0;
        uint64_t c = 0;
        for (size_t i = 0; i < stream_bytes; i += 8) {
            uint64_t va;
            uint64_t vb;
            uint64_t vc;
            std::memcpy(&va, p + i, 8);
            std::memcpy(&vb, p + stream_bytes + i, 8);
            std::memcpy(&vc, p + 2 * stream_bytes + i, 8);
            reg = _mm_crc32_u64(reg, va);
            b = _mm_crc32_u64(b, vb);
            c = _mm_crc32_u64(c, vc);
        }
        reg = shift.shift(shift.shift(uint32_t(reg)) ^ uint32_t(b)) ^ uint32_t(c);
        p += 3 * stream_bytes;
        n -= 3 * stream_bytes;
    }
    return ~static_cast<uint32_t>(raw_update(reg, p, n));
}

} // namespace runnel::storage
