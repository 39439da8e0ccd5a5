#include "storage/crc32c.h"

#include <gtest/gtest.h>

#include <random>
#include <string_view>
#include <vector>

using runnel::storage::crc32c;

namespace {
std::span<const std::byte> bytes(std::string_view s) {
    return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}
} // namespace

TEST(crc32c, known_vectors) {
    EXPECT_EQ(crc32c(bytes("")), 0u);
    EXPECT_EQ(crc32c(bytes("123456789")), 0xE3069283u); // RFC 3720 check value
    std::vector<std::byte> zeros(32, std::byte(0));
    EXPECT_EQ(crc32c(zeros), 0x8A9136AAu); // RFC 3720 B.4: 32 bytes of zeros
    std::vector<std::byte> ones(32, std::byte(0xff));
    EXPECT_EQ(crc32c(ones), 0x62A8AB43u);
}

TEST(crc32c, extends_across_splits) {
    std::string s = "The quick brown fox jumps over the lazy dog, twice over and then again.";
    uint32_t whole = crc32c(bytes(s));
    for (size_t cut = 0; cut <= s.size(); ++cut) {
        uint32_t part = crc32c(bytes(std::string_view(s).substr(0, cut)));
        EXPECT_EQ(crc32c(bytes(std::string_view(s).substr(cut)), part), whole) << cut;
    }
}

namespace {
// Bit-at-a-time reference (reflected polynomial 0x82F63B78).
uint32_t reference(std::span<const std::byte> d) {
    uint32_t c = ~0u;
    for (std::byte b : d) {
        c ^= uint32_t(b);
        for (int k = 0; k < 8; ++k) {
            c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1)));
        }
    }
    return ~c;
}
} // namespace

TEST(crc32c, long_inputs_match_the_reference_at_every_length_class) {
    std::mt19937_64 rng(7);
    std::vector<std::byte> buf(70000);
    for (auto& b : buf) {
        b = std::byte(rng());
    }
    for (size_t n : {3071u, 3072u, 3073u, 6144u, 9000u, 16384u, 65536u, 70000u}) {
        auto d = std::span<const std::byte>(buf).first(n);
        EXPECT_EQ(crc32c(d), reference(d)) << n;
        uint32_t part = crc32c(d.first(n / 3));
        EXPECT_EQ(crc32c(d.subspan(n / 3), part), reference(d)) << n;
    }
}
