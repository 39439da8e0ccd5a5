// The packet layer on frames built by hand: ARP and ICMP echo answered in place, UDP delivered
// with its sender, every drop reason counted, and build_udp's output accepted by classify.
#include "dataplane/packet.h"

#include <gtest/gtest.h>

#include <random>

#include <vector>

using namespace runnel::dataplane::packet;

namespace {

const local_endpoint self{.mac = {0x02, 0, 0, 0, 0, 1}, .ip = 0xc0000201, .udp_port = 9093};
const remote_endpoint peer{.mac = {0x02, 0, 0, 0, 0, 2}, .ip = 0xc0000202, .udp_port = 40000};

std::vector<std::byte> udp_frame(size_t payload_bytes, char fill = 'x') {
    std::vector<std::byte> f(udp_headers_bytes + payload_bytes, std::byte(fill));
    const local_endpoint from{.mac = peer.mac, .ip = peer.ip, .udp_port = peer.udp_port};
    const remote_endpoint to{.mac = self.mac, .ip = self.ip, .udp_port = self.udp_port};
    EXPECT_EQ(build_udp(f, from, to, payload_bytes), f.size());
    return f;
}

std::vector<std::byte> arp_request(uint32_t target) {
    std::vector<std::byte> f(42);
    auto put = [&](size_t at, std::initializer_list<int> v) {
        for (int b : v) {
            f[at++] = std::byte(b);
        }
    };
    put(0, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 2, 0x08, 0x06});
    put(14, {0, 1, 0x08, 0x00, 6, 4, 0, 1, 0x02, 0, 0, 0, 0, 2, 192, 0, 2, 2, 0, 0, 0, 0, 0, 0});
    put(38, {int(target >> 24), int((target >> 16) & 0xff), int((target >> 8) & 0xff),
             int(target & 0xff)});
    return f;
}

std::vector<std::byte> ping(uint8_t icmp_type = 8) {
    std::vector<std::byte> f(udp_headers_bytes + 4, std::byte{'x'});
    const local_endpoint from{.mac = peer.mac, .ip = peer.ip};
    EXPECT_EQ(build_echo(f, from, {.mac = self.mac, .ip = self.ip}, 4, icmp_type), f.size());
    return f;
}

} // namespace

TEST(packet, udp_to_our_port_is_delivered_with_its_sender) {
    auto f = udp_frame(5, 'p');
    counters c;
    auto r = classify(f, self, c);
    ASSERT_EQ(r.action, verdict::deliver);
    EXPECT_EQ(r.payload.size(), 5u);
    EXPECT_EQ(char(r.payload[0]), 'p');
    EXPECT_EQ(r.from.mac, peer.mac);
    EXPECT_EQ(r.from.ip, peer.ip);
    EXPECT_EQ(r.from.udp_port, peer.udp_port);
    EXPECT_EQ(c.udp_delivered, 1u);
    // Link padding after the datagram is not payload.
    f.resize(f.size() + 20, std::byte{0});
    EXPECT_EQ(classify(f, self, c).payload.size(), 5u);
}

TEST(packet, arp_request_for_us_becomes_the_reply) {
    auto f = arp_request(self.ip);
    counters c;
    auto r = classify(f, self, c);
    ASSERT_EQ(r.action, verdict::reply);
    EXPECT_EQ(r.reply_bytes, 42u);
    EXPECT_EQ(uint8_t(f[0]), 0x02); // to the asker
    EXPECT_EQ(uint8_t(f[5]), 2);
    EXPECT_EQ(uint8_t(f[14 + 7]), 2); // ARP reply
    EXPECT_EQ(uint8_t(f[14 + 13]), 1); // sender MAC: ours
    EXPECT_EQ(uint8_t(f[14 + 17]), 1); // sender IP: 192.0.2.1
    EXPECT_EQ(uint8_t(f[14 + 27]), 2); // target IP: the asker's
    EXPECT_EQ(c.arp_replies, 1u);
    auto other = arp_request(0xc0000263);
    EXPECT_EQ(classify(other, self, c).reason, drop_reason::arp_not_for_us);
}

