#include "dataplane/packet.h"

#include <algorithm>
#include <cstring>

namespace runnel::dataplane::packet {

namespace {

uint16_t load16(std::span<const std::byte> b, size_t at) {
    return uint16_t(uint16_t(b[at]) << 8 | uint16_t(b[at + 1]));
}
uint32_t load32(std::span<const std::byte> b, size_t at) {
    return uint32_t(load16(b, at)) << 16 | load16(b, at + 2);
}
void store16(std::span<std::byte> b, size_t at, uint16_t v) {
    b[at] = std::byte(v >> 8);
    b[at + 1] = std::byte(v & 0xff);
}
void store32(std::span<std::byte> b, size_t at, uint32_t v) {
    store16(b, at, uint16_t(v >> 16));
    store16(b, at + 2, uint16_t(v & 0xffff));
}
void store_mac(std::span<std::byte> b, size_t at, const mac_address& m) {
    std::memcpy(b.data() + at, m.data(), m.size());
}
mac_address load_mac(std::span<const std::byte> b, size_t at) {
    mac_address m;
    std::memcpy(m.data(), b.data() + at, m.size());
    return m;
}

// The 32-bit partial sum of the UDP pseudo-header (RFC 768).
uint32_t pseudo_header_sum(uint32_t src, uint32_t dst, uint16_t udp_length) {
    return (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + 17u + udp_length;
}

constexpr mac_address broadcast{0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

// A source address no single host has (answering it would reach many or none): unspecified,
// limited broadcast, loopback, multicast and class E, or our own address.
bool bad_source_ip(uint32_t ip, const local_endpoint& self) {
    return ip == 0 || ip == 0xffffffff || (ip >> 24) == 127 || (ip >> 28) >= 0xe || ip == self.ip;
}
constexpr size_t arp_bytes = 28;
constexpr size_t icmp_header_bytes = 8;

// Writes a 20-byte IPv4 header (no options, don't fragment, ttl 64) and its checksum.
void write_ipv4(std::span<std::byte> ip, uint16_t total, uint8_t protocol, uint32_t src,
                uint32_t dst) {
    ip[0] = std::byte{0x45};
    ip[1] = std::byte{0};
    store16(ip, 2, total);
    store16(ip, 4, 0);      // identification: never fragmented
    store16(ip, 6, 0x4000); // don't fragment
    ip[8] = std::byte{64};
    ip[9] = std::byte(protocol);
    store16(ip, 10, 0);
    store32(ip, 12, src);
    store32(ip, 16, dst);
    store16(ip, 10, internet_checksum(ip.subspan(0, ipv4_bytes)));
}

// Writes the Ethernet header and reserves an IPv4 packet of `total` bytes after it; the packet,
// or an empty span when `out` is too small or `total` too large for IPv4.
std::span<std::byte> ipv4_frame(std::span<std::byte> out, const mac_address& src,
                                const mac_address& dst, size_t total) {
    if (total > UINT16_MAX || out.size() < ethernet_bytes + total) {
        return {};
    }
    store_mac(out, 0, dst);
    store_mac(out, 6, src);
    store16(out, 12, ethertype_ipv4);
    return out.subspan(ethernet_bytes, total);
}

// Writes an Ethernet header and an IPv4-over-Ethernet ARP message into `f` (42 bytes, checked).
void write_arp(std::span<std::byte> f, const mac_address& to, uint16_t op,
               const local_endpoint& self, const mac_address& target_mac, uint32_t target_ip) {
    store_mac(f, 0, to);
    store_mac(f, 6, self.mac);
    store16(f, 12, ethertype_arp);
    auto a = f.subspan(ethernet_bytes);
    store16(a, 0, 1); // Ethernet
    store16(a, 2, ethertype_ipv4);
    a[4] = std::byte{6};
    a[5] = std::byte{4};
    store16(a, 6, op);
    store_mac(a, 8, self.mac);
    store32(a, 14, self.ip);
    store_mac(a, 18, target_mac);
    store32(a, 24, target_ip);
}

classification dropped(drop_reason r, counters& c) {
    ++c.dropped[size_t(r)];
    return {.action = verdict::drop, .reason = r};
}

classification arp(std::span<std::byte> f, const local_endpoint& self, counters& c) {
    if (f.size() < ethernet_bytes + arp_bytes) {
        return dropped(drop_reason::arp_malformed, c);
    }
    auto a = f.subspan(ethernet_bytes);
    if (load16(a, 0) != 1 || load16(a, 2) != ethertype_ipv4 || uint8_t(a[4]) != 6 ||
        uint8_t(a[5]) != 4) {
        return dropped(drop_reason::arp_malformed, c);
    }
    const uint16_t op = load16(a, 6);
    if ((op != 1 && op != 2) || load32(a, 24) != self.ip) { // for our address only
        return dropped(drop_reason::arp_not_for_us, c);
    }
    if (bad_source_ip(load32(a, 14), self) || (uint8_t(a[8]) & 1) != 0) {
        return dropped(drop_reason::bad_source, c);
    }
    if (op == 2) { // the answer to a request of ours
        ++c.arp_answers;
        return {.action = verdict::neighbour, .from = {.mac = load_mac(a, 8), .ip = load32(a, 14)}};
    }
    const mac_address asker = load_mac(a, 8);
    write_arp(f, asker, 2, self, asker, load32(a, 14)); // the reply, in place
    ++c.arp_replies;
    return {.action = verdict::reply, .reply_bytes = ethernet_bytes + arp_bytes};
}

classification icmp(std::span<std::byte> f, std::span<std::byte> ip, size_t total,
                    const local_endpoint& self, counters& c) {
    auto m = ip.subspan(ipv4_bytes, total - ipv4_bytes);
    if (m.size() < icmp_header_bytes || internet_checksum(m) != 0) {
        return dropped(drop_reason::icmp_bad_checksum, c);
    }
    if (uint8_t(m[0]) != 8 || uint8_t(m[1]) != 0) {
        return dropped(drop_reason::icmp_not_echo_request, c);
    }
    m[0] = std::byte{0}; // echo reply, same id, sequence and data
    store16(m, 2, 0);
    store16(m, 2, internet_checksum(m));
    const uint32_t peer = load32(ip, 12);
    store32(ip, 12, self.ip);
    store32(ip, 16, peer);
    ip[8] = std::byte{64}; // ttl
    store16(ip, 10, 0);
    store16(ip, 10, internet_checksum(ip.subspan(0, ipv4_bytes)));
    const mac_address peer_mac = load_mac(f, 6);
    store_mac(f, 0, peer_mac);
    store_mac(f, 6, self.mac);
    ++c.icmp_replies;
    return {.action = verdict::reply, .reply_bytes = ethernet_bytes + total};
}

classification udp(std::span<std::byte> f, std::span<std::byte> ip, size_t total,
                   const local_endpoint& self, counters& c) {
    auto u = ip.subspan(ipv4_bytes, total - ipv4_bytes);
    if (u.size() < udp_bytes) {
        return dropped(drop_reason::udp_bad_length, c);
    }
    const uint16_t length = load16(u, 4);
    if (length < udp_bytes || length > u.size()) {
        return dropped(drop_reason::udp_bad_length, c);
    }
    u = u.subspan(0, length);
    if (load16(u, 6) != 0) { // 0: the sender computed no checksum (allowed over IPv4)
        const uint32_t sum = pseudo_header_sum(load32(ip, 12), load32(ip, 16), length);
        if (internet_checksum(u, sum) != 0) {
            return dropped(drop_reason::udp_bad_checksum, c);
        }
    }
    if (load16(u, 2) != self.udp_port) {
        return dropped(drop_reason::udp_wrong_port, c);
    }
    ++c.udp_delivered;
    return {.action = verdict::deliver,
            .payload = u.subspan(udp_bytes),
            .from = {.mac = load_mac(f, 6), .ip = load32(ip, 12), .udp_port = load16(u, 0)}};
}

} // namespace

std::string_view to_string(drop_reason r) {
    switch (r) {
    case drop_reason::too_short: return "too_short";
    case drop_reason::not_our_mac: return "not_our_mac";
    case drop_reason::bad_source: return "bad_source";
    case drop_reason::unknown_ethertype: return "unknown_ethertype";
    case drop_reason::arp_malformed: return "arp_malformed";
    case drop_reason::arp_not_for_us: return "arp_not_for_us";
    case drop_reason::ip_bad_version: return "ip_bad_version";
    case drop_reason::ip_options: return "ip_options";
    case drop_reason::ip_bad_checksum: return "ip_bad_checksum";
    case drop_reason::ip_bad_length: return "ip_bad_length";
    case drop_reason::ip_fragment: return "ip_fragment";
    case drop_reason::ip_not_for_us: return "ip_not_for_us";
    case drop_reason::ip_unknown_protocol: return "ip_unknown_protocol";
    case drop_reason::icmp_bad_checksum: return "icmp_bad_checksum";
    case drop_reason::icmp_not_echo_request: return "icmp_not_echo_request";
    case drop_reason::udp_bad_length: return "udp_bad_length";
    case drop_reason::udp_bad_checksum: return "udp_bad_checksum";
    case drop_reason::udp_wrong_port: return "udp_wrong_port";
    }
    return "unknown";
}

// RFC 1071's sum is the same in either byte order (its section 2B): the words are summed as they
// lie in memory, 4 bytes at a time into 64 bits (no carry is lost below 2^32 words), and the
// folded result is swapped into network order once. `sum` comes in network order.
uint16_t internet_checksum(std::span<const std::byte> bytes, uint32_t sum) {
    uint64_t s = 0;
    size_t i = 0;
    for (; i + 4 <= bytes.size(); i += 4) {
        uint32_t w;
        std::memcpy(&w, bytes.data() + i, 4);
        s += w;
    }
    if (i + 2 <= bytes.size()) {
        uint16_t w;
        std::memcpy(&w, bytes.data() + i, 2);
        s += w;
        i += 2;
    }
    if (i < bytes.size()) {
        s += uint8_t(bytes[i]); // the high byte of a network-order word: low in memory order
    }
    while (s >> 16) {
        s = (s & 0xffff) + (s >> 16);
    }
    uint64_t n = __builtin_bswap16(uint16_t(s)) + uint64_t(sum);
    while (n >> 16) {
        n = (n & 0xffff) + (n >> 16);
    }
    return uint16_t(~n & 0xffff);
}

classification classify(std::span<std::byte> f, const local_endpoint& self, counters& c) {
    if (f.size() < ethernet_bytes) {
        return dropped(drop_reason::too_short, c);
    }
    const mac_address dst = load_mac(f, 0);
    if (dst != self.mac && dst != broadcast) {
        return dropped(drop_reason::not_our_mac, c);
    }
    if ((uint8_t(f[6]) & 1) != 0) { // the group bit: no single sender to answer
        return dropped(drop_reason::bad_source, c);
    }
    const uint16_t ethertype = load16(f, 12);
    if (ethertype == ethertype_arp) {
        return arp(f, self, c);
    }
    if (ethertype != ethertype_ipv4) {
        return dropped(drop_reason::unknown_ethertype, c);
    }
    if (f.size() < ethernet_bytes + ipv4_bytes) {
        return dropped(drop_reason::too_short, c);
    }
    auto ip = f.subspan(ethernet_bytes);
    if ((uint8_t(ip[0]) >> 4) != 4) {
        return dropped(drop_reason::ip_bad_version, c);
    }
    if ((uint8_t(ip[0]) & 0x0f) != 5) {
        return dropped(drop_reason::ip_options, c);
    }
    if (internet_checksum(ip.subspan(0, ipv4_bytes)) != 0) {
        return dropped(drop_reason::ip_bad_checksum, c);
    }
    const size_t total = load16(ip, 2);
    if (total < ipv4_bytes || total > ip.size()) { // the link may pad, never truncate
        return dropped(drop_reason::ip_bad_length, c);
    }
    if ((load16(ip, 6) & 0x3fff) != 0) { // more-fragments or a fragment offset
        return dropped(drop_reason::ip_fragment, c);
    }
    if (load32(ip, 16) != self.ip) {
        return dropped(drop_reason::ip_not_for_us, c);
    }
    if (bad_source_ip(load32(ip, 12), self)) {
        return dropped(drop_reason::bad_source, c);
    }
    switch (uint8_t(ip[9])) {
    case 1: return icmp(f, ip, total, self, c);
    case 17: return udp(f, ip, total, self, c);
    default: return dropped(drop_reason::ip_unknown_protocol, c);
    }
}

size_t build_udp(std::span<std::byte> out, const local_endpoint& self, const remote_endpoint& to,
                 size_t payload_bytes) {
    const size_t total = ipv4_bytes + udp_bytes + payload_bytes;
    auto ip = ipv4_frame(out, self.mac, to.mac, total);
    if (ip.empty()) {
        return 0;
    }
    write_ipv4(ip, uint16_t(total), 17, self.ip, to.ip);
    auto u = ip.subspan(ipv4_bytes);
    const auto length = uint16_t(udp_bytes + payload_bytes);
    store16(u, 0, self.udp_port);
    store16(u, 2, to.udp_port);
    store16(u, 4, length);
    store16(u, 6, 0);
    uint16_t sum = internet_checksum(u, pseudo_header_sum(self.ip, to.ip, length));
    store16(u, 6, sum == 0 ? 0xffff : sum); // 0 would mean "no checksum"
    return ethernet_bytes + total;
}

size_t build_echo(std::span<std::byte> out, const local_endpoint& self, const remote_endpoint& to,
                  size_t payload_bytes, uint8_t icmp_type) {
    const size_t total = ipv4_bytes + icmp_header_bytes + payload_bytes;
    auto ip = ipv4_frame(out, self.mac, to.mac, total);
    if (ip.empty()) {
        return 0;
    }
    write_ipv4(ip, uint16_t(total), 1, self.ip, to.ip);
    auto m = ip.subspan(ipv4_bytes);
    m[0] = std::byte(icmp_type);
    m[1] = std::byte{0}; // code
    store16(m, 2, 0);
    store32(m, 4, 0);    // identifier and sequence
    store16(m, 2, internet_checksum(m));
    return ethernet_bytes + total;
}

size_t build_arp_request(std::span<std::byte> out, const local_endpoint& self, uint32_t target_ip) {
    if (out.size() < ethernet_bytes + arp_bytes) {
        return 0;
    }
    write_arp(out, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 1, self, {}, target_ip);
    return ethernet_bytes + arp_bytes;
}

} // namespace runnel::dataplane::packet
