// Test helper: a byte vector from integer literals, for hand-written wire vectors.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <vector>

inline std::vector<std::byte> bytes(std::initializer_list<int> v) {
    std::vector<std::byte> out;
    for (int b : v) {
        out.push_back(std::byte(b));
    }
    return out;
}