TEST(packet, our_arp_request_is_answered_and_the_answer_names_the_neighbour) {
    std::vector<std::byte> f(60);
    const local_endpoint asker{.mac = peer.mac, .ip = peer.ip};
    ASSERT_EQ(build_arp_request(f, asker, self.ip), 42u);
    f.resize(42);
    counters them;
    ASSERT_EQ(classify(f, self, them).action, verdict::reply) << "the target answers it in place";
    counters c;
    auto r = classify(f, asker, c);
    ASSERT_EQ(r.action, verdict::neighbour);
    EXPECT_EQ(r.from.mac, self.mac);
    EXPECT_EQ(r.from.ip, self.ip);
    EXPECT_EQ(c.arp_answers, 1u);
    EXPECT_EQ(classify(f, self, c).action, verdict::drop) << "addressed to the asker, not us";
    std::vector<std::byte> small(41);
    EXPECT_EQ(build_arp_request(small, asker, self.ip), 0u);
}

// RFC 1071 word by word in network order: the reference for the word-at-a-time sum.
uint16_t reference_checksum(std::span<const std::byte> b, uint32_t sum) {
    uint64_t s = sum;
    size_t i = 0;
    for (; i + 1 < b.size(); i += 2) {
        s += uint32_t(uint8_t(b[i])) << 8 | uint8_t(b[i + 1]);
    }
    if (i < b.size()) {
        s += uint32_t(uint8_t(b[i])) << 8;
    }
    while (s >> 16) {
        s = (s & 0xffff) + (s >> 16);
    }
    return uint16_t(~s & 0xffff);
}

TEST(packet, checksum_equals_the_word_by_word_sum_at_every_length_and_offset) {
    std::mt19937 rng(7);
    std::vector<std::byte> buf(1600);
    for (auto& x : buf) {
        x = std::byte(rng());
    }
    for (size_t len = 0; len < 200; ++len) {
        for (size_t off = 0; off < 4; ++off) { // unaligned starts too
            const auto b = std::span<const std::byte>(buf).subspan(off, len);
            const uint32_t sum = rng() % 3 == 0 ? 0 : uint32_t(rng() & 0x3ffff);
            ASSERT_EQ(internet_checksum(b, sum), reference_checksum(b, sum)) << len << " " << off;
        }
    }
    // All ones: the largest sums, where a carry lost in folding would show.
    std::vector<std::byte> ones(1500, std::byte{0xff});
    EXPECT_EQ(internet_checksum(ones, 0x1ffff), reference_checksum(ones, 0x1ffff));
    EXPECT_EQ(internet_checksum(std::span(ones).first(1499)),
              reference_checksum(std::span(ones).first(1499), 0));
}

TEST(packet, icmp_echo_request_becomes_the_reply) {
    auto f = ping();
    counters c;
    auto r = classify(f, self, c);
    ASSERT_EQ(r.action, verdict::reply);
    EXPECT_EQ(r.reply_bytes, f.size());
    EXPECT_EQ(uint8_t(f[34]), 0); // echo reply
    EXPECT_EQ(internet_checksum(std::span(f).subspan(34)), 0);
    EXPECT_EQ(internet_checksum(std::span(f).subspan(14, 20)), 0);
    EXPECT_EQ(uint8_t(f[14 + 19]), 2); // to the pinger
    EXPECT_EQ(uint8_t(f[5]), 2);
    EXPECT_EQ(c.icmp_replies, 1u);
}

