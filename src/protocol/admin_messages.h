// The admin APIs (topic, partition, config and record administration, cluster description and
// leader-epoch lookup) and InitProducerId, each defined once for both directions in the codec.h
// style: a request and a response struct whose `fields` walk the spec's fields in wire order,
// gated by version. The broker decodes the requests and encodes the responses; the project's own
// test clients do the reverse, so every message needs both. Every struct has a defaulted ==, so a
// decoded message compares with the one that was encoded.
//
// Fields the spec marks as tagged are skipped on decode and never written on encode; the one in
// these APIs is named where it would sit.
//
// Lifecycle: the structs are plain values. Decoded strings and bytes are views into the buffer
// they were decoded from and live only as long as it does. Any thread; no shared state.
#pragma once

#include "base/assert.h"
#include "protocol/codec.h"
#include "protocol/wire.h"

#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>
#include <type_traits>
#include <vector>

namespace runnel::protocol {

namespace admin_detail {
// A string the spec makes nullable only from `nullable_from` on. Before that version null is not
// representable on the wire, so decoding reads a plain string, and encoding a null is a caller's
// bug rather than something to put on the wire.
template <typename IO, typename S>
void string_nullable_from(IO& io, S& s, int16_t version, int16_t nullable_from) {
    if (version >= nullable_from) {
        io.nullable_string(s);
        return;
    }
    if constexpr (std::is_const_v<S>) {
        RUNNEL_ASSERT(s.has_value());
        io.string(*s);
    } else {
        std::string_view v;
        io.string(v);
        s = v;
    }
}
} // namespace admin_detail

// ---- CreateTopics (key 19) ----

struct create_topics_request_assignment {
    int32_t partition_index = 0;
    std::vector<int32_t> broker_ids;
    bool operator==(const create_topics_request_assignment&) const = default;
};

struct create_topics_request_config {
    std::string_view name;
    std::optional<std::string_view> value;
    bool operator==(const create_topics_request_config&) const = default;
};

struct create_topics_request_topic {
    std::string_view name;
    int32_t num_partitions = -1;     // -1: the assignments or the broker default decide
    int16_t replication_factor = -1; // -1: the assignments or the broker default decide
    std::vector<create_topics_request_assignment> assignments;
    std::vector<create_topics_request_config> configs;
    bool operator==(const create_topics_request_topic&) const = default;
};

struct create_topics_request {
    static constexpr int16_t api_key = 19;
    static constexpr int16_t min_version = 0;
    static constexpr int16_t max_version = 7;
    static constexpr int16_t first_flexible = 5;

    std::vector<create_topics_request_topic> topics;
    int32_t timeout_ms = 60000;
    bool validate_only = false; // v1+

    template <typename IO, typename M>
    static void fields(IO& io, M& m, int16_t version) {
        io.array(m.topics, [&](auto& t) {
            io.string(t.name);
            io.int32(t.num_partitions);
            io.int16(t.replication_factor);
            io.array(t.assignments, [&](auto& a) {
                io.int32(a.partition_index);
                io.array(a.broker_ids, [&](auto& id) { io.int32(id); });
                io.tagged_fields();
            });
            io.array(t.configs, [&](auto& c) {
                io.string(c.name);
                io.nullable_string(c.value);
                io.tagged_fields();
            });
            io.tagged_fields();
        });
        io.int32(m.timeout_ms);
        if (version >= 1) {
            io.boolean(m.validate_only);
        }
        io.tagged_fields();
    }

    bool operator==(const create_topics_request&) const = default;
};

struct create_topics_response_config {
    std::string_view name;
    std::optional<std::string_view> value;
    bool read_only = false;
    int8_t config_source = -1;
    bool is_sensitive = false;
    bool operator==(const create_topics_response_config&) const = default;
};

// The tagged TopicConfigErrorCode (tag 0, v5+) is skipped on decode and never written: the broker
// returns the configs themselves instead of an error for them.
struct create_topics_response_topic {
    std::string_view name;
    uuid topic_id{}; // v7+
    int16_t error_code = 0;
    std::optional<std::string_view> error_message; // v1+
    int32_t num_partitions = -1;                   // v5+
    int16_t replication_factor = -1;               // v5+
    std::optional<std::vector<create_topics_response_config>> configs; // v5+; null: not returned
    bool operator==(const create_topics_response_topic&) const = default;
};

struct create_topics_response {
    static constexpr int16_t api_key = 19;
    static constexpr int16_t min_version = 0;
    static constexpr int16_t max_version = 7;
    static constexpr int16_t first_flexible = 5;

