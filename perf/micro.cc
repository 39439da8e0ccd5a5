// runnel-micro: CPU cost of the storage data path, one core, no disk (Google Benchmark).
//
// What it measures:
// - crc32c over 1 KiB / 16 KiB / 1 MiB, next to a memcpy of the same bytes as the baseline.
// - batch::validate of a ~16 KiB batch of 100-byte records and of a 1-record batch.
// - partition_log::append of a 10 x 100-byte-record batch on a sim_io (ack_after=memory), with a
//   duty cycle (poll, flush, reap, complete) every N appends so the write buffer recycles.
// - partition_log::read of one offset in the middle of an old sealed segment on a sim_io: index
//   lookup, one (simulated) disk read of the window, scan with CRC check of every batch passed.
//
// sim_io copies every write twice (current bytes and an unsynced copy) and serves reads with a
// memcpy, so the append and read numbers are upper bounds on the log's own CPU cost.
// Single-threaded; run with --benchmark_repetitions=N to get medians.
#include "storage/batch_builder.h"
#include "storage/crc32c.h"
#include "storage/partition_log.h"
#include "storage/record_batch.h"
#include "storage/sim_io.h"
#include "dataplane/fast_path.h"
#include "dataplane/packet.h"
#include "protocol/data_messages.h"
#include "shard/spsc_ring.h"

#include <benchmark/benchmark.h>
#include <malloc.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <thread>
#include <string>
#include <vector>

namespace {

using namespace runnel;
using namespace runnel::storage;

constexpr size_t record_value_bytes = 100;

std::vector<std::byte> make_batch(size_t records) {
    std::string value(record_value_bytes, 'v');
    std::vector<record_spec> specs;
    for (size_t i = 0; i < records; ++i) {
        specs.push_back({std::nullopt, value, int64_t(i)});
    }
    return build_batch(specs, {.base_timestamp = model::timestamp_ms(1000)});
}

// The largest batch of 100-byte records that fits in 16 KiB.
std::vector<std::byte> make_batch_16k() {
    std::vector<std::byte> best = make_batch(1);
    for (size_t n = 2;; ++n) {
        auto b = make_batch(n);
        if (b.size() > (16u << 10)) {
            return best;
        }
        best = std::move(b);
    }
}

std::vector<std::byte> filled_bytes(size_t n) {
    std::vector<std::byte> v(n);
    for (size_t i = 0; i < n; ++i) {
        v[i] = std::byte(i * 131 + 7);
    }
    return v;
}

void bm_memcpy(benchmark::State& state) {
    auto src = filled_bytes(size_t(state.range(0)));
    std::vector<std::byte> dst(src.size());
    for (auto _ : state) {
        std::memcpy(dst.data(), src.data(), src.size());
        benchmark::DoNotOptimize(dst.data());
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * state.range(0));
}
BENCHMARK(bm_memcpy)->Arg(1 << 10)->Arg(16 << 10)->Arg(1 << 20);

void bm_crc32c(benchmark::State& state) {
    auto src = filled_bytes(size_t(state.range(0)));
    for (auto _ : state) {
        benchmark::DoNotOptimize(crc32c(src));
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * state.range(0));
}
BENCHMARK(bm_crc32c)->Arg(1 << 10)->Arg(16 << 10)->Arg(1 << 20);

// Arg: records in the batch; 0 means "as many as fit in 16 KiB".
void bm_validate(benchmark::State& state) {
    auto bytes = state.range(0) == 0 ? make_batch_16k() : make_batch(size_t(state.range(0)));
    auto h = batch::validate(bytes);
    RUNNEL_ASSERT(h.ok());
    for (auto _ : state) {
        auto r = batch::validate(bytes);
        benchmark::DoNotOptimize(r);
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(bytes.size()));
    state.counters["batch_bytes"] = double(bytes.size());
    state.counters["records"] = double(h->record_count);
}
BENCHMARK(bm_validate)->Arg(0)->Arg(1);

// A partition log on a fresh simulated disk, driven the way a shard's duty cycle drives it.
struct sim_log {
    sim_io disk{42};
    std::unique_ptr<partition_log> log;
    std::vector<io_op*> reaped;

