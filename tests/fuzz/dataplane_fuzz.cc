// libFuzzer target: the dataplane's two parsers on hostile bytes. The first input byte chooses
// the fast-path decoder or the packet classifier. Invariants: no crash or out-of-bounds access
// (ASan/UBSan); a decoded frame re-encodes and decodes again to the same bytes (a fixed point);
// a classified frame's payload lies inside it and a reply is no longer than the frame.
#include "dataplane/fast_path.h"
#include "dataplane/packet.h"

#include <cstdlib>
#include <cstring>
#include <vector>

using namespace runnel::dataplane;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) {
        return 0;
    }
    const auto* first = reinterpret_cast<const std::byte*>(data + 1);
    std::vector<std::byte> in(first, first + (size - 1));
    if (data[0] % 2 == 0) {
        auto f = fast_path::decode(in);
        if (!f) {
            return 0;
        }
        static std::vector<std::byte> once(1 << 17);
        static std::vector<std::byte> twice(1 << 17);
        const size_t n = fast_path::encode(once, f.value());
        if (n == 0 || n != in.size()) { // every valid frame has one encoding of its own size
            std::abort();
        }
        auto again = fast_path::decode(std::span(once).subspan(0, n));
        if (!again || fast_path::encode(twice, again.value()) != n ||
            std::memcmp(once.data(), twice.data(), n) != 0) {
            std::abort();
        }
        return 0;
    }
    const packet::local_endpoint self{.mac = {2, 0, 0, 0, 0, 1}, .ip = 0xc0000201,
                                      .udp_port = 9093};
    packet::counters c;
    const auto r = packet::classify(in, self, c);
    switch (r.action) {
    case packet::verdict::deliver:
        if (r.payload.data() < in.data() ||
            r.payload.data() + r.payload.size() > in.data() + in.size()) {
            std::abort();
        }
        break;
    case packet::verdict::reply:
        if (r.reply_bytes > in.size()) {
            std::abort();
        }
        break;
    case packet::verdict::neighbour:
    case packet::verdict::drop: break;
    }
    return 0;
}