    int32_t throttle_time_ms = 0; // v2+
    std::vector<create_topics_response_topic> topics;

    template <typename IO, typename M>
    static void fields(IO& io, M& m, int16_t version) {
        if (version >= 2) {
            io.int32(m.throttle_time_ms);
        }
        io.array(m.topics, [&](auto& t) {
            io.string(t.name);
            if (version >= 7) {
                io.uuid_value(t.topic_id);
            }
            io.int16(t.error_code);
            if (version >= 1) {
                io.nullable_string(t.error_message);
            }
            if (version >= 5) {
                io.int32(t.num_partitions);
                io.int16(t.replication_factor);
                io.nullable_array(t.configs, [&](auto& c) {
                    io.string(c.name);
                    io.nullable_string(c.value);
                    io.boolean(c.read_only);
                    io.int8(c.config_source);
                    io.boolean(c.is_sensitive);
                    io.tagged_fields();
                });
            }
            io.tagged_fields();
        });
        io.tagged_fields();
    }

    bool operator==(const create_topics_response&) const = default;
};

// ---- DeleteTopics (key 20) ----

struct delete_topics_request_topic {
    std::optional<std::string_view> name; // null: the topic is named by its id
    uuid topic_id{};
    bool operator==(const delete_topics_request_topic&) const = default;
};

struct delete_topics_request {
    static constexpr int16_t api_key = 20;
    static constexpr int16_t min_version = 0;
    static constexpr int16_t max_version = 6;
    static constexpr int16_t first_flexible = 4;

    std::vector<delete_topics_request_topic> topics; // v6+, replacing topic_names
    std::vector<std::string_view> topic_names;       // v0-5
    int32_t timeout_ms = 0;

    template <typename IO, typename M>
    static void fields(IO& io, M& m, int16_t version) {
        if (version >= 6) {
            io.array(m.topics, [&](auto& t) {
                io.nullable_string(t.name);
                io.uuid_value(t.topic_id);
                io.tagged_fields();
            });
        } else {
            io.array(m.topic_names, [&](auto& n) { io.string(n); });
        }
        io.int32(m.timeout_ms);
        io.tagged_fields();
    }

    bool operator==(const delete_topics_request&) const = default;
};

struct delete_topics_response_topic {
    std::optional<std::string_view> name; // null only from v6 on (a topic deleted by id)
    uuid topic_id{};                      // v6+
    int16_t error_code = 0;
    std::optional<std::string_view> error_message; // v5+
    bool operator==(const delete_topics_response_topic&) const = default;
};

struct delete_topics_response {
    static constexpr int16_t api_key = 20;
    static constexpr int16_t min_version = 0;
    static constexpr int16_t max_version = 6;
    static constexpr int16_t first_flexible = 4;

    int32_t throttle_time_ms = 0; // v1+
    std::vector<delete_topics_response_topic> responses;

    template <typename IO, typename M>
    static void fields(IO& io, M& m, int16_t version) {
        if (version >= 1) {
            io.int32(m.throttle_time_ms);
        }
        io.array(m.responses, [&](auto& t) {
            admin_detail::string_nullable_from(io, t.name, version, 6);
            if (version >= 6) {
                io.uuid_value(t.topic_id);
            }
            io.int16(t.error_code);
            if (version >= 5) {
                io.nullable_string(t.error_message);
            }
            io.tagged_fields();
        });
        io.tagged_fields();
    }

