// The broker's configuration: built-in defaults, then one optional TOML file (--config FILE),
// then command-line overrides (--data-dir, --shards, --set section.key=value) in the order given.
// Every key is validated before anything starts; an error names the key, the bad value and what
// is allowed, e.g.
//     config: log.ack_after = "sometimes" is not allowed; use one of: memory, write, fsync
// Unknown keys and wrong types are errors too. `runneld --help` lists every key with its type,
// default and allowed values; deploy/runneld.toml is the same list as a commented file.
//
// Lifecycle: loaded once by main before any shard starts; shards get copies of what they need.
// Owning core: the main thread (control path; toml++ may allocate and throw here, never later).
// Thread-safety: the functions are reentrant; a broker_config is plain data.
#pragma once

#include "base/result.h"
#include "shard/idle_strategy.h"
#include "storage/log_config.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace runnel {

struct shards_config {
    uint32_t count = 1;                        // shards: threads, one per core
    std::vector<uint32_t> cpus;                // empty: no pinning; else shard i on cpus[i]
    idle_mode idle_strategy = idle_mode::backoff;
    uint32_t idle_sleep_us = 50;               // sleep of the sleep and backoff strategies
    uint32_t ring_capacity = 1024;             // messages per inter-shard ring
};

struct kafka_config {
    std::string listen_address = "127.0.0.1"; // IPv4 address of the Kafka listener
    uint32_t listen_port = 9092;
    uint32_t request_bytes_max = 100u << 20;  // larger request frames close the connection
    std::string advertised_address;           // empty: listen_address
    uint32_t advertised_port = 0;             // 0: the listener's own port
    bool auto_create_topics = true;           // metadata/produce of an unknown topic creates it
};

struct groups_config {
    uint32_t initial_rebalance_delay_ms = 3000; // Kafka's group.initial.rebalance.delay.ms
    int64_t offsets_retention_ms = 7ll * 24 * 3600 * 1000;
    uint32_t offsets_partitions = 1;
};

struct dataplane_config {
    bool enabled = false;                      // the DPDK fast path; off: Kafka over TCP only
    std::string eal_args = "--no-huge -m 256 --no-pci --no-shconf";
    std::string vdev;                          // the port, as a DPDK vdev (e.g. net_memif0,...)
    std::string ip = "192.0.2.1";              // this port's IPv4 address
    uint32_t udp_port = 9093;                  // the fast-path UDP port
    uint32_t mbufs = 8192;                     // mbuf pool of the port, allocated at start
    uint32_t mtu = 1500;                       // IP MTU of the port; above 1500: jumbo frames
};

struct broker_config {
    int32_t node_id = 0;
    std::string data_dir = "./data";
    shards_config shards;
    kafka_config kafka;                        // [kafka]: the Kafka protocol listener
    storage::engine_config storage;            // [storage]: per-shard engine settings
    storage::log_config log;                   // [log]: defaults for every topic
    uint32_t default_partitions = 1;           // [log] default_partitions: for new topics
    groups_config groups;                      // [groups]: the consumer-group coordinator
    dataplane_config dataplane;                // [dataplane]: the DPDK fast path
};

enum class cli_action : uint8_t { run, help, version };

struct command_line {
    cli_action action = cli_action::run;
    std::string config_path;                   // empty: no file, built-in defaults
    std::vector<std::string> overrides;        // "section.key=value", in command-line order
};

// Reads the options (not the file). --help and --version set action; the caller prints
// help_text() or version() and exits 0.
result<command_line, std::string> parse_command_line(int argc, const char* const* argv);

// Reads cl.config_path (if any), then applies cl.overrides, then checks the keys that depend on
// each other. The error is one line starting "config: ".
result<broker_config, std::string> load_config(const command_line& cl);

// Like load_config with the file's text in hand; source names it in messages.
result<broker_config, std::string> parse_config(std::string_view toml_text, std::string_view source,
                                                const std::vector<std::string>& overrides);

// Every option and every key with type, default and allowed values.
std::string help_text();
std::string_view version();

// One "key = value" line per key, in TOML syntax (top-level keys bare, others dotted): the
// effective configuration, for logs and for comparing configs.
std::string format_config(const broker_config& cfg);

// Every key, dotted ("shards.count"), in help order.
std::vector<std::string_view> config_keys();

// CPU ids the kernel reports online (/sys/devices/system/cpu/online), ascending.
std::vector<uint32_t> online_cpus();

} // namespace runnel
