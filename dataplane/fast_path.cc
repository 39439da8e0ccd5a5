#include "dataplane/fast_path.h"

#include <cstring>

namespace runnel::dataplane::fast_path {

namespace {

// Little-endian cursor over a body. One field walk per message type serves both directions
// (as the Kafka codec does): `in` reads, `out` writes; both refuse to run past their span.
struct in {
    std::span<const std::byte> b;
    size_t at = 0;
    bool ok = true;

    template <typename T>
    void uint(T& v) {
        if (!ok || b.size() - at < sizeof(T)) {
            ok = false;
            return;
        }
        using U = std::make_unsigned_t<T>;
        U x = 0;
        for (size_t i = 0; i < sizeof(T); ++i) {
            x = U(x | U(U(uint8_t(b[at + i])) << (8 * i)));
        }
        v = T(x);
        at += sizeof(T);
    }
    void code(error_code& e) {
        uint16_t v = 0;
        uint(v);
        e = error_code(v);
    }
    void skip(size_t n) {
        uint8_t ignored = 0;
        for (size_t i = 0; i < n; ++i) {
            uint(ignored);
        }
    }
    void rest(std::span<const std::byte>& v) {
        v = ok ? b.subspan(at) : std::span<const std::byte>();
        at = b.size();
    }
    void name(std::string_view& v) {
        uint16_t n = 0;
        uint(n);
        if (!ok || b.size() - at < n) {
            ok = false;
            return;
        }
        v = {reinterpret_cast<const char*>(b.data() + at), n};
        at += n;
    }
};

struct out {
    std::span<std::byte> b;
    size_t at = 0;
    bool ok = true;

