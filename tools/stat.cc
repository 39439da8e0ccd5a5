// runnel-stat: prints the counters a running runneld publishes in <data_dir>/counters (every
// 100 ms): one "name value" line each, after a line naming the broker's pid and how old the
// values are.
//   runnel-stat DATA_DIR [NAME_PREFIX]
// Exit status: 0, or 1 with the reason when there is no readable counters file.
#include "telemetry/counters_file.h"

#include <chrono>
#include <cstdio>
#include <string>

int main(int argc, char** argv) {
    if (argc < 2 || argc > 3) {
        std::fprintf(stderr, "usage: runnel-stat DATA_DIR [NAME_PREFIX]\n");
        return 2;
    }
    const std::string prefix = argc == 3 ? argv[2] : "";
    auto s = runnel::telemetry::read_counters(std::string(argv[1]) + "/counters");
    if (!s) {
        std::fprintf(stderr, "runnel-stat: %s\n", s.error().c_str());
        return 1;
    }
    using namespace std::chrono;
    const auto now_ms =
      uint64_t(duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count());
    std::printf("# runneld pid %llu, published %lld ms ago\n",
                static_cast<unsigned long long>(s->pid),
                static_cast<long long>(int64_t(now_ms) - int64_t(s->published_unix_ms)));
    for (const auto& [name, value] : s->counters) {
        if (name.compare(0, prefix.size(), prefix) == 0) {
            std::printf("%s %llu\n", name.c_str(), static_cast<unsigned long long>(value));
        }
    }
    return 0;
}