TEST(packet, every_drop_reason_is_counted) {
    counters c;
    auto expect = [&](std::vector<std::byte> f, drop_reason why) {
        auto r = classify(f, self, c);
        EXPECT_EQ(r.action, verdict::drop) << to_string(why);
        EXPECT_EQ(r.reason, why) << to_string(r.reason) << " instead of " << to_string(why);
    };
    auto edit = [](std::vector<std::byte> f, size_t at, int v) {
        f[at] = std::byte(v);
        return f;
    };
    auto fix_ip_checksum = [](std::vector<std::byte> f) {
        f[24] = f[25] = std::byte{0};
        uint16_t s = internet_checksum(std::span(f).subspan(14, 20));
        f[24] = std::byte(s >> 8);
        f[25] = std::byte(s & 0xff);
        return f;
    };
    const auto good = udp_frame(4);
    expect(std::vector<std::byte>(good.begin(), good.begin() + 10), drop_reason::too_short);
    expect(edit(good, 5, 9), drop_reason::not_our_mac);
    expect(edit(good, 6, 0x03), drop_reason::bad_source);                  // a group source MAC
    expect(fix_ip_checksum(edit(good, 14 + 12, 127)), drop_reason::bad_source); // loopback
    expect(fix_ip_checksum(edit(good, 14 + 12, 224)), drop_reason::bad_source); // multicast
    expect(edit(good, 13, 0xdd), drop_reason::unknown_ethertype);
    expect(edit(arp_request(self.ip), 14 + 4, 8), drop_reason::arp_malformed);
    expect(arp_request(0xc0000263), drop_reason::arp_not_for_us);
    expect(std::vector<std::byte>(good.begin(), good.begin() + 30), drop_reason::too_short);
    expect(fix_ip_checksum(edit(good, 14, 0x65)), drop_reason::ip_bad_version);
    expect(fix_ip_checksum(edit(good, 14, 0x46)), drop_reason::ip_options);
    expect(edit(good, 14 + 8, 1), drop_reason::ip_bad_checksum);
    expect(fix_ip_checksum(edit(good, 14 + 3, 0xff)), drop_reason::ip_bad_length);
    expect(fix_ip_checksum(edit(good, 14 + 6, 0x20)), drop_reason::ip_fragment);
    expect(fix_ip_checksum(edit(good, 14 + 19, 9)), drop_reason::ip_not_for_us);
    expect(fix_ip_checksum(edit(good, 14 + 9, 6)), drop_reason::ip_unknown_protocol);
    auto p = ping();
    expect(edit(p, 40, 0x55), drop_reason::icmp_bad_checksum);
    expect(ping(0), drop_reason::icmp_not_echo_request); // an echo reply is not answered
    expect(edit(good, 34 + 5, 200), drop_reason::udp_bad_length);
    expect(edit(good, 42, 'y'), drop_reason::udp_bad_checksum);
    auto other_port = udp_frame(4);
    other_port[34 + 2] = std::byte{0};
    other_port[34 + 6] = other_port[34 + 7] = std::byte{0}; // no checksum: allowed over IPv4
    expect(other_port, drop_reason::udp_wrong_port);
    for (size_t i = 0; i < drop_reason_count; ++i) {
        EXPECT_GE(c.dropped[i], 1u) << to_string(drop_reason(uint8_t(i)));
    }
}

// Known answers, not the function checking itself: RFC 1071's example (section 3), and an odd
// length whose last byte is the high half of a 16-bit word.
TEST(packet, internet_checksum_known_answers) {
    const std::vector<std::byte> rfc{std::byte{0x00}, std::byte{0x01}, std::byte{0xf2},
                                     std::byte{0x03}, std::byte{0xf4}, std::byte{0xf5},
                                     std::byte{0xf6}, std::byte{0xf7}};
    EXPECT_EQ(internet_checksum(rfc), 0x220d);
    const std::vector<std::byte> odd{std::byte{0x01}, std::byte{0x02}, std::byte{0x03}};
    EXPECT_EQ(internet_checksum(odd), uint16_t(~(0x0102 + 0x0300) & 0xffff));
}

TEST(packet, build_udp_refuses_what_does_not_fit) {
    std::vector<std::byte> f(50);
    EXPECT_EQ(build_udp(f, self, peer, 100), 0u);
    std::vector<std::byte> big(70000);
    EXPECT_EQ(build_udp(big, self, peer, 66000), 0u);
}