    bool operator==(const delete_topics_response&) const = default;
};

// ---- CreatePartitions (key 37) ----

struct create_partitions_request_assignment {
    std::vector<int32_t> broker_ids;
    bool operator==(const create_partitions_request_assignment&) const = default;
};

struct create_partitions_request_topic {
    std::string_view name;
    int32_t count = 0;
    // Null lets the broker place the new partitions itself.
    std::optional<std::vector<create_partitions_request_assignment>> assignments;
    bool operator==(const create_partitions_request_topic&) const = default;
};

struct create_partitions_request {
    static constexpr int16_t api_key = 37;
    static constexpr int16_t min_version = 0;
    static constexpr int16_t max_version = 3;
    static constexpr int16_t first_flexible = 2;

    std::vector<create_partitions_request_topic> topics;
    int32_t timeout_ms = 0;
    bool validate_only = false;

    template <typename IO, typename M>
    static void fields(IO& io, M& m, int16_t) {
        io.array(m.topics, [&](auto& t) {
            io.string(t.name);
            io.int32(t.count);
            io.nullable_array(t.assignments, [&](auto& a) {
                io.array(a.broker_ids, [&](auto& id) { io.int32(id); });
                io.tagged_fields();
            });
            io.tagged_fields();
        });
        io.int32(m.timeout_ms);
        io.boolean(m.validate_only);
        io.tagged_fields();
    }

    bool operator==(const create_partitions_request&) const = default;
};

struct create_partitions_response_result {
    std::string_view name;
    int16_t error_code = 0;
    std::optional<std::string_view> error_message;
    bool operator==(const create_partitions_response_result&) const = default;
};

struct create_partitions_response {
    static constexpr int16_t api_key = 37;
    static constexpr int16_t min_version = 0;
    static constexpr int16_t max_version = 3;
    static constexpr int16_t first_flexible = 2;

    int32_t throttle_time_ms = 0;
    std::vector<create_partitions_response_result> results;

    template <typename IO, typename M>
    static void fields(IO& io, M& m, int16_t) {
        io.int32(m.throttle_time_ms);
        io.array(m.results, [&](auto& r) {
            io.string(r.name);
            io.int16(r.error_code);
            io.nullable_string(r.error_message);
            io.tagged_fields();
        });
        io.tagged_fields();
    }

    bool operator==(const create_partitions_response&) const = default;
};

// ---- DescribeConfigs (key 32) ----

struct describe_configs_request_resource {
    int8_t resource_type = 0;
    std::string_view resource_name;
    std::optional<std::vector<std::string_view>> configuration_keys; // null: every key
    bool operator==(const describe_configs_request_resource&) const = default;
};

struct describe_configs_request {
    static constexpr int16_t api_key = 32;
    static constexpr int16_t min_version = 0;
    static constexpr int16_t max_version = 4;
    static constexpr int16_t first_flexible = 4;

    std::vector<describe_configs_request_resource> resources;
    bool include_synonyms = false;      // v1+
    bool include_documentation = false; // v3+

    template <typename IO, typename M>
    static void fields(IO& io, M& m, int16_t version) {
        io.array(m.resources, [&](auto& r) {
            io.int8(r.resource_type);
            io.string(r.resource_name);
            io.nullable_array(r.configuration_keys, [&](auto& k) { io.string(k); });
            io.tagged_fields();
        });
        if (version >= 1) {
            io.boolean(m.include_synonyms);
        }
        if (version >= 3) {
            io.boolean(m.include_documentation);
        }
        io.tagged_fields();
    }

    bool operator==(const describe_configs_request&) const = default;
};

struct describe_configs_response_synonym {
    std::string_view name;
    std::optional<std::string_view> value;
    int8_t source = 0;
    bool operator==(const describe_configs_response_synonym&) const = default;
};

struct describe_configs_response_config {
    std::string_view name;
    std::optional<std::string_view> value;
    bool read_only = false;
    bool is_default = false;   // v0 only; v1+ says it with config_source
    int8_t config_source = -1; // v1+
    bool is_sensitive = false;
    std::vector<describe_configs_response_synonym> synonyms; // v1+
    int8_t config_type = 0;                                  // v3+
    std::optional<std::string_view> documentation;           // v3+
    bool operator==(const describe_configs_response_config&) const = default;
};

struct describe_configs_response_result {
    int16_t error_code = 0;
    std::optional<std::string_view> error_message;
    int8_t resource_type = 0;
    std::string_view resource_name;
    std::vector<describe_configs_response_config> configs;
    bool operator==(const describe_configs_response_result&) const = default;
};

struct describe_configs_response {
    static constexpr int16_t api_key = 32;
    static constexpr int16_t min_version = 0;
    static constexpr int16_t max_version = 4;
    static constexpr int16_t first_flexible = 4;

