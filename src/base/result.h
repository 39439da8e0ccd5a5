// result<T, E>: a value or a module error code (std::expected-like, C++20). Operating errors
// (EIO, ENOSPC, a malformed batch, a bad config value) travel as results; programmer errors are
// asserts. Header-only.
#pragma once

#include "base/assert.h"

#include <type_traits>
#include <utility>
#include <variant>

namespace runnel {

template <typename E>
struct failure {
    explicit failure(E e) : error(e) {}
    E error;
};

template <typename T, typename E>
class [[nodiscard]] result {
public:
    result(T v) : _v(std::in_place_index<0>, std::move(v)) {}
    result(failure<E> f) : _v(std::in_place_index<1>, f.error) {}
    bool ok() const { return _v.index() == 0; }
    explicit operator bool() const { return ok(); }
    T& value() & {
        RUNNEL_ASSERT(ok());
        return std::get<0>(_v);
    }
    const T& value() const& {
        RUNNEL_ASSERT(ok());
        return std::get<0>(_v);
    }
    T&& value() && {
        RUNNEL_ASSERT(ok());
        return std::get<0>(std::move(_v));
    }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    E error() const {
        RUNNEL_ASSERT(!ok());
        return std::get<1>(_v);
    }

private:
    std::variant<T, E> _v;
};

template <typename E>
class [[nodiscard]] result<void, E> {
public:
    result() = default;
    result(failure<E> f) : _ok(false), _e(f.error) {}
    bool ok() const { return _ok; }
    explicit operator bool() const { return _ok; }
    E error() const {
        RUNNEL_ASSERT(!_ok);
        return _e;
    }

private:
    bool _ok = true;
    E _e{};
};

} // namespace runnel
