#include "kafka/fast_path_log.h"

#include "storage/record_batch.h"

namespace runnel::kafka {

using dataplane::fast_path::error_code;

error_code fast_path_error(int16_t e) {
    switch (e) {
    case protocol::error_none: return error_code::none;
    case protocol::error_unknown_topic_or_partition: return error_code::unknown_partition;
    case protocol::error_invalid_topic_exception:
    case protocol::error_unknown_topic_id: return error_code::unknown_topic;
    case protocol::error_throttling_quota_exceeded: return error_code::overloaded;
    case protocol::error_corrupt_message:
    case protocol::error_invalid_record: return error_code::invalid_batch;
    case protocol::error_out_of_order_sequence_number: return error_code::out_of_order_sequence;
    case protocol::error_invalid_producer_epoch: return error_code::invalid_producer_epoch;
    case protocol::error_message_too_large: return error_code::batch_too_large;
    case protocol::error_not_leader_or_follower: return error_code::not_leader;
    default: return error_code::storage_error;
    }
}

std::optional<dataplane::log_service::topic> fast_path_log::resolve(std::string_view name) {
    const auto h = _broker.resolve_topic(name);
    if (!h) {
        return std::nullopt;
    }
    return topic{.handle = h->handle, .partition_count = uint32_t(h->partition_count)};
}

void fast_path_log::produce(uint32_t topic_handle, uint32_t partition,
                            std::span<const std::byte> batch, dataplane::produce_sink& to,
                            uint64_t cookie) {
    _sink = &to;
    _broker.fast_produce(topic_handle, int32_t(partition), batch, cookie);
}

void fast_path_log::produced(uint64_t cookie, int16_t error, int64_t base_offset,
                             int64_t last_offset) {
    if (*_alive && _sink != nullptr) { // after stop() the port is gone: nobody to answer
        _sink->produced(cookie, {.error = fast_path_error(error),
                                 .base_offset = base_offset,
                                 .last_offset = last_offset});
    }
}

dataplane::log_service::extent fast_path_log::visible(uint32_t topic_handle, uint32_t partition,
                                                      uint8_t visibility) {
    const auto e = _broker.fast_partition(topic_handle, int32_t(partition));
    if (e.error != protocol::error_none) {
        return {.error = fast_path_error(e.error)};
    }
    const int64_t end = visibility == 0 ? e.log_end : visibility == 1 ? e.written_end
                                                                      : e.flushed_end;
    return {.log_start = e.log_start, .visible_end = end};
}

void fast_path_log::read(uint32_t topic_handle, uint32_t partition, int64_t offset, int64_t upto,
                         uint32_t max_bytes, read_done done) {
    _broker.fast_read(topic_handle, int32_t(partition), offset, upto, max_bytes,
                      [alive = _alive, done = std::move(done)](int16_t error,
                                                               std::span<const std::byte> bytes) {
                          if (*alive) {
                              done(fast_path_error(error), bytes);
                          }
                      });
}

} // namespace runnel::kafka