    int32_t throttle_time_ms = 0;
    std::vector<describe_configs_response_result> results;

    template <typename IO, typename M>
    static void fields(IO& io, M& m, int16_t version) {
        io.int32(m.throttle_time_ms);
        io.array(m.results, [&](auto& r) {
            io.int16(r.error_code);
            io.nullable_string(r.error_message);
            io.int8(r.resource_type);
            io.string(r.resource_name);
            io.array(r.configs, [&](auto& c) {
                io.string(c.name);
                io.nullable_string(c.value);
                io.boolean(c.read_only);
                if (version == 0) {
                    io.boolean(c.is_default);
                } else {
                    io.int8(c.config_source);
                }
                io.boolean(c.is_sensitive);
                if (version >= 1) {
                    io.array(c.synonyms, [&](auto& s) {
                        io.string(s.name);
                        io.nullable_string(s.value);
                        io.int8(s.source);
                        io.tagged_fields();
                    });
                }
                if (version >= 3) {
                    io.int8(c.config_type);
                    io.nullable_string(c.documentation);
                }
                io.tagged_fields();
            });
            io.tagged_fields();
        });
        io.tagged_fields();
    }

    bool operator==(const describe_configs_response&) const = default;
};

// ---- AlterConfigs (key 33) ----

struct alter_configs_request_config {
    std::string_view name;
    std::optional<std::string_view> value;
    bool operator==(const alter_configs_request_config&) const = default;
};

struct alter_configs_request_resource {
    int8_t resource_type = 0;
    std::string_view resource_name;
    std::vector<alter_configs_request_config> configs;
    bool operator==(const alter_configs_request_resource&) const = default;
};

struct alter_configs_request {
    static constexpr int16_t api_key = 33;
    static constexpr int16_t min_version = 0;
    static constexpr int16_t max_version = 2;
    static constexpr int16_t first_flexible = 2;

    std::vector<alter_configs_request_resource> resources;
    bool validate_only = false;

    template <typename IO, typename M>
    static void fields(IO& io, M& m, int16_t) {
        io.array(m.resources, [&](auto& r) {
            io.int8(r.resource_type);
            io.string(r.resource_name);
            io.array(r.configs, [&](auto& c) {
                io.string(c.name);
                io.nullable_string(c.value);
                io.tagged_fields();
            });
            io.tagged_fields();
        });
        io.boolean(m.validate_only);
        io.tagged_fields();
    }

    bool operator==(const alter_configs_request&) const = default;
};

struct alter_configs_response_resource {
    int16_t error_code = 0;
    std::optional<std::string_view> error_message;
    int8_t resource_type = 0;
    std::string_view resource_name;
    bool operator==(const alter_configs_response_resource&) const = default;
};

struct alter_configs_response {
    static constexpr int16_t api_key = 33;
    static constexpr int16_t min_version = 0;
    static constexpr int16_t max_version = 2;
    static constexpr int16_t first_flexible = 2;

    int32_t throttle_time_ms = 0;
    std::vector<alter_configs_response_resource> responses;

    template <typename IO, typename M>
    static void fields(IO& io, M& m, int16_t) {
        io.int32(m.throttle_time_ms);
        io.array(m.responses, [&](auto& r) {
            io.int16(r.error_code);
            io.nullable_string(r.error_message);
            io.int8(r.resource_type);
            io.string(r.resource_name);
            io.tagged_fields();
        });
        io.tagged_fields();
    }

