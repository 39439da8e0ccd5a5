#include "kafka/broker.h"

#include "protocol/admin_messages.h"
#include "protocol/api_versions.h"
#include "protocol/group_messages.h"
#include "kafka/detail/jobs.h"
#include "protocol/metadata.h"

#include <chrono>
#include <cstdio>
#include <cstring>

namespace runnel::kafka {

using namespace protocol;

// What this broker serves: key, versions, first flexible version, handler. ApiVersions answers
// from this table, so a client is never told of an API or version without a handler.
struct broker::api {
    int16_t key;
    int16_t min_version;
    int16_t max_version;
    int16_t first_flexible;
    bool (broker::*handler)(kafka_request&);
};

std::span<const broker::api> broker::apis() {
    static constexpr api served[] = {
        {produce_request::api_key, 3, 9, produce_request::first_flexible, &broker::produce},
        {fetch_request::api_key, 4, 12, fetch_request::first_flexible, &broker::fetch},
        {list_offsets_request::api_key, 1, 7, list_offsets_request::first_flexible,
         &broker::list_offsets},
        {metadata_key, 0, metadata_version_max, metadata_first_flexible, &broker::metadata},
        {offset_for_leader_epoch_request::api_key, 0, 4,
         offset_for_leader_epoch_request::first_flexible, &broker::offset_for_leader_epoch},
        {create_topics_request::api_key, 0, 7, create_topics_request::first_flexible,
         &broker::create_topics},
        {delete_topics_request::api_key, 0, 6, delete_topics_request::first_flexible,
         &broker::delete_topics},
        {delete_records_request::api_key, 0, 2, delete_records_request::first_flexible,
         &broker::delete_records},
        {init_producer_id_request::api_key, 0, 4, init_producer_id_request::first_flexible,
         &broker::init_producer_id},
        {describe_configs_request::api_key, 0, 4, describe_configs_request::first_flexible,
         &broker::describe_configs},
        {alter_configs_request::api_key, 0, 2, alter_configs_request::first_flexible,
         &broker::alter_configs},
        {create_partitions_request::api_key, 0, 3, create_partitions_request::first_flexible,
         &broker::create_partitions},
        {incremental_alter_configs_request::api_key, 0, 1,
         incremental_alter_configs_request::first_flexible, &broker::incremental_alter_configs},
        {find_coordinator_request::api_key, 0, 4, find_coordinator_request::first_flexible,
         &broker::find_coordinator},
        {join_group_request::api_key, 0, 9, join_group_request::first_flexible,
         &broker::join_group},
        {sync_group_request::api_key, 0, 5, sync_group_request::first_flexible,
         &broker::sync_group},
        {heartbeat_request::api_key, 0, 4, heartbeat_request::first_flexible,
         &broker::heartbeat},
        {leave_group_request::api_key, 0, 5, leave_group_request::first_flexible,
         &broker::leave_group},
        {offset_commit_request::api_key, 0, 8, offset_commit_request::first_flexible,
         &broker::offset_commit},
        {offset_fetch_request::api_key, 0, 8, offset_fetch_request::first_flexible,
         &broker::offset_fetch},
        {list_groups_request::api_key, 0, 4, list_groups_request::first_flexible,
         &broker::list_groups},
        {describe_groups_request::api_key, 0, 5, describe_groups_request::first_flexible,
         &broker::describe_groups},
        {delete_groups_request::api_key, 0, 2, delete_groups_request::first_flexible,
         &broker::delete_groups},
        {describe_cluster_request::api_key, 0, 1, describe_cluster_request::first_flexible,
         &broker::describe_cluster},
        {api_versions_key, 0, api_versions_version_max, 3, &broker::api_versions},
    };
    return served;
}

namespace {

const broker::api* find_api(int16_t key) {
    for (const auto& a : broker::apis()) {
        if (a.key == key) {
            return &a;
        }
    }
    return nullptr;
}

std::vector<api_range> api_ranges() {
    std::vector<api_range> out;
    for (const auto& a : broker::apis()) {
        out.push_back({a.key, a.min_version, a.max_version});
    }
    return out;
}

} // namespace

int16_t storage_error_code(storage::errc e) {
    switch (e) {
    case storage::errc::offset_out_of_range: return error_offset_out_of_range;
    case storage::errc::batch_too_large: return error_message_too_large;
    case storage::errc::invalid_batch: return error_corrupt_message;
    case storage::errc::io_error:
    case storage::errc::no_space:
    case storage::errc::read_only:
    case storage::errc::corrupt:
    case storage::errc::log_failed: return error_kafka_storage_error;
    case storage::errc::not_found:
    case storage::errc::backpressure:
    case storage::errc::invalid_argument: break;
    }
    return error_unknown_server_error;
}

broker::broker(broker_options o, storage::shard_storage& storage,
               std::vector<storage::topic_metadata> topics)
  : _opts(std::move(o)), _storage(storage),
    _metadata(std::make_unique<storage::local_metadata_store>(storage.disk(), _opts.data_dir)) {
    for (auto& t : topics) {
        auto config = storage::effective_config(_opts.log_defaults, t);
        RUNNEL_ASSERT(config.ok()); // runneld validated every topic before the shards started
        topic_entry e{.meta = t, .config = config.value(),
                      .producers = std::vector<std::map<int64_t, producer_entry>>(
                        size_t(t.partition_count)),
                      .internal = t.name.starts_with("__")};
        _topics.emplace(t.name, std::move(e));
    }
    // Producer ids are unique across restarts without a stored counter: the wall clock in ms,
    // shifted to leave room for 4096 ids per millisecond.
    using namespace std::chrono;
    _next_producer_id =
      duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count() << 12;
    _first_producer_id = _next_producer_id;
    _handle_generation = uint32_t(storage::random_topic_id()[0]) << 4 |
                         (uint32_t(storage::random_topic_id()[1]) & 0x0f);
}

broker::~broker() = default;

std::optional<request_handler::header_versions> broker::header_version(int16_t api_key,
                                                                       int16_t api_version) const {
    const api* a = find_api(api_key);
    if (a == nullptr) {
        return std::nullopt;
    }
    if (api_key == api_versions_key) {
        // Response header v0 always, so a client that sent a version we do not know can read the
        // UNSUPPORTED_VERSION answer (Kafka's rule). An unknown version's header is read as v1.
        const bool known = api_version >= a->min_version && api_version <= a->max_version;
        return header_versions{.request = known && api_version >= 3 ? 2 : 1, .response = 0};
    }
    if (api_version < a->min_version || api_version > a->max_version) {
        return std::nullopt; // a client must ask ApiVersions first; this one did not listen
    }
    const bool flexible = api_version >= a->first_flexible;
    return header_versions{.request = flexible ? 2 : 1, .response = flexible ? 1 : 0};
}

bool broker::handle(kafka_request& r) {
    const api* a = find_api(r.api_key);
    RUNNEL_ASSERT(a != nullptr); // header_version() let it through
    return (this->*(a->handler))(r);
}

bool broker::api_versions(kafka_request& r) {
    const auto ranges = api_ranges();
    const api* a = find_api(api_versions_key);
    if (r.api_version < a->min_version || r.api_version > a->max_version) {
        encode_api_versions_response(r.response, 0, error_unsupported_version, ranges, 0);
        r.finish();
        return true;
    }
    reader body(r.body());
    if (!decode_api_versions_request(body, r.api_version)) {
        return false;
    }
    encode_api_versions_response(r.response, r.api_version, error_none, ranges, 0);
    r.finish();
    return true;
}

bool broker::metadata(kafka_request& r) {
    reader body(r.body());
    auto m = decode_metadata_request(body, r.api_version);
    if (!m) {
        return false;
    }
    metadata_response res;
    res.brokers.push_back({_opts.node_id, _opts.advertised_host, _opts.advertised_port});
    res.controller_id = _opts.node_id;
    res.cluster_id = _cluster_id;
    auto add = [&](const topic_entry& t) {
        metadata_topic mt{.error_code = 0, .name = t.meta.name, .id = t.meta.id,
                          .internal = t.internal};
        for (int32_t p = 0; p < t.meta.partition_count; ++p) {
            mt.partitions.push_back({.error_code = 0, .index = p, .leader = _opts.node_id,
                                     .leader_epoch = 0, .replicas = {_opts.node_id},
                                     .isr = {_opts.node_id}});
        }
        res.topics.push_back(std::move(mt));
    };
    if (!m->topics) {
        for (const auto& [name, t] : _topics) {
            add(t);
        }
    } else {
        for (std::string_view name : *m->topics) {
            topic_entry* t = m->allow_auto_topic_creation ? topic_or_create(name)
                                                          : find_topic(name);
            if (t != nullptr) {
                add(*t);
            } else {
                const int16_t code = storage::check_topic_name(name).empty()
                                       ? error_unknown_topic_or_partition
                                       : error_invalid_topic_exception;
                res.topics.push_back({.error_code = code, .name = name});
            }
        }
    }
    encode_metadata_response(r.response, r.api_version, res);
    r.finish();
    return true;
}

broker::topic_entry* broker::find_topic(std::string_view name) {
    auto it = _topics.find(name);
    return it == _topics.end() ? nullptr : &it->second;
}

broker::topic_entry* broker::topic_or_create(std::string_view name) {
    if (topic_entry* t = find_topic(name)) {
        return t;
    }
    if (!_opts.auto_create_topics || name.starts_with("__")) {
        return nullptr;
    }
    if (create_topic(name, _opts.default_partitions, {}, false).code != 0) {
        return nullptr;
    }
    return find_topic(name);
}

broker::create_error broker::create_topic(std::string_view name, int32_t partitions,
                                          const std::map<std::string, std::string>& overrides,
                                          bool validate_only) {
    if (auto why = storage::check_topic_name(name); !why.empty()) {
        return {error_invalid_topic_exception, why};
    }
    if (find_topic(name) != nullptr) {
        return {error_topic_already_exists, "topic " + std::string(name) + " already exists"};
    }
    if (partitions < 1 || partitions > 10000) {
        return {error_invalid_partitions, "partition count must be 1 to 10000"};
    }
    storage::topic_metadata meta{.name = std::string(name), .id = storage::random_topic_id(),
                                 .partition_count = partitions, .overrides = overrides};
    auto config = storage::effective_config(_opts.log_defaults, meta);
    if (!config) {
        return {error_invalid_config, config.error()};
    }
    if (validate_only) {
        return {};
    }
    if (auto stored = _metadata->put_topic(meta); !stored) {
        return {error_kafka_storage_error,
                "cannot store the topic: " + std::string(storage::to_string(stored.error()))};
    }
    if (auto opened = _storage.open_partitions(meta, config.value()); !opened) {
        std::fprintf(stderr, "kafka: topic %s: cannot open its partitions: %.*s\n",
                     meta.name.c_str(), int(storage::to_string(opened.error()).size()),
                     storage::to_string(opened.error()).data());
        return {error_kafka_storage_error,
                "cannot open the partitions: " + std::string(storage::to_string(opened.error()))};
    }
    std::fprintf(stderr, "kafka: created topic %s with %d partitions\n", meta.name.c_str(),
                 partitions);
    topic_entry e{.meta = meta, .config = config.value(),
                  .producers = std::vector<std::map<int64_t, producer_entry>>(size_t(partitions)),
                  .internal = meta.name.starts_with("__")};
    _topics.emplace(meta.name, std::move(e));
    return {};
}

storage::partition_log* broker::log_of(const topic_entry* t, int32_t partition,
                                       int16_t& error) {
    if (t == nullptr || partition < 0 || partition >= t->meta.partition_count) {
        error = error_unknown_topic_or_partition;
        return nullptr;
    }
    storage::partition_log* log = _storage.find(t->meta.name, partition);
    if (log == nullptr) {
        error = error_not_leader_or_follower; // another shard's
    }
    return log;
}

uint32_t broker::poll(uint64_t now_us, bool) {
    uint32_t work = _offsets_log->poll() + _groups->poll();
    compact_offsets(now_us);
    // Retries in arrival order, stopping at the first that is still held back, so that a
    // partition's appends never overtake each other.
    _produce_blocked = false;
    for (auto it = _produces.begin(); it != _produces.end();) {
        auto& job = **it;
        ++it; // run_produce may finish the job and erase it
        if (job.retry) {
            ++work;
            if (run_produce(job)) {
                _produce_blocked = true;
                break;
            }
        }
    }
    for (auto it = _fetches.begin(); it != _fetches.end();) {
        auto& job = **it;
        ++it;
        if (fetch_ready(job, now_us)) {
            ++work;
            run_fetch(job, now_us);
        }
    }
    return work;
}

// The cluster id: 22 characters (Kafka's base64 form of a random UUID), made on first start.
result<void, std::string> broker::load_cluster_id() {
    const std::string path = _opts.data_dir + "/cluster_id";
    storage::io& disk = _storage.disk();
    if (disk.exists(path)) {
        auto bytes = disk.read_file(path);
        if (!bytes) {
            return failure("cannot read " + path + ": " +
                           std::string(storage::to_string(bytes.error())));
        }
        _cluster_id.assign(reinterpret_cast<const char*>(bytes->data()), bytes->size());
        return {};
    }
    constexpr std::string_view alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    uint32_t bits = 0;
    int have = 0;
    for (uint8_t b : storage::random_topic_id()) { // 128 bits, 6 at a time: 22 characters
        bits = (bits << 8) | b;
        for (have += 8; have >= 6; have -= 6) {
            _cluster_id += alphabet[(bits >> (have - 6)) & 63];
        }
    }
    _cluster_id += alphabet[(bits << (6 - have)) & 63];
    std::vector<std::byte> bytes(_cluster_id.size());
    std::memcpy(bytes.data(), _cluster_id.data(), bytes.size());
    if (auto w = disk.write_file_atomic(path, bytes); !w) {
        return failure("cannot write " + path + ": " + std::string(storage::to_string(w.error())));
    }
    return {};
}

result<void, std::string> broker::start() {
    if (auto r = load_cluster_id(); !r) {
        return r;
    }
    if (auto r = load_producer_state(); !r) {
        return r;
    }
    return start_groups();
}

} // namespace runnel::kafka
