/* runnel-fast-produce: the smallest librunnel program, in C (runnel.h). Produces COUNT records
 * "<PREFIX>-<i>" to partition 0 of TOPIC over a kernel UDP socket, a window of them in flight,
 * and prints "ack <i> <offset>" for each.
 *   runnel-fast-produce BROKER_IP PORT TOPIC COUNT PREFIX */
#include "dataplane/client/runnel.h"

#include <stdio.h>
#include <stdlib.h>

static long acked;
static int failed;

static void delivered(void* ctx, int status, int64_t base_offset, int64_t last_offset) {
    long i = (long)(intptr_t)ctx;
    (void)last_offset;
    if (status != RUNNEL_OK) {
        fprintf(stderr, "record %ld: %s\n", i, runnel_strerror(status));
        failed = 1;
        return;
    }
    printf("ack %ld %lld\n", i, (long long)base_offset);
    ++acked;
}

int main(int argc, char** argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: runnel-fast-produce BROKER_IP PORT TOPIC COUNT PREFIX\n");
        return 2;
    }
    runnel_client* c = runnel_open_udp(argv[1], (uint16_t)atoi(argv[2]));
    if (c == NULL) {
        fprintf(stderr, "runnel-fast-produce: %s\n", runnel_last_error());
        return 1;
    }
    uint32_t topic = 0, partitions = 0;
    int rc = runnel_resolve(c, argv[3], &topic, &partitions);
    if (rc != RUNNEL_OK) {
        fprintf(stderr, "runnel-fast-produce: resolve %s: %s\n", argv[3], runnel_strerror(rc));
        runnel_close(c);
        return 1;
    }
    const long count = atol(argv[4]);
    for (long i = 0; i < count && !failed;) {
        char value[256];
        const int n = snprintf(value, sizeof value, "%s-%ld", argv[5], i);
        rc = runnel_produce(c, topic, 0, NULL, 0, value, (size_t)n, delivered, (void*)(intptr_t)i);
        if (rc == RUNNEL_WOULD_BLOCK) {
            runnel_poll(c);
            continue;
        }
        if (rc != RUNNEL_OK) {
            fprintf(stderr, "runnel-fast-produce: record %ld: %s\n", i, runnel_strerror(rc));
            failed = 1;
            break;
        }
        ++i;
    }
    rc = runnel_flush(c, 30000);
    runnel_close(c);
    fprintf(stderr, "runnel-fast-produce: %ld of %ld acknowledged\n", acked, count);
    return rc == RUNNEL_OK && !failed && acked == count ? 0 : 1;
}
