#include "protocol/metadata.h"

namespace runnel::protocol {

std::optional<metadata_request> decode_metadata_request(reader& r, int16_t version) {
    const bool flexible = version >= metadata_first_flexible;
    metadata_request req;
    int32_t n = flexible ? r.compact_array_length() : r.array_length();
    if (n >= 0 && !(version == 0 && n == 0)) { // v0: an empty list means every topic
        req.topics.emplace();
        for (int32_t i = 0; i < n && r.ok(); ++i) {
            if (version >= 10) {
                (void)r.uuid_value();
            }
            auto name = flexible ? r.compact_nullable_string() : r.nullable_string();
            if (!name) {
                return std::nullopt;
            }
            req.topics->push_back(*name);
            if (flexible) {
                r.skip_tagged_fields();
            }
        }
    }
    if (version >= 4) {
        req.allow_auto_topic_creation = r.boolean();
    }
    if (version >= 8 && version <= 10) {
        (void)r.boolean(); // include cluster authorized operations
    }
    if (version >= 8) {
        (void)r.boolean(); // include topic authorized operations
    }
    if (flexible) {
        r.skip_tagged_fields();
    }
    if (!r.ok() || r.remaining() != 0) {
        return std::nullopt;
    }
    return req;
}

namespace {

void int32_array(writer& w, const std::vector<int32_t>& v, bool flexible) {
    w.versioned_array_length(flexible, int32_t(v.size()));
    for (int32_t x : v) {
        w.int32(x);
    }
}

} // namespace

void encode_metadata_response(writer& w, int16_t version, const metadata_response& m) {
    const bool flexible = version >= metadata_first_flexible;
    auto array = [&](size_t n) { w.versioned_array_length(flexible, int32_t(n)); };
    auto text = [&](std::optional<std::string_view> s) { w.versioned_nullable_string(flexible, s); };
    if (version >= 3) {
        w.int32(m.throttle_time_ms);
    }
    array(m.brokers.size());
    for (const auto& b : m.brokers) {
        w.int32(b.node_id);
        text(b.host);
        w.int32(b.port);
        if (version >= 1) {
            text(std::nullopt); // rack
        }
        if (flexible) {
            w.empty_tagged_fields();
        }
    }
    if (version >= 2) {
        text(m.cluster_id);
    }
    if (version >= 1) {
        w.int32(m.controller_id);
    }
    array(m.topics.size());
    for (const auto& t : m.topics) {
        w.int16(t.error_code);
        text(t.name);
        if (version >= 10) {
            w.uuid_value(t.id);
        }
        if (version >= 1) {
            w.boolean(t.internal);
        }
        array(t.partitions.size());
        for (const auto& p : t.partitions) {
            w.int16(p.error_code);
            w.int32(p.index);
            w.int32(p.leader);
            if (version >= 7) {
                w.int32(p.leader_epoch);
            }
            int32_array(w, p.replicas, flexible);
            int32_array(w, p.isr, flexible);
            if (version >= 5) {
                int32_array(w, {}, flexible); // offline replicas
            }
            if (flexible) {
                w.empty_tagged_fields();
            }
        }
        if (version >= 8) {
            w.int32(INT32_MIN); // topic authorized operations: not computed
        }
        if (flexible) {
            w.empty_tagged_fields();
        }
    }
    if (version >= 8 && version <= 10) {
        w.int32(INT32_MIN); // cluster authorized operations
    }
    if (flexible) {
        w.empty_tagged_fields();
    }
}

} // namespace runnel::protocol
