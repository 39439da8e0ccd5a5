// Thread-per-core runtime. A shard is one thread, optionally pinned to one CPU, that owns its
// resources (io_uring, partitions, pools) and runs a duty cycle until the group is stopped:
//
//     work  = every registered pollable's poll(now_us, idle)
//     work += messages drained from each other shard's ring (at most drain_count_max per ring)
//     idle strategy(work)
//
// Shards share nothing but SPSC rings: shard_group builds one ring per ordered pair of shards
// (N x (N-1)), so each ring has exactly one producer and one consumer.
//
// Lifecycle: shard_group builds the shards and rings; the caller registers pollables and hooks;
// start() spawns the threads. Each thread pins itself, runs on_start, and waits until every shard
// has started; only then do the duty cycles begin. request_stop() ends them; each thread then runs
// on_stop and exits; join() waits for that. Messages still in a ring at stop are not run.
// Owning cores: a shard's pollables, hooks and messages run on that shard's thread only.
// Thread-safety: send() from the sending shard's thread; request_stop() from anywhere, including a
// signal handler; everything else from the thread that owns the shard_group.
#pragma once

#include "base/named_type.h"
#include "base/result.h"
#include "shard/idle_strategy.h"
#include "shard/spsc_ring.h"

#include <atomic>
#include <cstdint>
#include <ctime>
#include <functional>
#include <latch>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace runnel {

// Monotonic clock in microseconds (CLOCK_MONOTONIC; not wall time, never goes back).
inline uint64_t now_us() {
    timespec ts{};
    const int rc = clock_gettime(CLOCK_MONOTONIC, &ts);
    RUNNEL_ASSERT(rc == 0);
    return uint64_t(ts.tv_sec) * 1'000'000 + uint64_t(ts.tv_nsec) / 1000;
}

// A component a shard polls every duty cycle (storage io, network queues, timers).
struct pollable {
    virtual ~pollable() = default;
    // Does whatever work is ready and returns how much (0 when there was none). idle is true when
    // the previous duty cycle did no work, so a component may do deferred work such as flushing.
    // Must not block.
    virtual uint32_t poll(uint64_t now_us, bool idle) = 0;
};

// A function to run on another shard: fn(arg) runs on the receiving shard's thread. Whatever arg
// points to belongs to the protocol between the two shards (typically it travels there and back).
struct shard_message {
    void (*fn)(void* arg) = nullptr;
    void* arg = nullptr;
};

class shard_group;

class shard {
public:
    // Control path hooks run on the shard's own thread, before its first duty cycle (on_start) and
    // after its last (on_stop). An on_start error fails shard_group::start() with that message.
    using start_hook = std::function<result<void, std::string>(shard&)>;
    using stop_hook = std::function<void(shard&)>;

    shard(const shard&) = delete;
    shard& operator=(const shard&) = delete;

    core_id id() const { return _id; }
    std::optional<uint32_t> cpu() const { return _cpu; }
    const idle_strategy& idle() const { return _idle; }

    // Registers p to be polled every duty cycle, after those registered before it. Call before
    // start() or from this shard's thread (e.g. in on_start). p must outlive the last duty cycle.
    void add_pollable(pollable& p);
    void set_on_start(start_hook hook);
    void set_on_stop(stop_hook hook);

    // The shard whose thread is calling, or nullptr on a thread that is not a shard's.
    static shard* current();

private:
    friend class shard_group;

    struct options {
        core_id id;
        std::optional<uint32_t> cpu;
        idle_mode idle;
        uint32_t idle_sleep_us;
        uint32_t drain_count_max;
    };
    shard(const options& opts, shard_group& group);

    void run();
    result<void, std::string> pin();
    void run_duty_cycles();

    const core_id _id;
    const std::optional<uint32_t> _cpu;
    const uint32_t _drain_count_max;
    shard_group& _group;
    idle_strategy _idle;
    std::vector<pollable*> _pollables;
    std::vector<spsc_ring<shard_message>*> _inbound; // one per other shard, set by shard_group
    start_hook _on_start;
    stop_hook _on_stop;
    std::string _start_error; // written by the shard's thread before it counts down _started
    std::thread _thread;
};

struct shard_group_options {
    uint32_t shard_count = 1;
    std::vector<uint32_t> cpus;       // empty: no pinning; else shard i runs on cpus[i]
    idle_mode idle = idle_mode::backoff;
    uint32_t idle_sleep_us = 50;
    uint32_t ring_capacity = 1024;    // messages per ring; power of two
    uint32_t drain_count_max = 256;   // messages taken from one ring per duty cycle
};

class shard_group {
public:
    static constexpr uint32_t shard_count_max = 1024;

    explicit shard_group(const shard_group_options& opts);
    // Stops and joins the shards if the owner did not.
    ~shard_group();
    shard_group(const shard_group&) = delete;
    shard_group& operator=(const shard_group&) = delete;

    uint32_t size() const { return uint32_t(_shards.size()); }
    shard& at(core_id id);

    // Spawns the threads and returns once every shard has pinned itself and run on_start. If any
    // of them failed, it stops the rest (their on_stop runs), joins them all and returns the
    // first failure in core order. Call once.
    result<void, std::string> start();

    // Asks every shard to finish its current duty cycle and stop. Async-signal-safe (one atomic
    // store), callable from any thread, idempotent.
    void request_stop() { _stop.store(true, std::memory_order_relaxed); }
    bool stop_requested() const { return _stop.load(std::memory_order_relaxed); }

    // Waits until every shard's thread has run on_stop and exited. Idempotent.
    void join();

    // Queues m for shard `to`; returns false, leaving m unsent, if that ring is full. Never blocks.
    // Call from shard `from`'s thread only (it is the ring's one producer).
    bool send(core_id from, core_id to, shard_message m);

private:
    friend class shard;

    spsc_ring<shard_message>& ring(core_id from, core_id to);

    std::vector<std::unique_ptr<shard>> _shards;
    // Ring from shard i to shard j at i * size() + j; null on the diagonal.
    std::vector<std::unique_ptr<spsc_ring<shard_message>>> _rings;
    // The one atomic every duty cycle reads outside the rings; written once, at stop.
    std::atomic<bool> _stop{false};
    static_assert(std::atomic<bool>::is_always_lock_free);
    std::latch _started;  // each shard counts down after on_start, success or not
    std::latch _go{1};    // start() counts down once every shard has started
    bool _start_called = false;
};

} // namespace runnel
