#include "kafka/group_coordinator.h"

#include "base/assert.h"
#include "protocol/codec.h"
#include "protocol/wire.h"

#include <algorithm>
#include <cctype>

namespace runnel::kafka {

using protocol::error_coordinator_not_available;
using protocol::error_fenced_instance_id;
using protocol::error_group_id_not_found;
using protocol::error_group_max_size_reached;
using protocol::error_illegal_generation;
using protocol::error_inconsistent_group_protocol;
using protocol::error_invalid_group_id;
using protocol::error_invalid_session_timeout;
using protocol::error_invalid_topic_exception;
using protocol::error_member_id_required;
using protocol::error_non_empty_group;
using protocol::error_offset_metadata_too_large;
using protocol::error_rebalance_in_progress;
using protocol::error_unknown_member_id;

namespace {

// The records keep their strings with int16 lengths, as Kafka's __consumer_offsets does.
constexpr size_t string_max = 32767;
constexpr int16_t offset_key_version = 1;
constexpr int16_t group_key_version = 2;
constexpr int16_t offset_value_version = 3;
constexpr int16_t group_value_version = 3;

std::vector<std::byte> offset_key(std::string_view group_id, std::string_view topic,
                                  int32_t partition) {
    protocol::writer w;
    w.int16(offset_key_version);
    w.string(group_id);
    w.string(topic);
    w.int32(partition);
    return std::move(w.bytes());
}

std::vector<std::byte> group_key(std::string_view group_id) {
    protocol::writer w;
    w.int16(group_key_version);
    w.string(group_id);
    return std::move(w.bytes());
}

std::vector<std::byte> offset_value(const offset_commit& o, int64_t commit_timestamp_ms) {
    protocol::writer w;
    w.int16(offset_value_version);
    w.int64(o.offset);
    w.int32(o.leader_epoch);
    w.string(o.metadata);
    w.int64(commit_timestamp_ms);
    return std::move(w.bytes());
}

// A member entry of a Kafka group metadata value (v3): Runnel writes none but accepts them.
void skip_member(protocol::reader& r) {
    r.string();          // member id
    r.nullable_string(); // group instance id
    r.string();          // client id
    r.string();          // client host
    r.int32();           // rebalance timeout
    r.int32();           // session timeout
    r.nullable_bytes();  // subscription
    r.nullable_bytes();  // assignment
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

bool supports(const std::vector<group_protocol>& protocols, std::string_view name) {
    return std::any_of(protocols.begin(), protocols.end(),
                       [&](const group_protocol& p) { return p.name == name; });
}

} // namespace

group_coordinator::group_coordinator(coordinator_options options, group_log& log,
                                     std::function<int64_t()> now_ms)
  : _options(options), _log(log), _now(std::move(now_ms)), _random(std::random_device{}()) {
    _next_due_ms = never;
    _next_sweep_ms = _now() + _options.offsets_retention_check_interval_ms;
}

// ---- join ----------------------------------------------------------------------------------

void group_coordinator::join(join_args a, join_callback done) {
    if (a.rebalance_timeout_ms < 0) {
        a.rebalance_timeout_ms = a.session_timeout_ms;
    }
    int16_t error = 0;
    group* g = nullptr;
    if (a.group_id.empty() || a.group_id.size() > string_max) {
        error = error_invalid_group_id;
    } else if (a.session_timeout_ms < _options.session_timeout_min_ms ||
               a.session_timeout_ms > _options.session_timeout_max_ms) {
        error = error_invalid_session_timeout;
    } else if (g = find(a.group_id); g == nullptr) {
        if (a.member_id.empty()) {
            g = &create(a.group_id);
        } else {
            error = error_unknown_member_id;
        }
    }
    if (error == 0) {
        error = check_join(*g, a);
    }
    if (error != 0) {
        reply(std::move(done), join_result{.error = error, .member_id = a.member_id});
    } else if (a.member_id.empty()) {
        join_new_member(*g, a, done);
    } else {
        join_known_member(*g, a, done);
    }
    if (g != nullptr) {
        try_complete_join(*g);
    }
    flush();
}

bool group_coordinator::supports_protocols(const group& g, const member* self,
                                           const join_args& a) {
    if (a.protocol_type.empty() || a.protocol_type.size() > string_max || a.protocols.empty()) {
        return false;
    }
    auto is_self = [&](const member& m) { return &m == self; };
    if (std::all_of(g.members.begin(), g.members.end(), is_self)) {
        return true; // the first member sets the protocol type
    }
    if (a.protocol_type != g.protocol_type) {
        return false;
    }
    return std::any_of(a.protocols.begin(), a.protocols.end(), [&](const group_protocol& p) {
        return p.name.size() <= string_max &&
               std::all_of(g.members.begin(), g.members.end(), [&](const member& m) {
                   return is_self(m) || supports(m.protocols, p.name);
               });
    });
}

int16_t group_coordinator::check_join(group& g, const join_args& a) {
    const bool by_instance = a.member_id.empty() && a.group_instance_id;
    member* self = by_instance ? find_static(g, *a.group_instance_id) : find_member(g, a.member_id);
    if (!supports_protocols(g, self, a)) {
        return error_inconsistent_group_protocol;
    }
    const bool pending = g.pending_members.contains(a.member_id);
    const bool adds = a.member_id.empty() ? self == nullptr : pending;
    const size_t others = g.members.size() + g.pending_members.size() - (pending ? 1 : 0);
    if (adds && others >= _options.group_max_size) {
        g.pending_members.erase(a.member_id);
        return error_group_max_size_reached;
    }
    return 0;
}

void group_coordinator::join_new_member(group& g, join_args& a, join_callback& done) {
    std::string id = new_member_id(a.client_id);
    if (a.group_instance_id) {
        if (member* m = find_static(g, *a.group_instance_id)) {
            replace_static_member(g, *m, std::move(id), a, done);
            return;
        }
    } else if (a.require_known_member) {
        // JoinGroup v4+: the member learns its id first, so a retried join cannot add it twice.
        const int64_t deadline = _now() + a.session_timeout_ms;
        g.pending_members[id] = deadline;
        arm(deadline);
        reply(std::move(done), join_result{.error = error_member_id_required, .member_id = id});
        return;
    }
    add_member_and_rebalance(g, std::move(id), a, done);
}

void group_coordinator::join_known_member(group& g, join_args& a, join_callback& done) {
    if (!a.group_instance_id && g.pending_members.erase(a.member_id) > 0) {
        add_member_and_rebalance(g, a.member_id, a, done);
        return;
    }
    if (int16_t e = validate_member(g, a.member_id, a.group_instance_id); e != 0) {
        reply(std::move(done), join_result{.error = e, .member_id = a.member_id});
        return;
    }
    member& m = *find_member(g, a.member_id);
    const bool same = m.protocols == a.protocols;
    // A leader rejoins a Stable group when it wants a new assignment, so it always rebalances.
    const bool leader = g.leader == m.id;
    if (g.state != group_state::preparing_rebalance && same &&
        (g.state == group_state::completing_rebalance || !leader)) {
        refresh(m);
        reply(std::move(done), current_generation(g, m));
        return;
    }
    update_member(g, m, a, done);
    if (g.state != group_state::preparing_rebalance) {
        prepare_rebalance(g);
    }
}

void group_coordinator::replace_static_member(group& g, member& m, std::string new_id,
                                              join_args& a, join_callback& done) {
    answer_join(m, {.error = error_fenced_instance_id, .member_id = m.id});
    answer_sync(m, {.error = error_fenced_instance_id});
    const std::string old_leader = g.leader.value_or("");
    if (g.leader == m.id) {
        g.leader = new_id;
    }
    m.id = std::move(new_id);
    m.client_id = a.client_id;
    m.client_host = a.client_host;
    // In a Stable group the new protocols replace the old ones (a cooperative member's
    // subscription names what it owns, so the bytes change with every restart) and cost a
    // rebalance only when they change the group's protocol, as Kafka decides.
    std::vector<group_protocol> previous = m.protocols;
    m.protocols = a.protocols;
    if (g.state == group_state::stable && g.protocol_name == select_protocol(g)) {
        m.session_timeout_ms = a.session_timeout_ms;
        m.rebalance_timeout_ms = a.rebalance_timeout_ms;
        refresh(m);
        // The old leader id, so that a restarted leader does not compute an assignment that a
        // Stable group would never hand out; its sync returns its previous assignment.
        join_result r = current_generation(g, m);
        r.leader = old_leader;
        r.members.clear();
        reply(std::move(done), std::move(r));
        return;
    }
    m.protocols = std::move(previous); // update_member compares and sets them
    update_member(g, m, a, done);
    if (g.state != group_state::preparing_rebalance) {
        prepare_rebalance(g);
    }
}

void group_coordinator::add_member_and_rebalance(group& g, std::string id, join_args& a,
                                                 join_callback& done) {
    if (g.members.empty()) {
        g.protocol_type = a.protocol_type;
    }
    if (!g.leader) {
        g.leader = id;
    }
    member m{.id = std::move(id),
             .instance_id = a.group_instance_id,
             .client_id = a.client_id,
             .client_host = a.client_host,
             .protocols = std::move(a.protocols),
             .session_timeout_ms = a.session_timeout_ms,
             .rebalance_timeout_ms = a.rebalance_timeout_ms,
             .awaiting_join = std::move(done),
             .is_new = true,
             .deadline_ms = _now() + _options.new_member_join_timeout_ms};
    arm(m.deadline_ms);
    g.members.push_back(std::move(m));
    if (g.state != group_state::preparing_rebalance) {
        prepare_rebalance(g);
    } else if (g.initial_delay) {
        g.new_member_added = true;
    }
}

void group_coordinator::update_member(group& g, member& m, join_args& a, join_callback& done) {
    m.protocols = std::move(a.protocols);
    m.session_timeout_ms = a.session_timeout_ms;
    m.rebalance_timeout_ms = a.rebalance_timeout_ms;
    if (g.members.size() == 1) {
        g.protocol_type = a.protocol_type;
    }
    // A join that replaces one still waiting answers the older one, so no request hangs.
    answer_join(m, {.error = error_rebalance_in_progress, .member_id = m.id});
    m.awaiting_join = std::move(done);
}

join_result group_coordinator::current_generation(const group& g, const member& m) const {
    const bool leader = g.leader == m.id;
    return {.generation_id = g.generation,
            .protocol_name = g.protocol_name,
            .protocol_type = g.protocol_type,
            .leader = g.leader.value_or(""),
            .member_id = m.id,
            .members = leader ? member_list(g) : std::vector<join_member>{}};
}

std::vector<join_member> group_coordinator::member_list(const group& g) const {
    std::vector<join_member> out;
    for (const member& m : g.members) {
        out.push_back({m.id, m.instance_id, metadata_of(m, g.protocol_name.value_or(""))});
    }
    return out;
}

std::vector<std::byte> group_coordinator::metadata_of(const member& m, std::string_view name) {
    for (const group_protocol& p : m.protocols) {
        if (p.name == name) {
            return p.metadata;
        }
    }
    return {};
}

// Each member votes for its most preferred protocol among those every member supports.
std::string group_coordinator::select_protocol(const group& g) const {
    std::vector<std::pair<std::string, int>> votes;
    for (const group_protocol& p : g.members.front().protocols) {
        auto everyone = [&](const member& m) { return supports(m.protocols, p.name); };
        if (std::all_of(g.members.begin(), g.members.end(), everyone)) {
            votes.emplace_back(p.name, 0);
        }
    }
    RUNNEL_ASSERT(!votes.empty()); // every join checked that a common protocol remains
    for (const member& m : g.members) {
        for (const group_protocol& p : m.protocols) {
            auto it = std::find_if(votes.begin(), votes.end(),
                                   [&](const auto& v) { return v.first == p.name; });
            if (it != votes.end()) {
                ++it->second;
                break;
            }
        }
    }
    auto best = std::max_element(votes.begin(), votes.end(),
                                 [](const auto& x, const auto& y) { return x.second < y.second; });
    return best->first;
}

// ---- rebalance -----------------------------------------------------------------------------

int32_t group_coordinator::rebalance_timeout(const group& g) {
    int32_t timeout = 0;
    for (const member& m : g.members) {
        timeout = std::max(timeout, m.rebalance_timeout_ms);
    }
    return timeout;
}

void group_coordinator::prepare_rebalance(group& g) {
    if (g.state == group_state::completing_rebalance) {
        reset_assignments(g, error_rebalance_in_progress);
    }
    for (member& m : g.members) {
        m.pending_sync = false;
    }
    const int64_t now = _now();
    const int32_t timeout = rebalance_timeout(g);
    // A group filling from Empty waits a little, so that members starting together share the
    // first generation instead of rebalancing once per arrival.
    g.initial_delay = g.state == group_state::empty;
    g.new_member_added = false;
    if (g.initial_delay) {
        const int64_t delay = _options.initial_rebalance_delay_ms;
        g.initial_remaining_ms = std::max<int64_t>(timeout - delay, 0);
        g.join_deadline_ms = now + delay;
    } else {
        g.join_deadline_ms = now + timeout;
    }
    arm(g.join_deadline_ms);
    transition(g, group_state::preparing_rebalance);
    try_complete_join(g);
}

void group_coordinator::try_complete_join(group& g) {
    if (g.state != group_state::preparing_rebalance || g.initial_delay ||
        !g.pending_members.empty()) {
        return;
    }
    for (const member& m : g.members) {
        if (!m.awaiting_join) {
            return;
        }
    }
    complete_join(g);
}

void group_coordinator::complete_join(group& g) {
    // Dynamic members that did not rejoin are gone; static ones keep their place until their
    // session times out, since they are expected back.
    for (size_t i = g.members.size(); i-- > 0;) {
        if (!g.members[i].awaiting_join && !g.members[i].instance_id) {
            remove_member(g, i, error_unknown_member_id);
        }
    }
    auto joined = std::find_if(g.members.begin(), g.members.end(),
                               [](const member& m) { return bool(m.awaiting_join); });
    if (!g.members.empty() && joined == g.members.end()) {
        g.join_deadline_ms = _now() + rebalance_timeout(g);
        arm(g.join_deadline_ms);
        return;
    }
    const member* leader = g.leader ? find_member(g, *g.leader) : nullptr;
    if (!g.members.empty() && (leader == nullptr || !leader->awaiting_join)) {
        g.leader = joined->id;
    }
    g.initial_delay = false;
    ++g.generation;
    if (g.members.empty()) {
        g.protocol_name.reset();
        g.leader.reset();
        transition(g, group_state::empty);
        append_unwatched(g, {group_metadata_record(g)});
        return;
    }
    g.protocol_name = select_protocol(g);
    transition(g, group_state::completing_rebalance);
    for (member& m : g.members) {
        answer_join(m, current_generation(g, m));
        m.is_new = false;
        m.pending_sync = true;
        refresh(m);
    }
    g.sync_deadline_ms = _now() + rebalance_timeout(g);
    arm(g.sync_deadline_ms);
}

void group_coordinator::on_join_deadline(group& g) {
    if (g.initial_delay && g.new_member_added && g.initial_remaining_ms > 0) {
        const int64_t delay =
            std::min<int64_t>(_options.initial_rebalance_delay_ms, g.initial_remaining_ms);
        g.new_member_added = false;
        g.initial_remaining_ms -= delay;
        g.join_deadline_ms = _now() + delay;
        arm(g.join_deadline_ms);
        return;
    }
    g.initial_delay = false;
    complete_join(g);
}

// Members of the generation that never synced (a leader that never assigns would stall the
// group) are removed, and the others rebalance without them.
void group_coordinator::on_sync_deadline(group& g) {
    g.sync_deadline_ms = never;
    bool removed = false;
    for (size_t i = g.members.size(); i-- > 0;) {
        if (g.members[i].pending_sync) {
            remove_member(g, i, error_unknown_member_id);
            removed = true;
        }
    }
    if (removed) {
        prepare_rebalance(g);
    }
}

void group_coordinator::sync(sync_args a, sync_callback done) {
    group* g = a.group_id.empty() ? nullptr : find(a.group_id);
    int16_t error = a.group_id.empty() ? int16_t(error_invalid_group_id)
                    : g == nullptr     ? int16_t(error_unknown_member_id)
                                       : validate_member(*g, a.member_id, a.group_instance_id);
    if (error == 0 && a.generation_id != g->generation) {
        error = error_illegal_generation;
    } else if (error == 0 && ((a.protocol_type && *a.protocol_type != g->protocol_type) ||
                              (a.protocol_name && a.protocol_name != g->protocol_name))) {
        error = error_inconsistent_group_protocol;
    } else if (error == 0 && g->state == group_state::preparing_rebalance) {
        error = error_rebalance_in_progress;
    }
    if (error != 0) {
        reply(std::move(done), sync_result{.error = error});
        flush();
        return;
    }
    member& m = *find_member(*g, a.member_id);
    m.pending_sync = false;
    if (g->state == group_state::stable) {
        refresh(m);
        reply(std::move(done),
              sync_result{.protocol_type = g->protocol_type,
                          .protocol_name = g->protocol_name,
                          .assignment = m.assignment});
    } else {
        answer_sync(m, {.error = error_rebalance_in_progress}); // a repeated sync
        m.awaiting_sync = std::move(done);
        if (g->leader == m.id) {
            store_assignments(*g, std::move(a.assignments));
        }
    }
    flush();
}

void group_coordinator::store_assignments(group& g, std::vector<member_assignment> assignments) {
    auto stored = [this, id = g.id, incarnation = g.incarnation, generation = g.generation,
                   given = std::move(assignments)](bool ok) mutable {
        on_assignments_stored(id, incarnation, generation, std::move(given), ok);
        flush();
    };
    std::vector<group_record> records;
    records.push_back(group_metadata_record(g));
    _log.append(g.id, std::move(records), std::move(stored));
}

void group_coordinator::on_assignments_stored(const std::string& group_id, uint64_t incarnation,
                                              int32_t generation,
                                              std::vector<member_assignment> assignments,
                                              bool ok) {
    group* g = find(group_id);
    // A rebalance that started meanwhile has already answered the waiting syncs.
    if (g == nullptr || g->incarnation != incarnation || g->generation != generation ||
        g->state != group_state::completing_rebalance) {
        return;
    }
    if (!ok) {
        reset_assignments(*g, error_coordinator_not_available);
        prepare_rebalance(*g);
        return;
    }
    for (member& m : g->members) {
        auto it = std::find_if(assignments.begin(), assignments.end(),
                               [&](const member_assignment& x) { return x.member_id == m.id; });
        m.assignment = it == assignments.end() ? std::vector<std::byte>{} : it->assignment;
        answer_sync(m, {.protocol_type = g->protocol_type,
                        .protocol_name = g->protocol_name,
                        .assignment = m.assignment});
    }
    transition(*g, group_state::stable);
}

void group_coordinator::reset_assignments(group& g, int16_t error) {
    for (member& m : g.members) {
        m.assignment.clear();
        answer_sync(m, {.error = error});
    }
}

void group_coordinator::remove_member(group& g, size_t index, int16_t error) {
    member& m = g.members[index];
    answer_join(m, {.error = error, .member_id = m.id});
    answer_sync(m, {.error = error});
    const std::string id = m.id;
    g.members.erase(g.members.begin() + std::ptrdiff_t(index));
    if (g.leader == id) {
        g.leader = g.members.empty() ? std::nullopt : std::optional(g.members.front().id);
    }
}

void group_coordinator::member_left(group& g) {
    if (g.state == group_state::stable || g.state == group_state::completing_rebalance) {
        prepare_rebalance(g);
    } else {
        try_complete_join(g);
    }
}

// ---- heartbeat and leave -------------------------------------------------------------------

int16_t group_coordinator::heartbeat(const heartbeat_args& a) {
    if (a.group_id.empty()) {
        return error_invalid_group_id;
    }
    group* g = find(a.group_id);
    if (g == nullptr) {
        return error_unknown_member_id;
    }
    if (int16_t e = validate_member(*g, a.member_id, a.group_instance_id); e != 0) {
        return e;
    }
    if (a.generation_id != g->generation) {
        return error_illegal_generation;
    }
    refresh(*find_member(*g, a.member_id));
    // The member learns of the rebalance here and rejoins.
    return g->state == group_state::preparing_rebalance ? int16_t(error_rebalance_in_progress)
                                                        : int16_t(0);
}

leave_result group_coordinator::leave(std::string_view group_id,
                                      const std::vector<member_identity>& members) {
    leave_result r;
    if (group_id.empty()) {
        r.error = error_invalid_group_id;
        return r;
    }
    group* g = find(group_id);
    for (const member_identity& who : members) {
        const int16_t e = g == nullptr ? int16_t(error_unknown_member_id) : leave_one(*g, who);
        r.members.push_back({who.member_id, who.group_instance_id, e});
    }
    flush();
    return r;
}

int16_t group_coordinator::leave_one(group& g, const member_identity& who) {
    if (!who.group_instance_id && g.pending_members.erase(who.member_id) > 0) {
        try_complete_join(g);
        return 0;
    }
    std::string id = who.member_id;
    if (who.group_instance_id) {
        const member* s = find_static(g, *who.group_instance_id);
        if (s == nullptr) {
            return error_unknown_member_id;
        }
        if (!id.empty() && s->id != id) {
            return error_fenced_instance_id;
        }
        id = s->id;
    }
    for (size_t i = 0; i < g.members.size(); ++i) {
        if (g.members[i].id == id) {
            remove_member(g, i, error_unknown_member_id);
            member_left(g);
            return 0;
        }
    }
    return error_unknown_member_id;
}

// ---- offsets -------------------------------------------------------------------------------

int16_t group_coordinator::check_commit(const commit_args& a, group*& g) {
    if (a.group_id.empty() || a.group_id.size() > string_max) {
        return error_invalid_group_id;
    }
    g = find(a.group_id);
    if (g == nullptr) {
        if (a.generation_id >= 0) {
            return error_illegal_generation;
        }
        g = &create(a.group_id); // a group that only stores offsets
    }
    if (a.generation_id < 0 && g->state == group_state::empty) {
        return 0;
    }
    // The member already has the new generation from its join but not its assignment.
    if (g->state == group_state::completing_rebalance) {
        return error_rebalance_in_progress;
    }
    if (a.generation_id >= 0 || !a.member_id.empty() || a.group_instance_id) {
        if (int16_t e = validate_member(*g, a.member_id, a.group_instance_id); e != 0) {
            return e;
        }
        return a.generation_id == g->generation ? int16_t(0) : int16_t(error_illegal_generation);
    }
    return error_unknown_member_id; // a group with members takes commits from members only
}

void group_coordinator::commit_offsets(commit_args a, commit_callback done) {
    group* g = nullptr;
    const int16_t error = check_commit(a, g);
    std::vector<int16_t> errors(a.offsets.size(), error);
    std::vector<group_record> records;
    std::vector<size_t> accepted;
    const int64_t now = _now();
    for (size_t i = 0; i < a.offsets.size() && error == 0; ++i) {
        const offset_commit& o = a.offsets[i];
        if (o.metadata.size() > _options.offset_metadata_max_bytes) {
            errors[i] = error_offset_metadata_too_large;
        } else if (o.topic.size() > string_max) {
            errors[i] = error_invalid_topic_exception;
        } else {
            records.push_back({offset_key(g->id, o.topic, o.partition), offset_value(o, now)});
            accepted.push_back(i);
            ++g->pending_commits[{o.topic, o.partition}];
        }
    }
    if (records.empty()) {
        reply(std::move(done), std::move(errors));
        flush();
        return;
    }
    if (member* m = find_member(*g, a.member_id)) {
        refresh(*m); // a committing member is alive
    }
    auto stored = [this, id = g->id, incarnation = g->incarnation, now,
                   offsets = std::move(a.offsets), indexes = std::move(accepted),
                   answers = std::move(errors),
                   cb = std::move(done)](bool ok) mutable {
        on_offsets_stored(id, incarnation, now, offsets, indexes, ok);
        for (size_t i : indexes) {
            answers[i] = ok ? int16_t(0) : int16_t(error_coordinator_not_available);
        }
        reply(std::move(cb), std::move(answers));
        flush();
    };
    _log.append(g->id, std::move(records), std::move(stored));
    flush();
}

void group_coordinator::on_offsets_stored(const std::string& group_id, uint64_t incarnation,
                                          int64_t timestamp_ms,
                                          const std::vector<offset_commit>& offsets,
                                          const std::vector<size_t>& accepted, bool ok) {
    group* g = find(group_id);
    if (g == nullptr || g->incarnation != incarnation) {
        return; // deleted meanwhile: its tombstones follow these records in the log
    }
    for (size_t i : accepted) {
        const offset_commit& o = offsets[i];
        topic_partition tp{o.topic, o.partition};
        if (--g->pending_commits[tp] == 0) {
            g->pending_commits.erase(tp);
        }
        if (ok) {
            g->offsets[tp] = {o.offset, o.leader_epoch, o.metadata, timestamp_ms};
        }
    }
}

fetch_result group_coordinator::fetch_offsets(
    std::string_view group_id, const std::optional<std::vector<fetch_topic>>& topics) const {
    fetch_result r;
    if (group_id.empty()) {
        r.error = error_invalid_group_id;
        return r;
    }
    const group* g = find(group_id);
    auto add = [&](const std::string& topic, int32_t partition, const committed_offset* c) {
        fetched_offset f{.topic = topic, .partition = partition};
        if (c != nullptr) {
            f.offset = c->offset;
            f.leader_epoch = c->leader_epoch;
            f.metadata = c->metadata;
        }
        r.partitions.push_back(std::move(f));
    };
    if (!topics) {
        static const decltype(group::offsets) no_offsets;
        for (const auto& [tp, c] : g != nullptr ? g->offsets : no_offsets) {
            add(tp.first, tp.second, &c);
        }
        return r;
    }
    for (const fetch_topic& t : *topics) {
        for (int32_t partition : t.partitions) {
            const committed_offset* c = nullptr;
            if (g != nullptr) {
                auto it = g->offsets.find({t.topic, partition});
                c = it == g->offsets.end() ? nullptr : &it->second;
            }
            add(t.topic, partition, c);
        }
    }
    return r;
}

// ---- administration ------------------------------------------------------------------------

std::vector<listed_group> group_coordinator::list_groups(
    const std::vector<std::string>& states) const {
    std::vector<listed_group> out;
    for (const auto& [id, g] : _groups) {
        const std::string state = state_name(g.state);
        auto wanted = [&](const std::string& s) { return iequals(s, state); };
        if (states.empty() || std::any_of(states.begin(), states.end(), wanted)) {
            out.push_back({id, g.protocol_type, state});
        }
    }
    return out;
}

described_group group_coordinator::describe_group(std::string_view group_id) const {
    described_group d{.group_id = std::string(group_id)};
    if (group_id.empty()) {
        d.error = error_invalid_group_id;
        return d;
    }
    const group* g = find(group_id);
    if (g == nullptr) {
        d.state = "Dead"; // Kafka answers an unknown group this way, without an error
        return d;
    }
    d.state = state_name(g->state);
    d.protocol_type = g->protocol_type;
    const bool stable = g->state == group_state::stable;
    if (stable) {
        d.protocol_name = g->protocol_name.value_or("");
    }
    for (const member& m : g->members) {
        described_member dm{m.id, m.instance_id, m.client_id, m.client_host, {}, {}};
        if (stable) {
            dm.metadata = metadata_of(m, d.protocol_name);
            dm.assignment = m.assignment;
        }
        d.members.push_back(std::move(dm));
    }
    return d;
}

std::vector<int16_t> group_coordinator::delete_groups(const std::vector<std::string>& group_ids) {
    std::vector<int16_t> errors;
    for (const std::string& id : group_ids) {
        group* g = id.empty() ? nullptr : find(id);
        if (id.empty()) {
            errors.push_back(error_invalid_group_id);
        } else if (g == nullptr) {
            errors.push_back(error_group_id_not_found);
        } else if (g->state != group_state::empty) {
            errors.push_back(error_non_empty_group);
        } else {
            // Commits still in flight get tombstones too: their records precede these.
            std::vector<group_record> records;
            for (const auto& [tp, c] : g->offsets) {
                records.push_back({offset_key(id, tp.first, tp.second), std::nullopt});
            }
            for (const auto& [tp, n] : g->pending_commits) {
                if (!g->offsets.contains(tp)) {
                    records.push_back({offset_key(id, tp.first, tp.second), std::nullopt});
                }
            }
            records.push_back({group_key(id), std::nullopt});
            append_unwatched(*g, std::move(records));
            _groups.erase(_groups.find(id));
            errors.push_back(0);
        }
    }
    return errors;
}

// ---- timers --------------------------------------------------------------------------------

uint32_t group_coordinator::poll() {
    const int64_t now = _now();
    uint32_t work = 0;
    if (now >= _next_due_ms) {
        _next_due_ms = never;
        for (auto& [id, g] : _groups) {
            work += fire_timers(g, now);
        }
    }
    if (now >= _next_sweep_ms) {
        _next_sweep_ms = now + _options.offsets_retention_check_interval_ms;
        work += sweep_offsets(now);
    }
    flush();
    return work;
}

uint32_t group_coordinator::fire_timers(group& g, int64_t now) {
    uint32_t fired = 0;
    for (auto it = g.pending_members.begin(); it != g.pending_members.end();) {
        if (now >= it->second) {
            it = g.pending_members.erase(it);
            ++fired;
        } else {
            ++it;
        }
    }
    if (fired > 0) {
        try_complete_join(g);
    }
    fired += expire_members(g, now);
    if (g.state == group_state::preparing_rebalance && now >= g.join_deadline_ms) {
        on_join_deadline(g);
        ++fired;
    }
    if ((g.state == group_state::completing_rebalance || g.state == group_state::stable) &&
        now >= g.sync_deadline_ms) {
        on_sync_deadline(g);
        ++fired;
    }
    arm(group_due(g));
    return fired;
}

// Members waiting in a join or a sync are alive by definition (the rebalance and sync timeouts
// cover them), except a new member, whose first join may be abandoned.
bool group_coordinator::session_expired(const member& m, int64_t now) {
    if (m.awaiting_join) {
        return m.is_new && now >= m.deadline_ms;
    }
    return !m.awaiting_sync && now >= m.deadline_ms;
}

uint32_t group_coordinator::expire_members(group& g, int64_t now) {
    uint32_t expired = 0;
    for (size_t i = 0; i < g.members.size();) {
        if (!session_expired(g.members[i], now)) {
            ++i;
            continue;
        }
        remove_member(g, i, error_unknown_member_id);
        member_left(g);
        ++expired;
        i = 0; // a completed rebalance may have removed others
    }
    return expired;
}

int64_t group_coordinator::group_due(const group& g) const {
    int64_t due = never;
    for (const auto& [id, deadline] : g.pending_members) {
        due = std::min(due, deadline);
    }
    for (const member& m : g.members) {
        if ((m.is_new || !m.awaiting_join) && !m.awaiting_sync) {
            due = std::min(due, m.deadline_ms);
        }
    }
    if (g.state == group_state::preparing_rebalance) {
        due = std::min(due, g.join_deadline_ms);
    }
    if (g.state == group_state::completing_rebalance || g.state == group_state::stable) {
        due = std::min(due, g.sync_deadline_ms);
    }
    return due;
}

// Offsets of an Empty group expire a retention period after their commit or after the group
// became Empty, whichever is later; an Empty group left with nothing is removed.
uint32_t group_coordinator::sweep_offsets(int64_t now) {
    uint32_t removed = 0;
    for (auto it = _groups.begin(); it != _groups.end();) {
        group& g = it->second;
        if (g.state != group_state::empty) {
            ++it;
            continue;
        }
        std::vector<group_record> records;
        for (auto o = g.offsets.begin(); o != g.offsets.end();) {
            const int64_t base = std::max(o->second.commit_timestamp_ms, g.state_since_ms);
            if (now - base >= _options.offsets_retention_ms &&
                !g.pending_commits.contains(o->first)) {
                records.push_back({offset_key(g.id, o->first.first, o->first.second), {}});
                o = g.offsets.erase(o);
                ++removed;
            } else {
                ++o;
            }
        }
        const bool drop =
            g.offsets.empty() && g.pending_commits.empty() && g.pending_members.empty();
        if (drop) {
            records.push_back({group_key(g.id), std::nullopt});
            ++removed;
        }
        if (!records.empty()) {
            append_unwatched(g, std::move(records));
        }
        it = drop ? _groups.erase(it) : std::next(it);
    }
    return removed;
}

void group_coordinator::arm(int64_t deadline_ms) {
    _next_due_ms = std::min(_next_due_ms, deadline_ms);
}

void group_coordinator::refresh(member& m) {
    m.deadline_ms = _now() + m.session_timeout_ms;
    arm(m.deadline_ms);
}

// ---- persistence ---------------------------------------------------------------------------

bool group_coordinator::load(std::span<const std::byte> key,
                             std::optional<std::span<const std::byte>> value) {
    protocol::reader r(key);
    const int16_t version = r.int16();
    const std::string_view group_id = r.string();
    if (version == 0 || version == 1) {
        const std::string_view topic = r.string();
        const int32_t partition = r.int32();
        if (!r.ok() || r.remaining() != 0 || group_id.empty()) {
            return false;
        }
        return load_offset(group_id, topic, partition, value);
    }
    if (version != group_key_version || !r.ok() || r.remaining() != 0 || group_id.empty()) {
        return false;
    }
    return load_group(group_id, value);
}

bool group_coordinator::load_offset(std::string_view group_id, std::string_view topic,
                                    int32_t partition,
                                    std::optional<std::span<const std::byte>> value) {
    group* g = find(group_id);
    topic_partition tp{std::string(topic), partition};
    if (!value) {
        if (g != nullptr) {
            g->offsets.erase(tp);
            forget_if_unused(*g);
        }
        return true;
    }
    protocol::reader r(*value);
    const int16_t version = r.int16();
    committed_offset c;
    c.offset = r.int64();
    c.leader_epoch = r.int32();
    c.metadata = std::string(r.string());
    c.commit_timestamp_ms = r.int64();
    if (version != offset_value_version || !r.ok() || r.remaining() != 0) {
        return false;
    }
    if (g == nullptr) {
        g = &create(group_id);
        g->state_since_ms = 0; // offsets alone age from their commit timestamps
    }
    g->offsets[tp] = std::move(c);
    return true;
}

bool group_coordinator::load_group(std::string_view group_id,
                                   std::optional<std::span<const std::byte>> value) {
    group* g = find(group_id);
    if (!value) {
        if (g != nullptr) {
            g->generation = 0;
            g->protocol_type.clear();
            g->protocol_name.reset();
            forget_if_unused(*g);
        }
        return true;
    }
    protocol::reader r(*value);
    const int16_t version = r.int16();
    const std::string_view protocol_type = r.string();
    const int32_t generation = r.int32();
    const std::optional<std::string_view> protocol_name = r.nullable_string();
    r.nullable_string(); // the leader: members are not restored, so neither is it
    const int64_t state_timestamp = r.int64();
    const int32_t members = r.array_length();
    for (int32_t i = 0; i < members && r.ok(); ++i) {
        skip_member(r);
    }
    if (version != group_value_version || !r.ok() || r.remaining() != 0 || members < 0) {
        return false;
    }
    if (g == nullptr) {
        g = &create(group_id);
    }
    g->protocol_type = std::string(protocol_type);
    g->generation = generation;
    g->protocol_name = protocol_name ? std::optional<std::string>(*protocol_name) : std::nullopt;
    g->state_since_ms = state_timestamp;
    return true;
}

void group_coordinator::forget_if_unused(group& g) {
    if (g.state == group_state::empty && g.offsets.empty() && g.generation == 0 &&
        g.protocol_type.empty() && g.pending_members.empty() && g.pending_commits.empty()) {
        _groups.erase(_groups.find(g.id));
    }
}

group_record group_coordinator::group_metadata_record(const group& g) const {
    protocol::writer w;
    w.int16(group_value_version);
    w.string(g.protocol_type);
    w.int32(g.generation);
    w.nullable_string(g.protocol_name);
    w.nullable_string(g.leader);
    w.int64(_now());
    w.array_length(0); // members are not persisted: they rejoin after a restart
    return {group_key(g.id), std::move(w.bytes())};
}

std::vector<group_record> group_coordinator::live_records() const {
    std::vector<group_record> out;
    out.reserve(live_record_count());
    for (const auto& [id, g] : _groups) {
        if (g.generation > 0 || !g.protocol_type.empty()) {
            out.push_back(group_metadata_record(g));
        }
        for (const auto& [tp, o] : g.offsets) {
            const offset_commit c{.topic = tp.first, .partition = tp.second, .offset = o.offset,
                                  .leader_epoch = o.leader_epoch, .metadata = o.metadata};
            out.push_back({offset_key(id, tp.first, tp.second),
                           offset_value(c, o.commit_timestamp_ms)});
        }
    }
    return out;
}

size_t group_coordinator::live_record_count() const {
    size_t n = 0;
    for (const auto& [id, g] : _groups) {
        n += g.offsets.size() + ((g.generation > 0 || !g.protocol_type.empty()) ? 1 : 0);
    }
    return n;
}

// A record whose loss costs little (an Empty group's metadata, tombstones): if the append fails
// the older records stay and a restart replays them, as Kafka accepts for the same records.
void group_coordinator::append_unwatched(const group& g, std::vector<group_record> records) {
    _log.append(g.id, std::move(records), [](bool) {});
}

// ---- helpers -------------------------------------------------------------------------------

group_coordinator::group* group_coordinator::find(std::string_view id) {
    auto it = _groups.find(id);
    return it == _groups.end() ? nullptr : &it->second;
}

const group_coordinator::group* group_coordinator::find(std::string_view id) const {
    auto it = _groups.find(id);
    return it == _groups.end() ? nullptr : &it->second;
}

group_coordinator::group& group_coordinator::create(std::string_view id) {
    auto [it, fresh] = _groups.try_emplace(std::string(id));
    RUNNEL_ASSERT(fresh);
    group& g = it->second;
    g.id = it->first;
    g.incarnation = ++_incarnations;
    g.state_since_ms = _now();
    return g;
}

group_coordinator::member* group_coordinator::find_member(group& g, std::string_view id) {
    for (member& m : g.members) {
        if (m.id == id) {
            return &m;
        }
    }
    return nullptr;
}

group_coordinator::member* group_coordinator::find_static(group& g, std::string_view instance_id) {
    for (member& m : g.members) {
        if (m.instance_id == instance_id) {
            return &m;
        }
    }
    return nullptr;
}

int16_t group_coordinator::validate_member(group& g, std::string_view id,
                                           const std::optional<std::string>& instance_id) {
    if (instance_id) {
        const member* s = find_static(g, *instance_id);
        if (s != nullptr && s->id != id) {
            return error_fenced_instance_id;
        }
    }
    const member* m = find_member(g, id);
    if (m == nullptr) {
        return error_unknown_member_id;
    }
    if (instance_id && m->instance_id != instance_id) {
        return error_fenced_instance_id;
    }
    return 0;
}

void group_coordinator::transition(group& g, group_state s) {
    g.state = s;
    g.state_since_ms = _now();
}

void group_coordinator::answer_join(member& m, join_result r) {
    if (m.awaiting_join) {
        reply(std::move(m.awaiting_join), std::move(r));
        m.awaiting_join = nullptr;
    }
}

void group_coordinator::answer_sync(member& m, sync_result r) {
    if (m.awaiting_sync) {
        reply(std::move(m.awaiting_sync), std::move(r));
        m.awaiting_sync = nullptr;
        refresh(m);
    }
}

void group_coordinator::defer(std::function<void()> answer) {
    _outbox.push_back(std::move(answer));
}

void group_coordinator::flush() {
    if (_flushing) {
        return; // the outer flush runs what this call queued
    }
    _flushing = true;
    for (size_t i = 0; i < _outbox.size(); ++i) {
        auto answer = std::move(_outbox[i]);
        answer();
    }
    _outbox.clear();
    _flushing = false;
}

std::string group_coordinator::new_member_id(std::string_view client_id) {
    static constexpr char hex[] = "0123456789abcdef";
    // The prefix is bounded so the id still fits the records' int16 strings.
    std::string id(client_id.substr(0, 4096));
    id += '-';
    for (int word = 0; word < 2; ++word) {
        uint64_t bits = _random();
        for (int digit = 0; digit < 16; ++digit, bits >>= 4) {
            id += hex[bits & 15];
        }
    }
    return id;
}

const char* group_coordinator::state_name(group_state s) {
    switch (s) {
    case group_state::empty:
        return "Empty";
    case group_state::preparing_rebalance:
        return "PreparingRebalance";
    case group_state::completing_rebalance:
        return "CompletingRebalance";
    case group_state::stable:
        return "Stable";
    }
    return "Dead";
}

} // namespace runnel::kafka
