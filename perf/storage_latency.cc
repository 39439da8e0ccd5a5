// runnel-storage-bench: the partition log against the raw disk floor, in one run, on one real
// directory (O_DIRECT through io_uring). The disk's speed drifts by tens of percent over minutes,
// so every Runnel number is taken interleaved with its floor and only ratios within a run count.
//
// What it measures (one table; the same table again as markdown at the end):
//   a) floor latency: a bare 4 KiB O_DIRECT write with RWF_DSYNC through liburing, one at a time,
//      on a preallocated file, at the block an appending log of 10 x 100-byte batches would
//      (re)write next; p50/p99/p99.9 after a warm-up.
//   b) Runnel durable append latency at low load: partition_log with ack_after=fsync, one batch of
//      10 x 100-byte records at a time; time from append() to the waiter firing. Samples of a and
//      b alternate. Ratio p50(b)/p50(a); target <= 1.2.
//   c) floor bandwidth: 1 MiB O_DIRECT writes through liburing to a preallocated file at queue
//      depth 4, then one fdatasync. Also at queue depth 1, with and without RWF_DSYNC on each
//      write: what a log with one write in flight can reach.
//   d) Runnel sustained append throughput: batches of 160 x 100-byte records appended as fast as
//      the log takes them, ack_after=write (plus a final fdatasync, as c has) and ack_after=fsync.
//      Ratio to c at QD4; target >= 0.8.
//   c and d rows run round-robin --repeat times; each row reports its median run, and each d
//   ratio is the median of the per-repeat ratios to the c (QD4) run of the same repeat.
// Single-threaded: the benchmark thread plays the shard (append, poll, flush, reap, complete).
// Flags: --dir (default /var/tmp/runnel-bench), --samples (2000), --total-mib (512), --repeat (5),
// --burst (appends per duty cycle in d; default 0: until backpressure).
// Files go to a fresh subdirectory of --dir, removed at the end.
#include "perf/histogram.h"
#include "storage/batch_builder.h"
#include "storage/partition_log.h"
#include "storage/record_batch.h"
#include "storage/uring_io.h"

#include <fcntl.h>
#include <liburing.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace {

using namespace runnel;
using namespace runnel::storage;

constexpr uint32_t warmup_samples = 200;
constexpr uint32_t bandwidth_write_bytes = 1u << 20;
constexpr uint32_t duty_cycles_per_append_max = 1000;

struct arguments {
    std::string dir = "/var/tmp/runnel-bench";
    uint32_t samples = 2000;
    uint64_t total_mib = 512;
    uint32_t repeat = 5;
    uint32_t burst = 0;
};

[[noreturn]] void die(const std::string& what, int err) {
    std::fprintf(stderr, "runnel-storage-bench: %s: %s\n", what.c_str(), std::strerror(err));
    std::exit(1);
}

[[noreturn]] void die(const std::string& what, errc e) {
    std::fprintf(stderr, "runnel-storage-bench: %s: %s\n", what.c_str(),
                 std::string(to_string(e)).c_str());
    std::exit(1);
}

uint64_t now_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1'000'000'000u + uint64_t(ts.tv_nsec);
}

uint64_t parse_number(const std::string& flag, const std::string& value) {
    uint64_t n = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (ec != std::errc() || end != value.data() + value.size()) {
        std::fprintf(stderr, "runnel-storage-bench: %s wants a whole number, not '%s'\n",
                     flag.c_str(), value.c_str());
        std::exit(2);
    }
    return n;
}

arguments parse_arguments(int argc, char** argv) {
    arguments a;
    for (int i = 1; i < argc; ++i) {
        std::string flag = argv[i];
        if (flag == "--help" || i + 1 >= argc) {
            std::fprintf(stderr, "usage: runnel-storage-bench [--dir D] [--samples N] "
                                 "[--total-mib M] [--repeat R] [--burst B]\n");
            std::exit(flag == "--help" ? 0 : 2);
        }
        std::string value = argv[++i];
        if (flag == "--dir") {
            a.dir = value;
        } else if (flag == "--samples") {
            a.samples = uint32_t(parse_number(flag, value));
        } else if (flag == "--total-mib") {
            a.total_mib = parse_number(flag, value);
        } else if (flag == "--repeat") {
            a.repeat = uint32_t(parse_number(flag, value));
        } else if (flag == "--burst") {
            a.burst = uint32_t(parse_number(flag, value));
        } else {
            std::fprintf(stderr, "runnel-storage-bench: unknown flag %s (see --help)\n",
                         flag.c_str());
            std::exit(2);
        }
    }
    if (a.samples == 0 || a.total_mib == 0 || a.repeat == 0) {
        std::fprintf(stderr, "runnel-storage-bench: --samples, --total-mib and --repeat must be "
                             "> 0\n");
        std::exit(2);
    }
    return a;
}

