// Topic administration and the other control-path APIs: CreateTopics, DeleteTopics,
// CreatePartitions, DescribeConfigs, AlterConfigs, IncrementalAlterConfigs, DeleteRecords,
// InitProducerId, DescribeCluster, OffsetForLeaderEpoch. Each is answered at once; metadata
// changes are durable in the metadata store before the answer.
#include "kafka/broker.h"
#include "kafka/detail/jobs.h"

#include "protocol/admin_messages.h"

#include <algorithm>
#include <deque>
#include <cstdio>

namespace runnel::kafka {

using namespace protocol;

namespace {

constexpr int8_t resource_topic = 2;
constexpr int8_t resource_broker = 4;
constexpr int8_t source_dynamic_topic = 1;
constexpr int8_t source_static_broker = 4;
constexpr int8_t source_default = 5;
constexpr int8_t op_set = 0;
constexpr int8_t op_delete = 1;

std::string storage_text(storage::errc e) { return std::string(storage::to_string(e)); }

} // namespace

bool broker::create_topics(kafka_request& r) {
    reader body(r.body());
    auto msg = decode<create_topics_request>(body, r.api_version);
    if (!msg) {
        return false;
    }
    create_topics_response res;
    std::vector<std::string> messages; // owns the error messages the response views
    messages.reserve(msg->topics.size());
    for (const auto& t : msg->topics) {
        auto& out = res.topics.emplace_back(create_topics_response_topic{.name = t.name});
        int32_t partitions = t.num_partitions == -1 ? _opts.default_partitions : t.num_partitions;
        create_error e;
        if (!t.assignments.empty()) {
            partitions = int32_t(t.assignments.size());
            for (const auto& a : t.assignments) {
                if (a.broker_ids.size() != 1 || a.broker_ids[0] != _opts.node_id) {
                    e = {error_invalid_replica_assignment,
                         "replicas must be exactly this broker (" +
                           std::to_string(_opts.node_id) + "): the cluster has one node"};
                }
            }
        }
        if (t.replication_factor != -1 && t.replication_factor != 1) {
            e = {error_invalid_replication_factor,
                 "replication factor must be 1: the cluster has one node"};
        }
        std::map<std::string, std::string> overrides;
        for (const auto& c : t.configs) {
            if (c.value) {
                overrides[std::string(c.name)] = std::string(*c.value);
            }
        }
        if (e.code == 0) {
            e = create_topic(t.name, partitions, overrides, msg->validate_only);
        }
        out.error_code = e.code;
        if (e.code != 0) {
            messages.push_back(std::move(e.message));
            out.error_message = messages.back();
            continue;
        }
        out.num_partitions = partitions;
        out.replication_factor = 1;
        if (const topic_entry* created = find_topic(t.name)) {
            out.topic_id = created->meta.id;
        }
    }
    encode(r.response, res, r.api_version);
    r.finish();
    return true;
}

bool broker::delete_topics(kafka_request& r) {
    reader body(r.body());
    auto msg = decode<delete_topics_request>(body, r.api_version);
    if (!msg) {
        return false;
    }
    // Owned copies: a name found by id views the topic table, which the deletion changes.
    std::vector<std::string> names(msg->topic_names.begin(), msg->topic_names.end());
    delete_topics_response res;
    for (const auto& t : msg->topics) {
        if (t.name) {
            names.emplace_back(*t.name);
            continue;
        }
        const auto it = std::find_if(_topics.begin(), _topics.end(), [&](const auto& e) {
            return e.second.meta.id == t.topic_id;
        });
        if (it != _topics.end()) {
            names.push_back(it->first);
        } else {
            res.responses.push_back({.name = std::nullopt, .topic_id = t.topic_id,
                                     .error_code = error_unknown_topic_id});
        }
    }
    std::vector<std::string> messages;
    messages.reserve(names.size());
    for (const std::string& name : names) {
        auto& out = res.responses.emplace_back(delete_topics_response_topic{.name = name});
        topic_entry* t = find_topic(name);
        if (t == nullptr) {
            out.error_code = error_unknown_topic_or_partition;
            continue;
        }
        out.topic_id = t->meta.id;
        if (t->internal) {
            out.error_code = error_invalid_topic_exception;
            out.error_message = "internal topics cannot be deleted";
            continue;
        }
        const std::string& key = name;
        auto removed = _metadata->remove_topic(key);
        auto closed = removed ? _storage.remove_partitions(key) : removed;
        if (!closed) {
            out.error_code = error_kafka_storage_error;
            messages.push_back("cannot delete the topic: " + storage_text(closed.error()));
            out.error_message = messages.back();
            continue;
        }
        _topics.erase(_topics.find(key));
        std::fprintf(stderr, "kafka: deleted topic %s\n", key.c_str());
    }
    encode(r.response, res, r.api_version);
    r.finish();
    return true;
}

bool broker::create_partitions(kafka_request& r) {
    reader body(r.body());
    auto msg = decode<create_partitions_request>(body, r.api_version);
    if (!msg) {
        return false;
    }
    create_partitions_response res;
    std::vector<std::string> messages;
    messages.reserve(msg->topics.size());
    auto fail = [&](create_partitions_response_result& out, int16_t code, std::string text) {
        out.error_code = code;
        messages.push_back(std::move(text));
        out.error_message = messages.back();
    };
    for (const auto& t : msg->topics) {
        auto& out = res.results.emplace_back(create_partitions_response_result{.name = t.name});
        topic_entry* topic = find_topic(t.name);
        if (topic == nullptr) {
            out.error_code = error_unknown_topic_or_partition;
            continue;
        }
        if (t.count <= topic->meta.partition_count || t.count > 10000) {
            fail(out, error_invalid_partitions,
                 "topic has " + std::to_string(topic->meta.partition_count) +
                   " partitions; the new count must be larger, at most 10000");
            continue;
        }
        if (msg->validate_only) {
            continue;
        }
        storage::topic_metadata meta = topic->meta;
        meta.partition_count = t.count;
        if (auto stored = _metadata->put_topic(meta); !stored) {
            fail(out, error_kafka_storage_error, "cannot store: " + storage_text(stored.error()));
            continue;
        }
        if (auto opened = _storage.open_partitions(meta, topic->config); !opened) {
            fail(out, error_kafka_storage_error, "cannot open: " + storage_text(opened.error()));
            continue;
        }
        topic->meta = meta;
        topic->producers.resize(size_t(t.count));
    }
    encode(r.response, res, r.api_version);
    r.finish();
    return true;
}

bool broker::describe_configs(kafka_request& r) {
    reader body(r.body());
    auto msg = decode<describe_configs_request>(body, r.api_version);
    if (!msg) {
        return false;
    }
    describe_configs_response res;
    std::deque<std::pair<std::string, std::string>> values; // owns what the response views
    for (const auto& resource : msg->resources) {
        auto& out = res.results.emplace_back(describe_configs_response_result{
          .resource_type = resource.resource_type, .resource_name = resource.resource_name});
        std::vector<std::pair<std::string, std::string>> entries;
        std::map<std::string, std::string> overrides;
        bool read_only = false;
        if (resource.resource_type == resource_topic) {
            const topic_entry* t = find_topic(resource.resource_name);
            if (t == nullptr) {
                out.error_code = error_unknown_topic_or_partition;
                continue;
            }
            entries = storage::topic_config_values(t->config);
            overrides = t->meta.overrides;
        } else if (resource.resource_type == resource_broker) {
            read_only = true; // set in runneld.toml
            entries = {
              {"auto.create.topics.enable", _opts.auto_create_topics ? "true" : "false"},
              {"broker.id", std::to_string(_opts.node_id)},
              {"log.retention.bytes", std::to_string(_opts.log_defaults.retention_bytes)},
              {"log.retention.ms", std::to_string(_opts.log_defaults.retention_ms)},
              {"log.segment.bytes", std::to_string(_opts.log_defaults.segment_bytes)},
              {"num.partitions", std::to_string(_opts.default_partitions)},
            };
        } else {
            out.error_code = error_invalid_request;
            out.error_message = "resource type must be 2 (topic) or 4 (broker)";
            continue;
        }
        for (auto& [name, value] : entries) {
            if (resource.configuration_keys &&
                std::find(resource.configuration_keys->begin(), resource.configuration_keys->end(),
                          name) == resource.configuration_keys->end()) {
                continue;
            }
            const bool set = overrides.contains(name);
            auto& v = values.emplace_back(std::move(name), std::move(value));
            const int8_t source = read_only ? source_static_broker
                                            : (set ? source_dynamic_topic : source_default);
            out.configs.push_back({.name = v.first, .value = v.second, .read_only = read_only,
                                   .is_default = !set && !read_only, .config_source = source});
        }
    }
    encode(r.response, res, r.api_version);
    r.finish();
    return true;
}

// Applies new overrides to a topic: validated, durable, then live on its open logs.
broker::create_error broker::set_topic_overrides(topic_entry& t,
                                                 std::map<std::string, std::string> overrides,
                                                 bool validate_only) {
    storage::topic_metadata meta = t.meta;
    meta.overrides = std::move(overrides);
    auto config = storage::effective_config(_opts.log_defaults, meta);
    if (!config) {
        return {error_invalid_config, config.error()};
    }
    if (validate_only) {
        return {};
    }
    if (auto stored = _metadata->put_topic(meta); !stored) {
        return {error_kafka_storage_error, "cannot store: " + storage_text(stored.error())};
    }
    t.meta = std::move(meta);
    t.config = config.value();
    _storage.reconfigure(t.meta.name, t.config);
    return {};
}

// AlterConfigs and IncrementalAlterConfigs: `apply` edits a topic's overrides per resource, and
// each resource's outcome goes to `responses`; `messages` owns the texts the responses view.
template <typename Resource, typename Apply, typename Response>
void broker::alter_resources(const std::vector<Resource>& resources, bool validate_only,
                             std::vector<std::string>& messages, Apply&& apply,
                             std::vector<Response>& responses) {
    messages.reserve(resources.size());
    for (const auto& resource : resources) {
        create_error e;
        topic_entry* t = nullptr;
        if (resource.resource_type == resource_broker) {
            e = {error_invalid_request,
                 "broker configs are static: set them in runneld.toml and restart"};
        } else if (resource.resource_type != resource_topic) {
            e = {error_invalid_request, "resource type must be 2 (topic) or 4 (broker)"};
        } else if ((t = find_topic(resource.resource_name)) == nullptr) {
            e = {error_unknown_topic_or_partition, "unknown topic"};
        } else {
            std::map<std::string, std::string> overrides = t->meta.overrides;
            e = apply(resource, overrides);
            if (e.code == 0) {
                e = set_topic_overrides(*t, std::move(overrides), validate_only);
            }
        }
        messages.push_back(std::move(e.message));
        responses.push_back({.error_code = e.code,
                             .error_message = e.code == 0
                                                ? std::optional<std::string_view>()
                                                : std::optional<std::string_view>(messages.back()),
                             .resource_type = resource.resource_type,
                             .resource_name = resource.resource_name});
    }
}

bool broker::alter_configs(kafka_request& r) {
    reader body(r.body());
    auto msg = decode<alter_configs_request>(body, r.api_version);
    if (!msg) {
        return false;
    }
    alter_configs_response res;
    std::vector<std::string> messages;
    alter_resources(
      msg->resources, msg->validate_only, messages,
      [](const alter_configs_request_resource& resource, std::map<std::string, std::string>& o) {
          o.clear(); // AlterConfigs replaces every override of the resource
          for (const auto& c : resource.configs) {
              if (c.value) {
                  o[std::string(c.name)] = std::string(*c.value);
              }
          }
          return create_error{};
      },
      res.responses);
    encode(r.response, res, r.api_version);
    r.finish();
    return true;
}

bool broker::incremental_alter_configs(kafka_request& r) {
    reader body(r.body());
    auto msg = decode<incremental_alter_configs_request>(body, r.api_version);
    if (!msg) {
        return false;
    }
    incremental_alter_configs_response res;
    std::vector<std::string> messages;
    alter_resources(
      msg->resources, msg->validate_only, messages,
      [](const incremental_alter_configs_request_resource& resource,
         std::map<std::string, std::string>& o) {
          for (const auto& c : resource.configs) {
              const std::string name(c.name);
              if (c.config_operation == op_set && c.value) {
                  o[name] = std::string(*c.value);
              } else if (c.config_operation == op_delete) {
                  o.erase(name);
              } else {
                  return create_error{error_invalid_config,
                                      "config " + name + ": only SET (0) with a value and "
                                                         "DELETE (1) apply to these configs"};
              }
          }
          return create_error{};
      },
      res.responses);
    encode(r.response, res, r.api_version);
    r.finish();
    return true;
}

bool broker::delete_records(kafka_request& r) {
    reader body(r.body());
    auto msg = decode<delete_records_request>(body, r.api_version);
    if (!msg) {
        return false;
    }
    delete_records_response res;
    for (const auto& t : msg->topics) {
        auto& rt = res.topics.emplace_back(delete_records_response_topic{.name = t.name});
        topic_entry* topic = find_topic(t.name);
        for (const auto& p : t.partitions) {
            auto& out = rt.partitions.emplace_back(
              delete_records_response_partition{.partition_index = p.partition_index,
                                                .low_watermark = -1});
            if (topic != nullptr && topic->internal) {
                out.error_code = error_invalid_topic_exception; // the broker's own records
                continue;
            }
            storage::partition_log* log = log_of(topic, p.partition_index, out.error_code);
            if (log == nullptr) {
                continue;
            }
            const int64_t to = p.offset == -1 ? log->high_watermark()() : p.offset;
            if (to < 0 || to > log->high_watermark()()) {
                out.error_code = error_offset_out_of_range;
                continue;
            }
            if (to > log->log_start()()) {
                if (auto done = log->delete_records(model::offset(to)); !done) {
                    out.error_code = storage_error_code(done.error());
                    continue;
                }
            }
            out.low_watermark = log->log_start()();
        }
    }
    encode(r.response, res, r.api_version);
    r.finish();
    return true;
}

bool broker::init_producer_id(kafka_request& r) {
    reader body(r.body());
    auto msg = decode<init_producer_id_request>(body, r.api_version);
    if (!msg) {
        return false;
    }
    init_producer_id_response res;
    if (msg->transactional_id) {
        res.error_code = error_invalid_request; // transactions are not built
    } else if (msg->producer_id >= 0 && msg->producer_epoch >= 0 &&
               msg->producer_epoch < INT16_MAX) {
        // An idempotent producer bumping its epoch after a fatal sequence error.
        res.producer_id = msg->producer_id;
        res.producer_epoch = int16_t(msg->producer_epoch + 1);
    } else {
        res.producer_id = new_producer_id();
        res.producer_epoch = 0;
    }
    encode(r.response, res, r.api_version);
    r.finish();
    return true;
}

bool broker::describe_cluster(kafka_request& r) {
    reader body(r.body());
    auto msg = decode<describe_cluster_request>(body, r.api_version);
    if (!msg) {
        return false;
    }
    describe_cluster_response res{.endpoint_type = msg->endpoint_type,
                                  .cluster_id = _cluster_id,
                                  .controller_id = _opts.node_id};
    if (msg->endpoint_type != 1) {
        res.error_code = error_invalid_request;
        res.error_message = "only broker endpoints (1) are served";
    } else {
        res.brokers.push_back({.broker_id = _opts.node_id, .host = _opts.advertised_host,
                               .port = _opts.advertised_port});
    }
    encode(r.response, res, r.api_version);
    r.finish();
    return true;
}

bool broker::offset_for_leader_epoch(kafka_request& r) {
    reader body(r.body());
    auto msg = decode<offset_for_leader_epoch_request>(body, r.api_version);
    if (!msg) {
        return false;
    }
    offset_for_leader_epoch_response res;
    for (const auto& t : msg->topics) {
        auto& rt =
          res.topics.emplace_back(offset_for_leader_epoch_response_topic{.topic = t.topic});
        topic_entry* topic = find_topic(t.topic);
        for (const auto& p : t.partitions) {
            auto& out = rt.partitions.emplace_back(
              offset_for_leader_epoch_response_partition{.partition = p.partition});
            storage::partition_log* log = log_of(topic, p.partition, out.error_code);
            if (log == nullptr) {
                continue;
            }
            if (p.current_leader_epoch > 0) { // this node has led every partition at epoch 0
                out.error_code = error_unknown_leader_epoch;
                continue;
            }
            if (auto end = log->end_offset_for_epoch(model::epoch(p.leader_epoch))) {
                out.leader_epoch = end->first();
                out.end_offset = end->second();
            }
        }
    }
    encode(r.response, res, r.api_version);
    r.finish();
    return true;
}

} // namespace runnel::kafka
