// Group coordinator tests: a fake clock, and a fake group_log that records appends and lets each
// test complete them (ok or failed), in order.
#include "kafka/group_coordinator.h"

#include "../protocol/bytes.h"
#include "protocol/codec.h"

#include <gtest/gtest.h>

#include <deque>
#include <memory>
#include <random>

using namespace runnel::kafka;
namespace proto = runnel::protocol;

namespace {

std::vector<std::byte> to_bytes(std::string_view s) {
    std::vector<std::byte> out;
    for (char c : s) {
        out.push_back(std::byte(c));
    }
    return out;
}

std::string text(const std::vector<std::byte>& b) {
    return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

class fake_log final : public group_log {
public:
    struct call {
        std::string group_id;
        std::vector<group_record> records;
        std::function<void(bool)> done;
    };

    void append(std::string_view group_id, std::vector<group_record> records,
                std::function<void(bool)> done) override {
        calls.push_back({std::string(group_id), std::move(records), std::move(done)});
    }

    // Completes the oldest append still pending.
    void complete(bool ok = true) {
        ASSERT_FALSE(calls.empty());
        call c = std::move(calls.front());
        calls.pop_front();
        if (ok) {
            durable.insert(durable.end(), c.records.begin(), c.records.end());
        }
        c.done(ok);
    }

    void complete_all(bool ok = true) {
        while (!calls.empty()) {
            complete(ok);
        }
    }

    std::deque<call> calls;
    std::vector<group_record> durable; // every record of a successful append, in log order
};

// Where a callback's answer lands; ready() once the coordinator has answered.
template <typename T>
class answer {
public:
    std::function<void(T)> sink() {
        return [b = _box](T r) {
            ++b->count;
            b->value = std::move(r);
        };
    }
    bool ready() const { return _box->value.has_value(); }
    int count() const { return _box->count; }
    const T& operator*() const { return _box->value.value(); }
    const T* operator->() const { return &_box->value.value(); }

private:
    struct box {
        std::optional<T> value;
        int count = 0;
    };
    std::shared_ptr<box> _box = std::make_shared<box>();
};

bool has_tombstone(const fake_log& log, const std::vector<std::byte>& key) {
    for (const auto& c : log.calls) {
        for (const auto& r : c.records) {
            if (r.key == key && !r.value) {
                return true;
            }
        }
    }
    return false;
}

std::vector<std::byte> offset_key_bytes(std::string_view group, std::string_view topic,
                                        int32_t partition) {
    proto::writer w;
    w.int16(1);
    w.string(group);
    w.string(topic);
    w.int32(partition);
    return w.bytes();
}

class group_test : public ::testing::Test {
protected:
    void SetUp() override { start({}); }

    void start(coordinator_options o) {
        options = o;
        gc = std::make_unique<group_coordinator>(o, log, [this] { return now; });
    }

    void advance(int64_t ms) {
        now += ms;
        gc->poll();
    }

    static join_args args(std::string member_id = "", std::string meta = "m") {
        return {.group_id = "g",
                .member_id = std::move(member_id),
                .client_id = "c",
                .client_host = "/10.0.0.1",
                .protocol_type = "consumer",
                .protocols = {{"range", to_bytes(meta)}},
                .session_timeout_ms = 10000,
                .rebalance_timeout_ms = 20000};
    }

    static join_args static_args(std::string instance, std::string member_id = "") {
        join_args a = args(std::move(member_id));
        a.group_instance_id = std::move(instance);
        return a;
    }

    answer<join_result> join(join_args a) {
        answer<join_result> r;
        gc->join(std::move(a), r.sink());
        return r;
    }

    answer<sync_result> sync(const join_result& j, std::vector<member_assignment> given = {},
                             std::optional<std::string> instance = {}, std::string group = "g") {
        answer<sync_result> r;
        gc->sync({.group_id = std::move(group),
                  .generation_id = j.generation_id,
                  .member_id = j.member_id,
                  .group_instance_id = std::move(instance),
                  .assignments = std::move(given)},
                 r.sink());
        return r;
    }

    int16_t heartbeat(const join_result& j, std::optional<std::string> instance = {},
                      std::string group = "g") {
        return gc->heartbeat({std::move(group), j.generation_id, j.member_id, std::move(instance)});
    }

    std::vector<int16_t> commit(commit_args c, bool ok = true) {
        answer<std::vector<int16_t>> r;
        gc->commit_offsets(std::move(c), r.sink());
        if (!log.calls.empty()) {
            log.complete(ok);
        }
        return r.ready() ? *r : std::vector<int16_t>{-99};
    }

    void run_until_joined(const std::vector<answer<join_result>>& js) {
        auto all = [&] {
            return std::all_of(js.begin(), js.end(), [](const auto& j) { return j.ready(); });
        };
        for (int i = 0; i < 100 && !all(); ++i) {
            advance(500);
        }
    }

    // Joins the members, completes the rebalance and the syncs: the group is Stable, the leader
    // having assigned "a:<member id>" to every member. Results in join order.
    std::vector<join_result> form(std::vector<join_args> members) {
        std::vector<answer<join_result>> js;
        for (const join_args& a : members) {
            js.push_back(join(a));
        }
        run_until_joined(js);
        std::vector<join_result> out;
        for (const auto& j : js) {
            if (!j.ready() || j->error != 0) {
                ADD_FAILURE() << "join did not complete";
                return {};
            }
            out.push_back(*j);
        }
        std::vector<member_assignment> given;
        for (const join_result& j : out) {
            for (const join_member& m : j.members) {
                given.push_back({m.member_id, to_bytes("a:" + m.member_id)});
            }
        }
        std::vector<answer<sync_result>> ss;
        for (size_t i = 0; i < out.size(); ++i) {
            const bool leader = out[i].member_id == out[i].leader;
            ss.push_back(sync(out[i], leader ? given : std::vector<member_assignment>{},
                              members[i].group_instance_id, members[i].group_id));
        }
        log.complete_all();
        for (const auto& s : ss) {
            EXPECT_TRUE(s.ready() && s->error == 0);
        }
        return out;
    }

    std::vector<join_result> stable_group(int n) {
        return form(std::vector<join_args>(size_t(n), args()));
    }

    int64_t now = 1'000'000;
    fake_log log;
    coordinator_options options;
    std::unique_ptr<group_coordinator> gc;
};

} // namespace

TEST_F(group_test, invalid_group_id_and_session_timeout) {
    join_args a = args();
    a.group_id = "";
    auto j = join(a);
    ASSERT_TRUE(j.ready());
    EXPECT_EQ(j->error, proto::error_invalid_group_id);

    for (int32_t timeout : {5999, 1800001}) {
        join_args b = args();
        b.session_timeout_ms = timeout;
        auto k = join(b);
        ASSERT_TRUE(k.ready());
        EXPECT_EQ(k->error, proto::error_invalid_session_timeout);
    }
    EXPECT_EQ(gc->heartbeat({"", 1, "m", {}}), proto::error_invalid_group_id);
    EXPECT_EQ(sync({.generation_id = 1, .member_id = "m"}, {}, {}, "")->error,
              proto::error_invalid_group_id);
    EXPECT_EQ(commit({.group_id = "", .offsets = {{"t", 0, 1}}}),
              std::vector<int16_t>{proto::error_invalid_group_id});
    EXPECT_EQ(gc->fetch_offsets("", std::nullopt).error, proto::error_invalid_group_id);
    EXPECT_EQ(gc->describe_group("").error, proto::error_invalid_group_id);
    EXPECT_EQ(gc->leave("", {{"m"}}).error, proto::error_invalid_group_id);
    EXPECT_EQ(gc->delete_groups({""}), std::vector<int16_t>{proto::error_invalid_group_id});
    EXPECT_TRUE(log.calls.empty());
}

TEST_F(group_test, first_join_waits_for_the_initial_delay) {
    auto j = join(args("", "meta"));
    EXPECT_FALSE(j.ready());
    EXPECT_EQ(gc->describe_group("g").state, "PreparingRebalance");
    advance(2999);
    EXPECT_FALSE(j.ready());
    advance(1);
    ASSERT_TRUE(j.ready());
    EXPECT_EQ(j->error, 0);
    EXPECT_EQ(j->generation_id, 1);
    EXPECT_EQ(j->protocol_name, "range");
    EXPECT_EQ(j->protocol_type, "consumer");
    EXPECT_EQ(j->leader, j->member_id);
    ASSERT_EQ(j->members.size(), 1u);
    EXPECT_EQ(j->members[0].member_id, j->member_id);
    EXPECT_EQ(text(j->members[0].metadata), "meta");
    EXPECT_EQ(gc->describe_group("g").state, "CompletingRebalance");
}

TEST_F(group_test, initial_delay_extends_while_members_arrive_up_to_the_rebalance_timeout) {
    auto a = join(args());
    advance(2000);
    auto b = join(args());
    advance(1000); // the delay ends with a new arrival: wait another delay
    EXPECT_FALSE(a.ready());
    advance(2999);
    EXPECT_FALSE(a.ready());
    advance(1);
    ASSERT_TRUE(a.ready() && b.ready());
    EXPECT_EQ(a->generation_id, 1);
    EXPECT_EQ(a->members.size(), 2u);
    EXPECT_TRUE(b->members.empty());
    EXPECT_EQ(b->leader, a->member_id);

    // A rebalance timeout of 4000 leaves 1000 after the first delay: the extension is capped.
    join_args c = args();
    c.group_id = "short";
    c.rebalance_timeout_ms = 4000;
    auto first = join(c);
    advance(2000);
    auto second = join(c);
    advance(1000);
    advance(999);
    EXPECT_FALSE(first.ready());
    advance(1);
    EXPECT_TRUE(first.ready() && second.ready());
}

TEST_F(group_test, three_members_one_leaves_the_others_rejoin_into_a_new_generation) {
    auto m = stable_group(3);
    ASSERT_EQ(m.size(), 3u);
    EXPECT_EQ(m[0].generation_id, 1);
    EXPECT_EQ(m[0].members.size(), 3u);
    auto left = gc->leave("g", {{m[1].member_id}});
    EXPECT_EQ(left.error, 0);
    ASSERT_EQ(left.members.size(), 1u);
    EXPECT_EQ(left.members[0].error, 0);

    EXPECT_EQ(gc->describe_group("g").state, "PreparingRebalance");
    EXPECT_EQ(heartbeat(m[0]), proto::error_rebalance_in_progress);
    EXPECT_EQ(heartbeat(m[2]), proto::error_rebalance_in_progress);
    EXPECT_EQ(heartbeat(m[1]), proto::error_unknown_member_id);
    auto j0 = join(args(m[0].member_id));
    EXPECT_FALSE(j0.ready());
    auto j2 = join(args(m[2].member_id));
    ASSERT_TRUE(j0.ready() && j2.ready());
    EXPECT_EQ(j0->generation_id, 2);
    EXPECT_EQ(j2->generation_id, 2);
    EXPECT_EQ(j0->leader, m[0].member_id);
    ASSERT_EQ(j0->members.size(), 2u);
    EXPECT_EQ(j0->members[0].member_id, m[0].member_id);
    EXPECT_EQ(j0->members[1].member_id, m[2].member_id);
    EXPECT_TRUE(j2->members.empty());

    auto s2 = sync(*j2);
    auto s0 = sync(*j0, {{m[0].member_id, to_bytes("x")}, {m[2].member_id, to_bytes("y")}});
    log.complete_all();
    ASSERT_TRUE(s0.ready() && s2.ready());
    EXPECT_EQ(text(s0->assignment), "x");
    EXPECT_EQ(text(s2->assignment), "y");
    EXPECT_EQ(gc->describe_group("g").state, "Stable");
}

TEST_F(group_test, session_timeout_removes_a_member_then_the_last_one_empties_the_group) {
    auto m = stable_group(2);
    for (int i = 0; i < 3; ++i) {
        advance(3000);
        EXPECT_EQ(heartbeat(m[0]), 0);
    }
    advance(1000); // m[1] has been silent for the whole session timeout
    EXPECT_EQ(heartbeat(m[0]), proto::error_rebalance_in_progress);
    EXPECT_EQ(heartbeat(m[1]), proto::error_unknown_member_id);
    auto j = join(args(m[0].member_id));
    ASSERT_TRUE(j.ready()); // the only member left has rejoined
    EXPECT_EQ(j->generation_id, 2);
    EXPECT_EQ(j->members.size(), 1u);
    auto s = sync(*j, {{m[0].member_id, to_bytes("all")}});
    log.complete_all();
    ASSERT_TRUE(s.ready());

    advance(9999);
    EXPECT_EQ(gc->describe_group("g").members.size(), 1u);
    advance(1);
    auto d = gc->describe_group("g");
    EXPECT_EQ(d.state, "Empty");
    EXPECT_TRUE(d.members.empty());
    EXPECT_EQ(heartbeat(*j), proto::error_unknown_member_id);
}

TEST_F(group_test, rebalance_timeout_evicts_a_member_that_does_not_rejoin) {
    auto m = stable_group(3);
    auto j0 = join(args(m[0].member_id, "changed"));
    auto j1 = join(args(m[1].member_id));
    EXPECT_EQ(gc->describe_group("g").state, "PreparingRebalance");
    for (int i = 0; i < 3; ++i) {
        advance(5000); // m[2] heartbeats but never rejoins; the waiting joins are not timed out
        EXPECT_EQ(heartbeat(m[2]), proto::error_rebalance_in_progress);
        EXPECT_FALSE(j0.ready());
    }
    EXPECT_EQ(gc->describe_group("g").members.size(), 3u);
    advance(5000);
    ASSERT_TRUE(j0.ready() && j1.ready());
    EXPECT_EQ(j0->generation_id, 2);
    ASSERT_EQ(j0->members.size(), 2u);
    EXPECT_EQ(text(j0->members[0].metadata), "changed");
    EXPECT_EQ(heartbeat(m[2]), proto::error_unknown_member_id);
}

TEST_F(group_test, member_id_required_then_join) {
    join_args a = args();
    a.require_known_member = true;
    auto first = join(a);
    ASSERT_TRUE(first.ready());
    EXPECT_EQ(first->error, proto::error_member_id_required);
    const std::string id = first->member_id;
    ASSERT_EQ(id.size(), 34u);
    EXPECT_EQ(id.substr(0, 2), "c-");
    EXPECT_EQ(id.find_first_not_of("0123456789abcdef", 2), std::string::npos);
    EXPECT_TRUE(gc->describe_group("g").members.empty());
    EXPECT_EQ(heartbeat({.generation_id = 0, .member_id = id}), proto::error_unknown_member_id);

    a.member_id = id;
    auto second = join(a);
    advance(3000);
    ASSERT_TRUE(second.ready());
    EXPECT_EQ(second->error, 0);
    EXPECT_EQ(second->member_id, id);
    EXPECT_EQ(second->generation_id, 1);

    // A pending id that is not used within the session timeout is forgotten.
    join_args b = args();
    b.group_id = "other";
    b.require_known_member = true;
    auto pending = join(b);
    ASSERT_EQ(pending->error, proto::error_member_id_required);
    advance(10000);
    b.member_id = pending->member_id;
    auto late = join(b);
    ASSERT_TRUE(late.ready());
    EXPECT_EQ(late->error, proto::error_unknown_member_id);
}

TEST_F(group_test, unknown_member_and_generation_errors) {
    auto m = stable_group(1);
    auto unknown_group = join(args("someone"));
    EXPECT_EQ(unknown_group->error, proto::error_unknown_member_id); // group "g" knows no "someone"
    join_args elsewhere = args("someone");
    elsewhere.group_id = "nowhere";
    EXPECT_EQ(join(elsewhere)->error, proto::error_unknown_member_id);
    EXPECT_EQ(gc->describe_group("nowhere").state, "Dead");

    join_result stale = m[0];
    stale.generation_id = 7;
    EXPECT_EQ(heartbeat(stale), proto::error_illegal_generation);
    EXPECT_EQ(sync(stale)->error, proto::error_illegal_generation);
    join_result stranger = m[0];
    stranger.member_id = "stranger";
    EXPECT_EQ(heartbeat(stranger), proto::error_unknown_member_id);
    EXPECT_EQ(sync(stranger)->error, proto::error_unknown_member_id);
    EXPECT_EQ(heartbeat(m[0], {}, "nowhere"), proto::error_unknown_member_id);

    // SyncGroup v5 protocol checks.
    answer<sync_result> s;
    gc->sync({.group_id = "g", .generation_id = 1, .member_id = m[0].member_id,
              .protocol_type = "connect"},
             s.sink());
    EXPECT_EQ(s->error, proto::error_inconsistent_group_protocol);

    auto rejoin = join(args(m[0].member_id, "new")); // completes at once: the only member
    ASSERT_TRUE(rejoin.ready());
    EXPECT_EQ(sync(m[0])->error, proto::error_illegal_generation);
    auto second = join(args());                       // a newcomer: PreparingRebalance
    EXPECT_EQ(sync(*rejoin)->error, proto::error_rebalance_in_progress);
    EXPECT_FALSE(second.ready());
}

TEST_F(group_test, inconsistent_protocols_are_rejected) {
    auto m = stable_group(1);
    join_args other_type = args();
    other_type.protocol_type = "connect";
    EXPECT_EQ(join(other_type)->error, proto::error_inconsistent_group_protocol);
    join_args other_protocol = args();
    other_protocol.protocols = {{"roundrobin", {}}};
    EXPECT_EQ(join(other_protocol)->error, proto::error_inconsistent_group_protocol);
    join_args none = args();
    none.protocols.clear();
    none.group_id = "fresh";
    EXPECT_EQ(join(none)->error, proto::error_inconsistent_group_protocol);
    // The only member may change its protocols freely.
    join_args alone = args(m[0].member_id);
    alone.protocols = {{"roundrobin", {}}};
    auto j = join(alone);
    ASSERT_TRUE(j.ready());
    EXPECT_EQ(j->error, 0);
    EXPECT_EQ(j->protocol_name, "roundrobin");
}

TEST_F(group_test, protocol_is_chosen_by_the_members_votes) {
    join_args a = args(), b = args(), c = args();
    a.protocols = {{"range", to_bytes("ra")}, {"rr", to_bytes("rrA")}};
    b.protocols = {{"rr", to_bytes("rrB")}, {"range", to_bytes("rb")}};
    c.protocols = {{"sticky", to_bytes("s")}, {"rr", to_bytes("rrC")}};
    std::vector<answer<join_result>> js{join(a), join(b), join(c)};
    join_args d = args();
    d.protocols = {{"range", {}}}; // c does not support it
    EXPECT_EQ(join(d)->error, proto::error_inconsistent_group_protocol);
    run_until_joined(js);
    ASSERT_TRUE(js[0].ready());
    EXPECT_EQ(js[0]->protocol_name, "rr"); // votes: a range, b rr, c rr (sticky is not common)
    ASSERT_EQ(js[0]->members.size(), 3u);
    EXPECT_EQ(text(js[0]->members[0].metadata), "rrA");
    EXPECT_EQ(text(js[0]->members[2].metadata), "rrC");
}

TEST_F(group_test, follower_sync_waits_for_the_leader_and_the_log) {
    std::vector<answer<join_result>> js{join(args("", "m0")), join(args("", "m1"))};
    run_until_joined(js);
    const join_result& leader = *js[0];
    const join_result& follower = *js[1];
    EXPECT_EQ(heartbeat(follower), 0); // CompletingRebalance: heartbeats are fine
    auto fs = sync(follower);
    EXPECT_FALSE(fs.ready());
    auto ls = sync(leader,
                   {{leader.member_id, to_bytes("L")}, {follower.member_id, to_bytes("F")}});
    EXPECT_FALSE(ls.ready());
    ASSERT_EQ(log.calls.size(), 1u); // the group metadata record
    log.complete(true);
    ASSERT_TRUE(fs.ready() && ls.ready());
    EXPECT_EQ(text(ls->assignment), "L");
    EXPECT_EQ(text(fs->assignment), "F");
    EXPECT_EQ(fs->protocol_name, "range");
    EXPECT_EQ(fs->protocol_type, "consumer");

    auto d = gc->describe_group("g");
    EXPECT_EQ(d.state, "Stable");
    EXPECT_EQ(d.protocol_name, "range");
    ASSERT_EQ(d.members.size(), 2u);
    EXPECT_EQ(text(d.members[1].metadata), "m1");
    EXPECT_EQ(text(d.members[1].assignment), "F");
    // A Stable group answers a sync with the member's assignment at once.
    auto again = sync(follower);
    ASSERT_TRUE(again.ready());
    EXPECT_EQ(text(again->assignment), "F");
}

TEST_F(group_test, failed_assignment_append_answers_coordinator_not_available) {
    std::vector<answer<join_result>> js{join(args()), join(args())};
    run_until_joined(js);
    auto fs = sync(*js[1]);
    auto ls = sync(*js[0], {{js[0]->member_id, to_bytes("L")}});
    log.complete(false);
    ASSERT_TRUE(fs.ready() && ls.ready());
    EXPECT_EQ(ls->error, proto::error_coordinator_not_available);
    EXPECT_EQ(fs->error, proto::error_coordinator_not_available);
    EXPECT_EQ(gc->describe_group("g").state, "PreparingRebalance");
    EXPECT_EQ(heartbeat(*js[1]), proto::error_rebalance_in_progress);
}

TEST_F(group_test, leader_that_never_syncs_is_removed_after_the_rebalance_timeout) {
    std::vector<answer<join_result>> js{join(args()), join(args())};
    run_until_joined(js);
    auto fs = sync(*js[1]);
    for (int i = 0; i < 3; ++i) {
        advance(5000);
        EXPECT_EQ(heartbeat(*js[0]), 0);
        EXPECT_FALSE(fs.ready());
    }
    advance(5000);
    ASSERT_TRUE(fs.ready());
    EXPECT_EQ(fs->error, proto::error_rebalance_in_progress);
    EXPECT_EQ(heartbeat(*js[0]), proto::error_unknown_member_id);
    auto j = join(args(js[1]->member_id));
    ASSERT_TRUE(j.ready());
    EXPECT_EQ(j->generation_id, 2);
    EXPECT_EQ(j->leader, js[1]->member_id);
}

TEST_F(group_test, new_member_joining_a_stable_group_rebalances) {
    auto m = stable_group(2);
    auto newcomer = join(args("", "n"));
    EXPECT_FALSE(newcomer.ready()); // no initial delay: the group is not Empty
    EXPECT_EQ(gc->describe_group("g").state, "PreparingRebalance");
    EXPECT_EQ(heartbeat(m[1]), proto::error_rebalance_in_progress);
    auto j1 = join(args(m[1].member_id));
    EXPECT_FALSE(newcomer.ready());
    auto j0 = join(args(m[0].member_id));
    ASSERT_TRUE(newcomer.ready() && j0.ready() && j1.ready());
    EXPECT_EQ(newcomer->generation_id, 2);
    EXPECT_EQ(newcomer->leader, m[0].member_id);
    ASSERT_EQ(j0->members.size(), 3u);
    EXPECT_EQ(j0->members[2].member_id, newcomer->member_id);
    EXPECT_EQ(text(j0->members[2].metadata), "n");
}

TEST_F(group_test, known_member_rejoining_a_stable_group) {
    auto m = stable_group(2);
    auto follower = join(args(m[1].member_id));
    ASSERT_TRUE(follower.ready()); // unchanged protocols: the current generation at once
    EXPECT_EQ(follower->generation_id, 1);
    EXPECT_EQ(follower->leader, m[0].member_id);
    EXPECT_TRUE(follower->members.empty());
    EXPECT_EQ(gc->describe_group("g").state, "Stable");

    auto leader = join(args(m[0].member_id)); // as in Kafka, the leader rejoining rebalances
    EXPECT_FALSE(leader.ready());
    EXPECT_EQ(gc->describe_group("g").state, "PreparingRebalance");
    auto again = join(args(m[1].member_id));
    ASSERT_TRUE(leader.ready() && again.ready());
    EXPECT_EQ(leader->generation_id, 2);
    EXPECT_EQ(leader->members.size(), 2u);
}

TEST_F(group_test, static_member_rejoins_without_rebalance_and_its_old_id_is_fenced) {
    auto m = form({static_args("i-a"), static_args("i-b")});
    ASSERT_EQ(m.size(), 2u);
    const std::string old_a = m[0].member_id;
    EXPECT_EQ(m[0].leader, old_a);
    auto r = join(static_args("i-a"));
    ASSERT_TRUE(r.ready());
    EXPECT_EQ(r->error, 0);
    EXPECT_NE(r->member_id, old_a);
    EXPECT_EQ(r->generation_id, 1);
    EXPECT_EQ(r->leader, old_a); // so the restarted leader does not assign
    EXPECT_TRUE(r->members.empty());
    EXPECT_EQ(gc->describe_group("g").state, "Stable");

    auto s = sync(*r, {}, "i-a");
    ASSERT_TRUE(s.ready());
    EXPECT_EQ(s->error, 0);
    EXPECT_EQ(text(s->assignment), "a:" + old_a); // its previous assignment
    EXPECT_EQ(heartbeat(*r, "i-a"), 0);

    EXPECT_EQ(heartbeat(m[0], "i-a"), proto::error_fenced_instance_id);
    EXPECT_EQ(heartbeat(m[0]), proto::error_unknown_member_id);
    EXPECT_EQ(sync(m[0], {}, "i-a")->error, proto::error_fenced_instance_id);
    EXPECT_EQ(join(static_args("i-a", old_a))->error, proto::error_fenced_instance_id);
    EXPECT_EQ(commit({.group_id = "g", .generation_id = 1, .member_id = old_a,
                      .group_instance_id = "i-a", .offsets = {{"t", 0, 1}}}),
              std::vector<int16_t>{proto::error_fenced_instance_id});
    EXPECT_EQ(heartbeat(m[1], "i-a"), proto::error_fenced_instance_id); // b using a's instance
}

// Kafka's rule: a static member rejoining a Stable group replaces its protocols and costs a
// rebalance only when they change the group's protocol. New metadata for the same protocol (a
// cooperative member's subscription names what it owns) keeps the generation.
TEST_F(group_test, static_member_with_new_metadata_keeps_the_generation) {
    auto m = form({static_args("i-a"), static_args("i-b")});
    join_args changed = static_args("i-b");
    changed.protocols = {{"range", to_bytes("other")}};
    auto r = join(changed);
    ASSERT_TRUE(r.ready());
    EXPECT_EQ(r->error, 0);
    EXPECT_EQ(r->generation_id, 1);
    EXPECT_NE(r->member_id, m[1].member_id);
    EXPECT_EQ(gc->describe_group("g").state, "Stable");
}

TEST_F(group_test, static_member_that_changes_the_group_protocol_rebalances) {
    join_args a = static_args("i-a");
    join_args b = static_args("i-b");
    a.protocols = b.protocols = {{"range", to_bytes("m")}, {"roundrobin", to_bytes("m")}};
    auto m = form({a, b});
    join_args changed = static_args("i-b");
    changed.protocols = {{"roundrobin", to_bytes("other")}}; // range is no longer common
    auto r = join(changed);
    EXPECT_FALSE(r.ready());
    EXPECT_EQ(gc->describe_group("g").state, "PreparingRebalance");
    a.member_id = m[0].member_id;
    auto again = join(a);
    ASSERT_TRUE(r.ready() && again.ready());
    EXPECT_EQ(r->generation_id, 2);
    EXPECT_EQ(r->protocol_name, "roundrobin");
    EXPECT_EQ(text(again->members[1].metadata), "other");
    EXPECT_EQ(again->members[1].group_instance_id, "i-b");
}

TEST_F(group_test, leave_by_member_or_instance_id) {
    auto m = form({static_args("i-a"), static_args("i-b"), args()});
    ASSERT_EQ(m.size(), 3u);
    auto r = gc->leave("g", {{"", "i-b"}, {"nobody", std::nullopt}, {"wrong", "i-a"},
                             {m[2].member_id, std::nullopt}, {"", "i-zzz"}});
    EXPECT_EQ(r.error, 0);
    ASSERT_EQ(r.members.size(), 5u);
    EXPECT_EQ(r.members[0].error, 0);
    EXPECT_EQ(r.members[0].group_instance_id, "i-b");
    EXPECT_EQ(r.members[1].error, proto::error_unknown_member_id);
    EXPECT_EQ(r.members[2].error, proto::error_fenced_instance_id);
    EXPECT_EQ(r.members[3].error, 0);
    EXPECT_EQ(r.members[4].error, proto::error_unknown_member_id);
    auto d = gc->describe_group("g");
    EXPECT_EQ(d.state, "PreparingRebalance");
    ASSERT_EQ(d.members.size(), 1u);
    EXPECT_EQ(d.members[0].group_instance_id, "i-a");

    auto unknown = gc->leave("nope", {{"x"}});
    EXPECT_EQ(unknown.error, 0);
    EXPECT_EQ(unknown.members.at(0).error, proto::error_unknown_member_id);
}

TEST_F(group_test, leaving_while_waiting_in_join_answers_the_join) {
    auto m = stable_group(2);
    auto j = join(args(m[0].member_id, "new"));
    EXPECT_FALSE(j.ready());
    gc->leave("g", {{m[0].member_id}});
    ASSERT_TRUE(j.ready());
    EXPECT_EQ(j->error, proto::error_unknown_member_id);
}

TEST_F(group_test, last_member_leaving_empties_the_group_and_persists_it) {
    auto m = stable_group(1);
    gc->leave("g", {{m[0].member_id}});
    auto d = gc->describe_group("g");
    EXPECT_EQ(d.state, "Empty");
    EXPECT_TRUE(d.members.empty());
    ASSERT_EQ(log.calls.size(), 1u);
    const auto& rec = log.calls.back().records.at(0);
    EXPECT_EQ(rec.key, bytes({0, 2, 0, 1, 'g'}));
    ASSERT_TRUE(rec.value);
    // version, "consumer", generation 2, null protocol, null leader, timestamp, no members
    auto expected = bytes({0, 3, 0, 8, 'c', 'o', 'n', 's', 'u', 'm', 'e', 'r', 0, 0, 0, 2,
                           0xff, 0xff, 0xff, 0xff});
    proto::writer w;
    w.int64(now);
    w.int32(0);
    expected.insert(expected.end(), w.bytes().begin(), w.bytes().end());
    EXPECT_EQ(*rec.value, expected);
}

TEST_F(group_test, group_max_size) {
    coordinator_options o;
    o.group_max_size = 2;
    start(o);
    auto m = stable_group(2);
    auto third = join(args());
    ASSERT_TRUE(third.ready());
    EXPECT_EQ(third->error, proto::error_group_max_size_reached);
    EXPECT_EQ(gc->describe_group("g").state, "Stable");

    join_args a = args();
    a.group_id = "h";
    a.require_known_member = true;
    auto p1 = join(a), p2 = join(a), p3 = join(a);
    EXPECT_EQ(p1->error, proto::error_member_id_required);
    EXPECT_EQ(p2->error, proto::error_member_id_required);
    EXPECT_EQ(p3->error, proto::error_group_max_size_reached); // two are pending already
    a.member_id = p1->member_id; // a pending member is already counted
    auto j1 = join(a);
    EXPECT_FALSE(j1.ready());
    advance(3000);
    ASSERT_TRUE(j1.ready());
    EXPECT_EQ(j1->error, 0);
}

TEST_F(group_test, commit_then_fetch_after_the_log_confirms) {
    auto m = stable_group(1);
    commit_args c{.group_id = "g",
                  .generation_id = m[0].generation_id,
                  .member_id = m[0].member_id,
                  .offsets = {{"t", 0, 42, 3, "meta"},
                              {"t", 1, 7, -1, ""},
                              {"t", 2, 9, -1, std::string(4097, 'x')}}};
    answer<std::vector<int16_t>> r;
    gc->commit_offsets(c, r.sink());
    EXPECT_FALSE(r.ready());
    EXPECT_EQ(gc->fetch_offsets("g", {{{"t", {0}}}}).partitions.at(0).offset, -1);
    ASSERT_EQ(log.calls.size(), 1u);
    EXPECT_EQ(log.calls[0].records.size(), 2u); // the oversized metadata is not written
    log.complete(true);
    ASSERT_TRUE(r.ready());
    EXPECT_EQ(*r, (std::vector<int16_t>{0, 0, proto::error_offset_metadata_too_large}));

    auto f = gc->fetch_offsets("g", {{{"t", {0, 1, 2}}, {"u", {5}}}});
    EXPECT_EQ(f.error, 0);
    ASSERT_EQ(f.partitions.size(), 4u);
    EXPECT_EQ(f.partitions[0].offset, 42);
    EXPECT_EQ(f.partitions[0].leader_epoch, 3);
    EXPECT_EQ(f.partitions[0].metadata, "meta");
    EXPECT_EQ(f.partitions[1].offset, 7);
    EXPECT_EQ(f.partitions[2].offset, -1);
    EXPECT_EQ(f.partitions[2].leader_epoch, -1);
    EXPECT_EQ(f.partitions[3].topic, "u");
    EXPECT_EQ(f.partitions[3].offset, -1);
    auto all = gc->fetch_offsets("g", std::nullopt);
    ASSERT_EQ(all.partitions.size(), 2u);
    EXPECT_EQ(all.partitions[1].partition, 1);
    EXPECT_TRUE(gc->fetch_offsets("unknown", std::nullopt).partitions.empty());
}

TEST_F(group_test, failed_commit_answers_coordinator_not_available_and_changes_nothing) {
    auto m = stable_group(1);
    commit_args c{.group_id = "g", .generation_id = 1, .member_id = m[0].member_id,
                  .offsets = {{"t", 0, 42}}};
    EXPECT_EQ(commit(c), std::vector<int16_t>{0});
    c.offsets = {{"t", 0, 100}, {"t", 1, 5}};
    EXPECT_EQ(commit(c, false), (std::vector<int16_t>{proto::error_coordinator_not_available,
                                                     proto::error_coordinator_not_available}));
    auto f = gc->fetch_offsets("g", std::nullopt);
    ASSERT_EQ(f.partitions.size(), 1u);
    EXPECT_EQ(f.partitions[0].offset, 42);
}

TEST_F(group_test, commit_membership_checks) {
    auto m = stable_group(1);
    commit_args c{.group_id = "g", .generation_id = 2, .member_id = m[0].member_id,
                  .offsets = {{"t", 0, 1}}};
    EXPECT_EQ(commit(c), std::vector<int16_t>{proto::error_illegal_generation});
    c.generation_id = 1;
    c.member_id = "stranger";
    EXPECT_EQ(commit(c), std::vector<int16_t>{proto::error_unknown_member_id});
    c.generation_id = -1;
    c.member_id = "";
    EXPECT_EQ(commit(c), std::vector<int16_t>{proto::error_unknown_member_id}); // has members
    EXPECT_TRUE(log.calls.empty());

    // CompletingRebalance: the member has its generation but not its assignment yet.
    auto j = join(args(m[0].member_id, "new"));
    ASSERT_TRUE(j.ready());
    c.generation_id = j->generation_id;
    c.member_id = j->member_id;
    EXPECT_EQ(commit(c), std::vector<int16_t>{proto::error_rebalance_in_progress});
    // PreparingRebalance: a member of the current generation may still commit.
    auto newcomer = join(args());
    EXPECT_EQ(commit(c), std::vector<int16_t>{0});
}

TEST_F(group_test, standalone_commit_creates_an_empty_group) {
    commit_args c{.group_id = "solo", .offsets = {{"t", 3, 11, -1, "x"}}};
    EXPECT_EQ(commit(c), std::vector<int16_t>{0});
    auto groups = gc->list_groups({});
    ASSERT_EQ(groups.size(), 1u);
    EXPECT_EQ(groups[0].group_id, "solo");
    EXPECT_EQ(groups[0].protocol_type, "");
    EXPECT_EQ(groups[0].state, "Empty");
    EXPECT_EQ(gc->fetch_offsets("solo", std::nullopt).partitions.at(0).offset, 11);

    commit_args late{.group_id = "ghost", .generation_id = 3, .member_id = "m",
                     .offsets = {{"t", 0, 1}}};
    EXPECT_EQ(commit(late), std::vector<int16_t>{proto::error_illegal_generation});
    EXPECT_EQ(gc->describe_group("ghost").state, "Dead");
}

TEST_F(group_test, record_formats) {
    commit_args c{.group_id = "g", .offsets = {{"t", 1, 5, 2, "m"}}};
    answer<std::vector<int16_t>> r;
    gc->commit_offsets(c, r.sink());
    ASSERT_EQ(log.calls.size(), 1u);
    EXPECT_EQ(log.calls[0].group_id, "g");
    const auto& rec = log.calls[0].records.at(0);
    EXPECT_EQ(rec.key, bytes({0, 1, 0, 1, 'g', 0, 1, 't', 0, 0, 0, 1}));
    // version 3, offset 5, leader epoch 2, "m", commit timestamp 1000000 (0x0f4240)
    EXPECT_EQ(rec.value, bytes({0, 3, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 2, 0, 1, 'm',
                                0, 0, 0, 0, 0, 0x0f, 0x42, 0x40}));
    log.complete();

    std::vector<answer<join_result>> js{join(args())};
    run_until_joined(js);
    auto s = sync(*js[0]);
    ASSERT_EQ(log.calls.size(), 1u);
    const auto& meta = log.calls[0].records.at(0);
    EXPECT_EQ(meta.key, bytes({0, 2, 0, 1, 'g'}));
    proto::writer w;
    w.int16(3);
    w.string("consumer");
    w.int32(1);
    w.nullable_string("range");
    w.nullable_string(js[0]->member_id);
    w.int64(now);
    w.int32(0);
    EXPECT_EQ(meta.value, w.bytes());
}

TEST_F(group_test, reload_restores_offsets_and_generation_but_not_members) {
    auto m = stable_group(2);
    EXPECT_EQ(commit({.group_id = "g", .generation_id = 1, .member_id = m[1].member_id,
                      .offsets = {{"t", 0, 42, 4, "meta"}, {"t", 1, 8}}}),
              (std::vector<int16_t>{0, 0}));
    EXPECT_EQ(commit({.group_id = "g", .generation_id = 1, .member_id = m[1].member_id,
                      .offsets = {{"t", 1, 9}}}),
              std::vector<int16_t>{0});
    EXPECT_EQ(commit({.group_id = "solo", .offsets = {{"u", 0, 3}}}), std::vector<int16_t>{0});
    const std::vector<group_record> records = log.durable;
    ASSERT_GE(records.size(), 5u);

    log = fake_log{};
    start({});
    for (const group_record& r : records) {
        std::optional<std::span<const std::byte>> value;
        if (r.value) {
            value = std::span<const std::byte>(*r.value);
        }
        EXPECT_TRUE(gc->load(r.key, value));
    }
    auto d = gc->describe_group("g");
    EXPECT_EQ(d.state, "Empty");
    EXPECT_EQ(d.protocol_type, "consumer");
    EXPECT_TRUE(d.members.empty());
    auto f = gc->fetch_offsets("g", std::nullopt);
    ASSERT_EQ(f.partitions.size(), 2u);
    EXPECT_EQ(f.partitions[0].offset, 42);
    EXPECT_EQ(f.partitions[0].leader_epoch, 4);
    EXPECT_EQ(f.partitions[0].metadata, "meta");
    EXPECT_EQ(f.partitions[1].offset, 9); // the last record of a key wins
    EXPECT_EQ(gc->fetch_offsets("solo", std::nullopt).partitions.at(0).offset, 3);

    EXPECT_EQ(heartbeat(m[0]), proto::error_unknown_member_id);
    EXPECT_EQ(join(args(m[0].member_id))->error, proto::error_unknown_member_id);
    std::vector<answer<join_result>> js{join(args())};
    run_until_joined(js);
    ASSERT_TRUE(js[0].ready());
    EXPECT_EQ(js[0]->generation_id, 2); // the generation survived
}

TEST_F(group_test, load_rejects_garbage_without_changing_anything) {
    using bv = std::vector<std::byte>;
    auto value = [](const bv& v) { return std::optional<std::span<const std::byte>>(v); };
    const bv good_key = bytes({0, 1, 0, 1, 'g', 0, 1, 't', 0, 0, 0, 0});
    const bv good_value = bytes({0, 3, 0, 0, 0, 0, 0, 0, 0, 5, 0xff, 0xff, 0xff, 0xff, 0, 0,
                                 0, 0, 0, 0, 0, 0, 0, 1});
    EXPECT_FALSE(gc->load({}, std::nullopt));
    EXPECT_FALSE(gc->load(bytes({0, 9, 0, 1, 'g'}), std::nullopt));          // unknown version
    EXPECT_FALSE(gc->load(bytes({0, 1, 0, 1, 'g', 0, 1, 't', 0}), std::nullopt)); // short
    EXPECT_FALSE(gc->load(bytes({0, 1, 0xff, 0xfe, 'g'}), std::nullopt));     // negative length
    EXPECT_FALSE(gc->load(bytes({0, 2, 0, 0}), std::nullopt));                // empty group id
    EXPECT_FALSE(gc->load(bytes({0, 2, 0, 1, 'g', 7}), std::nullopt));        // trailing byte
    EXPECT_FALSE(gc->load(good_key, value(bytes({0, 1, 0, 0}))));             // value version
    bv trailing = good_value;
    trailing.push_back(std::byte(0));
    EXPECT_FALSE(gc->load(good_key, value(trailing)));
    for (size_t n = 0; n < good_value.size(); ++n) {
        EXPECT_FALSE(gc->load(good_key, value(bv(good_value.begin(), good_value.begin() + n))));
    }
    // A group metadata value with a null member array or a member count beyond the bytes.
    EXPECT_FALSE(gc->load(bytes({0, 2, 0, 1, 'g'}),
                          value(bytes({0, 3, 0, 1, 'c', 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff,
                                       0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}))));
    EXPECT_FALSE(gc->load(bytes({0, 2, 0, 1, 'g'}),
                          value(bytes({0, 3, 0, 1, 'c', 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff,
                                       0, 0, 0, 0, 0, 0, 0, 0, 0x7f, 0, 0, 0}))));
    std::mt19937 random(7);
    for (int i = 0; i < 2000; ++i) {
        bv k(random() % 24), v(random() % 40);
        for (auto& b : k) {
            b = std::byte(random() % 4 == 0 ? random() : random() % 3);
        }
        for (auto& b : v) {
            b = std::byte(random());
        }
        (void)gc->load(k, random() % 2 ? value(v) : std::nullopt); // must not crash
    }
    log = fake_log{};
    start({});
    EXPECT_TRUE(gc->list_groups({}).empty());
    EXPECT_TRUE(gc->load(good_key, value(good_value)));
    EXPECT_EQ(gc->fetch_offsets("g", std::nullopt).partitions.at(0).offset, 5);
    EXPECT_TRUE(gc->load(good_key, std::nullopt)); // a tombstone deletes it
    EXPECT_TRUE(gc->fetch_offsets("g", std::nullopt).partitions.empty());
    EXPECT_EQ(gc->describe_group("g").state, "Dead");
}

TEST_F(group_test, offsets_of_empty_groups_expire_after_the_retention) {
    coordinator_options o;
    o.offsets_retention_ms = 60000;
    o.offsets_retention_check_interval_ms = 10000;
    start(o);
    EXPECT_EQ(commit({.group_id = "solo", .offsets = {{"t", 0, 1}}}), std::vector<int16_t>{0});
    auto m = stable_group(1);
    EXPECT_EQ(commit({.group_id = "g", .generation_id = 1, .member_id = m[0].member_id,
                      .offsets = {{"t", 0, 2}}}),
              std::vector<int16_t>{0});
    auto tick = [&](int times) {
        for (int i = 0; i < times; ++i) {
            advance(5000);
            EXPECT_EQ(heartbeat(m[0]), 0);
        }
    };
    tick(10); // 50 s after the solo commit (plus the group's 3 s of forming)
    EXPECT_EQ(gc->fetch_offsets("solo", std::nullopt).partitions.size(), 1u);
    tick(4);
    EXPECT_TRUE(gc->fetch_offsets("solo", std::nullopt).partitions.empty());
    EXPECT_TRUE(has_tombstone(log, offset_key_bytes("solo", "t", 0)));
    EXPECT_TRUE(has_tombstone(log, bytes({0, 2, 0, 4, 's', 'o', 'l', 'o'})));
    EXPECT_EQ(gc->describe_group("solo").state, "Dead");
    // A group with members keeps its offsets however old.
    EXPECT_EQ(gc->fetch_offsets("g", std::nullopt).partitions.size(), 1u);

    gc->leave("g", {{m[0].member_id}});
    for (int i = 0; i < 5; ++i) {
        advance(10000); // Empty since the leave: retention counts from then
    }
    EXPECT_EQ(gc->fetch_offsets("g", std::nullopt).partitions.size(), 1u);
    advance(10000);
    advance(10000);
    EXPECT_TRUE(gc->fetch_offsets("g", std::nullopt).partitions.empty());
    EXPECT_TRUE(has_tombstone(log, offset_key_bytes("g", "t", 0)));
}

TEST_F(group_test, delete_groups) {
    auto m = stable_group(1);
    EXPECT_EQ(commit({.group_id = "g", .generation_id = 1, .member_id = m[0].member_id,
                      .offsets = {{"t", 0, 2}, {"t", 1, 3}}}),
              (std::vector<int16_t>{0, 0}));
    EXPECT_EQ(gc->delete_groups({"g", "nope"}),
              (std::vector<int16_t>{proto::error_non_empty_group,
                                    proto::error_group_id_not_found}));
    gc->leave("g", {{m[0].member_id}});
    log.complete_all();
    // A standalone commit still in flight when the group goes is tombstoned too.
    answer<std::vector<int16_t>> inflight;
    gc->commit_offsets({.group_id = "g", .offsets = {{"t", 9, 1}}}, inflight.sink());
    EXPECT_EQ(gc->delete_groups({"g"}), std::vector<int16_t>{0});
    ASSERT_EQ(log.calls.size(), 2u);
    const auto& tombstones = log.calls[1].records;
    ASSERT_EQ(tombstones.size(), 4u);
    EXPECT_EQ(tombstones[0].key, offset_key_bytes("g", "t", 0));
    EXPECT_EQ(tombstones[1].key, offset_key_bytes("g", "t", 1));
    EXPECT_EQ(tombstones[2].key, offset_key_bytes("g", "t", 9));
    EXPECT_EQ(tombstones[3].key, bytes({0, 2, 0, 1, 'g'}));
    for (const auto& t : tombstones) {
        EXPECT_FALSE(t.value);
    }
    log.complete_all();
    EXPECT_TRUE(inflight.ready());
    EXPECT_EQ(gc->describe_group("g").state, "Dead");
    EXPECT_TRUE(gc->fetch_offsets("g", std::nullopt).partitions.empty());
    EXPECT_TRUE(gc->list_groups({}).empty());
    EXPECT_EQ(gc->delete_groups({"g"}), std::vector<int16_t>{proto::error_group_id_not_found});

    // Replaying the log ends without the group.
    const auto records = log.durable;
    log = fake_log{};
    start({});
    for (const auto& r : records) {
        std::optional<std::span<const std::byte>> value;
        if (r.value) {
            value = std::span<const std::byte>(*r.value);
        }
        EXPECT_TRUE(gc->load(r.key, value));
    }
    EXPECT_EQ(gc->describe_group("g").state, "Dead");
    EXPECT_TRUE(gc->fetch_offsets("g", std::nullopt).partitions.empty());
}

TEST_F(group_test, list_and_describe) {
    join_args a = args();
    a.group_id = "a";
    auto m = form({a});
    ASSERT_EQ(m.size(), 1u);
    EXPECT_EQ(commit({.group_id = "b", .offsets = {{"t", 0, 1}}}), std::vector<int16_t>{0});
    join_args c = args();
    c.group_id = "c";
    auto waiting = join(c);

    auto all = gc->list_groups({});
    ASSERT_EQ(all.size(), 3u);
    EXPECT_EQ(all[0].group_id, "a");
    EXPECT_EQ(all[0].state, "Stable");
    EXPECT_EQ(all[0].protocol_type, "consumer");
    EXPECT_EQ(all[1].state, "Empty");
    EXPECT_EQ(all[2].state, "PreparingRebalance");
    auto some = gc->list_groups({"stable", "EMPTY"});
    ASSERT_EQ(some.size(), 2u);
    EXPECT_EQ(some[0].group_id, "a");
    EXPECT_EQ(some[1].group_id, "b");
    EXPECT_TRUE(gc->list_groups({"Dead"}).empty());

    auto d = gc->describe_group("a");
    EXPECT_EQ(d.error, 0);
    EXPECT_EQ(d.group_id, "a");
    EXPECT_EQ(d.protocol_type, "consumer");
    EXPECT_EQ(d.protocol_name, "range");
    ASSERT_EQ(d.members.size(), 1u);
    EXPECT_EQ(d.members[0].member_id, m[0].member_id);
    EXPECT_EQ(d.members[0].client_id, "c");
    EXPECT_EQ(d.members[0].client_host, "/10.0.0.1");
    EXPECT_EQ(text(d.members[0].metadata), "m");
    EXPECT_EQ(text(d.members[0].assignment), "a:" + m[0].member_id);

    auto p = gc->describe_group("c");
    EXPECT_EQ(p.state, "PreparingRebalance");
    EXPECT_EQ(p.protocol_name, "");
    ASSERT_EQ(p.members.size(), 1u);
    EXPECT_TRUE(p.members[0].metadata.empty()); // only Stable groups show metadata

    auto dead = gc->describe_group("zzz");
    EXPECT_EQ(dead.error, 0);
    EXPECT_EQ(dead.state, "Dead");
    EXPECT_TRUE(dead.members.empty());
}

TEST_F(group_test, callbacks_may_call_back_into_the_coordinator) {
    answer<sync_result> s;
    gc->join(args(), [&](join_result r) {
        gc->sync({.group_id = "g",
                  .generation_id = r.generation_id,
                  .member_id = r.member_id,
                  .assignments = {{r.member_id, to_bytes("x")}}},
                 s.sink());
    });
    advance(3000);
    EXPECT_FALSE(s.ready());
    log.complete();
    ASSERT_TRUE(s.ready());
    EXPECT_EQ(s.count(), 1);
    EXPECT_EQ(s->error, 0);
    EXPECT_EQ(text(s->assignment), "x");
}

TEST_F(group_test, poll_reports_work_only_when_a_timer_fires) {
    EXPECT_EQ(gc->poll(), 0u);
    auto j = join(args());
    now += 1000;
    EXPECT_EQ(gc->poll(), 0u);
    now += 2000;
    EXPECT_GT(gc->poll(), 0u);
    EXPECT_TRUE(j.ready());
}
