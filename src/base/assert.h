// Always-on assertions for programmer errors (broken invariants). They log the failed condition
// with its location and trap; they are never compiled out, in any build type.
// Thread-safety: safe from any thread.
#pragma once

#include <cstdio>
#include <cstdlib>

namespace runnel::detail {
[[noreturn]] inline void assert_failed(const char* expr, const char* file, int line) {
    std::fprintf(stderr, "runnel: assertion failed: %s (%s:%d)\n", expr, file, line);
    std::fflush(stderr);
    __builtin_trap();
}
} // namespace runnel::detail

#define RUNNEL_ASSERT(cond)                                                                        \
    do {                                                                                           \
        if (__builtin_expect(!(cond), 0)) {                                                        \
            ::runnel::detail::assert_failed(#cond, __FILE__, __LINE__);                            \
        }                                                                                          \
    } while (0)
