#include "storage/errc.h"

#include <cerrno>

namespace runnel::storage {

std::string_view to_string(errc e) {
    switch (e) {
    case errc::io_error: return "I/O error";
    case errc::no_space: return "no space left on device";
    case errc::read_only: return "read-only or permission denied";
    case errc::not_found: return "not found";
    case errc::corrupt: return "corrupt data on disk";
    case errc::invalid_batch: return "invalid record batch";
    case errc::batch_too_large: return "record batch too large";
    case errc::offset_out_of_range: return "offset out of range";
    case errc::backpressure: return "write buffers full";
    case errc::log_failed: return "log failed after an unrecoverable error";
    case errc::invalid_argument: return "invalid argument";
    }
    return "unknown";
}

errc errc_from_errno(int err) {
    switch (err) {
    case ENOSPC:
    case EDQUOT:
    case EFBIG: return errc::no_space;
    case EROFS:
    case EACCES:
    case EPERM: return errc::read_only;
    case ENOENT: return errc::not_found;
    case EINVAL: return errc::invalid_argument;
    default: return errc::io_error;
    }
}

} // namespace runnel::storage
