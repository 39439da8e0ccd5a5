#include "storage/topic_store.h"

#include <charconv>
#include <cstdio>
#include <random>

namespace runnel::storage {

namespace {

constexpr std::string_view topic_magic = "runnel-topic 1";

template <typename T>
std::optional<T> parse_int(std::string_view s) {
    T v{};
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size()) {
        return std::nullopt;
    }
    return v;
}

std::string bad(std::string_view key, std::string_view value, std::string_view allowed) {
    return "topic config " + std::string(key) + " = \"" + std::string(value) +
           "\" is not allowed; use " + std::string(allowed);
}

} // namespace

std::string check_topic_name(std::string_view name) {
    if (name.empty() || name.size() > 249) {
        return "topic name must be 1 to 249 characters";
    }
    if (name == "." || name == "..") {
        return "topic name cannot be \".\" or \"..\"";
    }
    for (char c : name) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok) {
            return "topic name may contain only ASCII letters, digits, '.', '_' and '-'";
        }
    }
    return {};
}

result<void, std::string> apply_topic_config(log_config& c, std::string_view key,
                                             std::string_view value) {
    auto i64 = parse_int<int64_t>(value);
    if (key == "segment.bytes") {
        if (!i64 || *i64 < int64_t(segment_bytes_min) || *i64 > int64_t(segment_bytes_max)) {
            return failure(bad(key, value, "an integer from 65536 to 2147483648"));
        }
        c.segment_bytes = uint64_t(*i64);
    } else if (key == "segment.ms") {
        if (!i64 || *i64 < 1000) {
            return failure(bad(key, value, "an integer >= 1000"));
        }
        c.segment_ms = *i64;
    } else if (key == "retention.bytes") {
        if (!i64 || (*i64 != -1 && *i64 < 0)) {
            return failure(bad(key, value, "-1 (no limit) or an integer >= 0"));
        }
        c.retention_bytes = *i64;
    } else if (key == "retention.ms") {
        if (!i64 || (*i64 != -1 && *i64 < 0)) {
            return failure(bad(key, value, "-1 (no limit) or an integer >= 0"));
        }
        c.retention_ms = *i64;
    } else if (key == "index.interval.bytes") {
        if (!i64 || *i64 < 1 || *i64 > (16 << 20)) {
            return failure(bad(key, value, "an integer from 1 to 16777216"));
        }
        c.index_interval_bytes = uint32_t(*i64);
    } else if (key == "message.timestamp.type") {
        auto t = parse_timestamp_type(value);
        if (!t) {
            return failure(bad(key, value, "CreateTime or LogAppendTime"));
        }
        c.timestamps = *t;
    } else if (key == "runnel.ack.after") {
        auto a = parse_ack_after(value);
        if (!a) {
            return failure(bad(key, value, "memory, write or fsync"));
        }
        c.ack = *a;
    } else if (key == "runnel.preallocate.bytes") {
        if (!i64 || *i64 < 0 || *i64 > int64_t(preallocate_bytes_max) || *i64 % 4096 != 0) {
            return failure(bad(key, value, "a multiple of 4096 from 0 to 1073741824"));
        }
        c.preallocate_bytes = uint64_t(*i64);
    } else if (key == "cleanup.policy") {
        if (value != "delete") {
            return failure(bad(key, value, "delete (compaction of user topics is not built)"));
        }
    } else {
        return failure("unknown topic config " + std::string(key));
    }
    return {};
}

std::vector<std::pair<std::string, std::string>> topic_config_values(const log_config& c) {
    return {
        {"cleanup.policy", "delete"},
        {"index.interval.bytes", std::to_string(c.index_interval_bytes)},
        {"message.timestamp.type", std::string(to_string(c.timestamps))},
        {"retention.bytes", std::to_string(c.retention_bytes)},
        {"retention.ms", std::to_string(c.retention_ms)},
        {"runnel.ack.after", std::string(to_string(c.ack))},
        {"runnel.preallocate.bytes", std::to_string(c.preallocate_bytes)},
        {"segment.bytes", std::to_string(c.segment_bytes)},
        {"segment.ms", std::to_string(c.segment_ms)},
    };
}

result<log_config, std::string> effective_config(const log_config& defaults,
                                                 const topic_metadata& t) {
    log_config c = defaults;
    for (const auto& [k, v] : t.overrides) {
        if (auto r = apply_topic_config(c, k, v); !r) {
            return failure(r.error());
        }
    }
    return c;
}

