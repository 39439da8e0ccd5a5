#include "perf/harness/compare.h"

#include "perf/harness/load.h"
#include "perf/harness/net.h"
#include "perf/harness/report.h"

#include <signal.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

namespace runnel::perf {

namespace {

struct job {
    std::vector<std::string> args; // after the program name
    std::string label;
    std::string floor;     // the floor this run is held against ("" for a floor itself)
    bool peer = false;
    std::string json;      // where the child writes its result
    std::string log;
};

struct outcome {
    job j;
    std::optional<run_report> report;
    std::string error;
};

std::string fmt(double v) {
    char b[32];
    std::snprintf(b, sizeof(b), v >= 100 ? "%.0f" : "%.1f", v);
    return b;
}

std::string machine() {
    utsname u{};
    ::uname(&u);
    std::string model;
    std::istringstream cpu(read_file("/proc/cpuinfo").value_or(""));
    for (std::string line; std::getline(cpu, line);) {
        if (line.rfind("model name", 0) == 0) {
            model = line.substr(line.find(':') + 2);
            break;
        }
    }
    return model + ", " + std::to_string(::sysconf(_SC_NPROCESSORS_ONLN)) + " CPUs, Linux " +
           u.release;
}

// Runs one child; its report, or why not.
outcome run_job(const std::string& self, const job& j) {
    outcome o{.j = j, .report = std::nullopt, .error = {}};
    std::vector<std::string> argv = {self};
    argv.insert(argv.end(), j.args.begin(), j.args.end());
    argv.insert(argv.end(), {"--json", j.json});
    std::fprintf(stderr, "runnel-perf compare: %s\n", j.label.c_str());
    std::filesystem::remove(j.json);
    auto p = process::spawn(argv, j.log);
    if (!p) {
        o.error = p.error();
        return o;
    }
    while (p.value()->running()) {
        if (stop_requested.load()) {
            ::kill(p.value()->pid(), SIGINT); // it stops and reports what it has
            p.value()->wait();
            break;
        }
        ::usleep(50'000);
    }
    auto r = from_json(read_file(j.json).value_or(""));
    if (!r) {
        std::string tail = p.value()->log_tail();
        const auto cut = tail.rfind("runnel-perf: ");
        o.error = cut == std::string::npos ? tail : tail.substr(cut + 13);
        while (!o.error.empty() && o.error.back() == '\n') {
            o.error.pop_back();
        }
        if (o.error.empty()) {
            o.error = "no result (log: " + j.log + ")";
        }
        return o;
    }
    o.report = std::move(r.value());
    if (!o.report->result.first_error.empty()) {
        o.error = o.report->result.first_error;
    }
    return o;
}

} // namespace

int compare(const std::string& self, const std::vector<std::string>& args) {
    bool quick = false;
    std::string out = "compare-out";
    std::string results;
    std::string seconds = "10";
    std::vector<std::string> pass; // to every `run`
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string& k = args[i];
        const bool has_value = i + 1 < args.size();
        if (k == "--quick") {
            quick = true;
        } else if (k == "--out" && has_value) {
            out = args[++i];
        } else if (k == "--results" && has_value) {
            results = args[++i];
        } else if (k == "--seconds" && has_value) {
            seconds = args[++i];
        } else if ((k == "--runneld" || k == "--work") && has_value) {
            pass.insert(pass.end(), {k, args[i + 1]});
            ++i;
        } else {
            std::fprintf(stderr, "runnel-perf compare: unknown flag '%s'\n", k.c_str());
            return 2;
        }
    }
    if (quick && seconds == "10") {
        seconds = "1";
    }
    std::filesystem::create_directories(out);
    const std::string warmup = quick ? "0.5" : "2";
    const std::vector<std::string> rates = quick ? std::vector<std::string>{"2000"}
                                                 : std::vector<std::string>{"1000", "10000"};
    std::vector<job> jobs;
    auto add = [&](std::vector<std::string> a, std::string label, std::string floor, bool peer) {
        const std::string n = std::to_string(jobs.size());
        jobs.push_back({.args = std::move(a), .label = std::move(label), .floor = std::move(floor),
                        .peer = peer, .json = out + "/" + n + ".json",
                        .log = out + "/" + n + ".log"});
    };
    const std::string samples = quick ? "2000" : "20000";
    for (const char* f : {"tcp", "udp", "memif", "odirect", "odirect-bw"}) {
        std::vector<std::string> a = {"floor", f, "--samples", samples};
        a.insert(a.end(), pass.begin(), pass.end());
        add(a, std::string("floor ") + f, "", false);
    }
    struct transport {
        const char* name;
        const char* floor;
        bool peer;
    };
    const transport transports[] = {{"kafka", "tcp", false}, {"rdkafka", "tcp", false},
                                    {"udp", "udp", false},   {"memif", "memif", false},
                                    {"redis", "tcp", true},  {"nats", "tcp", true}};
    auto add_run = [&](const char* scenario, const transport& t, const char* level,
                       const std::string& rate, const std::string& mtu = "") {
        // NATS JetStream's file storage writes to the page cache and syncs on a timer: it is
        // held against the write level only.
        if (std::string(t.name) == "nats" && std::string(level) != "write") {
            return;
        }
        if (std::string(t.name) == "udp" && ::geteuid() != 0) {
            return; // its network namespaces need root (said once, below)
        }
        std::vector<std::string> a = {"run",      "--scenario", scenario, "--transport", t.name,
                                      "--durability", level,   "--rate", rate,
                                      "--seconds", seconds,    "--warmup", warmup, "--quiet"};
        if (std::string(scenario) == "catchup") {
            a.insert(a.end(), {"--requests", quick ? "5000" : "100000", "--batch", "10"});
        }
        if (!mtu.empty()) {
            a.insert(a.end(), {"--mtu", mtu});
        }
        a.insert(a.end(), pass.begin(), pass.end());
        const std::string who = t.peer ? t.name : std::string("runnel ") + t.name;
        add(a, who + " " + scenario + " " + level + (rate == "0" ? "" : " " + rate + "/s") +
                 (mtu.empty() ? "" : " mtu " + mtu),
            t.floor, t.peer);
    };
    for (const auto& rate : rates) {
        for (const char* level : {"memory", "write", "fsync"}) {
            for (const auto& t : transports) {
                add_run("produce", t, level, rate);
            }
        }
    }
    // A fast-path produce is one datagram, and a partition has five in flight: when fsync acks
    // take milliseconds, 1500-byte datagrams hold one partition below 10k records/s. Jumbo
    // frames lift that.
    if (!quick) {
        add_run("produce", {"udp", "udp", false}, "fsync", rates.back(), "9000");
    }
    for (const auto& t : transports) {
        add_run("e2e", t, std::string(t.name) == "nats" ? "write" : "memory", rates.back());
    }
    for (const auto& t : transports) {
        add_run("catchup", t, std::string(t.name) == "nats" ? "write" : "memory", "0");
    }

