// A librdkafka client for the process tests (tests/process/rdkafka_test.py drives it):
//
//   rdkafka_client produce BOOTSTRAP TOPIC FIRST COUNT OUT
//       An idempotent producer (acks=all, retries) sends keys "k<i>", values "v<i>" for i in
//       [FIRST, FIRST+COUNT); every delivery report that succeeded is written to OUT as
//       "acked <partition> <offset> <i>". Exits 0 once every message was delivered.
//   rdkafka_client group BOOTSTRAP TOPIC GROUP MEMBERS STOP_AT LEAVE_AT OUT
//       MEMBERS consumers in one group, each on its own thread, consume until STOP_AT messages
//       were consumed between them; the last member leaves the group once LEAVE_AT were consumed
//       (0: never). Offsets are committed synchronously every 200 messages, when partitions are
//       revoked, and at the end. Each message is written to OUT as
//       "m <member> <partition> <offset> <key> <value>".
//   rdkafka_client member BOOTSTRAP TOPIC GROUP STRATEGY INSTANCE_ID PAUSE_US OUT
//       One consumer of GROUP with partition.assignment.strategy STRATEGY (range, roundrobin,
//       cooperative-sticky) and group.instance.id INSTANCE_ID ("-": a dynamic member), which
//       consumes until SIGTERM, sleeping PAUSE_US after each message. It commits as `group` does
//       (every 200 messages, on revoke, at the end) and then closes: a dynamic member leaves the
//       group, a static one does not. OUT gets, one flushed line each, with T the CLOCK_MONOTONIC
//       time in microseconds so that the lines of several members can be ordered:
//         "m <partition> <offset> <key> <value>"            a message
//         "assign <T> <protocol> <partitions> <member id>"  partitions given (all of them for
//                                                           EAGER, the added ones for COOPERATIVE)
//         "revoke <T> <protocol> <partitions> <lost>"       partitions taken away (likewise)
//         "commit_error <T> <error>"                        a synchronous commit that failed
//         "closing <T>", "closed <T>"                       around rd_kafka_consumer_close
//       where <partitions> is a comma-separated list ("-" for none) and <lost> is 1 when
//       librdkafka reports the partitions lost rather than revoked. RDKAFKA_DEBUG in the
//       environment sets librdkafka's `debug` (e.g. cgrp,protocol; the log goes to stderr).
#include <librdkafka/rdkafka.h>

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static FILE* out;
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

static void fail(const char* what, const char* detail) {
    fprintf(stderr, "rdkafka_client: %s: %s\n", what, detail);
    exit(1);
}

static void set(rd_kafka_conf_t* conf, const char* key, const char* value) {
    char err[512];
    if (rd_kafka_conf_set(conf, key, value, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
        fail(key, err);
    }
}

static long delivered;
static long delivery_errors;

static void on_delivery(rd_kafka_t* rk, const rd_kafka_message_t* m, void* opaque) {
    (void)rk;
    (void)opaque;
    if (m->err) {
        fprintf(stderr, "rdkafka_client: delivery failed: %s\n", rd_kafka_err2str(m->err));
        ++delivery_errors;
        return;
    }
    fprintf(out, "acked %d %lld %ld\n", m->partition, (long long)m->offset,
            (long)(intptr_t)m->_private);
    ++delivered;
}

static int produce(const char* bootstrap, const char* topic, long first, long count) {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    set(conf, "bootstrap.servers", bootstrap);
    set(conf, "enable.idempotence", "true");
    set(conf, "acks", "all");
    set(conf, "linger.ms", "1");
    set(conf, "message.timeout.ms", "120000");
    set(conf, "reconnect.backoff.max.ms", "200");
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    char err[512];
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (rk == NULL) {
        fail("rd_kafka_new", err);
    }
    char key[32];
    char value[32];
    for (long i = first; i < first + count; ++i) {
        snprintf(key, sizeof(key), "k%ld", i);
        snprintf(value, sizeof(value), "v%ld", i);
        for (;;) {
            rd_kafka_resp_err_t e = rd_kafka_producev(
              rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, strlen(key)),
              RD_KAFKA_V_VALUE(value, strlen(value)), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
              RD_KAFKA_V_OPAQUE((void*)(intptr_t)i), RD_KAFKA_V_END);
            if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
                break;
            }
            if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                fail("produce", rd_kafka_err2str(e));
            }
            rd_kafka_poll(rk, 10);
        }
        rd_kafka_poll(rk, 0);
    }
    while (rd_kafka_outq_len(rk) > 0) {
        rd_kafka_poll(rk, 50);
    }
    fflush(out);
    rd_kafka_resp_err_t fatal = rd_kafka_fatal_error(rk, err, sizeof(err));
    rd_kafka_destroy(rk);
    if (fatal) {
        fail("fatal producer error", err);
    }
    fprintf(stderr, "rdkafka_client: %ld delivered, %ld failed\n", delivered, delivery_errors);
    return delivered == count && delivery_errors == 0 ? 0 : 1;
}