topic_id random_topic_id() {
    std::random_device rd;
    topic_id id{};
    for (auto& b : id) {
        b = uint8_t(rd());
    }
    id[6] = uint8_t((id[6] & 0x0f) | 0x40); // UUID version 4
    id[8] = uint8_t((id[8] & 0x3f) | 0x80);
    return id;
}

std::string to_hex(const topic_id& id) {
    std::string s;
    char buf[3];
    for (uint8_t b : id) {
        std::snprintf(buf, sizeof(buf), "%02x", b);
        s += buf;
    }
    return s;
}

std::string partition_directory(const std::string& data_dir, const std::string& topic,
                                int32_t partition) {
    return data_dir + "/" + topic + "-" + std::to_string(partition);
}

std::vector<std::byte> encode_topic(const topic_metadata& t) {
    std::string s(topic_magic);
    s += "\nname " + t.name + "\nid " + to_hex(t.id) + "\npartitions " +
         std::to_string(t.partition_count) + "\n";
    for (const auto& [k, v] : t.overrides) {
        s += "config " + k + " " + v + "\n";
    }
    s += "end\n"; // a torn file has no end line
    auto* p = reinterpret_cast<const std::byte*>(s.data());
    return {p, p + s.size()};
}

std::optional<topic_metadata> decode_topic(std::span<const std::byte> file) {
    std::string_view text(reinterpret_cast<const char*>(file.data()), file.size());
    topic_metadata t;
    bool first = true;
    bool ended = false;
    while (!text.empty()) {
        size_t nl = text.find('\n');
        if (nl == std::string_view::npos || ended) {
            return std::nullopt;
        }
        std::string_view line = text.substr(0, nl);
        text.remove_prefix(nl + 1);
        if (first) {
            if (line != topic_magic) {
                return std::nullopt;
            }
            first = false;
            continue;
        }
        size_t sp = line.find(' ');
        std::string_view key = line.substr(0, sp);
        std::string_view rest = sp == std::string_view::npos ? "" : line.substr(sp + 1);
        if (key == "name") {
            t.name = rest;
        } else if (key == "id" && rest.size() == 32) {
            for (size_t i = 0; i < 16; ++i) {
                uint8_t v = 0;
                auto [p, ec] = std::from_chars(rest.data() + i * 2, rest.data() + i * 2 + 2, v, 16);
                if (ec != std::errc() || p != rest.data() + i * 2 + 2) {
                    return std::nullopt;
                }
                t.id[i] = v;
            }
        } else if (key == "partitions") {
            auto n = parse_int<int32_t>(rest);
            if (!n || *n < 1) {
                return std::nullopt;
            }
            t.partition_count = *n;
        } else if (key == "config") {
            size_t sp2 = rest.find(' ');
            if (sp2 == std::string_view::npos) {
                return std::nullopt;
            }
            t.overrides.emplace(rest.substr(0, sp2), rest.substr(sp2 + 1));
        } else if (key == "end") {
            ended = true;
        } else {
            return std::nullopt;
        }
    }
    if (!ended || !check_topic_name(t.name).empty()) {
        return std::nullopt;
    }
    return t;
}

local_metadata_store::local_metadata_store(io& io, std::string data_dir)
  : _io(io), _dir(std::move(data_dir) + "/topics") {}

result<std::vector<topic_metadata>, errc> local_metadata_store::load_topics() {
    if (auto r = _io.make_directory(_dir); !r) {
        return failure(r.error());
    }
    auto names = _io.list_directory(_dir);
    if (!names) {
        return failure(names.error());
    }
    std::vector<topic_metadata> topics;
    for (const auto& n : names.value()) {
        if (!n.ends_with(".topic")) {
            continue;
        }
        auto bytes = _io.read_file(_dir + "/" + n);
        if (!bytes) {
            return failure(bytes.error());
        }
        auto t = decode_topic(bytes.value());
        if (!t || t->name + ".topic" != n) {
            std::fprintf(stderr, "storage: %s/%s: unreadable topic metadata\n", _dir.c_str(),
                         n.c_str());
            return failure(errc::corrupt);
        }
        topics.push_back(std::move(*t));
    }
    return topics;
}

result<void, errc> local_metadata_store::put_topic(const topic_metadata& t) {
    RUNNEL_ASSERT(check_topic_name(t.name).empty());
    if (auto r = _io.make_directory(_dir); !r) {
        return r;
    }
    return _io.write_file_atomic(_dir + "/" + t.name + ".topic", encode_topic(t));
}

result<void, errc> local_metadata_store::remove_topic(const std::string& name) {
    return _io.remove(_dir + "/" + name + ".topic");
}

} // namespace runnel::storage
