#include "storage/io.h"

#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

namespace runnel::storage {

aligned_buffer::aligned_buffer(size_t bytes) : _n(align_up(bytes)) {
    void* p = std::aligned_alloc(block_bytes, _n);
    if (p == nullptr) {
        throw std::bad_alloc();
    }
    std::memset(p, 0, _n); // pre-fault now, not on the data path
    _p = static_cast<std::byte*>(p);
}

aligned_buffer::aligned_buffer(aligned_buffer&& o) noexcept
  : _p(std::exchange(o._p, nullptr)), _n(std::exchange(o._n, 0)) {}

aligned_buffer& aligned_buffer::operator=(aligned_buffer&& o) noexcept {
    if (this != &o) {
        std::free(_p);
        _p = std::exchange(o._p, nullptr);
        _n = std::exchange(o._n, 0);
    }
    return *this;
}

aligned_buffer::~aligned_buffer() { std::free(_p); }

} // namespace runnel::storage
