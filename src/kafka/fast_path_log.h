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

class fast_path_log final : public dataplane::log_service {
public:
    explicit fast_path_log(broker& b) : _broker(b) {}
    std::optional<topic> resolve(std::string_view name) override;
    int64_t new_producer_id() override { return _broker.new_producer_id(); }
    void produce(uint32_t topic_handle, uint32_t partition, std::span<const std::byte> batch,
                 std::function<void(produced)> done) override;
    extent visible(uint32_t topic_handle, uint32_t partition, uint8_t visibility) override;
    void read(uint32_t topic_handle, uint32_t partition, int64_t offset, int64_t upto,
              uint32_t max_bytes, read_done done) override;
    void stop() { *_alive = false; }

private:
    broker& _broker;
    std::shared_ptr<bool> _alive = std::make_shared<bool>(true);
};

dataplane::fast_path::error_code fast_path_error(int16_t kafka_error);

} // namespace runnel::kafka
