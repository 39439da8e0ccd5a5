// The dataplane's view of the broker (dataplane::log_service over kafka::broker): topic handles
// and produce through the Kafka path's idempotence state and logs, with Kafka's error codes
// mapped to the fast path's. Lifecycle: created on shard 0 after its broker; stop() before the
// port that answers through it goes away, after which late acknowledgements are dropped.
// Thread-safety: none; the broker's shard.
#pragma once

#include "dataplane/service.h"
#include "kafka/broker.h"

#include <memory>

namespace runnel::kafka {

class fast_path_log final : public dataplane::log_service, public fast_produce_sink {
public:
    explicit fast_path_log(broker& b) : _broker(b) { _broker.set_fast_sink(this); }
    ~fast_path_log() override { stop(); }
    fast_path_log(const fast_path_log&) = delete;
    fast_path_log& operator=(const fast_path_log&) = delete;
    std::optional<topic> resolve(std::string_view name) override;
    int64_t new_producer_id() override { return _broker.new_producer_id(); }
    void produce(uint32_t topic_handle, uint32_t partition, std::span<const std::byte> batch,
                 dataplane::produce_sink& to, uint64_t cookie) override;
    void produced(uint64_t cookie, int16_t error, int64_t base_offset,
                  int64_t last_offset) override;
    extent visible(uint32_t topic_handle, uint32_t partition, uint8_t visibility) override;
    void read(uint32_t topic_handle, uint32_t partition, int64_t offset, int64_t upto,
              uint32_t max_bytes, read_done done) override;
    // Once: runneld calls it before the broker goes, and the destructor may run after.
    void stop() {
        if (*_alive) {
            *_alive = false;
            _broker.set_fast_sink(nullptr);
        }
    }

private:
    broker& _broker;
    dataplane::produce_sink* _sink = nullptr; // the service that produces (there is one)
    std::shared_ptr<bool> _alive = std::make_shared<bool>(true);
};

dataplane::fast_path::error_code fast_path_error(int16_t kafka_error);

} // namespace runnel::kafka
