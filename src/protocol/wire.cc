#include "protocol/wire.h"

#include <cstring>

namespace runnel::protocol {

namespace {

template <typename U>
U load_be(const std::byte* p) {
    U v = 0;
    for (size_t i = 0; i < sizeof(U); ++i) {
        v = U(v << 8) | U(uint8_t(p[i]));
    }
    return v;
}

template <typename U>
void store_be(std::vector<std::byte>& out, U v) {
    for (size_t i = sizeof(U); i-- > 0;) {
        out.push_back(std::byte(uint8_t(v >> (8 * i))));
    }
}

} // namespace

bool reader::take(size_t n) {
    if (!_ok || remaining() < n) {
        _ok = false;
        return false;
    }
    return true;
}

int8_t reader::int8() {
    if (!take(1)) {
        return 0;
    }
    return int8_t(_b[_at++]);
}

int16_t reader::int16() {
    if (!take(2)) {
        return 0;
    }
    auto v = load_be<uint16_t>(_b.data() + _at);
    _at += 2;
    return int16_t(v);
}

int32_t reader::int32() { return int32_t(uint32()); }

uint32_t reader::uint32() {
    if (!take(4)) {
        return 0;
    }
    auto v = load_be<uint32_t>(_b.data() + _at);
    _at += 4;
    return v;
}

int64_t reader::int64() {
    if (!take(8)) {
        return 0;
    }
    auto v = load_be<uint64_t>(_b.data() + _at);
    _at += 8;
    return int64_t(v);
}

// An unsigned LEB128 value of at most `bits` bits (32: 5 bytes, 64: 10 bytes); longer or wider
// encodings are errors.
uint64_t reader::unsigned_varint(unsigned bits) {
    uint64_t v = 0;
    for (unsigned shift = 0; shift < bits + 7; shift += 7) {
        if (!take(1)) {
            return 0;
        }
        auto b = uint8_t(_b[_at++]);
        if (shift + 7 > bits && (b >> (bits - shift)) != 0) {
            break; // more than `bits` bits
        }
        v |= uint64_t(b & 0x7f) << shift;
        if ((b & 0x80) == 0) {
            return v;
        }
    }
    _ok = false;
    return 0;
}

uint32_t reader::uvarint() { return uint32_t(unsigned_varint(32)); }

int32_t reader::varint() {
    uint32_t z = uvarint();
    return int32_t((z >> 1) ^ (~(z & 1) + 1));
}

int64_t reader::varlong() {
    uint64_t z = unsigned_varint(64);
    return int64_t((z >> 1) ^ (~(z & 1) + 1));
}

bool reader::boolean() { return int8() != 0; }

uuid reader::uuid_value() {
    uuid u{};
    if (take(16)) {
        std::memcpy(u.data(), _b.data() + _at, 16);
        _at += 16;
    }
    return u;
}

// The next n bytes as a view, or nullopt (and the sticky error) when fewer remain.
std::optional<std::span<const std::byte>> reader::view(size_t n) {
    if (!take(n)) {
        return std::nullopt;
    }
    auto v = _b.subspan(_at, n);
    _at += n;
    return v;
}

namespace {
std::optional<std::string_view> as_text(std::optional<std::span<const std::byte>> v) {
    if (!v) {
        return std::nullopt;
    }
    return std::string_view(reinterpret_cast<const char*>(v->data()), v->size());
}
} // namespace

std::optional<std::span<const std::byte>> reader::nullable_bytes() {
    int32_t n = int32();
    if (!_ok || n == -1) {
        return std::nullopt;
    }
    if (n < 0) {
        _ok = false;
        return std::nullopt;
    }
    return view(size_t(n));
}

std::optional<std::span<const std::byte>> reader::compact_nullable_bytes() {
    uint32_t n = uvarint();
    if (!_ok || n == 0) {
        return std::nullopt;
    }
    return view(n - 1);
}

std::optional<std::string_view> reader::nullable_string() {
    int16_t n = int16();
    if (!_ok || n == -1) {
        return std::nullopt;
    }
    if (n < 0) {
        _ok = false;
        return std::nullopt;
    }
    return as_text(view(size_t(n)));
}

std::optional<std::string_view> reader::compact_nullable_string() {
    return as_text(compact_nullable_bytes());
}

std::string_view reader::string() {
    auto s = nullable_string();
    if (!s) {
        _ok = false;
        return {};
    }
    return *s;
}

std::string_view reader::compact_string() {
    auto s = compact_nullable_string();
    if (!s) {
        _ok = false;
        return {};
    }
    return *s;
}

int32_t reader::array_length() {
    int32_t n = int32();
    if (_ok && (n < -1 || (n > 0 && size_t(n) > remaining()))) {
        _ok = false;
    }
    return _ok ? n : 0;
}

int32_t reader::compact_array_length() {
    uint32_t n = uvarint();
    if (_ok && n > 0 && size_t(n - 1) > remaining()) {
        _ok = false;
    }
    return _ok ? int32_t(n) - 1 : 0;
}

void reader::skip_tagged_fields() {
    uint32_t count = uvarint();
    if (_ok && count > remaining()) {
        _ok = false;
    }
    for (uint32_t i = 0; _ok && i < count; ++i) {
        (void)uvarint(); // tag
        uint32_t size = uvarint();
        if (take(size)) {
            _at += size;
        }
    }
}

void writer::int8(int8_t v) { _b.push_back(std::byte(uint8_t(v))); }
void writer::int16(int16_t v) { store_be<uint16_t>(_b, uint16_t(v)); }
void writer::int32(int32_t v) { store_be<uint32_t>(_b, uint32_t(v)); }
void writer::uint32(uint32_t v) { store_be<uint32_t>(_b, v); }
void writer::int64(int64_t v) { store_be<uint64_t>(_b, uint64_t(v)); }

void writer::unsigned_varint(uint64_t v) {
    while (v >= 0x80) {
        _b.push_back(std::byte(uint8_t(v | 0x80)));
        v >>= 7;
    }
    _b.push_back(std::byte(uint8_t(v)));
}

void writer::uvarint(uint32_t v) { unsigned_varint(v); }
void writer::varint(int32_t v) { unsigned_varint((uint32_t(v) << 1) ^ uint32_t(v >> 31)); }
void writer::varlong(int64_t v) { unsigned_varint((uint64_t(v) << 1) ^ uint64_t(v >> 63)); }

void writer::versioned_array_length(bool compact, int32_t n) {
    if (compact) {
        compact_array_length(n);
    } else {
        array_length(n);
    }
}

void writer::versioned_nullable_string(bool compact, std::optional<std::string_view> s) {
    if (compact) {
        compact_nullable_string(s);
    } else {
        nullable_string(s);
    }
}

void writer::uuid_value(const uuid& v) {
    for (uint8_t b : v) {
        _b.push_back(std::byte(b));
    }
}

void writer::nullable_string(std::optional<std::string_view> s) {
    if (!s) {
        int16(-1);
        return;
    }
    int16(int16_t(s->size()));
    raw({reinterpret_cast<const std::byte*>(s->data()), s->size()});
}

void writer::string(std::string_view s) { nullable_string(s); }

void writer::compact_nullable_string(std::optional<std::string_view> s) {
    if (!s) {
        uvarint(0);
        return;
    }
    uvarint(uint32_t(s->size() + 1));
    raw({reinterpret_cast<const std::byte*>(s->data()), s->size()});
}

void writer::compact_string(std::string_view s) { compact_nullable_string(s); }

void writer::nullable_bytes(std::optional<std::span<const std::byte>> b) {
    if (!b) {
        int32(-1);
        return;
    }
    int32(int32_t(b->size()));
    raw(*b);
}

void writer::compact_nullable_bytes(std::optional<std::span<const std::byte>> b) {
    if (!b) {
        uvarint(0);
        return;
    }
    uvarint(uint32_t(b->size() + 1));
    raw(*b);
}

void writer::patch_int32(size_t at, int32_t v) {
    for (size_t i = 0; i < 4; ++i) {
        _b[at + i] = std::byte(uint8_t(uint32_t(v) >> (8 * (3 - i))));
    }
}

request_header read_request_header(reader& r, int header_version) {
    request_header h;
    h.api_key = r.int16();
    h.api_version = r.int16();
    h.correlation_id = r.int32();
    if (header_version >= 1) {
        h.client_id = r.nullable_string();
    }
    if (header_version >= 2) {
        r.skip_tagged_fields();
    }
    return h;
}

} // namespace runnel::protocol
