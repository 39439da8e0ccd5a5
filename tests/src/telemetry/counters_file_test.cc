#include "telemetry/counters_file.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <unistd.h>

namespace runnel::telemetry {
namespace {

std::string temp_path(const char* name) {
    return (std::filesystem::temp_directory_path() /
            (std::string(name) + "-" + std::to_string(::getpid())))
      .string();
}

TEST(counters_file, readers_see_each_published_value_by_name) {
    const auto path = temp_path("counters");
    uint64_t requests = 5;
    uint64_t drops = 0;
    {
        auto f = counters_file::create(path, {{"service.requests", &requests},
                                              {"port.dropped.too_short", &drops}});
        ASSERT_TRUE(f.ok()) << f.error();
        auto s = read_counters(path);
        ASSERT_TRUE(s.ok()) << s.error();
        EXPECT_EQ(s->pid, uint64_t(::getpid()));
        ASSERT_EQ(s->counters.size(), 2u);
        EXPECT_EQ(s->counters[0], (std::pair<std::string, uint64_t>("service.requests", 5)));
        requests = 9;
        drops = 1ull << 40;
        EXPECT_EQ(read_counters(path)->counters[0].second, 5u) << "not before a publish";
        f->publish(1234);
        s = read_counters(path);
        EXPECT_EQ(s->published_unix_ms, 1234u);
        EXPECT_EQ(s->counters[0].second, 9u);
        EXPECT_EQ(s->counters[1], (std::pair<std::string, uint64_t>("port.dropped.too_short",
                                                                    1ull << 40)));
    }
    EXPECT_FALSE(std::filesystem::exists(path)) << "removed when its owner goes";
}

TEST(counters_file, bad_names_and_bad_files_are_refused_precisely) {
    const auto path = temp_path("counters-bad");
    uint64_t v = 0;
    auto f = counters_file::create(path, {{std::string(56, 'n'), &v}});
    ASSERT_FALSE(f.ok());
    EXPECT_NE(f.error().find("over 55 characters"), std::string::npos) << f.error();
    auto missing = read_counters(path);
    ASSERT_FALSE(missing.ok());
    EXPECT_NE(missing.error().find("is runneld running"), std::string::npos) << missing.error();
    std::ofstream(path) << std::string(100, 'x');
    auto bad = read_counters(path);
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().find("bad magic"), std::string::npos) << bad.error();
    std::ofstream(path) << "short";
    EXPECT_NE(read_counters(path).error().find("too short"), std::string::npos);
    std::filesystem::remove(path);
}

} // namespace
} // namespace runnel::telemetry
