// A bounded lock-free single-producer single-consumer ring: the only way data crosses between
// shards. Capacity is a power of two fixed at construction; nothing allocates after that.
//
// Positions (_tail written by the producer, _head by the consumer) are 64-bit counters that never
// wrap in practice (2^64 items); a slot is position & mask. Each side keeps its own line holding
// its position and a cached copy of the other side's position, and reads the other side's line
// only when the cache says the ring looks full (producer) or empty (consumer). So in steady state
// each side touches the other's line about once per lap, not once per item.
//
// Lifecycle: built on the control path before either thread uses it; outlives both.
// Owning cores: exactly one producer thread and one consumer thread for the ring's whole life.
// Thread-safety: try_push from the producer only; try_pop and drain from the consumer only.
#pragma once

#include "base/assert.h"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <type_traits>

namespace runnel {

// Two cache lines: x86's adjacent-line prefetcher pulls lines in pairs, so one line of padding
// still lets the two sides disturb each other.
inline constexpr size_t false_sharing_bytes = 128;

template <typename T>
class spsc_ring {
    // Items are copied in and out of slots; a ring carries small plain messages, not owners.
    static_assert(std::is_trivially_copyable_v<T>);
    static_assert(std::is_default_constructible_v<T>);

public:
    static constexpr uint32_t capacity_min = 2;
    static constexpr uint32_t capacity_max = 1u << 30;

    explicit spsc_ring(uint32_t capacity)
        : _mask(capacity - 1), _slots(std::make_unique<T[]>(capacity)) {
        RUNNEL_ASSERT(capacity >= capacity_min);
        RUNNEL_ASSERT(capacity <= capacity_max);
        RUNNEL_ASSERT((capacity & (capacity - 1)) == 0);
    }

    spsc_ring(const spsc_ring&) = delete;
    spsc_ring& operator=(const spsc_ring&) = delete;

    uint32_t capacity() const { return _mask + 1; }

    // Producer: copies v into the ring, or returns false if the ring is full. Never blocks.
    bool try_push(const T& v) {
        const uint64_t tail = _producer.tail.load(std::memory_order_relaxed);
        if (tail - _producer.head_cached == capacity()) {
            // Acquire pairs with the consumer's release: its reads of the slots are done.
            _producer.head_cached = _consumer.head.load(std::memory_order_acquire);
            RUNNEL_ASSERT(tail - _producer.head_cached <= capacity());
            if (tail - _producer.head_cached == capacity()) {
                return false;
            }
        }
        _slots[tail & _mask] = v;
        // Release publishes the slot write before the new tail.
        _producer.tail.store(tail + 1, std::memory_order_release);
        return true;
    }

    // Consumer: moves the oldest item into out, or returns false if the ring is empty.
    bool try_pop(T& out) {
        const uint64_t head = _consumer.head.load(std::memory_order_relaxed);
        if (head == _consumer.tail_cached && !refresh_tail(head)) {
            return false;
        }
        out = _slots[head & _mask];
        _consumer.head.store(head + 1, std::memory_order_release);
        return true;
    }

    // Consumer: calls fn(const T&) on up to count_max of the oldest items, in order, then frees
    // their slots in one release. Returns how many items it handled. fn must not use this ring.
    template <typename Fn>
    uint32_t drain(uint32_t count_max, Fn&& fn) {
        const uint64_t head = _consumer.head.load(std::memory_order_relaxed);
        // One read of the producer's line per drain at most, and none while the cache alone
        // already holds a full batch.
        if (_consumer.tail_cached - head < count_max) {
            refresh_tail(head);
        }
        const uint64_t available = _consumer.tail_cached - head;
        if (available == 0) {
            return 0;
        }
        const uint32_t count = available < count_max ? uint32_t(available) : count_max;
        for (uint32_t i = 0; i < count; ++i) {
            fn(static_cast<const T&>(_slots[(head + i) & _mask]));
        }
        _consumer.head.store(head + count, std::memory_order_release);
        return count;
    }

private:
    // Re-reads the producer's tail; returns whether there is anything past head.
    bool refresh_tail(uint64_t head) {
        // Acquire pairs with the producer's release: the slots up to tail are written.
        _consumer.tail_cached = _producer.tail.load(std::memory_order_acquire);
        RUNNEL_ASSERT(_consumer.tail_cached - head <= capacity());
        return _consumer.tail_cached != head;
    }

    struct alignas(false_sharing_bytes) consumer_line {
        std::atomic<uint64_t> head{0}; // next position to read; written by the consumer only
        uint64_t tail_cached = 0;      // consumer's last view of the producer's tail
    };
    struct alignas(false_sharing_bytes) producer_line {
        std::atomic<uint64_t> tail{0}; // next position to write; written by the producer only
        uint64_t head_cached = 0;      // producer's last view of the consumer's head
    };
    static_assert(std::atomic<uint64_t>::is_always_lock_free);

    // Read-only after construction; shared by both sides without contention.
    alignas(false_sharing_bytes) const uint32_t _mask;
    const std::unique_ptr<T[]> _slots;
    consumer_line _consumer;
    producer_line _producer;
};

} // namespace runnel
