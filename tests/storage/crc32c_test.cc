#include "storage/crc32c.h"

#include <gtest/gtest.h>

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