std::vector<std::byte> make_batch(size_t records) {
    std::string value(100, 'v');
    std::vector<record_spec> specs;
    for (size_t i = 0; i < records; ++i) {
        specs.push_back({std::nullopt, value, int64_t(i)});
    }
    return build_batch(specs, {.base_timestamp = model::timestamp_ms(1000)});
}

// ---- results -----------------------------------------------------------------------------------

struct row {
    std::string label;
    double p50_us = -1;
    double p99_us = -1;
    double p999_us = -1;
    double mib_per_s = -1;
    double records_per_s = -1;
    std::string ratio;    // against its baseline row, with the target
};

row latency_row(std::string label, const std::vector<uint64_t>& ns) {
    RUNNEL_ASSERT(!ns.empty());
    const auto h = runnel::perf::histogram::of(ns);
    row r{std::move(label)};
    r.p50_us = h.us(0.50);
    r.p99_us = h.us(0.99);
    r.p999_us = h.us(0.999);
    return r;
}

// The run with the median bandwidth.
row median_row(std::vector<row> runs) { // by value: sorts its copy
    RUNNEL_ASSERT(!runs.empty());
    std::sort(runs.begin(), runs.end(),
              [](const row& x, const row& y) { return x.mib_per_s < y.mib_per_s; });
    return runs[runs.size() / 2];
}

std::string cell(double v, const char* format) {
    if (v < 0) {
        return "";
    }
    char text[32];
    std::snprintf(text, sizeof(text), format, v);
    return text;
}

void print_line(const std::array<std::string, 7>& c, bool markdown) {
    if (markdown) {
        std::printf("| %s | %s | %s | %s | %s | %s | %s |\n", c[0].c_str(), c[1].c_str(),
                    c[2].c_str(), c[3].c_str(), c[4].c_str(), c[5].c_str(), c[6].c_str());
    } else {
        std::printf("%-60s %8s %8s %9s %7s %10s  %s\n", c[0].c_str(), c[1].c_str(), c[2].c_str(),
                    c[3].c_str(), c[4].c_str(), c[5].c_str(), c[6].c_str());
    }
}

void print_table(const std::vector<row>& rows, bool markdown) {
    print_line({"measurement", "p50 us", "p99 us", "p99.9 us", "MiB/s", "records/s",
                "ratio (target)"},
               markdown);
    if (markdown) {
        std::printf("|---|--:|--:|--:|--:|--:|---|\n");
    }
    for (const row& r : rows) {
        print_line({r.label, cell(r.p50_us, "%.1f"), cell(r.p99_us, "%.1f"),
                    cell(r.p999_us, "%.1f"), cell(r.mib_per_s, "%.0f"),
                    cell(r.records_per_s, "%.0f"), r.ratio},
                   markdown);
    }
}

// ---- raw floor through liburing ----------------------------------------------------------------

// A preallocated O_DIRECT file and its own ring; the file is removed when this goes away.
struct raw_file {
    std::string path;
    int fd = -1;
    io_uring ring{};

