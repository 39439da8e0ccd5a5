// Every key is one row of the table in key_specs(): its name, help line, kind, allowed values and
// how to read and write its field. Help, validation, overrides and format_config all come from
// that table, so they cannot disagree.
//
// toml++ is built with exceptions (the Debian library is); parse errors are caught here and turned
// into results. This is start-up code only.
#include "config/config.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <fstream>
#include <limits>
#include <sstream>
#include <unistd.h>

#ifndef RUNNEL_VERSION
#error "RUNNEL_VERSION must be defined by the build (src/meson.build)"
#endif

namespace runnel {

namespace {

constexpr int64_t no_upper_bound = std::numeric_limits<int64_t>::max();
constexpr int64_t kib = 1024;
constexpr int64_t mib = 1024 * kib;

enum class value_kind : uint8_t { integer, text, cpu_list };

struct int_rule {
    int64_t min = 0;
    int64_t max = no_upper_bound;
    int64_t multiple_of = 1;
    bool power_of_two = false;
    bool minus_one_means_none = false; // -1 is also allowed and means "no limit"
};

struct key_spec {
    std::string_view name; // dotted: "shards.count"; top-level keys have no dot
    std::string_view help;
    value_kind kind = value_kind::integer;
    int_rule range{};                       // integer keys
    std::vector<std::string_view> choices;  // text keys: the allowed values, for messages and help
    std::string_view allowed_note;          // text keys without choices: what is allowed
    void (*set_int)(broker_config&, int64_t) = nullptr;
    int64_t (*get_int)(const broker_config&) = nullptr;
    bool (*set_text)(broker_config&, std::string_view) = nullptr; // false: value not allowed
    std::string (*get_text)(const broker_config&) = nullptr;
};

// Reads and writes one integer field of broker_config; the range check happens before the write,
// so the narrowing cast cannot lose bits.
#define RUNNEL_INT_FIELD(field)                                                                    \
    .set_int = [](broker_config& c, int64_t v) { c.field = decltype(c.field)(v); },                \
    .get_int = [](const broker_config& c) { return int64_t(c.field); }

std::vector<key_spec> build_key_specs() {
    const int64_t cpu_count = int64_t(online_cpus().size());
    std::vector<key_spec> k;
    k.push_back({.name = "node_id", .help = "this broker's id in the cluster",
                 .range = {.min = 0, .max = 1'000'000}, RUNNEL_INT_FIELD(node_id)});
    k.push_back({.name = "data_dir", .help = "directory for all topic data",
                 .kind = value_kind::text, .allowed_note = "a non-empty path",
                 .set_text = [](broker_config& c, std::string_view v) {
                     if (v.empty()) {
                         return false;
                     }
                     c.data_dir = std::string(v);
                     return true;
                 },
                 .get_text = [](const broker_config& c) { return c.data_dir; }});
    k.push_back({.name = "shards.count", .help = "shards: threads, one per core",
                 .range = {.min = 1, .max = cpu_count}, RUNNEL_INT_FIELD(shards.count)});
    k.push_back({.name = "shards.cpus",
                 .help = "CPU to pin shard i to is cpus[i]; one per shard, or empty: no pinning",
                 .kind = value_kind::cpu_list});
    k.push_back({.name = "shards.idle_strategy",
                 .help = "idle shards spin, yield, sleep, or back off (spin, yield, then sleep)",
                 .kind = value_kind::text,
                 .choices = {to_string(idle_mode::spin), to_string(idle_mode::yield),
                             to_string(idle_mode::sleep), to_string(idle_mode::backoff)},
                 .set_text = [](broker_config& c, std::string_view v) {
                     const auto m = parse_idle_mode(v);
                     c.shards.idle_strategy = m.value_or(c.shards.idle_strategy);
                     return m.has_value();
                 },
                 .get_text = [](const broker_config& c) {
                     return std::string(to_string(c.shards.idle_strategy));
                 }});
    k.push_back({.name = "shards.idle_sleep_us",
                 .help = "sleep of the sleep and backoff idle strategies, microseconds",
                 .range = {.min = 1, .max = idle_strategy::sleep_us_max},
                 RUNNEL_INT_FIELD(shards.idle_sleep_us)});
    k.push_back({.name = "shards.ring_capacity", .help = "messages per inter-shard ring",
                 .range = {.min = 64, .max = 65536, .power_of_two = true},
                 RUNNEL_INT_FIELD(shards.ring_capacity)});
    k.push_back({.name = "kafka.listen_address",
                 .help = "IPv4 address the Kafka listener binds (0.0.0.0: every interface)",
                 .kind = value_kind::text, .allowed_note = "an IPv4 address such as 127.0.0.1",
                 .set_text = [](broker_config& c, std::string_view v) {
                     in_addr a{};
                     std::string text(v);
                     if (inet_pton(AF_INET, text.c_str(), &a) != 1) {
                         return false;
                     }
                     c.kafka.listen_address = text;
                     return true;
                 },
                 .get_text = [](const broker_config& c) { return c.kafka.listen_address; }});
    k.push_back({.name = "kafka.listen_port", .help = "TCP port of the Kafka listener",
                 .range = {.min = 1, .max = 65535}, RUNNEL_INT_FIELD(kafka.listen_port)});
    k.push_back({.name = "kafka.request_bytes_max",
                 .help = "largest request frame, bytes; a larger one closes the connection",
                 .range = {.min = 1024, .max = 1 << 30}, RUNNEL_INT_FIELD(kafka.request_bytes_max)});
    k.push_back({.name = "kafka.advertised_address",
                 .help = "host name clients are told to connect to (empty: kafka.listen_address)",
                 .kind = value_kind::text, .allowed_note = "a host name or address, or empty",
                 .set_text = [](broker_config& c, std::string_view v) {
                     c.kafka.advertised_address = std::string(v);
                     return v.size() <= 255;
                 },
                 .get_text = [](const broker_config& c) { return c.kafka.advertised_address; }});
    k.push_back({.name = "kafka.advertised_port",
                 .help = "port clients are told to connect to (0: the listener's own port)",
                 .range = {.min = 0, .max = 65535}, RUNNEL_INT_FIELD(kafka.advertised_port)});
    k.push_back({.name = "kafka.auto_create_topics",
                 .help = "create a topic when a client's metadata or produce request names it",
                 .kind = value_kind::text, .allowed_note = "true or false",
                 .set_text = [](broker_config& c, std::string_view v) {
                     if (v != "true" && v != "false") {
                         return false;
                     }
                     c.kafka.auto_create_topics = v == "true";
                     return true;
                 },
                 .get_text = [](const broker_config& c) {
                     return std::string(c.kafka.auto_create_topics ? "true" : "false");
                 }});
    k.push_back({.name = "storage.chunk_bytes", .help = "write buffer chunk, bytes",
                 .range = {.min = 64 * kib, .max = 16 * mib, .multiple_of = 4096},
                 RUNNEL_INT_FIELD(storage.chunk_bytes)});
    k.push_back({.name = "storage.chunk_count",
                 .help = "chunks per partition: write buffer and recent-data cache",
                 .range = {.min = 2, .max = 64}, RUNNEL_INT_FIELD(storage.chunk_count)});
    k.push_back({.name = "storage.flush_deadline_us",
                 .help = "longest an appended batch waits before its write is submitted",
                 .range = {.min = 0, .max = 1'000'000},
                 RUNNEL_INT_FIELD(storage.flush_deadline_us)});
    k.push_back({.name = "storage.memory_flush_deadline_us",
                 .help = "the same for topics with ack_after = memory (no ack waits for it)",
                 .range = {.min = 0, .max = 1'000'000},
                 RUNNEL_INT_FIELD(storage.memory_flush_deadline_us)});
    k.push_back({.name = "storage.io_queue_depth", .help = "io_uring submission entries per shard",
                 .range = {.min = 16, .max = 4096, .power_of_two = true},
                 RUNNEL_INT_FIELD(storage.io_queue_depth)});
    k.push_back({.name = "log.segment_bytes",
                 .help = "roll a segment when it reaches this many bytes",
                 .range = {.min = int64_t(storage::segment_bytes_min),
                           .max = int64_t(storage::segment_bytes_max)},
                 RUNNEL_INT_FIELD(log.segment_bytes)});
    k.push_back({.name = "log.segment_ms",
                 .help = "roll a segment when its first batch is this old, milliseconds",
                 .range = {.min = 1000}, RUNNEL_INT_FIELD(log.segment_ms)});
    k.push_back({.name = "log.retention_bytes",
                 .help = "delete a partition's oldest segments while it holds more bytes",
                 .range = {.min = int64_t(storage::segment_bytes_min),
                           .minus_one_means_none = true},
                 RUNNEL_INT_FIELD(log.retention_bytes)});
    k.push_back({.name = "log.retention_ms",
                 .help = "delete segments older than this, milliseconds",
                 .range = {.min = 1000, .minus_one_means_none = true},
                 RUNNEL_INT_FIELD(log.retention_ms)});
    k.push_back({.name = "log.index_interval_bytes", .help = "bytes between sparse index entries",
                 .range = {.min = 1, .max = 16 * mib}, RUNNEL_INT_FIELD(log.index_interval_bytes)});
    k.push_back({.name = "log.preallocate_bytes",
                 .help = "fallocate step for the active segment, bytes",
                 .range = {.min = 0, .max = int64_t(storage::preallocate_bytes_max),
                           .multiple_of = 4096},
                 RUNNEL_INT_FIELD(log.preallocate_bytes)});
    k.push_back({.name = "log.ack_after",
                 .help = "when an append completes: in memory, written, or on stable storage",
                 .kind = value_kind::text,
                 .choices = {storage::to_string(storage::ack_after::memory),
                             storage::to_string(storage::ack_after::write),
                             storage::to_string(storage::ack_after::fsync)},
                 .set_text = [](broker_config& c, std::string_view v) {
                     const auto a = storage::parse_ack_after(v);
                     c.log.ack = a.value_or(c.log.ack);
                     return a.has_value();
                 },
                 .get_text = [](const broker_config& c) {
                     return std::string(storage::to_string(c.log.ack));
                 }});
    k.push_back({.name = "log.message_timestamp_type",
                 .help = "record timestamps: the producer's, or the broker's at append",
                 .kind = value_kind::text,
                 .choices = {storage::to_string(storage::timestamp_type::create_time),
                             storage::to_string(storage::timestamp_type::log_append_time)},
                 .set_text = [](broker_config& c, std::string_view v) {
                     const auto t = storage::parse_timestamp_type(v);
                     c.log.timestamps = t.value_or(c.log.timestamps);
                     return t.has_value();
                 },
                 .get_text = [](const broker_config& c) {
                     return std::string(storage::to_string(c.log.timestamps));
                 }});
    k.push_back({.name = "log.default_partitions", .help = "partitions of a new topic",
                 .range = {.min = 1, .max = 10'000}, RUNNEL_INT_FIELD(default_partitions)});
    k.push_back({.name = "groups.initial_rebalance_delay_ms",
                 .help = "wait for more members before the first rebalance of an empty group",
                 .range = {.min = 0, .max = 300'000},
                 RUNNEL_INT_FIELD(groups.initial_rebalance_delay_ms)});
    k.push_back({.name = "groups.offsets_retention_ms",
                 .help = "committed offsets of an empty group expire after this long",
                 .range = {.min = 60'000}, RUNNEL_INT_FIELD(groups.offsets_retention_ms)});
    k.push_back({.name = "groups.offsets_partitions",
                 .help = "partitions of the internal __consumer_offsets topic (at its creation)",
                 .range = {.min = 1, .max = 1000}, RUNNEL_INT_FIELD(groups.offsets_partitions)});
    k.push_back({.name = "dataplane.enabled",
                 .help = "serve the fast-path protocol on a DPDK port (shard 0 polls it)",
                 .kind = value_kind::text, .allowed_note = "true or false",
                 .set_text = [](broker_config& c, std::string_view v) {
                     if (v != "true" && v != "false") {
                         return false;
                     }
                     c.dataplane.enabled = v == "true";
                     return true;
                 },
                 .get_text = [](const broker_config& c) {
                     return std::string(c.dataplane.enabled ? "true" : "false");
                 }});
    k.push_back({.name = "dataplane.eal_args",
                 .help = "DPDK EAL arguments, space-separated (the port comes from vdev)",
                 .kind = value_kind::text, .allowed_note = "EAL options such as --no-huge -m 256",
                 .set_text = [](broker_config& c, std::string_view v) {
                     c.dataplane.eal_args = std::string(v);
                     return true;
                 },
                 .get_text = [](const broker_config& c) { return c.dataplane.eal_args; }});
    k.push_back({.name = "dataplane.vdev",
                 .help = "the port as a DPDK virtual device (memif, af_packet, ...)",
                 .kind = value_kind::text,
                 .allowed_note = "a vdev such as net_memif0,role=server,socket=/run/runnel.sock",
                 .set_text = [](broker_config& c, std::string_view v) {
                     c.dataplane.vdev = std::string(v);
                     return true;
                 },
                 .get_text = [](const broker_config& c) { return c.dataplane.vdev; }});
    k.push_back({.name = "dataplane.ip", .help = "IPv4 address of the fast-path port",
                 .kind = value_kind::text, .allowed_note = "an IPv4 address such as 192.0.2.1",
                 .set_text = [](broker_config& c, std::string_view v) {
                     in_addr a{};
                     std::string text(v);
                     if (inet_pton(AF_INET, text.c_str(), &a) != 1) {
                         return false;
                     }
                     c.dataplane.ip = text;
                     return true;
                 },
                 .get_text = [](const broker_config& c) { return c.dataplane.ip; }});
    k.push_back({.name = "dataplane.udp_port", .help = "UDP port of the fast-path protocol",
                 .range = {.min = 1, .max = 65535}, RUNNEL_INT_FIELD(dataplane.udp_port)});
    k.push_back({.name = "dataplane.mbufs", .help = "mbufs in the port's pool",
                 .range = {.min = 1024, .max = 1 << 20}, RUNNEL_INT_FIELD(dataplane.mbufs)});
    k.push_back({.name = "dataplane.mtu",
                 .help = "IP MTU of the port, bytes (above 1500: jumbo frames)",
                 .range = {.min = 576, .max = 9000}, RUNNEL_INT_FIELD(dataplane.mtu)});
    return k;
}

#undef RUNNEL_INT_FIELD

const std::vector<key_spec>& key_specs() {
    static const std::vector<key_spec> specs = build_key_specs();
    return specs;
}

const key_spec* find_key(std::string_view name) {
    for (const key_spec& k : key_specs()) {
        if (k.name == name) {
            return &k;
        }
    }
    return nullptr;
}

bool is_section(std::string_view name) {
    return name == "shards" || name == "kafka" || name == "storage" || name == "log" ||
           name == "groups" || name == "dataplane";
}

// A value as it would be written in TOML: strings quoted and escaped, arrays bracketed.
std::string toml_text(const toml::node& n) {
    if (n.is_table()) {
        return "{ table }";
    }
    // Basic (double-quoted) strings: what most people write, and what the messages promise.
    constexpr auto flags =
        toml::toml_formatter::default_flags & ~toml::format_flags::allow_literal_strings;
    std::ostringstream os;
    os << toml::toml_formatter(n, flags);
    return os.str();
}

std::string quoted(std::string_view s) {
    return toml_text(toml::value<std::string>(std::string(s)));
}

std::string join(const std::vector<std::string_view>& items) {
    std::string out;
    for (std::string_view s : items) {
        out += out.empty() ? "" : ", ";
        out += s;
    }
    return out;
}

// "0-3, 6" for CPUs 0, 1, 2, 3, 6.
std::string format_cpu_ranges(const std::vector<uint32_t>& cpus) {
    std::string out;
    for (size_t i = 0; i < cpus.size();) {
        size_t j = i;
        while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1) {
            ++j;
        }
        out += out.empty() ? "" : ", ";
        out += std::to_string(cpus[i]);
        if (j > i) {
            out += "-" + std::to_string(cpus[j]);
        }
        i = j + 1;
    }
    return out;
}

std::string allowed_text(const int_rule& r) {
    std::string range = r.max == no_upper_bound
                            ? ">= " + std::to_string(r.min)
                            : std::to_string(r.min) + ".." + std::to_string(r.max);
    if (r.power_of_two) {
        range = "a power of two in " + range;
    } else if (r.multiple_of > 1) {
        range = "a multiple of " + std::to_string(r.multiple_of) + " in " + range;
    }
    if (r.minus_one_means_none) {
        range = "-1 (no limit) or " + range;
    }
    return range;
}

std::string allowed_text(const key_spec& k) {
    switch (k.kind) {
    case value_kind::integer:
        return allowed_text(k.range);
    case value_kind::text:
        return k.choices.empty() ? std::string(k.allowed_note) : "one of: " + join(k.choices);
    case value_kind::cpu_list:
        return "distinct online CPU ids (" + format_cpu_ranges(online_cpus())
               + "), one per shard, or [] for no pinning";
    }
    RUNNEL_ASSERT(false);
    return {};
}

std::string_view type_name(value_kind kind) {
    switch (kind) {
    case value_kind::integer:
        return "integer";
    case value_kind::text:
        return "string";
    case value_kind::cpu_list:
        return "array of integers";
    }
    RUNNEL_ASSERT(false);
    return {};
}

std::string current_text(const key_spec& k, const broker_config& c) {
    switch (k.kind) {
    case value_kind::integer:
        return std::to_string(k.get_int(c));
    case value_kind::text:
        return quoted(k.get_text(c));
    case value_kind::cpu_list: {
        toml::array a;
        for (uint32_t cpu : c.shards.cpus) {
            a.push_back(int64_t(cpu));
        }
        return toml_text(a);
    }
    }
    RUNNEL_ASSERT(false);
    return {};
}

bool int_allowed(const int_rule& r, int64_t v) {
    if (r.minus_one_means_none && v == -1) {
        return true;
    }
    if (v < r.min || v > r.max) {
        return false;
    }
    if (r.power_of_two && (v & (v - 1)) != 0) {
        return false;
    }
    return v % r.multiple_of == 0;
}

failure<std::string> not_allowed(const key_spec& k, const toml::node& n) {
    return failure("config: " + std::string(k.name) + " = " + toml_text(n)
                   + " is not allowed; use " + allowed_text(k));
}

failure<std::string> wrong_type(const key_spec& k, const toml::node& n) {
    return failure("config: " + std::string(k.name) + " = " + toml_text(n)
                   + " has the wrong type; use " + (k.kind == value_kind::text ? "a " : "an ")
                   + std::string(type_name(k.kind)) + ": " + allowed_text(k));
}

result<void, std::string> apply_cpus(broker_config& c, const key_spec& k, const toml::node& n) {
    const toml::array* a = n.as_array();
    if (a == nullptr) {
        return wrong_type(k, n);
    }
    const std::vector<uint32_t> online = online_cpus();
    std::vector<uint32_t> cpus;
    for (const toml::node& e : *a) {
        if (!e.is_integer()) {
            return wrong_type(k, n);
        }
        const int64_t id = e.as_integer()->get();
        const bool is_online = std::find(online.begin(), online.end(), id) != online.end();
        if (!is_online || std::find(cpus.begin(), cpus.end(), id) != cpus.end()) {
            return not_allowed(k, n);
        }
        cpus.push_back(uint32_t(id));
    }
    c.shards.cpus = std::move(cpus);
    return {};
}

result<void, std::string> apply_value(broker_config& c, const key_spec& k, const toml::node& n) {
    switch (k.kind) {
    case value_kind::integer:
        if (!n.is_integer()) {
            return wrong_type(k, n);
        }
        if (!int_allowed(k.range, n.as_integer()->get())) {
            return not_allowed(k, n);
        }
        k.set_int(c, n.as_integer()->get());
        return {};
    case value_kind::text:
        if (n.is_boolean()) { // true/false keys take TOML booleans as well as their text
            if (!k.set_text(c, n.as_boolean()->get() ? "true" : "false")) {
                return wrong_type(k, n);
            }
            return {};
        }
        if (!n.is_string()) {
            return wrong_type(k, n);
        }
        if (!k.set_text(c, n.as_string()->get())) {
            return not_allowed(k, n);
        }
        return {};
    case value_kind::cpu_list:
        return apply_cpus(c, k, n);
    }
    RUNNEL_ASSERT(false);
    return {};
}

failure<std::string> unknown_key(std::string_view name, std::string_view where) {
    return failure("config: unknown key " + std::string(name) + " in " + std::string(where)
                   + "; see runneld --help for every key");
}

result<void, std::string> apply_key(broker_config& c, const std::string& name,
                                    const toml::node& n, std::string_view source) {
    const key_spec* k = find_key(name);
    if (k == nullptr) {
        return unknown_key(name, source);
    }
    return apply_value(c, *k, n);
}

result<void, std::string> apply_table(broker_config& c, const toml::table& t,
                                      std::string_view source) {
    for (const auto& [key, node] : t) {
        const std::string section(key.str());
        if (is_section(section) && !node.is_table()) {
            return failure("config: " + section + " = " + toml_text(node)
                           + " has the wrong type; use a table: [" + section + "]");
        }
        if (!is_section(section)) {
            if (auto r = apply_key(c, section, node, source); !r) {
                return r;
            }
            continue;
        }
        for (const auto& [sub_key, sub_node] : *node.as_table()) {
            if (auto r = apply_key(c, section + "." + std::string(sub_key.str()), sub_node, source);
                !r) {
                return r;
            }
        }
    }
    return {};
}

// The value of --set key=value as a TOML node: strings are taken as written (quotes optional);
// integers and arrays are parsed as TOML, and "0,1" is short for [0, 1]. Anything that does not
// parse stays a string, so the type check reports it with the key.
toml::table override_holder(const key_spec& k, std::string_view value) {
    toml::table holder;
    if (k.kind == value_kind::text) {
        if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
            value = value.substr(1, value.size() - 2);
        }
        holder.insert("v", std::string(value));
        return holder;
    }
    std::string text(value);
    if (k.kind == value_kind::cpu_list && (text.empty() || text.front() != '[')) {
        text = "[" + text + "]";
    }
    try {
        toml::table parsed = toml::parse("v = " + text);
        if (parsed.size() == 1 && parsed.contains("v")) {
            return parsed;
        }
    } catch (const toml::parse_error&) {
        // Not a TOML value: fall through and keep the text, which fails the type check.
    }
    holder.insert("v", std::string(value));
    return holder;
}

result<void, std::string> apply_override(broker_config& c, std::string_view text) {
    const size_t eq = text.find('=');
    if (eq == std::string_view::npos) {
        return failure("config: --set " + std::string(text)
                       + " is not allowed; use --set section.key=value");
    }
    const std::string name(text.substr(0, eq));
    const key_spec* k = find_key(name);
    if (k == nullptr) {
        return unknown_key(name, "--set " + std::string(text));
    }
    const toml::table holder = override_holder(*k, text.substr(eq + 1));
    return apply_value(c, *k, *holder.get("v"));
}

// Rules that involve more than one key, checked once every key has its final value.
result<void, std::string> check_relations(const broker_config& c) {
    if (!c.shards.cpus.empty() && c.shards.cpus.size() != c.shards.count) {
        return failure("config: shards.cpus = " + current_text(*find_key("shards.cpus"), c)
                       + " lists " + std::to_string(c.shards.cpus.size())
                       + " CPUs but shards.count = " + std::to_string(c.shards.count)
                       + "; use one CPU per shard, or [] for no pinning");
    }
    if (c.dataplane.enabled && c.dataplane.vdev.empty()) {
        return failure(std::string("config: dataplane.enabled = true needs dataplane.vdev, the "
                                   "port, e.g. \"net_memif0,role=server,"
                                   "socket=/run/runnel.sock,socket-abstract=no\""));
    }
    return {};
}

} // namespace

std::vector<uint32_t> online_cpus() {
    // The list looks like "0-3,6,8-11".
    std::vector<uint32_t> cpus;
    std::ifstream in("/sys/devices/system/cpu/online");
    std::string list;
    std::getline(in, list);
    std::istringstream ranges(list);
    std::string range;
    constexpr uint32_t cpu_id_max = 1u << 16;
    while (std::getline(ranges, range, ',')) {
        uint32_t first = 0;
        uint32_t last = 0;
        const char* end = range.data() + range.size();
        std::from_chars_result parsed = std::from_chars(range.data(), end, first);
        last = first;
        if (parsed.ec == std::errc() && parsed.ptr != end && *parsed.ptr == '-') {
            parsed = std::from_chars(parsed.ptr + 1, end, last);
        }
        if (parsed.ec != std::errc() || parsed.ptr != end || last < first || last > cpu_id_max) {
            cpus.clear();
            break;
        }
        for (uint32_t cpu = first; cpu <= last; ++cpu) {
            cpus.push_back(cpu);
        }
    }
    if (cpus.empty()) {
        // No sysfs (or an unexpected format): assume CPUs 0..n-1.
        const long n = sysconf(_SC_NPROCESSORS_ONLN);
        for (long cpu = 0; cpu < std::max(n, 1L); ++cpu) {
            cpus.push_back(uint32_t(cpu));
        }
    }
    return cpus;
}

result<command_line, std::string> parse_command_line(int argc, const char* const* argv) {
    command_line cl;
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        std::string value;
        bool has_value = false;
        if (const size_t eq = arg.find('='); arg.starts_with("--") && eq != arg.npos) {
            value = std::string(arg.substr(eq + 1));
            arg = arg.substr(0, eq);
            has_value = true;
        }
        const bool takes_value = arg == "--config" || arg == "--data-dir" || arg == "--shards"
                                 || arg == "--set";
        if (takes_value && !has_value) {
            if (i + 1 >= argc) {
                return failure("config: " + std::string(arg)
                               + " needs a value; see runneld --help");
            }
            value = argv[++i];
        } else if (!takes_value && has_value) {
            return failure("config: " + std::string(arg) + " takes no value; see runneld --help");
        }
        if (arg == "--help" || arg == "-h") {
            cl.action = cli_action::help;
            return cl;
        } else if (arg == "--version") {
            cl.action = cli_action::version;
            return cl;
        } else if (arg == "--config") {
            cl.config_path = value;
        } else if (arg == "--data-dir") {
            cl.overrides.push_back("data_dir=" + value);
        } else if (arg == "--shards") {
            cl.overrides.push_back("shards.count=" + value);
        } else if (arg == "--set") {
            cl.overrides.push_back(value);
        } else {
            return failure("config: unknown option " + std::string(argv[i])
                           + "; see runneld --help");
        }
    }
    return cl;
}

result<broker_config, std::string> parse_config(std::string_view toml_text_in,
                                                std::string_view source,
                                                const std::vector<std::string>& overrides) {
    broker_config c;
    try {
        const toml::table t = toml::parse(toml_text_in, source);
        if (auto r = apply_table(c, t, source); !r) {
            return failure(r.error());
        }
    } catch (const toml::parse_error& e) {
        return failure("config: " + std::string(source) + ":"
                       + std::to_string(e.source().begin.line) + ":"
                       + std::to_string(e.source().begin.column) + ": "
                       + std::string(e.description()));
    }
    for (const std::string& o : overrides) {
        if (auto r = apply_override(c, o); !r) {
            return failure(r.error());
        }
    }
    if (auto r = check_relations(c); !r) {
        return failure(r.error());
    }
    return c;
}

result<broker_config, std::string> load_config(const command_line& cl) {
    if (cl.config_path.empty()) {
        return parse_config("", "(defaults)", cl.overrides);
    }
    std::ifstream in(cl.config_path, std::ios::binary);
    if (!in) {
        const int err = errno;
        return failure("config: cannot read " + cl.config_path + ": " + std::strerror(err)
                       + "; check the path given to --config");
    }
    std::ostringstream text;
    text << in.rdbuf();
    return parse_config(text.str(), cl.config_path, cl.overrides);
}

std::string help_text() {
    std::string out =
        "usage: runneld [options]\n"
        "\n"
        "Runnel broker. Settings come from built-in defaults, then the --config file, then the\n"
        "overrides below in the order given (a later one wins).\n"
        "\n"
        "options:\n"
        "  --config FILE            TOML config file (default: none, built-in defaults)\n"
        "  --data-dir DIR           same as --set data_dir=DIR\n"
        "  --shards N               same as --set shards.count=N\n"
        "  --set SECTION.KEY=VALUE  set any config key, e.g. --set log.ack_after=write\n"
        "  --help                   print this help and exit\n"
        "  --version                print the version and exit\n"
        "\n"
        "config keys (top-level keys, then [shards], [storage], [log]):\n";
    const broker_config defaults;
    for (const key_spec& k : key_specs()) {
        out += "  " + std::string(k.name) + " (" + std::string(type_name(k.kind)) + ")\n";
        out += "      " + std::string(k.help) + "\n";
        out += "      default " + current_text(k, defaults) + "; allowed: " + allowed_text(k)
               + "\n";
    }
    return out;
}

std::string_view version() { return RUNNEL_VERSION; }

std::string format_config(const broker_config& cfg) {
    std::string out;
    for (const key_spec& k : key_specs()) {
        out += std::string(k.name) + " = " + current_text(k, cfg) + "\n";
    }
    return out;
}

std::vector<std::string_view> config_keys() {
    std::vector<std::string_view> names;
    for (const key_spec& k : key_specs()) {
        names.push_back(k.name);
    }
    return names;
}

} // namespace runnel
