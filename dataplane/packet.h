// The packet layer of the dataplane: Ethernet II, ARP, IPv4, ICMP echo and UDP, on a frame's
// bytes (an mbuf's data, or any buffer in tests). classify() checks a received frame and says
// what to do with it: deliver a UDP payload for the fast-path port, send back the reply it built
// in place (ARP reply, ICMP echo reply), or drop it for a counted reason. build_udp() writes the
// headers of an outgoing datagram with its checksums. Pure functions: any thread; the counters
// belong to the caller (one set per port queue, read by the ops tools later).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace runnel::dataplane::packet {

using mac_address = std::array<uint8_t, 6>;

inline constexpr size_t ethernet_bytes = 14;
inline constexpr size_t ipv4_bytes = 20; // without options, which are dropped
inline constexpr size_t udp_bytes = 8;
inline constexpr size_t udp_headers_bytes = ethernet_bytes + ipv4_bytes + udp_bytes;
inline constexpr uint16_t ethertype_ipv4 = 0x0800;
inline constexpr uint16_t ethertype_arp = 0x0806;

// This port's identity on the network.
struct local_endpoint {
    mac_address mac{};
    uint32_t ip = 0; // host byte order
    uint16_t udp_port = 0;
};

struct remote_endpoint {
    mac_address mac{};
    uint32_t ip = 0;
    uint16_t udp_port = 0;
};

enum class drop_reason : uint8_t {
    too_short,
    not_our_mac,
    bad_source, // a group (multicast/broadcast) MAC, or an IPv4 source no host has: never answered
    unknown_ethertype,
    arp_malformed,
    arp_not_for_us,
    ip_bad_version,
    ip_options,
    ip_bad_checksum,
    ip_bad_length,
    ip_fragment,
    ip_not_for_us,
    ip_unknown_protocol,
    icmp_bad_checksum,
    icmp_not_echo_request,
    udp_bad_length,
    udp_bad_checksum,
    udp_wrong_port,
};
inline constexpr size_t drop_reason_count = size_t(drop_reason::udp_wrong_port) + 1;
std::string_view to_string(drop_reason r);

struct counters {
    std::array<uint64_t, drop_reason_count> dropped{};
    uint64_t arp_replies = 0;  // our answers to ARP requests
    uint64_t arp_answers = 0;  // answers to our ARP requests (neighbours learnt)
    uint64_t icmp_replies = 0;
    uint64_t udp_delivered = 0;
};

// neighbour: an ARP reply to this port; `from` holds the sender's MAC and IPv4 address.
enum class verdict : uint8_t { deliver, reply, neighbour, drop };

struct classification {
    verdict action = verdict::drop;
    drop_reason reason = drop_reason::too_short; // when dropped
    size_t reply_bytes = 0;                      // when replying: the frame's new length
    std::span<std::byte> payload;                // when delivering: the UDP payload
    remote_endpoint from;                        // when delivering: whom to answer
};

// Checks `frame` (received on `self`) and counts the outcome in `c`. A reply is written over the
// frame itself (swap addresses, fix checksums), so the caller transmits the same buffer.
classification classify(std::span<std::byte> frame, const local_endpoint& self, counters& c);

// Writes Ethernet, IPv4 and UDP headers for a datagram of `payload_bytes` that already sits at
// out[udp_headers_bytes...], and its checksums. Returns the frame length, or 0 when `out` is too
// small or the datagram too large for IPv4.
size_t build_udp(std::span<std::byte> out, const local_endpoint& self, const remote_endpoint& to,
                 size_t payload_bytes);

// Writes a broadcast ARP request asking for `target_ip`'s MAC; its length (42), or 0 when `out`
// is too small.
size_t build_arp_request(std::span<std::byte> out, const local_endpoint& self, uint32_t target_ip);

// Writes an ICMP echo request (type 8; 0 makes it a reply) with `payload_bytes` of data that
// already sit at out[udp_headers_bytes...] (an echo header is as long as a UDP one), and its
// checksums. Returns the frame length, or 0 when it does not fit. For probes and tests.
size_t build_echo(std::span<std::byte> out, const local_endpoint& self, const remote_endpoint& to,
                  size_t payload_bytes, uint8_t icmp_type = 8);

// The Internet checksum (RFC 1071) of `bytes`, folded from the 32-bit partial sum `sum`.
uint16_t internet_checksum(std::span<const std::byte> bytes, uint32_t sum = 0);

} // namespace runnel::dataplane::packet
