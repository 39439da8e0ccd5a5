// The data-path messages: Produce (key 0, v3-9), Fetch (key 1, v4-12) and ListOffsets (key 2,
// v1-7), defined once for both directions (protocol/codec.h). Records stay bytes: a produce
// request's records view the request buffer and go to the log unchanged; a fetch response's
// records view what the log read. Tagged fields of these versions (Fetch v12's ClusterId,
// DivergingEpoch, CurrentLeader, SnapshotId) are skipped on decode and not written.
// Any thread; no shared state.
#pragma once

#include "protocol/codec.h"

namespace runnel::protocol {

struct produce_request_partition {
    int32_t index = 0;
    std::optional<std::span<const std::byte>> records;
};

struct produce_request_topic {
    std::string_view name;
    std::vector<produce_request_partition> partitions;
};

struct produce_request {
    static constexpr int16_t api_key = 0;
    static constexpr int16_t first_flexible = 9;
    std::optional<std::string_view> transactional_id; // v3+
    int16_t acks = -1;
    int32_t timeout_ms = 0;
    std::vector<produce_request_topic> topics;

    template <typename IO, typename M>
    static void fields(IO& io, M& m, int16_t version) {
        if (version >= 3) {
            io.nullable_string(m.transactional_id);
        }
        io.int16(m.acks);
        io.int32(m.timeout_ms);
        io.array(m.topics, [&](auto& t) {
            io.string(t.name);
            io.array(t.partitions, [&](auto& p) {
                io.int32(p.index);
                io.nullable_bytes(p.records);
                io.tagged_fields();
            });
            io.tagged_fields();
        });
        io.tagged_fields();
    }
};

struct produce_record_error {
    int32_t batch_index = 0;
    std::optional<std::string_view> message;
};

struct produce_response_partition {
    int32_t index = 0;
    int16_t error_code = 0;
    int64_t base_offset = -1;
    int64_t log_append_time_ms = -1; // v2+
    int64_t log_start_offset = -1;   // v5+
    std::vector<produce_record_error> record_errors; // v8+
    std::optional<std::string_view> error_message;   // v8+
};

struct produce_response_topic {
    std::string_view name;
    std::vector<produce_response_partition> partitions;
};

struct produce_response {
    static constexpr int16_t api_key = 0;
    static constexpr int16_t first_flexible = 9;
    std::vector<produce_response_topic> topics;
    int32_t throttle_time_ms = 0; // v1+

    template <typename IO, typename M>
    static void fields(IO& io, M& m, int16_t version) {
        io.array(m.topics, [&](auto& t) {
            io.string(t.name);
            io.array(t.partitions, [&](auto& p) {
                io.int32(p.index);
                io.int16(p.error_code);
                io.int64(p.base_offset);
                if (version >= 2) {
                    io.int64(p.log_append_time_ms);
                }
                if (version >= 5) {
                    io.int64(p.log_start_offset);
                }
                if (version >= 8) {
                    io.array(p.record_errors, [&](auto& e) {
                        io.int32(e.batch_index);
                        io.nullable_string(e.message);
                        io.tagged_fields();
                    });
                    io.nullable_string(p.error_message);
                }
                io.tagged_fields();
            });
            io.tagged_fields();
        });
        if (version >= 1) {
            io.int32(m.throttle_time_ms);
        }
        io.tagged_fields();
    }
};

struct fetch_request_partition {
    int32_t partition = 0;
    int32_t current_leader_epoch = -1; // v9+
    int64_t fetch_offset = 0;
    int32_t last_fetched_epoch = -1;   // v12+
    int64_t log_start_offset = -1;     // v5+
    int32_t partition_max_bytes = 0;
};

struct fetch_request_topic {
    std::string_view topic;
    std::vector<fetch_request_partition> partitions;
};

struct fetch_forgotten_topic {
    std::string_view topic;
    std::vector<int32_t> partitions;
};

struct fetch_request {
    static constexpr int16_t api_key = 1;
    static constexpr int16_t first_flexible = 12;
    int32_t replica_id = -1;
    int32_t max_wait_ms = 0;
    int32_t min_bytes = 0;
    int32_t max_bytes = 0x7fffffff; // v3+
    int8_t isolation_level = 0;     // v4+
    int32_t session_id = 0;         // v7+
    int32_t session_epoch = -1;     // v7+
    std::vector<fetch_request_topic> topics;
    std::vector<fetch_forgotten_topic> forgotten_topics; // v7+
    std::string_view rack_id;                            // v11+

