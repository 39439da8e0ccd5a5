#include "shard/shard.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <sched.h>
#include <thread>
#include <vector>

namespace runnel {
namespace {

// Waits for another thread's progress. No timeout of its own: the meson test timeout bounds it,
// and the tests never depend on how long anything takes.
template <typename Pred>
void wait_until(Pred pred) {
    while (!pred()) {
        std::this_thread::yield();
    }
}

shard_group_options options(uint32_t shard_count) {
    return shard_group_options{
        .shard_count = shard_count,
        .idle = idle_mode::yield,
        .idle_sleep_us = 1,
        .ring_capacity = 64,
    };
}

// Records every call; the fields other than poll_count are written by the shard thread only and
// read by the test after join().
struct recording_pollable final : pollable {
    uint32_t poll(uint64_t now, bool idle) override {
        if (poll_thread == std::thread::id()) {
            poll_thread = std::this_thread::get_id();
        }
        if (std::this_thread::get_id() != poll_thread || shard::current() == nullptr) {
            ++wrong_thread;
        }
        if (now < last_now_us) {
            ++clock_went_back;
        }
        last_now_us = now;
        idle_flags.push_back(idle);
        // Work on every third call, so both values of idle occur.
        const uint32_t work = poll_count.load() % 3 == 0 ? 1 : 0;
        work_counts.push_back(work);
        poll_count.fetch_add(1);
        return work;
    }

