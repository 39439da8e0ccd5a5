// sim_io: a simulated disk behind the storage::io interface, for deterministic fault-injection
// tests (TigerBeetle's VOPR, LevelDB's Env). A seed reproduces every decision.
//
// Model. Each file has its current bytes (what reads see) and its durable bytes (what survives a
// crash). A data write changes the current bytes at flush() and stays "unsynced" until an
// RWF_DSYNC write or a sync of that file completes. crash() returns the disk as a power cut would
// leave it: durable bytes plus, for every unsynced write, a random subset of its 512-byte sectors
// (torn writes; a sector is atomic). Directory operations, truncate, fallocate and
// write_file_atomic are journaled metadata and durable at once.
//
// Faults: per data write, with seeded probabilities, EIO, ENOSPC or a short write; completions
// delayed by a random number of reap() calls (so they reorder); a "disk full" switch that fails
// every operation needing new space with ENOSPC.
// Thread-safety: none (one test thread).
#pragma once

#include "storage/io.h"

#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace runnel::storage {

struct sim_faults {
    double eio_rate = 0;         // probability that a data write fails with EIO
    double enospc_rate = 0;      // ... with ENOSPC
    double short_write_rate = 0; // ... is cut short (half its blocks written)
    uint32_t delay_reaps_max = 0; // completions wait up to this many reap() calls
};

// A crash image: every file's surviving bytes, and the directories.
struct sim_disk {
    std::map<std::string, std::vector<std::byte>> files;
    std::set<std::string> directories;
};

class sim_io final : public io {
public:
    explicit sim_io(uint64_t seed, sim_disk disk = {});
    ~sim_io() override = default;

    void set_faults(const sim_faults& f) { _faults = f; }
    void set_disk_full(bool full) { _disk_full = full; }
    // The disk after a power cut now, with torn unsynced writes chosen by `seed`.
    sim_disk crash(uint64_t seed) const;
    // The process died: its queued and in-flight ops are forgotten (what they wrote stays in the
    // page cache, unsynced); the disk itself goes on, for the next process to open.
    void abandon_ops();
    uint64_t data_writes() const { return _data_writes; }

    result<file_id, errc> open(const std::string& path, open_mode mode) override;
    void close(file_id f) override;
    result<uint64_t, errc> size(file_id f) override;
    result<size_t, errc> read_at(file_id f, std::span<std::byte> out, uint64_t pos) override;
    result<void, errc> truncate(file_id f, uint64_t length) override;
    result<void, errc> allocate(file_id f, uint64_t position, uint64_t length) override;
    result<void, errc> sync(file_id f) override;
    result<void, errc> write_file_atomic(const std::string& path,
                                         std::span<const std::byte> data) override;
    result<std::vector<std::byte>, errc> read_file(const std::string& path) override;
    result<void, errc> remove(const std::string& path) override;
    result<void, errc> make_directory(const std::string& path) override;
    result<void, errc> remove_directory(const std::string& path) override;
    result<std::vector<std::string>, errc> list_directory(const std::string& path) override;
    bool exists(const std::string& path) override;

    void submit(io_op& op) override;
    uint32_t flush() override;
    uint32_t reap(std::vector<io_op*>& done, uint32_t max, bool wait) override;
    uint32_t in_flight() const override { return uint32_t(_in_flight.size()); }

private:
    struct unsynced_write {
        uint64_t position;
        std::vector<std::byte> data;
    };
    struct file_state {
        std::vector<std::byte> current;
        std::vector<std::byte> durable;
        std::vector<unsynced_write> unsynced;
    };
    struct pending {
        io_op* op;
        uint32_t delay;
    };

    file_state& file(file_id f);
    void execute(io_op& op);
    void make_durable(file_state& f);
    bool chance(double p);

    std::mt19937_64 _rng;
    sim_faults _faults;
    bool _disk_full = false;
    std::map<std::string, std::shared_ptr<file_state>> _files;
    std::set<std::string> _directories;
    std::vector<std::shared_ptr<file_state>> _handles;
    std::vector<io_op*> _queued;
    std::vector<pending> _in_flight;
    uint64_t _data_writes = 0;
};

} // namespace runnel::storage