struct member {
    int index;
    const char* bootstrap;
    const char* topic;
    const char* group;
    long stop_at;
    long leave_at;
    int leaves;
};

static atomic_long consumed;

static void on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t* parts, void* opaque) {
    (void)opaque;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        rd_kafka_assign(rk, parts);
        return;
    }
    // Revoked: commit what was consumed so that the next owner starts right after it.
    rd_kafka_resp_err_t c = rd_kafka_commit(rk, NULL, 0);
    if (c != RD_KAFKA_RESP_ERR_NO_ERROR && c != RD_KAFKA_RESP_ERR__NO_OFFSET) {
        fprintf(stderr, "rdkafka_client: commit on revoke: %s\n", rd_kafka_err2str(c));
    }
    rd_kafka_assign(rk, NULL);
}

static void* run_member(void* arg) {
    struct member* m = arg;
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    set(conf, "bootstrap.servers", m->bootstrap);
    set(conf, "group.id", m->group);
    set(conf, "enable.auto.commit", "false");
    set(conf, "auto.offset.reset", "earliest");
    set(conf, "session.timeout.ms", "6000");
    set(conf, "heartbeat.interval.ms", "500");
    set(conf, "partition.assignment.strategy", "range");
    rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    char err[512];
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (rk == NULL) {
        fail("rd_kafka_new", err);
    }
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, m->topic, RD_KAFKA_PARTITION_UA);
    if (rd_kafka_subscribe(rk, topics) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fail("subscribe", m->topic);
    }
    rd_kafka_topic_partition_list_destroy(topics);
    long mine = 0;
    const time_t give_up = time(NULL) + 120;
    while (atomic_load(&consumed) < m->stop_at && time(NULL) < give_up) {
        if (m->leaves && m->leave_at > 0 && atomic_load(&consumed) >= m->leave_at) {
            break;
        }
        rd_kafka_message_t* msg = rd_kafka_consumer_poll(rk, 100);
        if (msg == NULL) {
            continue;
        }
        if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            pthread_mutex_lock(&out_lock);
            fprintf(out, "m %d %d %lld %.*s %.*s\n", m->index, msg->partition,
                    (long long)msg->offset, (int)msg->key_len, (const char*)msg->key,
                    (int)msg->len, (const char*)msg->payload);
            pthread_mutex_unlock(&out_lock);
            rd_kafka_commit_message(rk, msg, 1); // async; the sync commits below make it final
            atomic_fetch_add(&consumed, 1);
            if (++mine % 200 == 0) {
                rd_kafka_commit(rk, NULL, 0);
            }
        } else if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            fprintf(stderr, "rdkafka_client: member %d: %s\n", m->index,
                    rd_kafka_message_errstr(msg));
        }
        rd_kafka_message_destroy(msg);
    }
    rd_kafka_commit(rk, NULL, 0);
    rd_kafka_consumer_close(rk); // leaves the group (revoke: commit)
    rd_kafka_destroy(rk);
    fprintf(stderr, "rdkafka_client: member %d consumed %ld and left\n", m->index, mine);
    return NULL;
}

static int group(const char* bootstrap, const char* topic, const char* group_id, int members,
                 long stop_at, long leave_at) {
    pthread_t threads[16];
    struct member ms[16];
    if (members < 1 || members > 16) {
        fail("group", "MEMBERS must be 1..16");
    }
    for (int i = 0; i < members; ++i) {
        ms[i] = (struct member){i, bootstrap, topic, group_id, stop_at, leave_at, i == members - 1};
        pthread_create(&threads[i], NULL, run_member, &ms[i]);
    }
    for (int i = 0; i < members; ++i) {
        pthread_join(threads[i], NULL);
    }
    fflush(out);
    return atomic_load(&consumed) >= stop_at ? 0 : 1;
}

static volatile sig_atomic_t terminated;

static void on_sigterm(int sig) {
    (void)sig;
    terminated = 1;
}

static long long now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void write_partitions(const rd_kafka_topic_partition_list_t* parts) {
    if (parts == NULL || parts->cnt == 0) {
        fputs("-", out);
        return;
    }
    for (int i = 0; i < parts->cnt; ++i) {
        fprintf(out, i == 0 ? "%d" : ",%d", parts->elems[i].partition);
    }
}

// A synchronous commit of every consumed offset; a failure is logged so that the test can tell a
// lost commit from a duplicate delivery.
static void commit_consumed(rd_kafka_t* rk) {
    rd_kafka_resp_err_t c = rd_kafka_commit(rk, NULL, 0);
    if (c != RD_KAFKA_RESP_ERR_NO_ERROR && c != RD_KAFKA_RESP_ERR__NO_OFFSET) {
        fprintf(out, "commit_error %lld %s\n", now_us(), rd_kafka_err2name(c));
        fflush(out);
    }
}