    explicit sim_log(partition_log::options opts) {
        reaped.reserve(64);
        auto opened = partition_log::open(disk, std::move(opts));
        RUNNEL_ASSERT(opened.ok());
        log = std::move(opened.value());
    }
    ~sim_log() {
        auto closed = log->close();
        RUNNEL_ASSERT(closed.ok());
    }
    void cycle() {
        log->poll(0, true);
        disk.flush();
        reaped.clear();
        disk.reap(reaped, 64, true);
        for (io_op* op : reaped) {
            op->done(*op);
        }
    }
    void append(std::span<const std::byte> batch) {
        for (int tries = 0; tries < 4; ++tries) {
            auto r = log->append(batch, model::epoch(0), model::timestamp_ms(1000));
            if (r.ok()) {
                return;
            }
            RUNNEL_ASSERT(r.error() == errc::backpressure);
            cycle();
        }
        RUNNEL_ASSERT(false);
    }
    void drain() {
        for (int i = 0; i < 1000 && log->written_end() != log->log_end(); ++i) {
            cycle();
        }
        RUNNEL_ASSERT(log->written_end() == log->log_end());
    }
};

partition_log::options sim_options(ack_after ack, uint64_t segment_bytes) {
    partition_log::options o;
    o.directory = "/data/bench-0";
    o.log.ack = ack;
    o.log.segment_bytes = segment_bytes;
    return o;
}

// Arg: appends between duty cycles. The simulated disk grows with every append, so the log is
// replaced (outside the timing) before it outgrows its first preallocation step.
void bm_append(benchmark::State& state) {
    const auto appends_per_cycle = uint32_t(state.range(0));
    const auto batch = make_batch(10);
    const auto opts = sim_options(ack_after::memory, 1ull << 30);
    const uint64_t appends_per_log = (opts.log.preallocate_bytes * 3 / 4) / batch.size();
    std::unique_ptr<sim_log> s;
    uint64_t appended = appends_per_log;
    uint32_t since_cycle = 0;
    for (auto _ : state) {
        if (appended == appends_per_log) {
            state.PauseTiming();
            s.reset();
            s = std::make_unique<sim_log>(opts);
            s->append(batch); // first write: epoch file, preallocation
            s->cycle();
            appended = 0;
            since_cycle = 0;
            state.ResumeTiming();
        }
        s->append(batch);
        ++appended;
        if (++since_cycle == appends_per_cycle) {
            s->cycle();
            since_cycle = 0;
        }
    }
    if (s) {
        s->drain();
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(batch.size()));
}
BENCHMARK(bm_append)->Arg(1)->Arg(16)->Arg(256);

// Arg: read_op::max_bytes. 1 returns one batch (the first is returned whole); 1 MiB is a full
// default fetch. The log has three 8 MiB segments; the read starts mid-way into the first.
void bm_read_sealed(benchmark::State& state) {
    const auto batch = make_batch(10);
    sim_log s(sim_options(ack_after::memory, 8ull << 20));
    const uint64_t appends = (20ull << 20) / batch.size();
    for (uint64_t i = 0; i < appends; ++i) {
        s.append(batch);
        if (i % 64 == 63) {
            s.cycle();
        }
    }
    s.drain();
    RUNNEL_ASSERT(s.log->segment_count() == 3);
    const uint64_t batches_per_segment = (8ull << 20) / batch.size();
    const auto target = model::offset(int64_t(batches_per_segment / 2) * 10 + 3);
    read_op op;
    bool finished = false;
    op.owner = &finished;
    op.done = [](read_op& r) { *static_cast<bool*>(r.owner) = true; };
    op.max_bytes = uint32_t(state.range(0));
    uint64_t bytes = 0;
    for (auto _ : state) {
        op.start = target;
        op.upto = s.log->high_watermark();
        finished = s.log->read(op);
        for (int i = 0; i < 8 && !finished; ++i) {
            s.cycle();
        }
        RUNNEL_ASSERT(finished);
        RUNNEL_ASSERT(!op.error);
        RUNNEL_ASSERT(!op.bytes.empty());
        bytes += op.bytes.size();
    }
    state.SetBytesProcessed(int64_t(bytes));
    state.counters["bytes_per_read"] = double(bytes) / double(state.iterations());
}
BENCHMARK(bm_read_sealed)->Arg(1)->Arg(1 << 20);

// ---- The wire: Kafka's codec, the fast-path codec, the packet layer, the shard ring ----

// A Produce v7 request carrying one batch (Arg: records, 0 = as many as fit in 16 KiB).
protocol::writer produce_request_bytes(const std::vector<std::byte>& batch) {
    protocol::produce_request req{.acks = -1, .timeout_ms = 30000};
    req.topics.push_back({.name = "orders", .partitions = {{.index = 3, .records = batch}}});
    protocol::writer w;
    protocol::encode(w, req, 7);
    return w;
}

void bm_produce_encode(benchmark::State& state) {
    const auto batch = state.range(0) == 0 ? make_batch_16k() : make_batch(size_t(state.range(0)));
    protocol::produce_request req{.acks = -1, .timeout_ms = 30000};
    req.topics.push_back({.name = "orders", .partitions = {{.index = 3, .records = batch}}});
    protocol::writer w;
    for (auto _ : state) {
        w.bytes().clear();
        protocol::encode(w, req, 7);
        benchmark::DoNotOptimize(w.bytes().data());
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(w.size()));
}
BENCHMARK(bm_produce_encode)->Arg(1)->Arg(0);

void bm_produce_decode(benchmark::State& state) {
    const auto batch = state.range(0) == 0 ? make_batch_16k() : make_batch(size_t(state.range(0)));
    auto w = produce_request_bytes(batch);
    for (auto _ : state) {
        protocol::reader r(w.bytes());
        auto req = protocol::decode<protocol::produce_request>(r, 7);
        benchmark::DoNotOptimize(req);
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(w.size()));
}
BENCHMARK(bm_produce_decode)->Arg(1)->Arg(0);

// A Fetch v11 response of one partition with `Arg` KiB of 16 KiB batches (encode: what the
// broker writes per fetch; decode: what a client reads).
protocol::fetch_response fetch_response_of(const std::vector<std::byte>& records) {
    protocol::fetch_response resp;
    resp.topics.push_back({.topic = "orders", .partitions = {}});
    resp.topics[0].partitions.push_back({.partition = 3, .high_watermark = 1 << 20,
                                         .records = std::span<const std::byte>(records)});
    return resp;
}
std::vector<std::byte> records_of(size_t kib) {
    const auto one = make_batch_16k();
    std::vector<std::byte> all;
    while (all.size() + one.size() <= kib << 10) {
        all.insert(all.end(), one.begin(), one.end());
    }
    return all;
}

void bm_fetch_encode(benchmark::State& state) {
    const auto records = records_of(size_t(state.range(0)));
    const auto resp = fetch_response_of(records);
    protocol::writer w;
    for (auto _ : state) {
        w.bytes().clear();
        protocol::encode(w, resp, 11);
        benchmark::DoNotOptimize(w.bytes().data());
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(w.size()));
}
BENCHMARK(bm_fetch_encode)->Arg(16)->Arg(1024);

void bm_fetch_decode(benchmark::State& state) {
    const auto records = records_of(size_t(state.range(0)));
    protocol::writer w;
    protocol::encode(w, fetch_response_of(records), 11);
    for (auto _ : state) {
        protocol::reader r(w.bytes());
        auto resp = protocol::decode<protocol::fetch_response>(r, 11);
        benchmark::DoNotOptimize(resp);
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(w.size()));
}
BENCHMARK(bm_fetch_decode)->Arg(16)->Arg(1024);

// A fast-path produce frame with a 1-record batch of 100 bytes: encode and decode.
void bm_fast_path_codec(benchmark::State& state) {
    namespace fp = dataplane::fast_path;
    const auto batch = make_batch(1);
    const fp::frame f{.request_id = 42, .body = fp::produce{7, 3, batch}};
    std::vector<std::byte> out(2048);
    const bool encode = state.range(0) == 0;
    const size_t n = fp::encode(out, f);
    for (auto _ : state) {
        if (encode) {
            benchmark::DoNotOptimize(fp::encode(out, f));
        } else {
            auto d = fp::decode(std::span<const std::byte>(out.data(), n));
            benchmark::DoNotOptimize(d);
        }
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(n));
    state.SetLabel(encode ? "encode" : "decode");
}
BENCHMARK(bm_fast_path_codec)->Arg(0)->Arg(1);

// packet::classify of a received UDP frame carrying that produce frame (Ethernet, IPv4 and UDP
// headers checked, both checksums verified): what the dataplane does per request before the
// fast path sees it. Baseline: bm_memcpy of 1 KiB.
void bm_packet_classify(benchmark::State& state) {
    namespace pk = dataplane::packet;
    const pk::local_endpoint self{.mac = {2, 0, 0, 0, 0, 1}, .ip = 0xc0000201, .udp_port = 9093};
    const pk::remote_endpoint client{.mac = {2, 0, 0, 0, 0, 2}, .ip = 0xc0000202,
                                     .udp_port = 40000};
    std::vector<std::byte> frame(2048);
    const auto batch = make_batch(1);
    const size_t payload = dataplane::fast_path::encode(
      std::span(frame).subspan(pk::udp_headers_bytes),
      {.request_id = 42, .body = dataplane::fast_path::produce{7, 3, batch}});
    // build_udp writes from `self` to `to`: build the frame as the client sends it.
    const pk::local_endpoint from{.mac = client.mac, .ip = client.ip, .udp_port = client.udp_port};
    const pk::remote_endpoint to{.mac = self.mac, .ip = self.ip, .udp_port = self.udp_port};
    frame.resize(pk::build_udp(frame, from, to, payload));
    pk::counters c;
    RUNNEL_ASSERT(pk::classify(frame, self, c).action == pk::verdict::deliver);
    for (auto _ : state) {
        benchmark::DoNotOptimize(pk::classify(frame, self, c));
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(frame.size()));
}
BENCHMARK(bm_packet_classify);

// The shard ring: one hop between two threads (a ping-pong through two rings; the time of a
// round trip / 2), beside a push and a pop on one thread (Arg 0: no core crossed).
void bm_spsc_hop(benchmark::State& state) {
    spsc_ring<uint64_t> there(1024), back(1024);
    if (state.range(0) == 0) {
        uint64_t v = 0;
        for (auto _ : state) {
            there.try_push(v);
            there.try_pop(v);
            benchmark::DoNotOptimize(v);
        }
        state.SetLabel("same thread: push + pop");
        return;
    }
    std::atomic<bool> stop{false};
    std::thread echo([&] {
        uint64_t v;
        while (!stop.load(std::memory_order_relaxed)) {
            if (there.try_pop(v)) {
                while (!back.try_push(v)) {
                }
            }
        }
    });
    uint64_t v = 0;
    for (auto _ : state) {
        while (!there.try_push(v)) {
        }
        while (!back.try_pop(v)) {
        }
    }
    stop = true;
    echo.join();
    state.SetItemsProcessed(int64_t(state.iterations()) * 2); // hops
    state.SetLabel("two threads: items/s = hops/s");
}
BENCHMARK(bm_spsc_hop)->Arg(0)->Arg(1)->UseRealTime();

} // namespace

int main(int argc, char** argv) {
    // Keep freed memory mapped, so the simulated disk's buffers are not faulted in again inside
    // the timing each time a benchmark replaces its log.
    mallopt(M_MMAP_THRESHOLD, 32 << 20); // the largest value glibc accepts
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
        return 1;
    }
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