    bool operator==(const alter_configs_response&) const = default;
};

// ---- IncrementalAlterConfigs (key 44) ----

struct incremental_alter_configs_request_config {
    std::string_view name;
    int8_t config_operation = 0; // 0 set, 1 delete, 2 append, 3 subtract
    std::optional<std::string_view> value;
    bool operator==(const incremental_alter_configs_request_config&) const = default;
};

struct incremental_alter_configs_request_resource {
    int8_t resource_type = 0;
    std::string_view resource_name;
    std::vector<incremental_alter_configs_request_config> configs;
    bool operator==(const incremental_alter_configs_request_resource&) const = default;
};

struct incremental_alter_configs_request {
    static constexpr int16_t api_key = 44;
    static constexpr int16_t min_version = 0;
    static constexpr int16_t max_version = 1;
    static constexpr int16_t first_flexible = 1;

    std::vector<incremental_alter_configs_request_resource> resources;
    bool validate_only = false;

    template <typename IO, typename M>
    static void fields(IO& io, M& m, int16_t) {
        io.array(m.resources, [&](auto& r) {
            io.int8(r.resource_type);
            io.string(r.resource_name);
            io.array(r.configs, [&](auto& c) {
                io.string(c.name);
                io.int8(c.config_operation);
                io.nullable_string(c.value);
                io.tagged_fields();
            });
            io.tagged_fields();
        });
        io.boolean(m.validate_only);
        io.tagged_fields();
    }

    bool operator==(const incremental_alter_configs_request&) const = default;
};

struct incremental_alter_configs_response_resource {
    int16_t error_code = 0;
    std::optional<std::string_view> error_message;
    int8_t resource_type = 0;
    std::string_view resource_name;
    bool operator==(const incremental_alter_configs_response_resource&) const = default;
};

struct incremental_alter_configs_response {
    static constexpr int16_t api_key = 44;
    static constexpr int16_t min_version = 0;
    static constexpr int16_t max_version = 1;
    static constexpr int16_t first_flexible = 1;

    int32_t throttle_time_ms = 0;
    std::vector<incremental_alter_configs_response_resource> responses;

    template <typename IO, typename M>
    static void fields(IO& io, M& m, int16_t) {
        io.int32(m.throttle_time_ms);
        io.array(m.responses, [&](auto& r) {
            io.int16(r.error_code);
            io.nullable_string(r.error_message);
            io.int8(r.resource_type);
            io.string(r.resource_name);
            io.tagged_fields();
        });
        io.tagged_fields();
    }

    bool operator==(const incremental_alter_configs_response&) const = default;
};

// ---- DeleteRecords (key 21) ----

struct delete_records_request_partition {
    int32_t partition_index = 0;
    int64_t offset = 0; // records before it go; -1 means the high watermark
    bool operator==(const delete_records_request_partition&) const = default;
};

struct delete_records_request_topic {
    std::string_view name;
    std::vector<delete_records_request_partition> partitions;
    bool operator==(const delete_records_request_topic&) const = default;
};

struct delete_records_request {
    static constexpr int16_t api_key = 21;
    static constexpr int16_t min_version = 0;
    static constexpr int16_t max_version = 2;
    static constexpr int16_t first_flexible = 2;

    std::vector<delete_records_request_topic> topics;
    int32_t timeout_ms = 0;

    template <typename IO, typename M>
    static void fields(IO& io, M& m, int16_t) {
        io.array(m.topics, [&](auto& t) {
            io.string(t.name);
            io.array(t.partitions, [&](auto& p) {
                io.int32(p.partition_index);
                io.int64(p.offset);
                io.tagged_fields();
            });
            io.tagged_fields();
        });
        io.int32(m.timeout_ms);
        io.tagged_fields();
    }

    bool operator==(const delete_records_request&) const = default;
};

struct delete_records_response_partition {
    int32_t partition_index = 0;
    int64_t low_watermark = 0;
    int16_t error_code = 0;
    bool operator==(const delete_records_response_partition&) const = default;
};

struct delete_records_response_topic {
    std::string_view name;
    std::vector<delete_records_response_partition> partitions;
    bool operator==(const delete_records_response_topic&) const = default;
};

struct delete_records_response {
    static constexpr int16_t api_key = 21;
    static constexpr int16_t min_version = 0;
    static constexpr int16_t max_version = 2;
    static constexpr int16_t first_flexible = 2;

