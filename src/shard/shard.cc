#include "shard/shard.h"

#include <cerrno>
#include <cstring>
#include <pthread.h>
#include <sched.h>

namespace runnel {

namespace {
thread_local shard* current_shard = nullptr;
} // namespace

shard::shard(const options& opts, shard_group& group)
    : _id(opts.id), _cpu(opts.cpu), _drain_count_max(opts.drain_count_max), _group(group),
      _idle(opts.idle, opts.idle_sleep_us) {
    RUNNEL_ASSERT(opts.drain_count_max >= 1);
}

shard* shard::current() { return current_shard; }

void shard::add_pollable(pollable& p) {
    // Before start the owner's thread is the only one touching the shard; after, only its own.
    if (_group._start_called) {
        RUNNEL_ASSERT(current_shard == this);
    }
    _pollables.push_back(&p);
}

void shard::set_on_start(start_hook hook) {
    RUNNEL_ASSERT(!_group._start_called);
    _on_start = std::move(hook);
}

void shard::set_on_stop(stop_hook hook) {
    RUNNEL_ASSERT(!_group._start_called);
    _on_stop = std::move(hook);
}

result<void, std::string> shard::pin() {
    if (!_cpu) {
        return {};
    }
    cpu_set_t set;
    CPU_ZERO(&set);
    if (*_cpu >= CPU_SETSIZE) {
        return failure(std::string("shard ") + std::to_string(_id()) + ": CPU "
                       + std::to_string(*_cpu) + " is beyond CPU_SETSIZE");
    }
    CPU_SET(*_cpu, &set);
    if (sched_setaffinity(0, sizeof(set), &set) != 0) {
        const int err = errno;
        return failure(std::string("shard ") + std::to_string(_id()) + ": cannot pin to CPU "
                       + std::to_string(*_cpu) + ": sched_setaffinity: " + std::strerror(err)
                       + "; choose shards.cpus from the CPUs this process may use"
                       + " (see taskset -p, or the cgroup cpuset)");
    }
    return {};
}

void shard::run() {
    current_shard = this;
    const std::string name = "runnel-shard-" + std::to_string(_id());
    // Thread names are at most 15 characters; a longer one is cut rather than refused.
    pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());

    bool started = false;
    auto pinned = pin();
    if (!pinned) {
        _start_error = pinned.error();
    } else if (_on_start) {
        auto hooked = _on_start(*this);
        if (!hooked) {
            _start_error = "shard " + std::to_string(_id()) + ": " + hooked.error();
        } else {
            started = true;
        }
    } else {
        started = true;
    }
    _group._started.count_down();
    _group._go.wait();

    if (!started) {
        current_shard = nullptr;
        return;
    }
    run_duty_cycles();
    if (_on_stop) {
        _on_stop(*this);
    }
    current_shard = nullptr;
}

void shard::run_duty_cycles() {
    bool idle = false;
    while (!_group._stop.load(std::memory_order_relaxed)) {
        const uint64_t now = now_us();
        uint32_t work = 0;
        // By index: a pollable may register another (from this thread) while being polled.
        for (size_t i = 0; i < _pollables.size(); ++i) {
            work += _pollables[i]->poll(now, idle);
        }
        for (spsc_ring<shard_message>* ring : _inbound) {
            work += ring->drain(_drain_count_max, [](const shard_message& m) { m.fn(m.arg); });
        }
        idle = work == 0;
        _idle.idle(work);
    }
}

shard_group::shard_group(const shard_group_options& opts)
    : _started(std::ptrdiff_t(opts.shard_count)) {
    const uint32_t n = opts.shard_count;
    RUNNEL_ASSERT(n >= 1);
    RUNNEL_ASSERT(n <= shard_count_max);
    if (!opts.cpus.empty()) {
        RUNNEL_ASSERT(opts.cpus.size() == n);
    }

    _shards.reserve(n);
    for (uint32_t i = 0; i < n; ++i) {
        const shard::options so{
            .id = core_id(i),
            .cpu = opts.cpus.empty() ? std::nullopt : std::optional<uint32_t>(opts.cpus[i]),
            .idle = opts.idle,
            .idle_sleep_us = opts.idle_sleep_us,
            .drain_count_max = opts.drain_count_max,
        };
        _shards.push_back(std::unique_ptr<shard>(new shard(so, *this)));
    }

    _rings.resize(size_t(n) * n);
    for (uint32_t from = 0; from < n; ++from) {
        for (uint32_t to = 0; to < n; ++to) {
            if (from != to) {
                auto& r = _rings[size_t(from) * n + to];
                r = std::make_unique<spsc_ring<shard_message>>(opts.ring_capacity);
                _shards[to]->_inbound.push_back(r.get());
            }
        }
    }
}

shard_group::~shard_group() {
    request_stop();
    join();
}

shard& shard_group::at(core_id id) {
    RUNNEL_ASSERT(id() < size());
    return *_shards[id()];
}

result<void, std::string> shard_group::start() {
    RUNNEL_ASSERT(!_start_called);
    _start_called = true;
    for (auto& s : _shards) {
        s->_thread = std::thread([p = s.get()] { p->run(); });
    }
    _started.wait();

    // The latch orders each shard's _start_error write before these reads.
    std::string error;
    for (auto& s : _shards) {
        if (!s->_start_error.empty() && error.empty()) {
            error = s->_start_error;
        }
    }
    if (!error.empty()) {
        request_stop();
    }
    _go.count_down();
    if (!error.empty()) {
        join();
        return failure(std::move(error));
    }
    return {};
}

void shard_group::join() {
    for (auto& s : _shards) {
        if (s->_thread.joinable()) {
            s->_thread.join();
        }
    }
}

spsc_ring<shard_message>& shard_group::ring(core_id from, core_id to) {
    RUNNEL_ASSERT(from() < size());
    RUNNEL_ASSERT(to() < size());
    RUNNEL_ASSERT(from != to);
    return *_rings[size_t(from()) * size() + to()];
}

bool shard_group::send(core_id from, core_id to, shard_message m) {
    RUNNEL_ASSERT(m.fn != nullptr);
    spsc_ring<shard_message>& r = ring(from, to);
    // The ring's single producer is shard `from`'s thread.
    RUNNEL_ASSERT(current_shard == _shards[from()].get());
    return r.try_push(m);
}

} // namespace runnel