    template <typename T>
    void uint(T v) {
        if (!ok || b.size() - at < sizeof(T)) {
            ok = false;
            return;
        }
        using U = std::make_unsigned_t<T>;
        for (size_t i = 0; i < sizeof(T); ++i) {
            b[at + i] = std::byte(uint8_t(U(v) >> (8 * i)));
        }
        at += sizeof(T);
    }
    void code(error_code e) { uint(uint16_t(e)); }
    void skip(size_t n) {
        for (size_t i = 0; i < n; ++i) {
            uint(uint8_t(0));
        }
    }
    void bytes(std::span<const std::byte> v) {
        if (!ok || b.size() - at < v.size()) {
            ok = false;
            return;
        }
        std::memcpy(b.data() + at, v.data(), v.size());
        at += v.size();
    }
    void rest(std::span<const std::byte> v) { bytes(v); }
    void name(std::string_view v) {
        if (v.size() > UINT16_MAX) {
            ok = false;
            return;
        }
        uint(uint16_t(v.size()));
        bytes(std::as_bytes(std::span(v.data(), v.size())));
    }
};

// The layout of each body, in fast_path.md's order. `M` is const when writing.
template <typename IO, typename M>
void fields(IO& io, M& m) {
    using T = std::remove_const_t<M>;
    if constexpr (std::is_same_v<T, resolve>) {
        io.name(m.name);
    } else if constexpr (std::is_same_v<T, resolve_answer>) {
        io.code(m.error);
        io.skip(2);
        io.uint(m.topic);
        io.uint(m.partition_count);
    } else if constexpr (std::is_same_v<T, produce>) {
        io.uint(m.topic);
        io.uint(m.partition);
        io.rest(m.batch);
    } else if constexpr (std::is_same_v<T, ack>) {
        io.code(m.error);
        io.skip(6);
        io.uint(m.base_offset);
        io.uint(m.last_offset);
    } else if constexpr (std::is_same_v<T, subscribe>) {
        io.uint(m.topic);
        io.uint(m.partition);
        io.uint(m.start_offset);
        io.uint(m.window_bytes);
        io.uint(m.lease_ms);
        io.uint(m.visibility);
        io.skip(3);
    } else if constexpr (std::is_same_v<T, subscribe_answer>) {
        io.code(m.error);
        io.skip(2);
        io.uint(m.subscription);
        io.uint(m.start_offset);
    } else if constexpr (std::is_same_v<T, push>) {
        io.uint(m.subscription);
        io.skip(4);
        io.rest(m.batch);
    } else if constexpr (std::is_same_v<T, credit>) {
        io.uint(m.subscription);
        io.uint(m.window_bytes);
        io.uint(m.next_offset);
    } else if constexpr (std::is_same_v<T, range>) {
        io.uint(m.subscription);
        io.skip(4);
        io.uint(m.from_offset);
        io.uint(m.to_offset);
    } else if constexpr (std::is_same_v<T, heartbeat> || std::is_same_v<T, unsubscribe>) {
        io.uint(m.subscription);
    } else if constexpr (std::is_same_v<T, error>) {
        io.code(m.error);
        io.uint(m.version_min);
        io.uint(m.version_max);
    } else if constexpr (std::is_same_v<T, init_producer>) {
        (void)io; // no body
    } else {
        static_assert(std::is_same_v<T, init_producer_answer>);
        io.code(m.error);
        io.skip(2);
        io.uint(m.producer_epoch);
        io.skip(2);
        io.uint(m.producer_id);
    }
}

// The variant alternative for a wire type (types are numbered from 1 in variant order).
constexpr size_t type_count = std::variant_size_v<message>;
static_assert(type_count == size_t(type::init_producer_answer));

template <size_t I = 0>
bool decode_body(uint8_t t, in& body, message& m) {
    if constexpr (I == type_count) {
        return false;
    } else {
        if (t == I + 1) {
            fields(body, m.template emplace<I>());
            return true;
        }
        return decode_body<I + 1>(t, body, m);
    }
}

} // namespace

std::string_view to_string(decode_errc e) {
    switch (e) {
    case decode_errc::too_short: return "shorter than a header";
    case decode_errc::bad_magic: return "bad magic";
    case decode_errc::unsupported_version: return "unsupported version";
    case decode_errc::bad_flags: return "flags set";
    case decode_errc::bad_length: return "body length disagrees with the datagram";
    case decode_errc::unknown_type: return "unknown type";
    case decode_errc::bad_body: return "body does not fit its type";
    }
    return "unknown";
}

result<frame, decode_failure> decode(std::span<const std::byte> datagram) {
    in h{datagram};
    uint16_t m = 0;
    uint8_t v = 0;
    uint8_t t = 0;
    uint16_t flags = 0;
    uint16_t length = 0;
    frame f;
    h.uint(m);
    h.uint(v);
    h.uint(t);
    h.uint(flags);
    h.uint(length);
    h.uint(f.request_id);
    if (!h.ok) {
        return failure(decode_failure{decode_errc::too_short});
    }
    if (m != magic) {
        return failure(decode_failure{decode_errc::bad_magic});
    }
    auto fail = [&](decode_errc e) { return failure(decode_failure{e, f.request_id}); };
    if (v != version) {
        return fail(decode_errc::unsupported_version);
    }
    if (flags != 0) {
        return fail(decode_errc::bad_flags);
    }
    if (datagram.size() - header_bytes != length) {
        return fail(decode_errc::bad_length);
    }
    in body{datagram.subspan(header_bytes)};
    if (!decode_body(t, body, f.body)) {
        return fail(decode_errc::unknown_type);
    }
    if (!body.ok || body.at != body.b.size()) {
        return fail(decode_errc::bad_body);
    }
    return f;
}

size_t encode(std::span<std::byte> buffer, const frame& f) {
    out o{buffer};
    o.uint(magic);
    o.uint(version);
    o.uint(uint8_t(f.body.index() + 1));
    o.uint(uint16_t(0));
    o.uint(uint16_t(0)); // body length, patched below
    o.uint(f.request_id);
    std::visit([&](const auto& m) { fields(o, m); }, f.body);
    const size_t body = o.at - header_bytes;
    if (!o.ok || body > UINT16_MAX) {
        return 0;
    }
    out length{buffer.subspan(6, 2)};
    length.uint(uint16_t(body));
    return o.at;
}

} // namespace runnel::dataplane::fast_path
