// libFuzzer target: segment recovery. A partition directory on the simulated disk holds a valid
// segment of a few batches; the input edits it (byte overwrites and a truncation), may add stale
// index files, and the log is opened. Invariants: no crash; if it opens, every batch from the log
// start to the log end reads back valid, in order and contiguous, and an append then succeeds.
#include "storage/batch_builder.h"
#include "storage/partition_log.h"
#include "storage/sim_io.h"

#include <cstdint>
#include <cstdlib>
#include <vector>

using namespace runnel;
using namespace runnel::storage;

namespace {

std::vector<std::byte> valid_segment() {
    std::vector<std::byte> seg;
    for (int i = 0; i < 6; ++i) {
        std::vector<record_spec> r{{"k", "value-value", 0}, {std::nullopt, "x", 1}};
        auto b = build_batch(r);
        batch::set_base_offset(b, model::offset(2 * i));
        seg.insert(seg.end(), b.begin(), b.end());
    }
    return seg;
}

void run_log(sim_io& disk, const partition_log::options& opts) {
    auto opened = partition_log::open(disk, opts);
    if (!opened) {
        return;
    }
    auto& log = *opened.value();
    read_op op;
    model::offset next = log.log_start();
    while (next < log.log_end()) {
        op.start = next;
        op.upto = log.log_end();
        if (!log.read(op)) {
            std::vector<io_op*> done;
            disk.flush();
            disk.reap(done, 8, true);
            for (io_op* d : done) {
                op.done = [](read_op&) {};
                d->done(*d);
            }
        }
        if (op.error || op.bytes.empty()) {
            std::abort(); // recovery kept something it cannot serve
        }
        for (auto b = op.bytes; !b.empty();) {
            auto h = batch::check_stored(b);
            if (!h || h->base_offset != next) {
                std::abort();
            }
            next = h->last_offset() + 1;
            b = b.subspan(h->size_bytes());
        }
    }
    std::vector<record_spec> r{{"after", "recovery", 0}};
    auto latest = log.end_offset_for_epoch(model::epoch(INT32_MAX));
    model::epoch e = latest ? latest->first : model::epoch(0);
    if (!log.append(build_batch(r), e, model::timestamp_ms(1)).ok()) {
        std::abort();
    }
    (void)log.close();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const std::vector<std::byte> segment = valid_segment();
    sim_disk image;
    image.directories = {"/d", "/d/t-0"};
    std::vector<std::byte> seg = segment;
    size_t i = 0;
    for (; i + 2 < size && data[i] != 0xff; i += 3) {
        size_t pos = (size_t(data[i]) << 8 | data[i + 1]) % seg.size();
        seg[pos] = std::byte(data[i + 2]);
    }
    if (i + 1 < size) {
        seg.resize((size_t(data[i + 1]) * seg.size()) / 255); // truncate to a fraction
    }
    image.files["/d/t-0/00000000000000000000.log"] = seg;
    if (size > 0 && data[size - 1] % 3 == 0) {
        // Stale, garbage or empty index files must never be trusted blindly.
        image.files["/d/t-0/00000000000000000000.index"] =
          std::vector<std::byte>(reinterpret_cast<const std::byte*>(data),
                                 reinterpret_cast<const std::byte*>(data) + size);
        image.files["/d/t-0/00000000000000000000.timeindex"] = {};
    }
    sim_io disk(1, image);
    partition_log::options opts;
    opts.directory = "/d/t-0";
    opts.engine.chunk_bytes = 64 << 10;
    opts.engine.chunk_count = 2;
    opts.log.preallocate_bytes = 0;
    run_log(disk, opts);
    return 0;
}
