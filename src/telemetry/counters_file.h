// The counters file: runneld's counters, published in a memory-mapped file that ops tools read
// while it runs (Aeron's CnC counters file is the model). The owner registers each counter once
// as a name and the address of the value it keeps; publish() copies every value into the mapping
// with plain 64-bit stores: no syscall, no allocation, cheap enough for a duty cycle. A reader
// maps the file read-only and may see a value one publish old, never a torn one.
//
// Layout (little-endian, version 1), in <data_dir>/counters:
//   header (64 bytes): magic "RNCOUNT1", version:u32, count:u32, pid:u64, published_unix_ms:u64,
//                      reserved
//   count entries (64 bytes each, one cache line): name (NUL-padded, at most 55 chars), value:u64
//
// Lifecycle: created at start-up, before the duty cycle; the file is removed by close.
// Thread-safety: one writer thread (the owner of the sources); readers are other processes.
#pragma once

#include "base/result.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace runnel::telemetry {

inline constexpr size_t counter_name_max = 55;

class counters_file {
public:
    struct source {
        std::string name;
        const uint64_t* value;
    };
    // Creates (replaces) `path` sized for `sources` and maps it; the sources must outlive it.
    static result<counters_file, std::string> create(const std::string& path,
                                                     std::vector<source> sources);
    counters_file(counters_file&& o) noexcept;
    counters_file& operator=(counters_file&&) = delete;
    counters_file(const counters_file&) = delete;
    ~counters_file();

    void publish(uint64_t unix_ms);

private:
    counters_file() = default;
    std::string _path;
    std::vector<const uint64_t*> _values;
    std::byte* _map = nullptr;
    size_t _bytes = 0;
};

// What a reader sees.
struct snapshot {
    uint64_t pid = 0;
    uint64_t published_unix_ms = 0;
    std::vector<std::pair<std::string, uint64_t>> counters;
};
result<snapshot, std::string> read_counters(const std::string& path);

} // namespace runnel::telemetry
