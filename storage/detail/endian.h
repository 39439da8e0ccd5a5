// Big-endian loads and stores on byte spans (Kafka's wire and disk order). Header-only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace runnel::storage::detail {

template <typename U>
U byte_swap(U v) {
    if constexpr (sizeof(U) == 2) {
        return __builtin_bswap16(v);
    } else if constexpr (sizeof(U) == 4) {
        return __builtin_bswap32(v);
    } else {
        static_assert(sizeof(U) == 8);
        return __builtin_bswap64(v);
    }
}

template <typename T>
T load_be(const std::byte* p) {
    std::make_unsigned_t<T> v;
    std::memcpy(&v, p, sizeof(v));
    if constexpr (sizeof(T) > 1) {
        v = byte_swap(v);
    }
    return static_cast<T>(v);
}

template <typename T>
void store_be(std::byte* p, T value) {
    auto v = static_cast<std::make_unsigned_t<T>>(value);
    if constexpr (sizeof(T) > 1) {
        v = byte_swap(v);
    }
    std::memcpy(p, &v, sizeof(v));
}

template <typename T>
T load_le(const std::byte* p) {
    T v;
    std::memcpy(&v, p, sizeof(v));
    return v;
}

template <typename T>
void store_le(std::byte* p, T v) {
    std::memcpy(p, &v, sizeof(v));
}

} // namespace runnel::storage::detail
