// The consumer-group APIs: Kafka messages mapped to the group coordinator's calls and back.
// FindCoordinator names this node for every group (single node); JoinGroup, SyncGroup and
// OffsetCommit may answer later, from the coordinator's callbacks.
#include "kafka/broker.h"

#include "kafka/group_coordinator.h"
#include "kafka/offsets_log.h"
#include "protocol/group_messages.h"

namespace runnel::kafka {

using namespace protocol;

namespace {

std::vector<std::byte> copy(std::span<const std::byte> b) { return {b.begin(), b.end()}; }

std::optional<std::string> copy(const std::optional<std::string_view>& s) {
    return s ? std::optional<std::string>(*s) : std::nullopt;
}

std::optional<std::string_view> view(const std::optional<std::string>& s) {
    return s ? std::optional<std::string_view>(*s) : std::nullopt;
}

} // namespace

bool broker::find_coordinator(kafka_request& r) {
    reader body(r.body());
    auto msg = decode<find_coordinator_request>(body, r.api_version);
    if (!msg) {
        return false;
    }
    find_coordinator_response res;
    auto answer = [&](find_coordinator_response_coordinator& c) {
        c.node_id = _opts.node_id;
        c.host = _opts.advertised_host;
        c.port = _opts.advertised_port;
        if (msg->key_type != coordinator_key_group) {
            c = {.key = c.key, .node_id = -1, .port = -1,
                 .error_code = error_coordinator_not_available,
                 .error_message = "transactions are not supported"};
        }
    };
    if (r.api_version >= 4) {
        for (std::string_view key : msg->coordinator_keys) {
            answer(res.coordinators.emplace_back(
              find_coordinator_response_coordinator{.key = key}));
        }
    } else {
        find_coordinator_response_coordinator c{.key = msg->key};
        answer(c);
        res.error_code = c.error_code;
        res.error_message = c.error_message;
        res.node_id = c.node_id;
        res.host = c.host;
        res.port = c.port;
    }
    encode(r.response, res, r.api_version);
    r.finish();
    return true;
}

bool broker::join_group(kafka_request& r) {
    reader body(r.body());
    auto msg = decode<join_group_request>(body, r.api_version);
    if (!msg) {
        return false;
    }
    join_args a{.group_id = std::string(msg->group_id),
                .member_id = std::string(msg->member_id),
                .group_instance_id = copy(msg->group_instance_id),
                .client_id = std::string(r.client_id.value_or("")),
                .client_host = r.client_host,
                .protocol_type = std::string(msg->protocol_type),
                .session_timeout_ms = msg->session_timeout_ms,
                .rebalance_timeout_ms = msg->rebalance_timeout_ms,
                .require_known_member = r.api_version >= 4};
    for (const auto& p : msg->protocols) {
        a.protocols.push_back({std::string(p.name), copy(p.metadata)});
    }
    _groups->join(std::move(a), [&r](join_result j) {
        join_group_response res{.error_code = j.error, .generation_id = j.generation_id,
                                .protocol_type = view(j.protocol_type),
                                .protocol_name = view(j.protocol_name), .leader = j.leader,
                                .member_id = j.member_id};
        for (const auto& m : j.members) {
            res.members.push_back({.member_id = m.member_id,
                                   .group_instance_id = view(m.group_instance_id),
                                   .metadata = m.metadata});
        }
        encode(r.response, res, r.api_version);
        r.finish();
    });
    return true;
}

bool broker::sync_group(kafka_request& r) {
    reader body(r.body());
    auto msg = decode<sync_group_request>(body, r.api_version);
    if (!msg) {
        return false;
    }
    sync_args a{.group_id = std::string(msg->group_id), .generation_id = msg->generation_id,
                .member_id = std::string(msg->member_id),
                .group_instance_id = copy(msg->group_instance_id),
                .protocol_type = copy(msg->protocol_type),
                .protocol_name = copy(msg->protocol_name)};
    for (const auto& m : msg->assignments) {
        a.assignments.push_back({std::string(m.member_id), copy(m.assignment)});
    }
    _groups->sync(std::move(a), [&r](sync_result s) {
        sync_group_response res{.error_code = s.error, .protocol_type = view(s.protocol_type),
                                .protocol_name = view(s.protocol_name),
                                .assignment = s.assignment};
        encode(r.response, res, r.api_version);
        r.finish();
    });
    return true;
}

bool broker::heartbeat(kafka_request& r) {
    reader body(r.body());
    auto msg = decode<heartbeat_request>(body, r.api_version);
    if (!msg) {
        return false;
    }
    heartbeat_response res;
    res.error_code = _groups->heartbeat({.group_id = std::string(msg->group_id),
                                         .generation_id = msg->generation_id,
                                         .member_id = std::string(msg->member_id),
                                         .group_instance_id = copy(msg->group_instance_id)});
    encode(r.response, res, r.api_version);
    r.finish();
    return true;
}

bool broker::leave_group(kafka_request& r) {
    reader body(r.body());
    auto msg = decode<leave_group_request>(body, r.api_version);
    if (!msg) {
        return false;
    }
    std::vector<member_identity> members;
    if (r.api_version < 3) {
        members.push_back({.member_id = std::string(msg->member_id)});
    }
    for (const auto& m : msg->members) {
        members.push_back({std::string(m.member_id), copy(m.group_instance_id)});
    }
    const leave_result left = _groups->leave(msg->group_id, members);
    leave_group_response res{.error_code = left.error};
    for (const auto& m : left.members) {
        res.members.push_back({.member_id = m.member_id,
                               .group_instance_id = view(m.group_instance_id),
                               .error_code = m.error});
    }
    if (r.api_version < 3 && res.error_code == error_none && !left.members.empty()) {
        res.error_code = left.members[0].error; // v0-2 answer the one member at the top
    }
    encode(r.response, res, r.api_version);
    r.finish();
    return true;
}

bool broker::offset_commit(kafka_request& r) {
    reader body(r.body());
    auto msg = decode<offset_commit_request>(body, r.api_version);
    if (!msg) {
        return false;
    }
    // The answer: every partition in request order, those of unknown topics answered here,
    // the rest by the coordinator in the same order.
    auto res = std::make_shared<offset_commit_response>();
    auto names = std::make_shared<std::vector<std::string>>(); // owns what `res` views
    names->reserve(msg->topics.size());
    commit_args a{.group_id = std::string(msg->group_id),
                  .generation_id = msg->generation_id_or_member_epoch,
                  .member_id = std::string(msg->member_id),
                  .group_instance_id = copy(msg->group_instance_id)};
    std::vector<std::pair<size_t, size_t>> asked; // (topic, partition) of each coordinator answer
    for (const auto& t : msg->topics) {
        names->emplace_back(t.name);
        auto& rt = res->topics.emplace_back(offset_commit_response_topic{.name = names->back()});
        const topic_entry* topic = find_topic(t.name);
        for (const auto& p : t.partitions) {
            auto& out = rt.partitions.emplace_back(
              offset_commit_response_partition{.partition_index = p.partition_index});
            if (topic == nullptr || p.partition_index < 0 ||
                p.partition_index >= topic->meta.partition_count) {
                out.error_code = error_unknown_topic_or_partition;
                continue;
            }
            a.offsets.push_back({.topic = std::string(t.name), .partition = p.partition_index,
                                 .offset = p.committed_offset,
                                 .leader_epoch = p.committed_leader_epoch,
                                 .metadata = std::string(p.committed_metadata.value_or(""))});
            asked.emplace_back(res->topics.size() - 1, rt.partitions.size() - 1);
        }
    }
    auto answer = [&r, res, names, asked](const std::vector<int16_t>& errors) {
        RUNNEL_ASSERT(errors.size() == asked.size());
        for (size_t i = 0; i < errors.size(); ++i) {
            res->topics[asked[i].first].partitions[asked[i].second].error_code = errors[i];
        }
        encode(r.response, *res, r.api_version);
        r.finish();
    };
    if (a.offsets.empty()) {
        answer({});
        return true;
    }
    _groups->commit_offsets(std::move(a), answer);
    return true;
}

bool broker::offset_fetch(kafka_request& r) {
    reader body(r.body());
    auto msg = decode<offset_fetch_request>(body, r.api_version);
    if (!msg) {
        return false;
    }
    if (r.api_version < 8) {
        msg->groups.push_back({.group_id = msg->group_id, .topics = msg->topics});
    }
    offset_fetch_response res;
    std::vector<fetch_result> results; // owns what `res` views
    results.reserve(msg->groups.size());
    for (const auto& g : msg->groups) {
        std::optional<std::vector<fetch_topic>> topics;
        if (g.topics) {
            topics.emplace();
            for (const auto& t : *g.topics) {
                topics->push_back({std::string(t.name), t.partition_indexes});
            }
        }
        const fetch_result& f = results.emplace_back(_groups->fetch_offsets(g.group_id, topics));
        auto& rg = res.groups.emplace_back(
          offset_fetch_response_group{.group_id = g.group_id, .error_code = f.error});
        for (const auto& p : f.partitions) {
            if (rg.topics.empty() || rg.topics.back().name != p.topic) {
                rg.topics.push_back({.name = p.topic});
            }
            rg.topics.back().partitions.push_back(
              {.partition_index = p.partition, .committed_offset = p.offset,
               .committed_leader_epoch = p.leader_epoch, .metadata = p.metadata,
               .error_code = p.error != error_none ? p.error : f.error});
        }
    }
    if (r.api_version < 8) {
        res.topics = std::move(res.groups[0].topics);
        res.error_code = res.groups[0].error_code;
        res.groups.clear();
    }
    encode(r.response, res, r.api_version);
    r.finish();
    return true;
}

bool broker::list_groups(kafka_request& r) {
    reader body(r.body());
    auto msg = decode<list_groups_request>(body, r.api_version);
    if (!msg) {
        return false;
    }
    std::vector<std::string> states(msg->states_filter.begin(), msg->states_filter.end());
    const auto groups = _groups->list_groups(states);
    list_groups_response res;
    for (const auto& g : groups) {
        res.groups.push_back({.group_id = g.group_id, .protocol_type = g.protocol_type,
                              .group_state = g.state});
    }
    encode(r.response, res, r.api_version);
    r.finish();
    return true;
}

bool broker::describe_groups(kafka_request& r) {
    reader body(r.body());
    auto msg = decode<describe_groups_request>(body, r.api_version);
    if (!msg) {
        return false;
    }
    std::vector<described_group> described; // owns what `res` views
    described.reserve(msg->groups.size());
    describe_groups_response res;
    for (std::string_view id : msg->groups) {
        const described_group& d = described.emplace_back(_groups->describe_group(id));
        auto& g = res.groups.emplace_back(describe_groups_response_group{
          .error_code = d.error, .group_id = id, .group_state = d.state,
          .protocol_type = d.protocol_type, .protocol_data = d.protocol_name});
        for (const auto& m : d.members) {
            g.members.push_back({.member_id = m.member_id,
                                 .group_instance_id = view(m.group_instance_id),
                                 .client_id = m.client_id, .client_host = m.client_host,
                                 .member_metadata = m.metadata,
                                 .member_assignment = m.assignment});
        }
    }
    encode(r.response, res, r.api_version);
    r.finish();
    return true;
}

bool broker::delete_groups(kafka_request& r) {
    reader body(r.body());
    auto msg = decode<delete_groups_request>(body, r.api_version);
    if (!msg) {
        return false;
    }
    std::vector<std::string> ids(msg->groups_names.begin(), msg->groups_names.end());
    const auto errors = _groups->delete_groups(ids);
    RUNNEL_ASSERT(errors.size() == ids.size());
    delete_groups_response res;
    for (size_t i = 0; i < ids.size(); ++i) {
        res.results.push_back({.group_id = msg->groups_names[i], .error_code = errors[i]});
    }
    encode(r.response, res, r.api_version);
    r.finish();
    return true;
}

void broker::compact_offsets(uint64_t now_us) {
    if (now_us < _next_compaction_check_us || !_offsets_log->idle()) {
        return;
    }
    _next_compaction_check_us = now_us + _opts.offsets_compact_interval_us;
    const uint64_t live = _groups->live_record_count();
    const uint64_t stored = _offsets_log->record_count();
    if (stored < _opts.offsets_compact_records_min || stored < 4 * live) {
        return;
    }
    std::fprintf(stderr, "kafka: compacting %s: %llu records, %llu live\n", offsets_topic.data(),
                 static_cast<unsigned long long>(stored), static_cast<unsigned long long>(live));
    _offsets_log->compact(_groups->live_records());
}

// Opens the internal offsets topic (creating it on first start) and replays it into a new
// group coordinator.
result<void, std::string> broker::start_groups() {
    if (find_topic(offsets_topic) == nullptr) {
        // Never deleted by retention: compact_offsets() drops what is superseded, and small
        // segments let it free the space soon.
        const auto e = create_topic(offsets_topic, _opts.offsets_partitions,
                                    {{"retention.ms", "-1"},
                                     {"retention.bytes", "-1"},
                                     {"segment.bytes", std::to_string(16 << 20)}},
                                    false);
        if (e.code != 0) {
            return failure("cannot create " + std::string(offsets_topic) + ": " + e.message);
        }
    }
    topic_entry& t = *find_topic(offsets_topic);
    t.internal = true;
    _offsets_log = std::make_unique<offsets_log>(_storage, t.meta.partition_count);
    _groups = std::make_unique<group_coordinator>(
      coordinator_options{.initial_rebalance_delay_ms = _opts.group_initial_rebalance_delay_ms,
                          .offsets_retention_ms = _opts.offsets_retention_ms},
      *_offsets_log, [] {
          using namespace std::chrono;
          return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
      });
    uint64_t skipped = 0;
    auto replayed = _offsets_log->replay(
      [&](std::span<const std::byte> key, std::optional<std::span<const std::byte>> value) {
          if (!_groups->load(key, value)) {
              ++skipped;
          }
      });
    if (!replayed) {
        return failure(replayed.error());
    }
    std::fprintf(stderr, "kafka: group coordinator loaded %llu records of %s",
                 static_cast<unsigned long long>(replayed.value()), offsets_topic.data());
    if (skipped > 0) {
        std::fprintf(stderr, " (%llu unreadable, skipped)",
                     static_cast<unsigned long long>(skipped));
    }
    std::fprintf(stderr, "\n");
    return {};
}

} // namespace runnel::kafka
