// What a shard's thread does after a duty cycle, given how much work that cycle did (Aeron's idle
// strategies). The mode is chosen once at start-up from config (shards.idle_strategy):
// - spin:    a pause instruction; lowest latency, burns the core.
// - yield:   sched_yield; gives the core to another runnable thread, else returns at once.
// - sleep:   sleeps idle_sleep_us; cheapest for the CPU, adds up to that much latency.
// - backoff: spins a little, then yields a little, then sleeps; any work resets it to spinning.
// A cycle that did work never idles.
//
// Lifecycle: one per shard, built before its thread starts. Owning core: the shard's own thread.
// Thread-safety: none; only the owning shard's thread calls idle().
#pragma once

#include "base/assert.h"

#include <chrono>
#include <cstdint>
#include <optional>
#include <sched.h>
#include <string_view>
#include <thread>

namespace runnel {

enum class idle_mode : uint8_t { spin, yield, sleep, backoff };

inline std::string_view to_string(idle_mode m) {
    switch (m) {
    case idle_mode::spin:
        return "spin";
    case idle_mode::yield:
        return "yield";
    case idle_mode::sleep:
        return "sleep";
    case idle_mode::backoff:
        return "backoff";
    }
    RUNNEL_ASSERT(false);
    return {};
}

inline std::optional<idle_mode> parse_idle_mode(std::string_view s) {
    for (idle_mode m : {idle_mode::spin, idle_mode::yield, idle_mode::sleep, idle_mode::backoff}) {
        if (s == to_string(m)) {
            return m;
        }
    }
    return std::nullopt;
}

// Tells the core that this is a spin-wait loop (saves power, frees the sibling hyperthread).
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield" ::: "memory");
#endif
}

class idle_strategy {
public:
    // Backoff: idle cycles spent spinning, then yielding, before it sleeps. Small enough that an
    // idle shard reaches the sleep phase within microseconds.
    static constexpr uint32_t backoff_spins_max = 100;
    static constexpr uint32_t backoff_yields_max = 10;
    static constexpr uint32_t sleep_us_max = 100'000;

    enum class phase : uint8_t { spinning, yielding, sleeping };

    idle_strategy(idle_mode mode, uint32_t sleep_us) : _mode(mode), _sleep_us(sleep_us) {
        RUNNEL_ASSERT(sleep_us >= 1);
        RUNNEL_ASSERT(sleep_us <= sleep_us_max);
    }

    // Called after every duty cycle with the work count that cycle returned.
    void idle(uint32_t work_count) {
        if (work_count > 0) {
            _idle_cycles = 0;
            return;
        }
        switch (_mode) {
        case idle_mode::spin:
            cpu_relax();
            return;
        case idle_mode::yield:
            sched_yield();
            return;
        case idle_mode::sleep:
            sleep();
            return;
        case idle_mode::backoff:
            backoff();
            return;
        }
        RUNNEL_ASSERT(false);
    }

    idle_mode mode() const { return _mode; }

    // Where backoff stands: what the next idle call with no work will do.
    phase backoff_phase() const {
        if (_idle_cycles < backoff_spins_max) {
            return phase::spinning;
        }
        if (_idle_cycles < backoff_spins_max + backoff_yields_max) {
            return phase::yielding;
        }
        return phase::sleeping;
    }

private:
    void sleep() const { std::this_thread::sleep_for(std::chrono::microseconds(_sleep_us)); }

    void backoff() {
        const phase p = backoff_phase();
        // Saturates once sleeping, so the counter is bounded.
        if (p != phase::sleeping) {
            ++_idle_cycles;
        }
        switch (p) {
        case phase::spinning:
            cpu_relax();
            return;
        case phase::yielding:
            sched_yield();
            return;
        case phase::sleeping:
            sleep();
            return;
        }
        RUNNEL_ASSERT(false);
    }

    idle_mode _mode;
    uint32_t _sleep_us;
    uint32_t _idle_cycles = 0; // consecutive cycles without work, capped at the sleep phase
};

} // namespace runnel