    template <typename IO, typename M>
    static void fields(IO& io, M& m, int16_t version) {
        io.int32(m.replica_id);
        io.int32(m.max_wait_ms);
        io.int32(m.min_bytes);
        if (version >= 3) {
            io.int32(m.max_bytes);
        }
        if (version >= 4) {
            io.int8(m.isolation_level);
        }
        if (version >= 7) {
            io.int32(m.session_id);
            io.int32(m.session_epoch);
        }
        io.array(m.topics, [&](auto& t) {
            io.string(t.topic);
            io.array(t.partitions, [&](auto& p) {
                io.int32(p.partition);
                if (version >= 9) {
                    io.int32(p.current_leader_epoch);
                }
                io.int64(p.fetch_offset);
                if (version >= 12) {
                    io.int32(p.last_fetched_epoch);
                }
                if (version >= 5) {
                    io.int64(p.log_start_offset);
                }
                io.int32(p.partition_max_bytes);
                io.tagged_fields();
            });
            io.tagged_fields();
        });
        if (version >= 7) {
            io.array(m.forgotten_topics, [&](auto& t) {
                io.string(t.topic);
                io.array(t.partitions, [&](auto& p) { io.int32(p); });
                io.tagged_fields();
            });
        }
        if (version >= 11) {
            io.string(m.rack_id);
        }
        io.tagged_fields();
    }
};

struct fetch_aborted_transaction {
    int64_t producer_id = 0;
    int64_t first_offset = 0;
};

struct fetch_response_partition {
    int32_t partition = 0;
    int16_t error_code = 0;
    int64_t high_watermark = 0;
    int64_t last_stable_offset = -1; // v4+
    int64_t log_start_offset = -1;   // v5+
    // v4+; an empty list (no transactions in this broker's logs yet), null only when decoded so.
    std::optional<std::vector<fetch_aborted_transaction>> aborted_transactions =
      std::vector<fetch_aborted_transaction>{};
    int32_t preferred_read_replica = -1; // v11+
    std::optional<std::span<const std::byte>> records;
};

struct fetch_response_topic {
    std::string_view topic;
    std::vector<fetch_response_partition> partitions;
};

struct fetch_response {
    static constexpr int16_t api_key = 1;
    static constexpr int16_t first_flexible = 12;
    int32_t throttle_time_ms = 0; // v1+
    int16_t error_code = 0;       // v7+
    int32_t session_id = 0;       // v7+
    std::vector<fetch_response_topic> topics;

    template <typename IO, typename M>
    static void fields(IO& io, M& m, int16_t version) {
        if (version >= 1) {
            io.int32(m.throttle_time_ms);
        }
        if (version >= 7) {
            io.int16(m.error_code);
            io.int32(m.session_id);
        }
        io.array(m.topics, [&](auto& t) {
            io.string(t.topic);
            io.array(t.partitions, [&](auto& p) {
                io.int32(p.partition);
                io.int16(p.error_code);
                io.int64(p.high_watermark);
                if (version >= 4) {
                    io.int64(p.last_stable_offset);
                }
                if (version >= 5) {
                    io.int64(p.log_start_offset);
                }
                if (version >= 4) {
                    io.nullable_array(p.aborted_transactions, [&](auto& a) {
                        io.int64(a.producer_id);
                        io.int64(a.first_offset);
                        io.tagged_fields();
                    });
                }
                if (version >= 11) {
                    io.int32(p.preferred_read_replica);
                }
                io.nullable_bytes(p.records);
                io.tagged_fields();
            });
            io.tagged_fields();
        });
        io.tagged_fields();
    }
};

// ListOffsets timestamps with a meaning of their own.
inline constexpr int64_t list_offsets_latest = -1;
inline constexpr int64_t list_offsets_earliest = -2;
inline constexpr int64_t list_offsets_max_timestamp = -3;

struct list_offsets_request_partition {
    int32_t partition_index = 0;
    int32_t current_leader_epoch = -1; // v4+
    int64_t timestamp = 0;
};

struct list_offsets_request_topic {
    std::string_view name;
    std::vector<list_offsets_request_partition> partitions;
};

struct list_offsets_request {
    static constexpr int16_t api_key = 2;
    static constexpr int16_t first_flexible = 6;
    int32_t replica_id = -1;
    int8_t isolation_level = 0; // v2+
    std::vector<list_offsets_request_topic> topics;

    template <typename IO, typename M>
    static void fields(IO& io, M& m, int16_t version) {
        io.int32(m.replica_id);
        if (version >= 2) {
            io.int8(m.isolation_level);
        }
        io.array(m.topics, [&](auto& t) {
            io.string(t.name);
            io.array(t.partitions, [&](auto& p) {
                io.int32(p.partition_index);
                if (version >= 4) {
                    io.int32(p.current_leader_epoch);
                }
                io.int64(p.timestamp);
                io.tagged_fields();
            });
            io.tagged_fields();
        });
        io.tagged_fields();
    }
};

struct list_offsets_response_partition {
    int32_t partition_index = 0;
    int16_t error_code = 0;
    int64_t timestamp = -1;
    int64_t offset = -1;
    int32_t leader_epoch = -1; // v4+
};

struct list_offsets_response_topic {
    std::string_view name;
    std::vector<list_offsets_response_partition> partitions;
};

struct list_offsets_response {
    static constexpr int16_t api_key = 2;
    static constexpr int16_t first_flexible = 6;
    int32_t throttle_time_ms = 0; // v2+
    std::vector<list_offsets_response_topic> topics;

    template <typename IO, typename M>
    static void fields(IO& io, M& m, int16_t version) {
        if (version >= 2) {
            io.int32(m.throttle_time_ms);
        }
        io.array(m.topics, [&](auto& t) {
            io.string(t.name);
            io.array(t.partitions, [&](auto& p) {
                io.int32(p.partition_index);
                io.int16(p.error_code);
                io.int64(p.timestamp);
                io.int64(p.offset);
                if (version >= 4) {
                    io.int32(p.leader_epoch);
                }
                io.tagged_fields();
            });
            io.tagged_fields();
        });
        io.tagged_fields();
    }
};

} // namespace runnel::protocol
