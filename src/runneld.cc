// runneld: the Runnel broker. Loads the config, starts one shard per configured core, waits for
// SIGINT or SIGTERM, then stops the shards (each closes its own storage on its own thread).
//
// Exit status: 0 after a clean stop or --help/--version; 2 for a bad command line or config;
// 1 when start-up fails for another reason (a CPU that cannot be pinned, storage that cannot open).
//
// Threads: main (config, signals, start and stop) and one thread per shard. SIGINT and SIGTERM
// are blocked before any shard thread exists, so only main's sigwait ever sees them.
#include "config/config.h"
#include "shard/shard.h"

#include <csignal>
#include <cstdio>
#include <cstring>
#include <pthread.h>
#include <string>

// The storage engine attaches its io and partitions to shard s here (via s's hooks and pollables).
static void attach_storage([[maybe_unused]] runnel::shard& s,
                           [[maybe_unused]] const runnel::broker_config& cfg) {}

namespace {

runnel::shard_group_options group_options(const runnel::broker_config& cfg) {
    return runnel::shard_group_options{
        .shard_count = cfg.shards.count,
        .cpus = cfg.shards.cpus,
        .idle = cfg.shards.idle_strategy,
        .idle_sleep_us = cfg.shards.idle_sleep_us,
        .ring_capacity = cfg.shards.ring_capacity,
    };
}

void log_start(const runnel::broker_config& cfg) {
    std::fprintf(stderr, "runneld: version %.*s\n", int(runnel::version().size()),
                 runnel::version().data());
    std::fprintf(stderr, "runneld: node id %d\n", cfg.node_id);
    std::fprintf(stderr, "runneld: data dir %s\n", cfg.data_dir.c_str());
    std::string pinning = "not pinned";
    if (!cfg.shards.cpus.empty()) {
        pinning = "pinned to CPUs";
        for (uint32_t cpu : cfg.shards.cpus) {
            // Two appends: `" " + std::to_string(cpu)` trips a GCC 12 -Wrestrict false
            // positive at -O3.
            pinning += ' ';
            pinning += std::to_string(cpu);
        }
    }
    std::fprintf(stderr, "runneld: %u shards, %s\n", cfg.shards.count, pinning.c_str());
    const std::string_view idle = to_string(cfg.shards.idle_strategy);
    std::fprintf(stderr, "runneld: idle strategy %.*s (sleep %u us)\n", int(idle.size()),
                 idle.data(), cfg.shards.idle_sleep_us);
}

} // namespace

int main(int argc, char** argv) {
    const auto cl = runnel::parse_command_line(argc, argv);
    if (!cl) {
        std::fprintf(stderr, "%s\n", cl.error().c_str());
        return 2;
    }
    switch (cl->action) {
    case runnel::cli_action::help:
        std::fputs(runnel::help_text().c_str(), stdout);
        return 0;
    case runnel::cli_action::version:
        std::printf("runneld %.*s\n", int(runnel::version().size()), runnel::version().data());
        return 0;
    case runnel::cli_action::run:
        break;
    }
    const auto cfg = runnel::load_config(cl.value());
    if (!cfg) {
        std::fprintf(stderr, "%s\n", cfg.error().c_str());
        return 2;
    }

    // Block before creating threads: they inherit the mask, so the signals wait for sigwait.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    const int masked = pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    RUNNEL_ASSERT(masked == 0);

    log_start(cfg.value());
    runnel::shard_group group(group_options(cfg.value()));
    for (uint32_t i = 0; i < group.size(); ++i) {
        attach_storage(group.at(runnel::core_id(i)), cfg.value());
    }
    if (auto started = group.start(); !started) {
        std::fprintf(stderr, "runneld: start-up failed: %s\n", started.error().c_str());
        return 1;
    }
    std::fprintf(stderr, "runneld: started\n");

    int signal_number = 0;
    const int waited = sigwait(&stop_signals, &signal_number);
    RUNNEL_ASSERT(waited == 0);
    std::fprintf(stderr, "runneld: stopping (%s)\n", sigabbrev_np(signal_number));
    group.request_stop();
    group.join();
    std::fprintf(stderr, "runneld: stopped cleanly\n");
    return 0;
}
