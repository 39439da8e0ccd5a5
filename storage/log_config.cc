#include "storage/log_config.h"

namespace runnel::storage {

std::string_view to_string(ack_after a) {
    switch (a) {
    case ack_after::memory: return "memory";
    case ack_after::write: return "write";
    case ack_after::fsync: return "fsync";
    }
    return "unknown";
}

std::optional<ack_after> parse_ack_after(std::string_view s) {
    for (auto a : {ack_after::memory, ack_after::write, ack_after::fsync}) {
        if (s == to_string(a)) {
            return a;
        }
    }
    return std::nullopt;
}

std::string_view to_string(timestamp_type t) {
    switch (t) {
    case timestamp_type::create_time: return "CreateTime";
    case timestamp_type::log_append_time: return "LogAppendTime";
    }
    return "unknown";
}

std::optional<timestamp_type> parse_timestamp_type(std::string_view s) {
    for (auto t : {timestamp_type::create_time, timestamp_type::log_append_time}) {
        if (s == to_string(t)) {
            return t;
        }
    }
    return std::nullopt;
}

} // namespace runnel::storage