    std::atomic<uint64_t> poll_count{0};
    std::thread::id poll_thread;
    uint64_t wrong_thread = 0;
    uint64_t clock_went_back = 0;
    uint64_t last_now_us = 0;
    std::vector<bool> idle_flags;
    std::vector<uint32_t> work_counts;
};

struct hook_record {
    std::thread::id start_thread;
    std::thread::id stop_thread;
    shard* start_current = nullptr;
    shard* stop_current = nullptr;
    uint64_t polls_at_start = 99;
    uint64_t polls_at_stop = 0;
};

TEST(shard_group, runs_hooks_and_pollables_on_each_shard_thread_until_stopped) {
    constexpr uint32_t shard_count = 2;
    shard_group group(options(shard_count));
    recording_pollable polled[shard_count];
    hook_record hooks[shard_count];
    for (uint32_t i = 0; i < shard_count; ++i) {
        shard& s = group.at(core_id(i));
        EXPECT_EQ(s.id(), core_id(i));
        EXPECT_FALSE(s.cpu().has_value());
        s.add_pollable(polled[i]);
        s.set_on_start([&h = hooks[i], &p = polled[i]](shard& self) -> result<void, std::string> {
            h.start_thread = std::this_thread::get_id();
            h.start_current = shard::current();
            h.polls_at_start = p.poll_count.load();
            EXPECT_EQ(&self, shard::current());
            return {};
        });
        s.set_on_stop([&h = hooks[i], &p = polled[i]](shard&) {
            h.stop_thread = std::this_thread::get_id();
            h.stop_current = shard::current();
            h.polls_at_stop = p.poll_count.load();
        });
    }
    ASSERT_TRUE(group.start().ok());
    for (auto& p : polled) {
        wait_until([&p] { return p.poll_count.load() >= 30; });
    }
    group.request_stop();
    EXPECT_TRUE(group.stop_requested());
    group.join();
    group.join(); // idempotent

    for (uint32_t i = 0; i < shard_count; ++i) {
        const hook_record& h = hooks[i];
        const recording_pollable& p = polled[i];
        EXPECT_NE(h.start_thread, std::this_thread::get_id());
        EXPECT_EQ(h.start_thread, p.poll_thread);
        EXPECT_EQ(h.stop_thread, p.poll_thread);
        EXPECT_EQ(h.start_current, &group.at(core_id(i)));
        EXPECT_EQ(h.stop_current, &group.at(core_id(i)));
        EXPECT_EQ(h.polls_at_start, 0u);
        EXPECT_EQ(h.polls_at_stop, p.poll_count.load());
        EXPECT_EQ(p.wrong_thread, 0u);
        EXPECT_EQ(p.clock_went_back, 0u);
    }
    EXPECT_NE(hooks[0].start_thread, hooks[1].start_thread);
    EXPECT_EQ(shard::current(), nullptr);
}

TEST(shard_group, idle_is_true_exactly_when_the_previous_cycle_did_no_work) {
    shard_group group(options(1));
    recording_pollable p;
    group.at(core_id(0)).add_pollable(p);
    ASSERT_TRUE(group.start().ok());
    wait_until([&p] { return p.poll_count.load() >= 30; });
    group.request_stop();
    group.join();

    ASSERT_GE(p.idle_flags.size(), 30u);
    EXPECT_FALSE(p.idle_flags[0]);
    for (size_t i = 1; i < p.idle_flags.size(); ++i) {
        EXPECT_EQ(p.idle_flags[i], p.work_counts[i - 1] == 0) << "cycle " << i;
    }
}

TEST(shard_group, on_start_may_register_pollables) {
    shard_group group(options(1));
    recording_pollable p;
    group.at(core_id(0)).set_on_start([&p](shard& s) -> result<void, std::string> {
        s.add_pollable(p);
        return {};
    });
    ASSERT_TRUE(group.start().ok());
    wait_until([&p] { return p.poll_count.load() >= 1; });
    group.request_stop();
    group.join();
    EXPECT_EQ(p.wrong_thread, 0u);
}

TEST(shard_group, an_on_start_failure_fails_start_and_stops_the_started_shards) {
    shard_group group(options(2));
    recording_pollable p;
    bool stopped = false;
    bool failed_shard_stopped = false;
    group.at(core_id(0)).add_pollable(p);
    group.at(core_id(0)).set_on_stop([&stopped](shard&) { stopped = true; });
    group.at(core_id(1)).set_on_start([](shard&) -> result<void, std::string> {
        return failure(std::string("cannot open /data/0: Permission denied"));
    });
    group.at(core_id(1)).set_on_stop([&failed_shard_stopped](shard&) {
        failed_shard_stopped = true;
    });
    auto started = group.start();
    ASSERT_FALSE(started.ok());
    EXPECT_EQ(started.error(), "shard 1: cannot open /data/0: Permission denied");
    // start() has joined every thread by now.
    EXPECT_TRUE(stopped);
    EXPECT_FALSE(failed_shard_stopped);
    EXPECT_EQ(p.poll_count.load(), 0u);
}

TEST(shard_group, pinning_to_a_cpu_that_does_not_exist_fails_start_with_a_clear_message) {
    shard_group_options o = options(1);
    o.cpus = {CPU_SETSIZE - 1};
    shard_group group(o);
    auto started = group.start();
    ASSERT_FALSE(started.ok());
    EXPECT_EQ(started.error().rfind("shard 0: cannot pin to CPU 1023: sched_setaffinity: ", 0), 0u)
        << started.error();
}

TEST(shard_group, a_pinned_shard_runs_only_on_its_cpu) {
    cpu_set_t allowed;
    ASSERT_EQ(sched_getaffinity(0, sizeof(allowed), &allowed), 0);
    uint32_t cpu = 0;
    while (!CPU_ISSET(cpu, &allowed)) {
        ++cpu;
        ASSERT_LT(cpu, uint32_t(CPU_SETSIZE));
    }
    shard_group_options o = options(1);
    o.cpus = {cpu};
    shard_group group(o);
    int cpus_in_mask = -1;
    bool mask_has_cpu = false;
    int ran_on = -1;
    group.at(core_id(0)).set_on_start([&](shard&) -> result<void, std::string> {
        cpu_set_t mine;
        RUNNEL_ASSERT(sched_getaffinity(0, sizeof(mine), &mine) == 0);
        cpus_in_mask = CPU_COUNT(&mine);
        mask_has_cpu = CPU_ISSET(cpu, &mine);
        ran_on = sched_getcpu();
        return {};
    });
    ASSERT_TRUE(group.start().ok());
    group.request_stop();
    group.join();
    EXPECT_EQ(group.at(core_id(0)).cpu(), std::optional<uint32_t>(cpu));
    EXPECT_EQ(cpus_in_mask, 1);
    EXPECT_TRUE(mask_has_cpu);
    EXPECT_EQ(ran_on, int(cpu));
}

// Cross-shard messages. The message carries (to, from, sequence) in its arg; the receiving shard
// checks it runs on `to` and that each sender's sequence arrives in order.
constexpr uint32_t message_shard_count = 3;
constexpr uint64_t messages_per_pair = 20'000;

struct message_state {
    // [receiver][sender]: next sequence expected. Written by the receiver's thread only.
    uint64_t next[message_shard_count][message_shard_count] = {};
    uint64_t out_of_order[message_shard_count] = {};
    uint64_t wrong_shard[message_shard_count] = {};
    std::atomic<uint64_t> received{0};
};
message_state* g_messages = nullptr;

void* encode(uint32_t to, uint32_t from, uint64_t seq) {
    return reinterpret_cast<void*>(uintptr_t(to) << 56 | uintptr_t(from) << 48 | seq);
}

void receive(void* arg) {
    const auto bits = reinterpret_cast<uintptr_t>(arg);
    const uint32_t to = uint32_t(bits >> 56);
    const uint32_t from = uint32_t(bits >> 48) & 0xff;
    const uint64_t seq = bits & ((uint64_t(1) << 48) - 1);
    shard* here = shard::current();
    if (here == nullptr || here->id() != core_id(to)) {
        ++g_messages->wrong_shard[to];
    }
    if (seq != g_messages->next[to][from]) {
        ++g_messages->out_of_order[to];
    }
    g_messages->next[to][from] = seq + 1;
    g_messages->received.fetch_add(1);
}

// Sends messages_per_pair messages to every other shard, a few per cycle, retrying when full.
struct sending_pollable final : pollable {
    sending_pollable(shard_group& g, uint32_t self) : group(g), me(self) {}

