// runnel.h over runnel::client::client.
#include "dataplane/client/runnel.h"
#include "dataplane/client/client.h"

#include <sstream>

struct runnel_client {
    std::unique_ptr<runnel::client::client> c;
    std::vector<runnel::client::topic> topics; // by handle, for produce and subscribe
};

namespace {

thread_local std::string last_error;
thread_local std::string status_text;

runnel_client* wrap(runnel::result<std::unique_ptr<runnel::client::transport>, std::string> t) {
    if (!t) {
        last_error = t.error();
        return nullptr;
    }
    auto* c = new runnel_client();
    c->c = std::make_unique<runnel::client::client>(std::move(t.value()));
    return c;
}

const runnel::client::topic* find_topic(const runnel_client* c, uint32_t handle) {
    for (const auto& t : c->topics) {
        if (t.handle == handle) {
            return &t;
        }
    }
    return nullptr;
}

std::optional<std::string_view> view(const void* p, size_t n) {
    if (p == nullptr) {
        return std::nullopt;
    }
    return std::string_view(static_cast<const char*>(p), n);
}

} // namespace

extern "C" {

const char* runnel_strerror(int status) {
    status_text = std::string(runnel::client::to_string(runnel::client::status(uint16_t(status))));
    return status_text.c_str();
}

const char* runnel_last_error(void) { return last_error.c_str(); }

runnel_client* runnel_open_udp(const char* broker_address, uint16_t broker_port) {
    return wrap(runnel::client::open_udp(
      {.broker_address = broker_address, .broker_port = broker_port}));
}

runnel_client* runnel_open_dpdk(const char* eal_args, const char* self_address,
                                const char* broker_address, uint16_t broker_port) {
    std::vector<std::string> args;
    std::istringstream in(eal_args);
    for (std::string a; in >> a;) {
        args.push_back(a);
    }
    return wrap(runnel::client::open_dpdk({.eal_args = args,
                                           .self_address = self_address,
                                           .broker_address = broker_address,
                                           .broker_port = broker_port}));
}

void runnel_close(runnel_client* c) { delete c; }

int runnel_resolve(runnel_client* c, const char* topic, uint32_t* handle,
                   uint32_t* partition_count) {
    auto t = c->c->resolve(topic);
    if (!t) {
        return int(t.error());
    }
    if (find_topic(c, t->handle) == nullptr) {
        c->topics.push_back(t.value());
    }
    *handle = t->handle;
    *partition_count = t->partition_count;
    return RUNNEL_OK;
}

int runnel_produce(runnel_client* c, uint32_t handle, uint32_t partition, const void* key,
                   size_t key_length, const void* value, size_t value_length,
                   runnel_delivery_cb done, void* ctx) {
    const auto* t = find_topic(c, handle);
    if (t == nullptr) {
        return RUNNEL_BAD_ARGUMENT; // resolve it first
    }
    const runnel::client::record r{.key = view(key, key_length),
                                   .value = view(value, value_length)};
    return int(c->c->produce(*t, partition, std::span(&r, 1),
                             [done, ctx](const runnel::client::delivery& d) {
                                 if (done != nullptr) {
                                     done(ctx, int(d.error), d.base_offset, d.last_offset);
                                 }
                             }));
}

int runnel_subscribe(runnel_client* c, uint32_t handle, uint32_t partition, int64_t start_offset,
                     int visibility, runnel_record_cb on_record, void* ctx,
                     uint32_t* subscription) {
    const auto* t = find_topic(c, handle);
    if (t == nullptr || on_record == nullptr || visibility < 0 || visibility > 2) {
        return RUNNEL_BAD_ARGUMENT;
    }
    auto s = c->c->subscribe(
      *t, partition, {.start_offset = start_offset, .visibility = uint8_t(visibility)},
      [on_record, ctx](const runnel::client::record_view& r) {
          on_record(ctx, r.offset, r.key ? r.key->data() : nullptr, r.key ? r.key->size() : 0,
                    r.value ? r.value->data() : nullptr, r.value ? r.value->size() : 0);
      });
    if (!s) {
        return int(s.error());
    }
    *subscription = s.value();
    return RUNNEL_OK;
}

void runnel_unsubscribe(runnel_client* c, uint32_t subscription) {
    c->c->unsubscribe(subscription);
}

int runnel_poll(runnel_client* c) { return int(c->c->poll()); }

int runnel_flush(runnel_client* c, uint32_t timeout_ms) {
    return c->c->flush(timeout_ms) ? RUNNEL_OK : RUNNEL_TIMED_OUT;
}

} // extern "C"