    raw_file(std::string file_path, uint64_t bytes, uint32_t queue_depth)
      : path(std::move(file_path)) {
        fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_DIRECT | O_CLOEXEC, 0644);
        if (fd < 0) {
            die("open " + path + " with O_DIRECT (is --dir on a file system that supports it?)",
                errno);
        }
        if (::fallocate(fd, 0, 0, off_t(bytes)) != 0) {
            die("fallocate " + path, errno);
        }
        if (int rc = io_uring_queue_init(queue_depth, &ring, 0); rc < 0) {
            die("io_uring_queue_init", -rc);
        }
    }
    ~raw_file() {
        io_uring_queue_exit(&ring);
        ::close(fd);
        ::unlink(path.c_str());
    }
    raw_file(const raw_file&) = delete;
    raw_file& operator=(const raw_file&) = delete;

    void queue_write(const std::byte* buffer, uint32_t length, uint64_t position, bool dsync) {
        io_uring_sqe* sqe = io_uring_get_sqe(&ring);
        RUNNEL_ASSERT(sqe != nullptr);
        io_uring_prep_write(sqe, fd, buffer, length, position);
        sqe->rw_flags = dsync ? RWF_DSYNC : 0;
        io_uring_sqe_set_data64(sqe, length);
    }
    // Waits for one completion and checks that it wrote everything.
    void wait_one() {
        io_uring_cqe* cqe = nullptr;
        int rc = 0;
        do {
            rc = io_uring_wait_cqe(&ring, &cqe);
        } while (rc == -EINTR);
        if (rc < 0) {
            die("io_uring_wait_cqe", -rc);
        }
        if (cqe->res < 0) {
            die("O_DIRECT write", -cqe->res);
        }
        RUNNEL_ASSERT(uint64_t(cqe->res) == io_uring_cqe_get_data64(cqe));
        io_uring_cqe_seen(&ring, cqe);
    }
};

// a) One 4 KiB RWF_DSYNC write at a time, at the block holding the start of the next batch of
// `batch_bytes`, so each block is converted from unwritten once and then overwritten, as a log
// appending such batches does.
struct floor_latency {
    raw_file file;
    aligned_buffer buffer{block_bytes};
    uint64_t batch_bytes;
    uint64_t index = 0;

    floor_latency(const std::string& dir, uint32_t count, uint64_t batch)
      : file(dir + "/floor-latency.dat", align_up(count * batch) + block_bytes, 4),
        batch_bytes(batch) {
        std::memset(buffer.data(), 'f', block_bytes);
    }
    uint64_t sample_ns() {
        file.queue_write(buffer.data(), block_bytes, align_down(index * batch_bytes), true);
        ++index;
        uint64_t start = now_ns();
        io_uring_submit_and_wait(&file.ring, 1);
        file.wait_one();
        return now_ns() - start;
    }
};

// c) Sequential 1 MiB writes at `queue_depth`, then fdatasync; the clock includes the sync.
row floor_bandwidth(const std::string& dir, uint64_t total_bytes, uint32_t queue_depth,
                    bool dsync_each) {
    raw_file f(dir + "/floor-bandwidth.dat", total_bytes, queue_depth);
    std::vector<aligned_buffer> buffers;
    for (uint32_t i = 0; i < queue_depth; ++i) {
        buffers.emplace_back(bandwidth_write_bytes);
        std::memset(buffers.back().data(), 'b', bandwidth_write_bytes);
    }
    const uint64_t writes = total_bytes / bandwidth_write_bytes;
    uint64_t submitted = 0;
    uint64_t completed = 0;
    uint64_t start = now_ns();
    for (; submitted < std::min<uint64_t>(queue_depth, writes); ++submitted) {
        f.queue_write(buffers[submitted].data(), bandwidth_write_bytes,
                      submitted * bandwidth_write_bytes, dsync_each);
    }
    io_uring_submit(&f.ring);
    while (completed < writes) {
        f.wait_one();
        ++completed;
        if (submitted < writes) {
            // Any buffer will do: every write carries the same bytes.
            f.queue_write(buffers[submitted % queue_depth].data(), bandwidth_write_bytes,
                          submitted * bandwidth_write_bytes, dsync_each);
            ++submitted;
            io_uring_submit(&f.ring);
        }
    }
    if (::fdatasync(f.fd) != 0) {
        die("fdatasync", errno);
    }
    double seconds = double(now_ns() - start) / 1e9;
    row r{"c) floor: 1 MiB O_DIRECT writes, QD" + std::to_string(queue_depth) +
          (dsync_each ? ", RWF_DSYNC each" : "") + ", + fdatasync"};
    r.mib_per_s = double(total_bytes) / double(1u << 20) / seconds;
    return r;
}

// ---- Runnel ------------------------------------------------------------------------------------

struct runnel_log {
    std::unique_ptr<uring_io> disk;
    std::unique_ptr<partition_log> log;
    std::vector<io_op*> reaped;

    explicit runnel_log(partition_log::options opts) {
        auto created = uring_io::create(opts.engine.io_queue_depth);
        if (!created) {
            die("uring_io::create", created.error());
        }
        disk = std::move(created.value());
        auto opened = partition_log::open(*disk, opts);
        if (!opened) {
            die("open partition log in " + opts.directory, opened.error());
        }
        log = std::move(opened.value());
        reaped.reserve(64);
    }
    ~runnel_log() {
        if (auto r = log->close(); !r) {
            die("close partition log", r.error());
        }
    }
    runnel_log(const runnel_log&) = delete;
    runnel_log& operator=(const runnel_log&) = delete;

