// Kafka wire primitives (protocol.html, "Protocol Primitive Types"): big-endian integers, zig-zag
// varints, unsigned varints, classic and compact (flexible-version) strings, bytes and arrays,
// UUIDs and tagged-field sections; plus the request header. The codec of each API builds on these.
//
// reader never throws and never reads past its span: the first malformed or short field sets a
// sticky error (ok() turns false) and every later read returns a zero value, so a decoder checks
// ok() once at the end. writer appends to a growable buffer (control of allocation comes with the
// connection buffers of the transport). Any thread; no shared state.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace runnel::protocol {

using uuid = std::array<uint8_t, 16>;

class reader {
public:
    explicit reader(std::span<const std::byte> bytes) : _b(bytes) {}

    bool ok() const { return _ok; }
    size_t remaining() const { return _b.size() - _at; }
    size_t position() const { return _at; }

    int8_t int8();
    int16_t int16();
    int32_t int32();
    int64_t int64();
    uint32_t uint32();
    int32_t varint();     // zig-zag, at most 5 bytes
    int64_t varlong();    // zig-zag, at most 10 bytes
    uint32_t uvarint();   // unsigned, at most 5 bytes
    bool boolean();
    uuid uuid_value();
    // Strings and bytes are views into the request; they live as long as its buffer.
    std::string_view string();                          // int16 length; -1 is an error here
    std::optional<std::string_view> nullable_string();  // int16 length, -1 = null
    std::string_view compact_string();                  // uvarint length + 1; 0 is an error here
    std::optional<std::string_view> compact_nullable_string();
    std::optional<std::span<const std::byte>> nullable_bytes();         // int32 length
    std::optional<std::span<const std::byte>> compact_nullable_bytes(); // uvarint length + 1
    // Array lengths, checked against what is left (each element takes at least a byte), so a
    // hostile length cannot make a decoder reserve gigabytes. Null arrays read as -1.
    int32_t array_length();
    int32_t compact_array_length();
    // Skips a tagged-field section (uvarint count, then tag, size, bytes), keeping the tags a
    // caller does not know nothing more than skipped bytes.
    void skip_tagged_fields();
    void fail() { _ok = false; }

private:
    bool take(size_t n);
    uint64_t unsigned_varint(unsigned bits);
    std::optional<std::span<const std::byte>> view(size_t n);
    std::span<const std::byte> _b;
    size_t _at = 0;
    bool _ok = true;
};

class writer {
public:
    std::vector<std::byte>& bytes() { return _b; }
    size_t size() const { return _b.size(); }

    void int8(int8_t v);
    void int16(int16_t v);
    void int32(int32_t v);
    void int64(int64_t v);
    void uint32(uint32_t v);
    void varint(int32_t v);
    void varlong(int64_t v);
    void uvarint(uint32_t v);
    void boolean(bool v) { int8(v ? 1 : 0); }
    void uuid_value(const uuid& v);
    void string(std::string_view s);
    void nullable_string(std::optional<std::string_view> s);
    void compact_string(std::string_view s);
    void compact_nullable_string(std::optional<std::string_view> s);
    void nullable_bytes(std::optional<std::span<const std::byte>> b);
    void compact_nullable_bytes(std::optional<std::span<const std::byte>> b);
    void array_length(int32_t n) { int32(n); }
    void compact_array_length(int32_t n) { uvarint(uint32_t(n + 1)); } // -1: null
    // The classic or the compact (flexible-version) form, as the API version says.
    void versioned_array_length(bool compact, int32_t n);
    void versioned_nullable_string(bool compact, std::optional<std::string_view> s);
    void empty_tagged_fields() { uvarint(0); }
    void raw(std::span<const std::byte> b) { _b.insert(_b.end(), b.begin(), b.end()); }
    // Overwrites 4 bytes at `at` (the size prefix of a frame, once its length is known).
    void patch_int32(size_t at, int32_t v);

private:
    void unsigned_varint(uint64_t v);
    std::vector<std::byte> _b;
};

// Request header v0-v2 (v2 for flexible versions of an API).
struct request_header {
    int16_t api_key = 0;
    int16_t api_version = 0;
    int32_t correlation_id = 0;
    std::optional<std::string_view> client_id; // v1+
};

// Reads the header from the start of a request (after the 4-byte size prefix). The header version
// depends on the API and version, which the first 4 bytes name: `header_version(api_key,
// api_version)` is supplied by the API table.
request_header read_request_header(reader& r, int header_version);

} // namespace runnel::protocol