    if (::geteuid() != 0) {
        std::fprintf(stderr, "runnel-perf compare: no udp runs: their network namespaces need "
                             "root\n");
    }
    std::vector<outcome> done;
    for (const auto& j : jobs) {
        if (stop_requested.load()) {
            break;
        }
        done.push_back(run_job(self, j));
        if (!done.back().error.empty()) {
            std::fprintf(stderr, "runnel-perf compare:   %s\n", done.back().error.c_str());
        }
    }

    // The table: each run against its floor, and Runnel's runs against the best peer at the
    // same scenario, durability and rate.
    std::map<std::string, double> floor_p99;
    std::map<std::string, double> best_peer_p99; // scenario/durability/rate
    auto key = [](const run_report& r) {
        return r.scenario + "/" + r.durability + "/" + fmt(r.rate);
    };
    for (const auto& o : done) {
        if (!o.report || o.report->result.latency.count() == 0) {
            continue;
        }
        const double p99 = o.report->result.latency.us(0.99);
        if (o.j.floor.empty()) {
            floor_p99[o.report->transport] = p99;
        } else if (o.j.peer) {
            auto [it, fresh] = best_peer_p99.emplace(key(*o.report), p99);
            if (!fresh) {
                it->second = std::min(it->second, p99);
            }
        }
    }
    std::ostringstream md;
    char when[64];
    const std::time_t now = std::time(nullptr);
    std::strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
    md << "Machine: " << machine() << ". Taken " << when << " with `runnel-perf compare"
       << (quick ? " --quick" : "") << " --seconds " << seconds
       << "`: open loop (latency from each "
       << "request's scheduled send), 100-byte records, one record per request (catch-up: "
       << "batches of 10), one partition, one producer and one consumer, warm-up " << warmup
       << " s excluded. Durability: memory / write / fsync are runnel.ack.after; Redis: no AOF "
       << "/ appendfsync everysec / always; NATS JetStream file storage counts as write. runneld's "
       << "shard spins on the fast path (backs off at fsync, and for Kafka).\n\n"
       << "| run | p50 us | p90 us | p99 us | p99.9 us | max us | achieved | p99 / floor p99 "
       << "| p99 / best peer p99 |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|\n";
    for (const auto& o : done) {
        md << "| " << o.j.label << " |";
        if (!o.report) {
            md << " failed: " << o.error << " | | | | | | | |\n";
            continue;
        }
        const auto& h = o.report->result.latency;
        if (h.count() > 0) {
            for (double q : {0.5, 0.9, 0.99, 0.999, 1.0}) {
                md << " " << fmt(h.us(q)) << " |";
            }
        } else {
            md << " | | | | |";
        }
        if (o.report->mib_per_s > 0) {
            md << " " << fmt(o.report->mib_per_s) << " MiB/s |";
        } else {
            md << " " << fmt(o.report->result.rate()) << "/s |";
        }
        const auto fl = floor_p99.find(o.j.floor);
        if (h.count() > 0 && fl != floor_p99.end() && fl->second > 0) {
            md << " " << fmt(h.us(0.99) / fl->second) << " (" << o.j.floor << ") |";
        } else {
            md << " |";
        }
        const auto peer = best_peer_p99.find(key(*o.report));
        if (!o.j.peer && !o.j.floor.empty() && h.count() > 0 && peer != best_peer_p99.end()) {
            md << " " << fmt(h.us(0.99) / peer->second) << " |";
        } else {
            md << " |";
        }
        if (!o.error.empty()) {
            md << " " << o.error;
        }
        md << "\n";
    }
    // One plot per durability level: its produce→ack runs at the highest rate, with the floors.
    md << "\n";
    for (const char* level : {"memory", "write", "fsync"}) {
        std::vector<run_report> runs;
        for (const auto& o : done) {
            if (o.report && ((o.report->scenario == "produce" && o.report->durability == level &&
                              fmt(o.report->rate) == fmt(std::stod(rates.back()))) ||
                             (o.report->scenario == "floor" &&
                              (o.report->transport == "tcp" || o.report->transport == "memif")))) {
                runs.push_back(*o.report);
                runs.back().label = o.j.label;
            }
        }
        const std::string png = out + "/compare-" + level + ".png";
        if (auto p = plot(png, runs, std::string("produce→ack, ") + level + ", " + rates.back() +
                                       " requests/s, with floors");
            !p) {
            std::fprintf(stderr, "runnel-perf compare: %s: %s\n", png.c_str(), p.error().c_str());
        } else {
            md << "![" << level << "](" << std::filesystem::path(png).filename().string() << ")\n";
        }
    }
    const std::string table = md.str();
    std::ofstream(out + "/compare.md") << table;
    std::fputs(table.c_str(), stdout);
    if (!results.empty()) {
        // Replace the section between the markers (or append it), with the plots beside the file.
        const std::string begin = "<!-- runnel-perf compare: begin -->";
        const std::string end = "<!-- runnel-perf compare: end -->";
        std::string text = read_file(results).value_or("");
        std::string section = table;
        const auto dir = std::filesystem::path(results).parent_path();
        for (const char* level : {"memory", "write", "fsync"}) {
            const std::string name = std::string("compare-") + level + ".png";
            std::error_code ec;
            std::filesystem::copy_file(out + "/" + name, dir / name,
                                       std::filesystem::copy_options::overwrite_existing, ec);
        }
        const auto b = text.find(begin);
        const auto e = text.find(end);
        if (b != std::string::npos && e != std::string::npos && e > b) {
            text = text.substr(0, b + begin.size()) + "\n" + section + text.substr(e);
        } else {
            text += "\n" + begin + "\n" + section + end + "\n";
        }
        std::ofstream(results) << text;
        std::fprintf(stderr, "runnel-perf compare: updated %s\n", results.c_str());
    }
    size_t failed = 0;
    for (const auto& o : done) {
        failed += o.error.empty() ? 0 : 1;
    }
    std::fprintf(stderr, "runnel-perf compare: %zu runs, %zu with errors; results in %s\n",
                 done.size(), failed, out.c_str());
    return failed == 0 && !stop_requested.load() ? 0 : 1;
}

} // namespace runnel::perf
