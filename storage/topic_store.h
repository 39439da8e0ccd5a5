// Topic metadata (name, id, partition count, per-topic config overrides) and where it persists.
// metadata_store is the seam between the broker and its source of truth: a local directory now
// (local_metadata_store: one atomically written file per topic under <data_dir>/topics/), and a
// consensus store (etcd) when replication comes. Control path only; one thread at a time.
#pragma once

#include "base/result.h"
#include "storage/errc.h"
#include "storage/io.h"
#include "storage/log_config.h"

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace runnel::storage {

using topic_id = std::array<uint8_t, 16>; // Kafka's topic UUID

struct topic_metadata {
    std::string name;
    topic_id id{};
    int32_t partition_count = 1;
    // Kafka config names (segment.bytes, retention.ms, ...) set on this topic; the rest default.
    std::map<std::string, std::string> overrides;
};

// Kafka's rule: 1..249 characters of [a-zA-Z0-9._-], and not "." or "..". Empty when valid,
// otherwise the reason.
std::string check_topic_name(std::string_view name);
// Applies one Kafka-named topic config to `c`. Known keys: segment.bytes, segment.ms,
// retention.bytes, retention.ms, index.interval.bytes, message.timestamp.type,
// runnel.ack.after, runnel.preallocate.bytes, cleanup.policy (delete only). The error names the
// key, the value and what is allowed.
result<void, std::string> apply_topic_config(log_config& c, std::string_view key,
                                             std::string_view value);
// Every topic config apply_topic_config() knows, by Kafka name, with its value in `c`
// (DescribeConfigs), in name order. cleanup.policy is always "delete".
std::vector<std::pair<std::string, std::string>> topic_config_values(const log_config& c);
// Defaults plus the topic's overrides.
result<log_config, std::string> effective_config(const log_config& defaults,
                                                 const topic_metadata& t);
topic_id random_topic_id();
std::string to_hex(const topic_id& id);
// The partition's directory under the data directory: "<topic>-<partition>", as Kafka names it.
std::string partition_directory(const std::string& data_dir, const std::string& topic,
                                int32_t partition);

class metadata_store {
public:
    virtual ~metadata_store() = default;
    virtual result<std::vector<topic_metadata>, errc> load_topics() = 0;
    // Durable when it returns.
    virtual result<void, errc> put_topic(const topic_metadata& t) = 0;
    virtual result<void, errc> remove_topic(const std::string& name) = 0;
};

class local_metadata_store final : public metadata_store {
public:
    local_metadata_store(io& io, std::string data_dir);
    result<std::vector<topic_metadata>, errc> load_topics() override;
    result<void, errc> put_topic(const topic_metadata& t) override;
    result<void, errc> remove_topic(const std::string& name) override;

private:
    io& _io;
    std::string _dir; // <data_dir>/topics
};

std::vector<std::byte> encode_topic(const topic_metadata& t);
std::optional<topic_metadata> decode_topic(std::span<const std::byte> file);

} // namespace runnel::storage