static void on_member_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                                rd_kafka_topic_partition_list_t* parts, void* opaque) {
    (void)opaque;
    const char* protocol = rd_kafka_rebalance_protocol(rk);
    const int cooperative = strcmp(protocol, "COOPERATIVE") == 0;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        char* member_id = rd_kafka_memberid(rk);
        fprintf(out, "assign %lld %s ", now_us(), protocol);
        write_partitions(parts);
        fprintf(out, " %s\n", member_id ? member_id : "-");
        fflush(out);
        rd_kafka_mem_free(rk, member_id);
        if (cooperative) {
            rd_kafka_error_t* e = rd_kafka_incremental_assign(rk, parts);
            if (e != NULL) {
                fail("incremental assign", rd_kafka_error_string(e));
            }
        } else {
            rd_kafka_assign(rk, parts);
        }
        return;
    }
    if (err != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
        fail("rebalance callback", rd_kafka_err2str(err));
    }
    const int lost = rd_kafka_assignment_lost(rk);
    fprintf(out, "revoke %lld %s ", now_us(), protocol);
    write_partitions(parts);
    fprintf(out, " %d\n", lost);
    fflush(out);
    // Revoked: commit what was consumed so that the next owner starts right after it. Lost
    // partitions have another owner already, which the commit would fail against.
    if (!lost) {
        commit_consumed(rk);
    }
    if (cooperative) {
        rd_kafka_error_t* e = rd_kafka_incremental_unassign(rk, parts);
        if (e != NULL) {
            fail("incremental unassign", rd_kafka_error_string(e));
        }
    } else {
        rd_kafka_assign(rk, NULL);
    }
}

static int member(const char* bootstrap, const char* topic, const char* group_id,
                  const char* strategy, const char* instance_id, long pause_us) {
    signal(SIGTERM, on_sigterm);
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    set(conf, "bootstrap.servers", bootstrap);
    set(conf, "group.id", group_id);
    if (strcmp(instance_id, "-") != 0) {
        set(conf, "group.instance.id", instance_id);
    }
    set(conf, "enable.auto.commit", "false");
    set(conf, "auto.offset.reset", "earliest");
    set(conf, "session.timeout.ms", "6000");
    set(conf, "heartbeat.interval.ms", "500");
    set(conf, "partition.assignment.strategy", strategy);
    const char* debug = getenv("RDKAFKA_DEBUG");
    if (debug != NULL && debug[0] != '\0') {
        set(conf, "debug", debug);
    }
    rd_kafka_conf_set_rebalance_cb(conf, on_member_rebalance);
    char err[512];
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (rk == NULL) {
        fail("rd_kafka_new", err);
    }
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, topic, RD_KAFKA_PARTITION_UA);
    if (rd_kafka_subscribe(rk, topics) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fail("subscribe", topic);
    }
    rd_kafka_topic_partition_list_destroy(topics);
    long mine = 0;
    while (!terminated) {
        rd_kafka_message_t* msg = rd_kafka_consumer_poll(rk, 100);
        if (msg == NULL) {
            continue;
        }
        if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            fprintf(out, "m %d %lld %.*s %.*s\n", msg->partition, (long long)msg->offset,
                    (int)msg->key_len, (const char*)msg->key, (int)msg->len,
                    (const char*)msg->payload);
            fflush(out);
            rd_kafka_commit_message(rk, msg, 1); // async; the sync commits make it final
            if (++mine % 200 == 0) {
                commit_consumed(rk);
            }
            if (pause_us > 0) {
                struct timespec pause = {pause_us / 1000000, (pause_us % 1000000) * 1000};
                nanosleep(&pause, NULL);
            }
        } else if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            fprintf(stderr, "rdkafka_client: member %s: %s\n", instance_id,
                    rd_kafka_message_errstr(msg));
        }
        rd_kafka_message_destroy(msg);
    }
    commit_consumed(rk);
    fprintf(out, "closing %lld\n", now_us());
    fflush(out);
    rd_kafka_resp_err_t closed = rd_kafka_consumer_close(rk); // revoke: commit
    fprintf(out, "closed %lld\n", now_us());
    fflush(out);
    rd_kafka_resp_err_t fatal = rd_kafka_fatal_error(rk, err, sizeof(err));
    rd_kafka_destroy(rk);
    if (fatal) {
        fail("fatal consumer error", err);
    }
    if (closed != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fail("consumer close", rd_kafka_err2str(closed));
    }
    return 0;
}

int main(int argc, char** argv) {
    if (argc == 7 && strcmp(argv[1], "produce") == 0) {
        out = fopen(argv[6], "w");
        return out ? produce(argv[2], argv[3], atol(argv[4]), atol(argv[5])) : 1;
    }
    if (argc == 9 && strcmp(argv[1], "group") == 0) {
        out = fopen(argv[8], "w");
        return out ? group(argv[2], argv[3], argv[4], atoi(argv[5]), atol(argv[6]),
                           atol(argv[7]))
                   : 1;
    }
    if (argc == 9 && strcmp(argv[1], "member") == 0) {
        out = fopen(argv[8], "w");
        return out ? member(argv[2], argv[3], argv[4], argv[5], argv[6], atol(argv[7])) : 1;
    }
    fprintf(stderr, "usage: see the comment at the top of rdkafka_client.c\n");
    return 2;
}