    uint32_t poll(uint64_t, bool) override {
        uint32_t work = 0;
        for (uint32_t to = 0; to < message_shard_count; ++to) {
            for (int burst = 0; to != me && burst < 16 && sent[to] < messages_per_pair; ++burst) {
                if (!group.send(core_id(me), core_id(to), {receive, encode(to, me, sent[to])})) {
                    ++full;
                    break;
                }
                ++sent[to];
                ++work;
            }
        }
        return work;
    }

    shard_group& group;
    uint32_t me;
    uint64_t sent[message_shard_count] = {};
    uint64_t full = 0;
};

TEST(shard_group, cross_shard_messages_arrive_exactly_once_in_order_on_the_receiver) {
    message_state state;
    g_messages = &state;
    shard_group group(options(message_shard_count));
    std::vector<std::unique_ptr<sending_pollable>> senders;
    for (uint32_t i = 0; i < message_shard_count; ++i) {
        senders.push_back(std::make_unique<sending_pollable>(group, i));
        group.at(core_id(i)).add_pollable(*senders.back());
    }
    constexpr uint64_t total = message_shard_count * (message_shard_count - 1) * messages_per_pair;
    ASSERT_TRUE(group.start().ok());
    wait_until([&state] { return state.received.load() >= total; });
    group.request_stop();
    group.join();
    g_messages = nullptr;

    EXPECT_EQ(state.received.load(), total);
    for (uint32_t to = 0; to < message_shard_count; ++to) {
        EXPECT_EQ(state.out_of_order[to], 0u);
        EXPECT_EQ(state.wrong_shard[to], 0u);
        for (uint32_t from = 0; from < message_shard_count; ++from) {
            EXPECT_EQ(state.next[to][from], from == to ? 0 : messages_per_pair);
        }
    }
}

TEST(shard_group, send_returns_false_when_the_ring_is_full_and_the_rest_arrive) {
    message_state state;
    g_messages = &state;
    shard_group group(options(2));
    std::vector<bool> accepted;
    // Duty cycles start only after every on_start, so shard 1 cannot drain while shard 0 fills.
    group.at(core_id(0)).set_on_start([&](shard&) -> result<void, std::string> {
        for (uint64_t seq = 0; seq <= 64; ++seq) {
            accepted.push_back(group.send(core_id(0), core_id(1), {receive, encode(1, 0, seq)}));
        }
        return {};
    });
    ASSERT_TRUE(group.start().ok());
    wait_until([&state] { return state.received.load() >= 64; });
    group.request_stop();
    group.join();
    g_messages = nullptr;

    ASSERT_EQ(accepted.size(), 65u);
    for (size_t i = 0; i < 64; ++i) {
        EXPECT_TRUE(accepted[i]) << i;
    }
    EXPECT_FALSE(accepted[64]);
    EXPECT_EQ(state.received.load(), 64u);
    EXPECT_EQ(state.next[1][0], 64u);
    EXPECT_EQ(state.out_of_order[1], 0u);
    EXPECT_EQ(state.wrong_shard[1], 0u);
}

TEST(shard_group, destroying_a_running_group_stops_it) {
    bool stopped = false;
    {
        shard_group group(options(2));
        group.at(core_id(1)).set_on_stop([&stopped](shard&) { stopped = true; });
        ASSERT_TRUE(group.start().ok());
    }
    EXPECT_TRUE(stopped);
}

} // namespace
} // namespace runnel
