/* librunnel's plain C API: a fast-path producer and subscriber (dataplane/client/client.h is the
 * C++ API it wraps; the protocol is dataplane/fast_path.md). One thread drives a client: every
 * callback runs from runnel_poll (or from a call that waits, such as runnel_flush). Errors are
 * runnel_status values; runnel_strerror names them, runnel_last_error explains an open failure. */
#ifndef RUNNEL_H
#define RUNNEL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct runnel_client runnel_client;

/* 0 is success; 1..15 are the broker's error codes (fast_path.md); 100.. the client's own. */
typedef enum {
    RUNNEL_OK = 0,
    RUNNEL_UNKNOWN_TOPIC = 4,
    RUNNEL_UNKNOWN_PARTITION = 5,
    RUNNEL_INVALID_PRODUCER_EPOCH = 8,
    RUNNEL_OVERLOADED = 9,
    RUNNEL_OFFSET_OUT_OF_RANGE = 12,
    RUNNEL_STORAGE_ERROR = 13,
    RUNNEL_WOULD_BLOCK = 100, /* the partition's window is full: poll and try again */
    RUNNEL_TIMED_OUT = 101,
    RUNNEL_TOO_LARGE = 102,
    RUNNEL_BAD_ARGUMENT = 103,
    RUNNEL_CLOSED = 104
} runnel_status;

const char* runnel_strerror(int status);
/* Why the last runnel_open_* of this thread failed. */
const char* runnel_last_error(void);

/* A client over a kernel UDP socket to broker_address:broker_port; NULL on failure. */
runnel_client* runnel_open_udp(const char* broker_address, uint16_t broker_port);
/* A client over a DPDK port: eal_args as for the EAL (for example "--no-huge -m 256 --no-pci
 * --vdev=net_memif0,role=client,socket=/run/runnel.sock"), split at spaces. */
runnel_client* runnel_open_dpdk(const char* eal_args, const char* self_address,
                                const char* broker_address, uint16_t broker_port);
void runnel_close(runnel_client* c);

/* Resolves a topic name: its handle and partition count. */
int runnel_resolve(runnel_client* c, const char* topic, uint32_t* handle,
                   uint32_t* partition_count);

/* Called once per produce: status, and the offsets the batch got. */
typedef void (*runnel_delivery_cb)(void* ctx, int status, int64_t base_offset,
                                   int64_t last_offset);
/* Queues one record (key may be NULL) as one batch; returns RUNNEL_OK or why not. */
int runnel_produce(runnel_client* c, uint32_t handle, uint32_t partition, const void* key,
                   size_t key_length, const void* value, size_t value_length,
                   runnel_delivery_cb done, void* ctx);

/* Called for each record of a subscription, in offset order; key or value NULL when null. */
typedef void (*runnel_record_cb)(void* ctx, int64_t offset, const void* key, size_t key_length,
                                 const void* value, size_t value_length);
/* start_offset: -2 the log start, -1 the log end. visibility: 0 memory, 1 written, 2 fsynced. */
int runnel_subscribe(runnel_client* c, uint32_t handle, uint32_t partition, int64_t start_offset,
                     int visibility, runnel_record_cb on_record, void* ctx,
                     uint32_t* subscription);
void runnel_unsubscribe(runnel_client* c, uint32_t subscription);

/* Receives, completes and retransmits; returns the number of events handled. */
int runnel_poll(runnel_client* c);
/* Polls until no produce is in flight: RUNNEL_OK, or RUNNEL_TIMED_OUT. */
int runnel_flush(runnel_client* c, uint32_t timeout_ms);

#ifdef __cplusplus
}
#endif

#endif