    int32_t throttle_time_ms = 0;
    std::vector<delete_records_response_topic> topics;

    template <typename IO, typename M>
    static void fields(IO& io, M& m, int16_t) {
        io.int32(m.throttle_time_ms);
        io.array(m.topics, [&](auto& t) {
            io.string(t.name);
            io.array(t.partitions, [&](auto& p) {
                io.int32(p.partition_index);
                io.int64(p.low_watermark);
                io.int16(p.error_code);
                io.tagged_fields();
            });
            io.tagged_fields();
        });
        io.tagged_fields();
    }

    bool operator==(const delete_records_response&) const = default;
};

// ---- InitProducerId (key 22) ----

// The spec goes to v5, which only adds an error code a v5 client understands; we claim up to v4.
struct init_producer_id_request {
    static constexpr int16_t api_key = 22;
    static constexpr int16_t min_version = 0;
    static constexpr int16_t max_version = 4;
    static constexpr int16_t first_flexible = 2;

    std::optional<std::string_view> transactional_id; // null: an idempotent, non-transactional one
    int32_t transaction_timeout_ms = 0;
    int64_t producer_id = -1;    // v3+
    int16_t producer_epoch = -1; // v3+

    template <typename IO, typename M>
    static void fields(IO& io, M& m, int16_t version) {
        io.nullable_string(m.transactional_id);
        io.int32(m.transaction_timeout_ms);
        if (version >= 3) {
            io.int64(m.producer_id);
            io.int16(m.producer_epoch);
        }
        io.tagged_fields();
    }

    bool operator==(const init_producer_id_request&) const = default;
};

struct init_producer_id_response {
    static constexpr int16_t api_key = 22;
    static constexpr int16_t min_version = 0;
    static constexpr int16_t max_version = 4;
    static constexpr int16_t first_flexible = 2;

    int32_t throttle_time_ms = 0;
    int16_t error_code = 0;
    int64_t producer_id = -1;
    int16_t producer_epoch = 0;

    template <typename IO, typename M>
    static void fields(IO& io, M& m, int16_t) {
        io.int32(m.throttle_time_ms);
        io.int16(m.error_code);
        io.int64(m.producer_id);
        io.int16(m.producer_epoch);
        io.tagged_fields();
    }

    bool operator==(const init_producer_id_response&) const = default;
};

// ---- DescribeCluster (key 60) ----

struct describe_cluster_request {
    static constexpr int16_t api_key = 60;
    static constexpr int16_t min_version = 0;
    static constexpr int16_t max_version = 1;
    static constexpr int16_t first_flexible = 0;

    bool include_cluster_authorized_operations = false;
    int8_t endpoint_type = 1; // v1+: 1 brokers, 2 controllers

    template <typename IO, typename M>
    static void fields(IO& io, M& m, int16_t version) {
        io.boolean(m.include_cluster_authorized_operations);
        if (version >= 1) {
            io.int8(m.endpoint_type);
        }
        io.tagged_fields();
    }

    bool operator==(const describe_cluster_request&) const = default;
};

struct describe_cluster_response_broker {
    int32_t broker_id = 0;
    std::string_view host;
    int32_t port = 0;
    std::optional<std::string_view> rack;
    bool operator==(const describe_cluster_response_broker&) const = default;
};

struct describe_cluster_response {
    static constexpr int16_t api_key = 60;
    static constexpr int16_t min_version = 0;
    static constexpr int16_t max_version = 1;
    static constexpr int16_t first_flexible = 0;

    int32_t throttle_time_ms = 0;
    int16_t error_code = 0;
    std::optional<std::string_view> error_message;
    int8_t endpoint_type = 1; // v1+
    std::string_view cluster_id;
    int32_t controller_id = -1;
    std::vector<describe_cluster_response_broker> brokers;
    // INT32_MIN: the client did not ask for the operations.
    int32_t cluster_authorized_operations = std::numeric_limits<int32_t>::min();

