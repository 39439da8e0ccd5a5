// The state of a produce or fetch in flight, shared by broker.cc (which owns the lists of them)
// and produce.cc / fetch.cc (which run them). Private to the broker; one shard's thread.
#pragma once

#include "kafka/broker.h"
#include "protocol/data_messages.h"

#include "storage/errc.h"
#include "storage/record_batch.h"

namespace runnel::kafka {

// The Kafka error code of a storage error (a batch's own defects are the produce path's).
int16_t storage_error_code(storage::errc e);

// Records batch `h`, appended at `base_offset`, as its producer's latest.
void remember_sequence(std::map<int64_t, producer_entry>& producers,
                       const storage::batch::header& h, int64_t base_offset);

struct broker::produce_job {
    struct part {
        produce_job* job = nullptr;
        std::string_view topic;
        int32_t index = 0;
        std::span<const std::byte> records;
        size_t next_at = 0;    // where the next batch to append starts in `records`
        bool checked = false;  // every batch of the partition validated (multi-batch requests)
        bool has_base = false; // out->base_offset holds the first batch's offset
        protocol::produce_response_partition* out = nullptr;
        int64_t wait_for = -1; // the last offset the answer waits for at the ack level
        storage::append_waiter waiter;
        bool waiting = false;
    };
    kafka_request* req = nullptr; // null for a fast-path produce, which answers through on_done
    int16_t api_version = 0;
    protocol::produce_request msg;
    protocol::produce_response res;
    std::vector<std::byte> owned_batch; // a fast-path batch, copied out of its mbuf
    uint64_t cookie = 0;                // a fast-path produce's, for the sink
    int32_t last_offset_delta = 0;      // of the fast-path batch
    std::vector<part> parts; // never resized once waiters point into it
    uint32_t waiting = 0;
    bool retry = false;      // an append met back-pressure: run again from poll()
    broker* home = nullptr;
    std::list<std::unique_ptr<produce_job>>::iterator self;
};

struct broker::fast_read_job {
    storage::read_op op;
    fast_read_done done;
};

struct broker::fetch_job {
    struct part {
        fetch_job* job = nullptr;
        std::string_view topic;
        int32_t partition = 0;
        int64_t offset = 0;
        int32_t max_bytes = 0;
        storage::read_op read;
        bool reading = false;
        int16_t error = protocol::error_none;
        int64_t high_watermark = -1;
        int64_t log_start = -1;
    };
    kafka_request& req;
    protocol::fetch_request msg;
    std::vector<part> parts; // never resized once reads point into it
    uint64_t deadline_us = 0;
    uint32_t reading = 0;
    bool parked = false;
    broker* home = nullptr;
    std::list<std::unique_ptr<fetch_job>>::iterator self;
};

} // namespace runnel::kafka
