// Strong integer types: offsets, epochs, partition ids, producer ids and core ids are distinct
// types so that one cannot be passed where another is meant. Header-only; no state.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <ostream>

namespace runnel {

template <typename T, typename Tag>
class named_type {
public:
    using value_type = T;
    constexpr named_type() = default;
    constexpr explicit named_type(T v) : _v(v) {}
    constexpr T operator()() const { return _v; }
    constexpr auto operator<=>(const named_type&) const = default;
    constexpr named_type& operator++() {
        ++_v;
        return *this;
    }
    constexpr named_type operator+(T d) const { return named_type(_v + d); }
    constexpr named_type operator-(T d) const { return named_type(_v - d); }
    constexpr T operator-(named_type o) const { return _v - o._v; }
    friend std::ostream& operator<<(std::ostream& os, named_type v) { return os << v._v; }

private:
    T _v{};
};

namespace model {
using offset = named_type<int64_t, struct offset_tag>;
using epoch = named_type<int32_t, struct epoch_tag>;
using partition_id = named_type<int32_t, struct partition_id_tag>;
using producer_id = named_type<int64_t, struct producer_id_tag>;
using timestamp_ms = named_type<int64_t, struct timestamp_ms_tag>;
} // namespace model

using core_id = named_type<uint32_t, struct core_id_tag>;

} // namespace runnel

template <typename T, typename Tag>
struct std::hash<runnel::named_type<T, Tag>> {
    size_t operator()(runnel::named_type<T, Tag> v) const noexcept { return std::hash<T>{}(v()); }
};
