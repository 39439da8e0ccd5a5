#include "config/config.h"

#include <gtest/gtest.h>
#include <toml++/toml.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

namespace runnel {
namespace {

result<broker_config, std::string> parse(std::string_view text,
                                         const std::vector<std::string>& overrides = {}) {
    return parse_config(text, "test.toml", overrides);
}

// The error message for text that must fail, or a marker that makes the comparison fail.
std::string error_of(std::string_view text, const std::vector<std::string>& overrides = {}) {
    auto r = parse(text, overrides);
    if (r.ok()) {
        return "(no error)";
    }
    return r.error();
}

std::string online_count() { return std::to_string(online_cpus().size()); }

// The online CPUs as config messages write them: "0-3, 6".
std::string online_ranges() {
    const std::vector<uint32_t> cpus = online_cpus();
    std::string out;
    for (size_t i = 0; i < cpus.size(); ++i) {
        const bool continues = i > 0 && cpus[i] == cpus[i - 1] + 1;
        const bool continued = i + 1 < cpus.size() && cpus[i + 1] == cpus[i] + 1;
        if (!continues) {
            out += (out.empty() ? "" : ", ") + std::to_string(cpus[i]);
        } else if (!continued) {
            out += "-" + std::to_string(cpus[i]);
        }
    }
    return out;
}

std::string write_temp_file(const std::string& name, const std::string& text) {
    const std::string path = ::testing::TempDir() + name;
    std::ofstream(path) << text;
    return path;
}

TEST(config, no_file_and_no_options_gives_the_defaults) {
    const char* argv[] = {"runneld"};
    auto cl = parse_command_line(1, argv);
    ASSERT_TRUE(cl.ok());
    EXPECT_EQ(cl->action, cli_action::run);
    auto c = load_config(cl.value());
    ASSERT_TRUE(c.ok()) << c.error();
    EXPECT_EQ(c->node_id, 0);
    EXPECT_EQ(c->data_dir, "./data");
    EXPECT_EQ(c->shards.count, 1u);
    EXPECT_TRUE(c->shards.cpus.empty());
    EXPECT_EQ(c->shards.idle_strategy, idle_mode::backoff);
    EXPECT_EQ(c->shards.idle_sleep_us, 50u);
    EXPECT_EQ(c->shards.ring_capacity, 1024u);
    EXPECT_EQ(c->storage.chunk_bytes, storage::engine_config{}.chunk_bytes);
    EXPECT_EQ(c->storage.io_queue_depth, storage::engine_config{}.io_queue_depth);
    EXPECT_EQ(c->log.segment_bytes, storage::log_config{}.segment_bytes);
    EXPECT_EQ(c->log.ack, storage::ack_after::fsync);
    EXPECT_EQ(c->log.timestamps, storage::timestamp_type::create_time);
    EXPECT_EQ(c->default_partitions, 1u);
    EXPECT_EQ(format_config(c.value()), format_config(broker_config{}));
}

TEST(config, file_values_are_applied) {
    auto c = parse(R"(
        node_id = 7
        data_dir = "/var/lib/runnel"
        [shards]
        idle_strategy = "spin"
        ring_capacity = 4096
        [storage]
        chunk_bytes = 1_048_576
        io_queue_depth = 1024
        [log]
        segment_bytes = 65536
        retention_bytes = -1
        ack_after = "memory"
        message_timestamp_type = "LogAppendTime"
        default_partitions = 12
    )");
    ASSERT_TRUE(c.ok()) << c.error();
    EXPECT_EQ(c->node_id, 7);
    EXPECT_EQ(c->data_dir, "/var/lib/runnel");
    EXPECT_EQ(c->shards.idle_strategy, idle_mode::spin);
    EXPECT_EQ(c->shards.ring_capacity, 4096u);
    EXPECT_EQ(c->storage.chunk_bytes, 1u << 20);
    EXPECT_EQ(c->storage.io_queue_depth, 1024u);
    EXPECT_EQ(c->log.segment_bytes, 65536u);
    EXPECT_EQ(c->log.retention_bytes, -1);
    EXPECT_EQ(c->log.ack, storage::ack_after::memory);
    EXPECT_EQ(c->log.timestamps, storage::timestamp_type::log_append_time);
    EXPECT_EQ(c->default_partitions, 12u);
}

TEST(config, command_line_overrides_beat_the_file_and_later_beats_earlier) {
    const std::string path = write_temp_file("precedence.toml", R"(
        node_id = 1
        data_dir = "/from/file"
        [log]
        ack_after = "memory"
        segment_ms = 5000
    )");
    const char* argv[] = {"runneld",        "--config", path.c_str(), "--data-dir", "/from/flag",
                          "--set",          "log.ack_after=write",     "--set=node_id=2",
                          "--set", "node_id=3", "--shards", "1"};
    auto cl = parse_command_line(int(std::size(argv)), argv);
    ASSERT_TRUE(cl.ok()) << cl.error();
    EXPECT_EQ(cl->config_path, path);
    auto c = load_config(cl.value());
    ASSERT_TRUE(c.ok()) << c.error();
    EXPECT_EQ(c->data_dir, "/from/flag");
    EXPECT_EQ(c->log.ack, storage::ack_after::write);
    EXPECT_EQ(c->node_id, 3);
    EXPECT_EQ(c->shards.count, 1u);
    EXPECT_EQ(c->log.segment_ms, 5000); // from the file, not overridden
}

TEST(config, set_parses_values_by_the_key_type) {
    auto c = parse("", {"log.ack_after=\"write\"", "data_dir=123", "shards.cpus=0",
                        "log.retention_ms=-1"});
    ASSERT_TRUE(c.ok()) << c.error();
    EXPECT_EQ(c->log.ack, storage::ack_after::write);
    EXPECT_EQ(c->data_dir, "123");
    EXPECT_EQ(c->shards.cpus, std::vector<uint32_t>{0});
    EXPECT_EQ(c->log.retention_ms, -1);

    auto bracketed = parse("", {"shards.cpus=[0]"});
    ASSERT_TRUE(bracketed.ok()) << bracketed.error();
    EXPECT_EQ(bracketed->shards.cpus, std::vector<uint32_t>{0});
    auto emptied = parse("[shards]\ncpus = [0]\n", {"shards.cpus="});
    ASSERT_TRUE(emptied.ok()) << emptied.error();
    EXPECT_TRUE(emptied->shards.cpus.empty());
}

TEST(config, set_with_a_value_of_the_wrong_type_names_key_and_value) {
    EXPECT_EQ(error_of("", {"shards.count=abc"}),
              "config: shards.count = \"abc\" has the wrong type; use an integer: 1.."
                  + online_count());
}

TEST(config, set_without_equals_is_an_error) {
    EXPECT_EQ(error_of("", {"node_id"}),
              "config: --set node_id is not allowed; use --set section.key=value");
}

// One case per validation rule: a value at the edge that is accepted, one just past it that is
// refused, and the exact message.
struct rule_case {
    std::string name;
    std::string accepted;
    std::string refused;
    std::string message;
};

std::ostream& operator<<(std::ostream& os, const rule_case& c) { return os << c.name; }

std::vector<rule_case> rule_cases() {
    const std::string cpus = online_count();
    return {
        {"node_id_range", "node_id = 1000000", "node_id = 1000001",
         "config: node_id = 1000001 is not allowed; use 0..1000000"},
        {"node_id_negative", "node_id = 0", "node_id = -1",
         "config: node_id = -1 is not allowed; use 0..1000000"},
        {"data_dir_empty", "data_dir = \"d\"", "data_dir = \"\"",
         "config: data_dir = \"\" is not allowed; use a non-empty path"},
        {"shards_count_zero", "shards.count = 1", "shards.count = 0",
         "config: shards.count = 0 is not allowed; use 1.." + cpus},
        {"shards_count_above_online_cpus", "shards.count = " + cpus, "shards.count = 100000",
         "config: shards.count = 100000 is not allowed; use 1.." + cpus},
        {"shards_cpus_not_online", "shards.cpus = [0]", "shards.cpus = [100000]",
         "config: shards.cpus = [ 100000 ] is not allowed; use distinct online CPU ids ("
             + online_ranges()
             + "), one per shard, or [] for no pinning"},
        {"shards_cpus_negative", "shards.cpus = []", "shards.cpus = [-1]",
         "config: shards.cpus = [ -1 ] is not allowed; use distinct online CPU ids ("
             + online_ranges()
             + "), one per shard, or [] for no pinning"},
        {"shards_idle_strategy", "shards.idle_strategy = \"yield\"",
         "shards.idle_strategy = \"busy\"",
         "config: shards.idle_strategy = \"busy\" is not allowed; use one of: spin, yield, sleep, "
         "backoff"},
        {"shards_idle_sleep_us_min", "shards.idle_sleep_us = 1", "shards.idle_sleep_us = 0",
         "config: shards.idle_sleep_us = 0 is not allowed; use 1..100000"},
        {"shards_idle_sleep_us_max", "shards.idle_sleep_us = 100000",
         "shards.idle_sleep_us = 100001",
         "config: shards.idle_sleep_us = 100001 is not allowed; use 1..100000"},
        {"shards_ring_capacity_power_of_two", "shards.ring_capacity = 128",
         "shards.ring_capacity = 100",
         "config: shards.ring_capacity = 100 is not allowed; use a power of two in 64..65536"},
        {"shards_ring_capacity_min", "shards.ring_capacity = 64", "shards.ring_capacity = 32",
         "config: shards.ring_capacity = 32 is not allowed; use a power of two in 64..65536"},
        {"shards_ring_capacity_max", "shards.ring_capacity = 65536",
         "shards.ring_capacity = 131072",
         "config: shards.ring_capacity = 131072 is not allowed; use a power of two in 64..65536"},
        {"storage_chunk_bytes_multiple", "storage.chunk_bytes = 69632",
         "storage.chunk_bytes = 69633",
         "config: storage.chunk_bytes = 69633 is not allowed; use a multiple of 4096 in "
         "65536..16777216"},
        {"storage_chunk_bytes_min", "storage.chunk_bytes = 65536", "storage.chunk_bytes = 61440",
         "config: storage.chunk_bytes = 61440 is not allowed; use a multiple of 4096 in "
         "65536..16777216"},
        {"storage_chunk_bytes_max", "storage.chunk_bytes = 16777216",
         "storage.chunk_bytes = 16781312",
         "config: storage.chunk_bytes = 16781312 is not allowed; use a multiple of 4096 in "
         "65536..16777216"},
        {"storage_chunk_count_min", "storage.chunk_count = 2", "storage.chunk_count = 1",
         "config: storage.chunk_count = 1 is not allowed; use 2..64"},
        {"storage_chunk_count_max", "storage.chunk_count = 64", "storage.chunk_count = 65",
         "config: storage.chunk_count = 65 is not allowed; use 2..64"},
        {"storage_flush_deadline_us", "storage.flush_deadline_us = 0",
         "storage.flush_deadline_us = 1000001",
         "config: storage.flush_deadline_us = 1000001 is not allowed; use 0..1000000"},
        {"dataplane_mtu", "dataplane.mtu = 9000", "dataplane.mtu = 9001",
         "config: dataplane.mtu = 9001 is not allowed; use 576..9000"},
        {"storage_memory_flush_deadline_us", "storage.memory_flush_deadline_us = 0",
         "storage.memory_flush_deadline_us = 1000001",
         "config: storage.memory_flush_deadline_us = 1000001 is not allowed; use 0..1000000"},
        {"storage_io_queue_depth_power_of_two", "storage.io_queue_depth = 4096",
         "storage.io_queue_depth = 1000",
         "config: storage.io_queue_depth = 1000 is not allowed; use a power of two in 16..4096"},
        {"storage_io_queue_depth_min", "storage.io_queue_depth = 16", "storage.io_queue_depth = 8",
         "config: storage.io_queue_depth = 8 is not allowed; use a power of two in 16..4096"},
        {"log_segment_bytes_min", "log.segment_bytes = 65536", "log.segment_bytes = 65535",
         "config: log.segment_bytes = 65535 is not allowed; use 65536..2147483648"},
        {"log_segment_bytes_max", "log.segment_bytes = 2147483648",
         "log.segment_bytes = 2147483649",
         "config: log.segment_bytes = 2147483649 is not allowed; use 65536..2147483648"},
        {"log_segment_ms", "log.segment_ms = 1000", "log.segment_ms = 999",
         "config: log.segment_ms = 999 is not allowed; use >= 1000"},
        {"log_retention_bytes", "log.retention_bytes = 65536", "log.retention_bytes = 65535",
         "config: log.retention_bytes = 65535 is not allowed; use -1 (no limit) or >= 65536"},
        {"log_retention_bytes_negative", "log.retention_bytes = -1", "log.retention_bytes = -2",
         "config: log.retention_bytes = -2 is not allowed; use -1 (no limit) or >= 65536"},
        {"log_retention_ms", "log.retention_ms = -1", "log.retention_ms = 999",
         "config: log.retention_ms = 999 is not allowed; use -1 (no limit) or >= 1000"},
        {"log_index_interval_bytes_min", "log.index_interval_bytes = 1",
         "log.index_interval_bytes = 0",
         "config: log.index_interval_bytes = 0 is not allowed; use 1..16777216"},
        {"log_index_interval_bytes_max", "log.index_interval_bytes = 16777216",
         "log.index_interval_bytes = 16777217",
         "config: log.index_interval_bytes = 16777217 is not allowed; use 1..16777216"},
        {"log_preallocate_bytes_multiple", "log.preallocate_bytes = 0",
         "log.preallocate_bytes = 4095",
         "config: log.preallocate_bytes = 4095 is not allowed; use a multiple of 4096 in "
         "0..1073741824"},
        {"log_preallocate_bytes_max", "log.preallocate_bytes = 1073741824",
         "log.preallocate_bytes = 1073745920",
         "config: log.preallocate_bytes = 1073745920 is not allowed; use a multiple of 4096 in "
         "0..1073741824"},
        {"kafka_listen_address", "kafka.listen_address = \"0.0.0.0\"",
         "kafka.listen_address = \"localhost\"",
         "config: kafka.listen_address = \"localhost\" is not allowed; use an IPv4 address such "
         "as 127.0.0.1"},
        {"kafka_listen_port", "kafka.listen_port = 19092", "kafka.listen_port = 70000",
         "config: kafka.listen_port = 70000 is not allowed; use 1..65535"},
        {"log_ack_after", "log.ack_after = \"write\"", "log.ack_after = \"sometimes\"",
         "config: log.ack_after = \"sometimes\" is not allowed; use one of: memory, write, fsync"},
        {"log_message_timestamp_type", "log.message_timestamp_type = \"LogAppendTime\"",
         "log.message_timestamp_type = \"createtime\"",
         "config: log.message_timestamp_type = \"createtime\" is not allowed; use one of: "
         "CreateTime, LogAppendTime"},
        {"log_default_partitions_min", "log.default_partitions = 1",
         "log.default_partitions = 0",
         "config: log.default_partitions = 0 is not allowed; use 1..10000"},
        {"log_default_partitions_max", "log.default_partitions = 10000",
         "log.default_partitions = 10001",
         "config: log.default_partitions = 10001 is not allowed; use 1..10000"},
        {"wrong_type_string_for_integer", "shards.count = 1", "shards.count = \"four\"",
         "config: shards.count = \"four\" has the wrong type; use an integer: 1.." + cpus},
        {"wrong_type_float_for_integer", "node_id = 2", "node_id = 1.5",
         "config: node_id = 1.5 has the wrong type; use an integer: 0..1000000"},
        {"wrong_type_integer_for_string", "log.ack_after = \"fsync\"", "log.ack_after = 1",
         "config: log.ack_after = 1 has the wrong type; use a string: one of: memory, write, "
         "fsync"},
        {"wrong_type_section", "shards = {}", "shards = 3",
         "config: shards = 3 has the wrong type; use a table: [shards]"},
        {"wrong_type_cpu_entry", "shards.cpus = [0]", "shards.cpus = [0, \"1\"]",
         "config: shards.cpus = [ 0, \"1\" ] has the wrong type; use an array of integers: "
         "distinct online CPU ids ("
             + online_ranges()
             + "), one per shard, or [] for no pinning"},
    };
}

class config_rule : public ::testing::TestWithParam<rule_case> {};

TEST_P(config_rule, accepts_the_edge_and_names_key_value_and_allowed_past_it) {
    const rule_case& c = GetParam();
    auto accepted = parse(c.accepted);
    EXPECT_TRUE(accepted.ok()) << c.accepted << ": " << accepted.error();
    EXPECT_EQ(error_of(c.refused), c.message);
}

INSTANTIATE_TEST_SUITE_P(each, config_rule, ::testing::ValuesIn(rule_cases()),
                         [](const auto& instance) { return instance.param.name; });

TEST(config, cpus_duplicate_is_refused) {
    if (online_cpus().size() < 2) {
        GTEST_SKIP() << "needs two online CPUs";
    }
    const std::string e = error_of("[shards]\ncount = 2\ncpus = [0, 0]\n");
    EXPECT_EQ(e.rfind("config: shards.cpus = [ 0, 0 ] is not allowed; use distinct online CPU ids",
                      0),
              0u)
        << e;
}

TEST(config, cpus_must_list_one_cpu_per_shard) {
    if (online_cpus().size() < 2) {
        GTEST_SKIP() << "needs two online CPUs";
    }
    EXPECT_EQ(error_of("[shards]\ncount = 2\ncpus = [0]\n"),
              "config: shards.cpus = [ 0 ] lists 1 CPUs but shards.count = 2; use one CPU per "
              "shard, or [] for no pinning");
    // The relation is checked after overrides: --shards can mend or break it.
    EXPECT_TRUE(parse("[shards]\ncount = 2\ncpus = [0]\n", {"shards.count=1"}).ok());
    EXPECT_TRUE(parse("[shards]\ncount = 2\ncpus = [1, 0]\n").ok());
}

TEST(config, unknown_keys_are_errors) {
    EXPECT_EQ(error_of("bogus = 1"),
              "config: unknown key bogus in test.toml; see runneld --help for every key");
    EXPECT_EQ(error_of("[shards]\ncounts = 2\n"),
              "config: unknown key shards.counts in test.toml; see runneld --help for every key");
    EXPECT_EQ(error_of("[network]\nport = 9092\n"),
              "config: unknown key network in test.toml; see runneld --help for every key");
    EXPECT_EQ(error_of("[log.extra]\nx = 1\n"),
              "config: unknown key log.extra in test.toml; see runneld --help for every key");
    EXPECT_EQ(error_of("", {"log.nope=1"}),
              "config: unknown key log.nope in --set log.nope=1; see runneld --help for every key");
}

TEST(config, toml_syntax_errors_name_file_line_and_column) {
    const std::string e = error_of("node_id = 1\nnode_id = \n");
    EXPECT_EQ(e.rfind("config: test.toml:2:", 0), 0u) << e;
}

TEST(config, a_missing_file_is_an_error) {
    command_line cl;
    cl.config_path = "/nonexistent/runneld.toml";
    auto c = load_config(cl);
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.error(), "config: cannot read /nonexistent/runneld.toml: No such file or "
                         "directory; check the path given to --config");
}

TEST(config, command_line_errors) {
    const char* unknown[] = {"runneld", "--verbose"};
    auto u = parse_command_line(2, unknown);
    ASSERT_FALSE(u.ok());
    EXPECT_EQ(u.error(), "config: unknown option --verbose; see runneld --help");

    const char* missing[] = {"runneld", "--config"};
    auto m = parse_command_line(2, missing);
    ASSERT_FALSE(m.ok());
    EXPECT_EQ(m.error(), "config: --config needs a value; see runneld --help");

    const char* extra[] = {"runneld", "--help=yes"};
    auto x = parse_command_line(2, extra);
    ASSERT_FALSE(x.ok());
    EXPECT_EQ(x.error(), "config: --help takes no value; see runneld --help");
}

TEST(config, help_and_version_are_actions) {
    const char* help[] = {"runneld", "--shards", "1", "--help"};
    auto h = parse_command_line(4, help);
    ASSERT_TRUE(h.ok());
    EXPECT_EQ(h->action, cli_action::help);

    const char* ver[] = {"runneld", "--version"};
    auto v = parse_command_line(2, ver);
    ASSERT_TRUE(v.ok());
    EXPECT_EQ(v->action, cli_action::version);
    EXPECT_FALSE(version().empty());
}

TEST(config, help_lists_every_option_and_every_key_with_type_default_and_allowed) {
    const std::string h = help_text();
    for (const char* option : {"--config FILE", "--data-dir DIR", "--shards N",
                               "--set SECTION.KEY=VALUE", "--help", "--version"}) {
        EXPECT_NE(h.find(option), std::string::npos) << option;
    }
    for (std::string_view key : config_keys()) {
        EXPECT_NE(h.find("  " + std::string(key) + " ("), std::string::npos) << key;
    }
    EXPECT_NE(h.find("  log.ack_after (string)\n"), std::string::npos);
    EXPECT_NE(h.find("default \"fsync\"; allowed: one of: memory, write, fsync\n"),
              std::string::npos);
    EXPECT_NE(h.find("  shards.ring_capacity (integer)\n"), std::string::npos);
    EXPECT_NE(h.find("default 1024; allowed: a power of two in 64..65536\n"), std::string::npos);
    EXPECT_NE(h.find("  shards.cpus (array of integers)\n"), std::string::npos);
}

TEST(config, format_config_round_trips) {
    auto c = parse("", {"node_id=9", "log.ack_after=write", "shards.cpus=0", "data_dir=/x y"});
    ASSERT_TRUE(c.ok()) << c.error();
    const std::string text = format_config(c.value());
    auto again = parse(text);
    ASSERT_TRUE(again.ok()) << again.error() << "\n" << text;
    EXPECT_EQ(format_config(again.value()), text);
    EXPECT_NE(text, format_config(broker_config{}));
}

std::string deploy_config_path() {
    const char* root = std::getenv("RUNNEL_SOURCE_ROOT");
    return std::string(root != nullptr ? root : ".") + "/deploy/runneld.toml";
}

TEST(config, deploy_example_loads_to_the_defaults) {
    command_line cl;
    cl.config_path = deploy_config_path();
    auto c = load_config(cl);
    ASSERT_TRUE(c.ok()) << c.error();
    EXPECT_EQ(format_config(c.value()), format_config(broker_config{}));
}

TEST(config, deploy_example_lists_every_key) {
    const toml::table t = toml::parse_file(deploy_config_path());
    for (std::string_view key : config_keys()) {
        EXPECT_TRUE(t.at_path(key).node() != nullptr) << key << " missing from runneld.toml";
    }
}

} // namespace
} // namespace runnel