    template <typename IO, typename M>
    static void fields(IO& io, M& m, int16_t version) {
        io.int32(m.throttle_time_ms);
        io.int16(m.error_code);
        io.nullable_string(m.error_message);
        if (version >= 1) {
            io.int8(m.endpoint_type);
        }
        io.string(m.cluster_id);
        io.int32(m.controller_id);
        io.array(m.brokers, [&](auto& b) {
            io.int32(b.broker_id);
            io.string(b.host);
            io.int32(b.port);
            io.nullable_string(b.rack);
            io.tagged_fields();
        });
        io.int32(m.cluster_authorized_operations);
        io.tagged_fields();
    }

    bool operator==(const describe_cluster_response&) const = default;
};

// ---- OffsetForLeaderEpoch (key 23) ----

struct offset_for_leader_epoch_request_partition {
    int32_t partition = 0;
    int32_t current_leader_epoch = -1; // v2+, for fencing; -1 skips the check
    int32_t leader_epoch = 0;
    bool operator==(const offset_for_leader_epoch_request_partition&) const = default;
};

struct offset_for_leader_epoch_request_topic {
    std::string_view topic;
    std::vector<offset_for_leader_epoch_request_partition> partitions;
    bool operator==(const offset_for_leader_epoch_request_topic&) const = default;
};

struct offset_for_leader_epoch_request {
    static constexpr int16_t api_key = 23;
    static constexpr int16_t min_version = 0;
    static constexpr int16_t max_version = 4;
    static constexpr int16_t first_flexible = 4;

    // v3+. -2 (the default that older versions imply) is a debug consumer, -1 a consumer, and a
    // broker id a follower.
    int32_t replica_id = -2;
    std::vector<offset_for_leader_epoch_request_topic> topics;

    template <typename IO, typename M>
    static void fields(IO& io, M& m, int16_t version) {
        if (version >= 3) {
            io.int32(m.replica_id);
        }
        io.array(m.topics, [&](auto& t) {
            io.string(t.topic);
            io.array(t.partitions, [&](auto& p) {
                io.int32(p.partition);
                if (version >= 2) {
                    io.int32(p.current_leader_epoch);
                }
                io.int32(p.leader_epoch);
                io.tagged_fields();
            });
            io.tagged_fields();
        });
        io.tagged_fields();
    }

    bool operator==(const offset_for_leader_epoch_request&) const = default;
};

struct offset_for_leader_epoch_response_partition {
    int16_t error_code = 0;
    int32_t partition = 0;
    int32_t leader_epoch = -1; // v1+
    int64_t end_offset = -1;
    bool operator==(const offset_for_leader_epoch_response_partition&) const = default;
};

struct offset_for_leader_epoch_response_topic {
    std::string_view topic;
    std::vector<offset_for_leader_epoch_response_partition> partitions;
    bool operator==(const offset_for_leader_epoch_response_topic&) const = default;
};

struct offset_for_leader_epoch_response {
    static constexpr int16_t api_key = 23;
    static constexpr int16_t min_version = 0;
    static constexpr int16_t max_version = 4;
    static constexpr int16_t first_flexible = 4;

    int32_t throttle_time_ms = 0; // v2+
    std::vector<offset_for_leader_epoch_response_topic> topics;

    template <typename IO, typename M>
    static void fields(IO& io, M& m, int16_t version) {
        if (version >= 2) {
            io.int32(m.throttle_time_ms);
        }
        io.array(m.topics, [&](auto& t) {
            io.string(t.topic);
            io.array(t.partitions, [&](auto& p) {
                io.int16(p.error_code);
                io.int32(p.partition);
                if (version >= 1) {
                    io.int32(p.leader_epoch);
                }
                io.int64(p.end_offset);
                io.tagged_fields();
            });
            io.tagged_fields();
        });
        io.tagged_fields();
    }

    bool operator==(const offset_for_leader_epoch_response&) const = default;
};

} // namespace runnel::protocol