    // One duty cycle of the shard, as shard_storage::poll runs it: poll the log, submit, reap,
    // complete, and poll and submit again when something completed.
    void cycle(bool idle, bool wait) {
        log->poll(now_ns() / 1000, idle);
        disk->flush();
        reaped.clear();
        disk->reap(reaped, 64, wait);
        for (io_op* op : reaped) {
            op->done(*op);
        }
        if (!reaped.empty()) {
            log->poll(now_ns() / 1000, idle);
            disk->flush();
        }
    }
};

partition_log::options runnel_options(const std::string& dir, ack_after ack) {
    partition_log::options o;
    o.directory = dir;
    o.log.ack = ack;
    o.log.segment_bytes = 1ull << 30;
    return o;
}

struct timed_waiter : append_waiter {
    uint64_t done_ns = 0;
    bool fired = false;
};

// b) One durable append at a time (default engine_config); latency from append() to its waiter.
struct runnel_latency {
    runnel_log r;
    timed_waiter waiter;
    std::span<const std::byte> batch; // lives as long as this

    runnel_latency(const std::string& dir, std::span<const std::byte> b)
      : r(runnel_options(dir, ack_after::fsync)), batch(b) {
        waiter.done = [](append_waiter& w) {
            auto& t = static_cast<timed_waiter&>(w);
            t.done_ns = now_ns();
            t.fired = true;
        };
    }
    uint64_t sample_ns() {
        waiter.fired = false;
        uint64_t start = now_ns();
        auto appended = r.log->append(batch, model::epoch(0), model::timestamp_ms(1000));
        if (!appended) {
            die("append", appended.error());
        }
        r.log->wait(appended->last_offset, waiter);
        for (uint32_t c = 0; c < duty_cycles_per_append_max && !waiter.fired; ++c) {
            r.cycle(true, true);
        }
        RUNNEL_ASSERT(waiter.fired);
        if (waiter.error) {
            die("durable append", *waiter.error);
        }
        return waiter.done_ns - start;
    }
};

void fdatasync_segments(const std::string& dir) {
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        if (entry.path().extension() == ".log") {
            int fd = ::open(entry.path().c_str(), O_RDONLY | O_CLOEXEC);
            if (fd < 0 || ::fdatasync(fd) != 0) {
                die("fdatasync " + entry.path().string(), errno);
            }
            ::close(fd);
        }
    }
}

// d) Appends as fast as the log takes them: up to `burst` appends (0: until backpressure), then
// one duty cycle, which blocks in reap only when the log pushed back. Ends when everything is at the ack level (for
// ack_after=write, after one fdatasync of the segment, like c).
row runnel_throughput(const std::string& dir, uint64_t total_bytes, const arguments& args,
                      ack_after ack, std::span<const std::byte> batch) {
    auto opts = runnel_options(dir, ack);
    opts.engine.chunk_bytes = 1u << 20;
    opts.engine.chunk_count = 8;
    const auto records = uint64_t(batch::read_header(batch).record_count);
    const uint32_t burst = args.burst == 0 ? UINT32_MAX : args.burst;
    uint64_t appended_bytes = 0;
    uint64_t appended_records = 0;
    double seconds = 0;
    {
        runnel_log r(opts);
        auto at_level = [&] {
            return ack == ack_after::fsync ? r.log->flushed_end() == r.log->log_end()
                                           : r.log->written_end() == r.log->log_end();
        };
        uint64_t start = now_ns();
        while (appended_bytes < total_bytes || !at_level() || r.log->ios_in_flight() > 0) {
            bool pushed_back = false;
            for (uint32_t n = 0; appended_bytes < total_bytes && n < burst; ++n) {
                auto a = r.log->append(batch, model::epoch(0), model::timestamp_ms(1000));
                if (!a) {
                    if (a.error() != errc::backpressure) {
                        die("append", a.error());
                    }
                    pushed_back = true;
                    break;
                }
                appended_bytes += batch.size();
                appended_records += records;
            }
            bool all_appended = appended_bytes >= total_bytes;
            r.cycle(all_appended, pushed_back || all_appended);
        }
        if (ack == ack_after::write) {
            fdatasync_segments(dir);
        }
        seconds = double(now_ns() - start) / 1e9;
    }
    std::filesystem::remove_all(dir);
    row out{std::string("d) Runnel append 160 x 100 B, ack_after=") +
            std::string(to_string(ack))};
    out.mib_per_s = double(appended_bytes) / double(1u << 20) / seconds;
    out.records_per_s = double(appended_records) / seconds;
    return out;
}

