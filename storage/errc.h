// Storage error codes: every operating error of the storage engine (I/O, space, corrupt input)
// is one of these. A negative errno from the kernel becomes an errc at the io boundary only.
#pragma once

#include <cstdint>
#include <string_view>

namespace runnel::storage {

enum class errc : uint8_t {
    io_error,           // EIO or another unexpected kernel error
    no_space,           // ENOSPC / EDQUOT, or a short write
    read_only,          // EROFS / EACCES / EPERM on a write path
    not_found,          // ENOENT
    corrupt,            // on-disk bytes failed validation (CRC, length, magic)
    invalid_batch,      // an appended RecordBatch failed validation (see batch::errc)
    batch_too_large,    // a batch larger than the log accepts
    offset_out_of_range,
    backpressure,       // write buffers full; retry after the shard polled its io
    log_failed,         // the partition stopped accepting appends after an unrecoverable error
    invalid_argument,
};

std::string_view to_string(errc e);
errc errc_from_errno(int err);

} // namespace runnel::storage
