#include "storage/detail/segment_files.h"

#include "storage/crc32c.h"
#include "storage/detail/endian.h"

#include <charconv>
#include <cstdio>
#include <cstring>
#include <string_view>

namespace runnel::storage::detail {

namespace {

constexpr uint32_t offset_index_magic = 0x58494e52; // "RNIX"
constexpr uint32_t time_index_magic = 0x49544e52;   // "RNTI"
constexpr uint16_t index_version = 1;
constexpr size_t index_header_bytes = 48;
constexpr size_t offset_entry_bytes = 8;
constexpr size_t time_entry_bytes = 12;

// Header: magic u32, version u16, entry size u16, entry count u32, reserved u32, segment bytes
// u64, next offset i64, max timestamp i64, max timestamp offset i64; then entries; then CRC32C
// u32 of everything before it. Little-endian.
std::vector<std::byte> encode_header(uint32_t magic, uint16_t entry_bytes, size_t count,
                                     const segment_summary& s) {
    std::vector<std::byte> out(index_header_bytes + count * entry_bytes + 4);
    std::byte* p = out.data();
    store_le<uint32_t>(p, magic);
    store_le<uint16_t>(p + 4, index_version);
    store_le<uint16_t>(p + 6, entry_bytes);
    store_le<uint32_t>(p + 8, uint32_t(count));
    store_le<uint32_t>(p + 12, 0);
    store_le<uint64_t>(p + 16, s.size_bytes);
    store_le<int64_t>(p + 24, s.next_offset());
    store_le<int64_t>(p + 32, s.max_timestamp());
    store_le<int64_t>(p + 40, s.max_timestamp_offset());
    return out;
}

void seal_crc(std::vector<std::byte>& out) {
    auto body = std::span<const std::byte>(out).first(out.size() - 4);
    store_le<uint32_t>(out.data() + out.size() - 4, crc32c(body));
}

// Checks framing and CRC; returns the entry count and the summary.
std::optional<std::pair<segment_summary, size_t>>
decode_header(std::span<const std::byte> f, uint32_t magic, uint16_t entry_bytes) {
    if (f.size() < index_header_bytes + 4) {
        return std::nullopt;
    }
    const std::byte* p = f.data();
    size_t count = load_le<uint32_t>(p + 8);
    if (load_le<uint32_t>(p) != magic || load_le<uint16_t>(p + 4) != index_version ||
        load_le<uint16_t>(p + 6) != entry_bytes ||
        f.size() != index_header_bytes + count * entry_bytes + 4) {
        return std::nullopt;
    }
    if (crc32c(f.first(f.size() - 4)) != load_le<uint32_t>(p + f.size() - 4)) {
        return std::nullopt;
    }
    segment_summary s;
    s.size_bytes = load_le<uint64_t>(p + 16);
    s.next_offset = model::offset(load_le<int64_t>(p + 24));
    s.max_timestamp = model::timestamp_ms(load_le<int64_t>(p + 32));
    s.max_timestamp_offset = model::offset(load_le<int64_t>(p + 40));
    return std::pair{s, count};
}

std::span<const std::byte> as_bytes(const std::string& s) {
    return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

std::vector<std::byte> to_vector(const std::string& s) {
    auto b = as_bytes(s);
    return {b.begin(), b.end()};
}

// Splits text into lines of whitespace-separated int64 fields.
std::optional<std::vector<std::vector<int64_t>>> parse_lines(std::span<const std::byte> f) {
    std::string_view text(reinterpret_cast<const char*>(f.data()), f.size());
    std::vector<std::vector<int64_t>> lines;
    while (!text.empty()) {
        size_t nl = text.find('\n');
        if (nl == std::string_view::npos) {
            return std::nullopt; // every line ends with a newline; a torn file does not
        }
        std::string_view line = text.substr(0, nl);
        text.remove_prefix(nl + 1);
        std::vector<int64_t> fields;
        while (!line.empty()) {
            size_t sp = line.find(' ');
            std::string_view field = line.substr(0, sp);
            int64_t v = 0;
            auto [ptr, ec] = std::from_chars(field.data(), field.data() + field.size(), v);
            if (ec != std::errc() || ptr != field.data() + field.size()) {
                return std::nullopt;
            }
            fields.push_back(v);
            line = sp == std::string_view::npos ? std::string_view() : line.substr(sp + 1);
        }
        lines.push_back(std::move(fields));
    }
    return lines;
}

constexpr std::string_view epochs_magic = "runnel-epochs 1\n";
constexpr std::string_view log_start_magic = "runnel-log-start 1\n";

std::optional<std::span<const std::byte>> strip_magic(std::span<const std::byte> f,
                                                      std::string_view magic) {
    if (f.size() < magic.size() || std::memcmp(f.data(), magic.data(), magic.size()) != 0) {
        return std::nullopt;
    }
    return f.subspan(magic.size());
}

} // namespace

std::string segment_name(model::offset base) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%020lld", static_cast<long long>(base()));
    return buf;
}

std::optional<model::offset> parse_segment_name(const std::string& name) {
    constexpr std::string_view suffix = ".log";
    if (name.size() != 20 + suffix.size() || !name.ends_with(suffix)) {
        return std::nullopt;
    }
    int64_t v = 0;
    auto [ptr, ec] = std::from_chars(name.data(), name.data() + 20, v);
    if (ec != std::errc() || ptr != name.data() + 20 || v < 0) {
        return std::nullopt;
    }
    return model::offset(v);
}

std::vector<std::byte> encode_offset_index(const segment_summary& s,
                                           std::span<const index_entry> entries) {
    auto out = encode_header(offset_index_magic, offset_entry_bytes, entries.size(), s);
    std::byte* p = out.data() + index_header_bytes;
    for (const auto& e : entries) {
        store_le<uint32_t>(p, e.relative_offset);
        store_le<uint32_t>(p + 4, e.position);
        p += offset_entry_bytes;
    }
    seal_crc(out);
    return out;
}

std::vector<std::byte> encode_time_index(const segment_summary& s,
                                         std::span<const time_entry> entries) {
    auto out = encode_header(time_index_magic, time_entry_bytes, entries.size(), s);
    std::byte* p = out.data() + index_header_bytes;
    for (const auto& e : entries) {
        store_le<int64_t>(p, e.timestamp());
        store_le<uint32_t>(p + 8, e.relative_offset);
        p += time_entry_bytes;
    }
    seal_crc(out);
    return out;
}

std::optional<std::pair<segment_summary, std::vector<index_entry>>>
decode_offset_index(std::span<const std::byte> f) {
    auto h = decode_header(f, offset_index_magic, offset_entry_bytes);
    if (!h) {
        return std::nullopt;
    }
    std::vector<index_entry> entries(h->second);
    const std::byte* p = f.data() + index_header_bytes;
    for (auto& e : entries) {
        e = {load_le<uint32_t>(p), load_le<uint32_t>(p + 4)};
        p += offset_entry_bytes;
    }
    return std::pair{h->first, std::move(entries)};
}

std::optional<std::pair<segment_summary, std::vector<time_entry>>>
decode_time_index(std::span<const std::byte> f) {
    auto h = decode_header(f, time_index_magic, time_entry_bytes);
    if (!h) {
        return std::nullopt;
    }
    std::vector<time_entry> entries(h->second);
    const std::byte* p = f.data() + index_header_bytes;
    for (auto& e : entries) {
        e = {model::timestamp_ms(load_le<int64_t>(p)), load_le<uint32_t>(p + 8)};
        p += time_entry_bytes;
    }
    return std::pair{h->first, std::move(entries)};
}

std::vector<std::byte> encode_epochs(const epoch_map& epochs) {
    std::string s(epochs_magic);
    for (const auto& [e, o] : epochs) {
        s += std::to_string(e()) + " " + std::to_string(o()) + "\n";
    }
    return to_vector(s);
}

std::optional<epoch_map> decode_epochs(std::span<const std::byte> f) {
    auto body = strip_magic(f, epochs_magic);
    auto lines = body ? parse_lines(*body) : std::nullopt;
    if (!lines) {
        return std::nullopt;
    }
    epoch_map m;
    for (const auto& l : *lines) {
        if (l.size() != 2 || l[0] < 0 || l[0] > INT32_MAX || l[1] < 0) {
            return std::nullopt;
        }
        if (!m.empty() && (l[0] <= m.back().first() || l[1] < m.back().second())) {
            return std::nullopt;
        }
        m.emplace_back(model::epoch(int32_t(l[0])), model::offset(l[1]));
    }
    return m;
}

std::vector<std::byte> encode_log_start(model::offset o) {
    return to_vector(std::string(log_start_magic) + std::to_string(o()) + "\n");
}

std::optional<model::offset> decode_log_start(std::span<const std::byte> f) {
    auto body = strip_magic(f, log_start_magic);
    auto lines = body ? parse_lines(*body) : std::nullopt;
    if (!lines || lines->size() != 1 || (*lines)[0].size() != 1 || (*lines)[0][0] < 0) {
        return std::nullopt;
    }
    return model::offset((*lines)[0][0]);
}

} // namespace runnel::storage::detail