std::string ratio_text(double ratio, const char* target) {
    char text[64];
    std::snprintf(text, sizeof(text), "%.2f (%s)", ratio, target);
    return text;
}

// Median over repeats of runs[k] / baselines[k]: each pair ran back to back, so the disk's drift
// cancels out.
double median_ratio(const std::vector<row>& runs, const std::vector<row>& baselines) {
    RUNNEL_ASSERT(runs.size() == baselines.size());
    std::vector<double> ratios;
    for (size_t k = 0; k < runs.size(); ++k) {
        ratios.push_back(runs[k].mib_per_s / baselines[k].mib_per_s);
    }
    std::sort(ratios.begin(), ratios.end());
    return ratios[ratios.size() / 2];
}

} // namespace

int main(int argc, char** argv) {
    const arguments args = parse_arguments(argc, argv);
    const std::string run_dir = args.dir + "/run-" + std::to_string(::getpid());
    std::error_code ec;
    std::filesystem::create_directories(run_dir, ec);
    if (ec) {
        die("create " + run_dir, ec.value());
    }
    const auto small_batch = make_batch(10);
    const auto large_batch = make_batch(160);
    const uint64_t total_bytes = args.total_mib << 20;
    std::printf("runnel-storage-bench: dir %s\nlatency: %u samples after %u warm-up, a and b "
                "alternating; batch %zu bytes\nbandwidth: %llu MiB per row, median of %u "
                "round-robin repeats; batch %zu bytes, burst %u (0: until backpressure)\n\n",
                run_dir.c_str(), args.samples, warmup_samples, small_batch.size(),
                static_cast<unsigned long long>(args.total_mib), args.repeat,
                large_batch.size(), args.burst);

    std::vector<row> rows;
    {
        floor_latency a(run_dir, warmup_samples + args.samples, small_batch.size());
        runnel_latency b(run_dir + "/latency", small_batch);
        for (uint32_t i = 0; i < warmup_samples; ++i) {
            a.sample_ns();
            b.sample_ns();
        }
        std::vector<uint64_t> a_ns;
        std::vector<uint64_t> b_ns;
        a_ns.reserve(args.samples);
        b_ns.reserve(args.samples);
        for (uint32_t i = 0; i < args.samples; ++i) {
            a_ns.push_back(a.sample_ns());
            b_ns.push_back(b.sample_ns());
        }
        rows.push_back(latency_row("a) floor: 4 KiB O_DIRECT write + RWF_DSYNC, QD1", a_ns));
        rows.push_back(latency_row("b) Runnel append 10 x 100 B, ack_after=fsync", b_ns));
        rows[1].ratio = ratio_text(rows[1].p50_us / rows[0].p50_us, "p50 vs a, <= 1.2");
    }

    std::vector<std::vector<row>> runs(5);
    for (uint32_t i = 0; i < args.repeat; ++i) {
        runs[0].push_back(floor_bandwidth(run_dir, total_bytes, 4, false));
        runs[1].push_back(floor_bandwidth(run_dir, total_bytes, 1, false));
        runs[2].push_back(floor_bandwidth(run_dir, total_bytes, 1, true));
        runs[3].push_back(runnel_throughput(run_dir + "/throughput", total_bytes, args,
                                            ack_after::write, large_batch));
        runs[4].push_back(runnel_throughput(run_dir + "/throughput", total_bytes, args,
                                            ack_after::fsync, large_batch));
    }
    for (size_t i = 0; i < runs.size(); ++i) {
        rows.push_back(median_row(runs[i]));
        if (i >= 3) {
            rows.back().ratio = ratio_text(median_ratio(runs[i], runs[0]), "vs c QD4, >= 0.8");
        }
    }

    print_table(rows, false);
    std::printf("\n");
    print_table(rows, true);
    std::filesystem::remove_all(run_dir, ec);
    if (ec) {
        die("remove " + run_dir, ec.value());
    }
    return 0;
}
