// librunnel's client against a broker played by the test: every datagram the client sends is
// decoded here, and the test decides what comes back (answers, losses, errors, pushes).
#include "dataplane/client/client.h"
#include "storage/record_batch.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <deque>
#include <thread>

namespace runnel::client {
namespace {

namespace fp = dataplane::fast_path;

struct scripted final : transport {
    std::deque<std::vector<std::byte>>* sent;
    std::deque<std::vector<std::byte>>* inbox;
    bool accept = true;
    scripted(std::deque<std::vector<std::byte>>* s, std::deque<std::vector<std::byte>>* i)
        : sent(s), inbox(i) {}
    bool send(std::span<const std::byte> d) override {
        sent->emplace_back(d.begin(), d.end());
        return accept;
    }
    uint32_t receive(sink on, void* ctx) override {
        uint32_t n = 0;
        while (!inbox->empty()) {
            auto d = std::move(inbox->front());
            inbox->pop_front();
            on(ctx, d);
            ++n;
        }
        return n;
    }
    size_t datagram_max() const override { return 1472; }
};

struct librunnel : ::testing::Test {
    std::deque<std::vector<std::byte>> sent;
    std::deque<std::vector<std::byte>> inbox;
    std::unique_ptr<client> c;
    topic orders{.handle = 3, .partition_count = 2};
    std::vector<delivery> deliveries;
    std::vector<int> order; // which produce each delivery belongs to

    void TearDown() override { c.reset(); } // its completions write to the members below

    void make(client_options o = {.retransmit_us = 1'000'000, .timeout_ms = 60'000}) {
        c = std::make_unique<client>(std::make_unique<scripted>(&sent, &inbox), o);
    }
    void answer(uint64_t request_id, const fp::message& m) {
        std::vector<std::byte> b(2048);
        b.resize(fp::encode(b, {.request_id = request_id, .body = m}));
        inbox.push_back(b);
    }
    fp::frame take() {
        EXPECT_FALSE(sent.empty());
        keep = sent.front();
        sent.pop_front();
        auto f = fp::decode(keep);
        EXPECT_TRUE(f.ok());
        return f.value();
    }
    // Produces value `i` to partition 0; the first produce of a partition asks for a producer
    // id, answered here (id 500 + the number asked so far).
    status produce(int i) {
        char v[16];
        const int n = std::snprintf(v, sizeof v, "v%d", i);
        const record r{.value = std::string_view(v, size_t(n))};
        if (ids_given == 0 || need_id) {
            // produce() waits for the id: answer it before the call polls.
            answer(next_control++, fp::init_producer_answer{fp::error_code::none, 0,
                                                           500 + ids_given++});
            need_id = false;
        }
        return c->produce(orders, 0, std::span(&r, 1), [this, i](const delivery& d) {
            deliveries.push_back(d);
            order.push_back(i);
        });
    }
    std::vector<std::byte> keep;
    uint64_t next_control = 1;
    int64_t ids_given = 0;
    bool need_id = false;
};

// What a produce frame carries: request id, producer id, sequence, value.
struct sent_batch {
    uint64_t request_id;
    int64_t producer_id;
    int32_t sequence;
};
sent_batch read_produce(const fp::frame& f) {
    const auto& p = std::get<fp::produce>(f.body);
    const auto h = storage::batch::read_header(p.batch);
    EXPECT_TRUE(storage::batch::validate(p.batch).ok());
    return {f.request_id, h.producer_id(), h.base_sequence};
}

TEST_F(librunnel, produce_gets_an_id_then_numbers_its_batches_within_the_window) {
    make();
    ASSERT_EQ(produce(0), status::ok);
    EXPECT_TRUE(std::holds_alternative<fp::init_producer>(take().body));
    std::vector<sent_batch> batches{read_produce(take())};
    for (int i = 1; i < 5; ++i) {
        ASSERT_EQ(produce(i), status::ok);
        batches.push_back(read_produce(take()));
    }
    EXPECT_EQ(produce(5), status::would_block) << "five unacknowledged at most";
    for (int i = 0; i < 5; ++i) {
        EXPECT_EQ(batches[size_t(i)].producer_id, 500);
        EXPECT_EQ(batches[size_t(i)].sequence, i);
    }
    // Acks out of order (one lost, then answered on the retransmit): each fires once.
    answer(batches[1].request_id, fp::ack{fp::error_code::none, 11, 11});
    answer(batches[0].request_id, fp::ack{fp::error_code::none, 10, 10});
    answer(batches[0].request_id, fp::ack{fp::error_code::none, 10, 10}); // a duplicate
    c->poll();
    ASSERT_EQ(deliveries.size(), 2u);
    EXPECT_EQ(order, (std::vector<int>{1, 0}));
    EXPECT_EQ(deliveries[1].base_offset, 10);
    EXPECT_EQ(c->stats().stale_answers, 1u);
    EXPECT_EQ(c->in_flight(), 3u);
    ASSERT_EQ(produce(5), status::ok) << "room again";
    EXPECT_EQ(read_produce(take()).sequence, 5);
}

TEST_F(librunnel, sequences_count_records_so_batches_of_several_records_follow_on) {
    make();
    const record three[] = {{.value = "a"}, {.value = "b"}, {.value = "c"}};
    const record two[] = {{.value = "d"}, {.value = "e"}};
    auto send = [&](std::span<const record> r) {
        return c->produce(orders, 0, r, [this](const delivery& d) { deliveries.push_back(d); });
    };
    answer(next_control++, fp::init_producer_answer{fp::error_code::none, 0, 500});
    ASSERT_EQ(send(three), status::ok);
    take(); // init_producer
    const auto a = read_produce(take());
    ASSERT_EQ(send(two), status::ok);
    const auto b = read_produce(take());
    ASSERT_EQ(send(std::span(three, 1)), status::ok);
    const auto d = read_produce(take());
    EXPECT_EQ(a.sequence, 0);
    EXPECT_EQ(b.sequence, 3) << "after the first batch's three records";
    EXPECT_EQ(d.sequence, 5);
    EXPECT_NE(a.request_id, b.request_id);
    // The second fails for good: the third with it, and the next batch starts at sequence 3.
    answer(a.request_id, fp::ack{fp::error_code::none, 0, 2});
    answer(b.request_id, fp::ack{fp::error_code::invalid_batch, -1, -1});
    c->poll();
    ASSERT_EQ(deliveries.size(), 3u);
    EXPECT_EQ(deliveries[0].last_offset, 2);
    EXPECT_EQ(deliveries[1].error, from_wire(fp::error_code::invalid_batch));
    EXPECT_EQ(deliveries[2].error, from_wire(fp::error_code::invalid_batch));
    ASSERT_EQ(send(two), status::ok);
    EXPECT_EQ(read_produce(take()).sequence, 3);
}

TEST_F(librunnel, with_a_queue_a_full_window_coalesces_produces_into_the_next_batch) {
    make({.retransmit_us = 1'000'000, .timeout_ms = 60'000, .window = 2, .queue_bytes = 1000});
    ASSERT_EQ(produce(0), status::ok);
    take(); // init_producer
    const auto a = read_produce(take());
    ASSERT_EQ(produce(1), status::ok);
    const auto b = read_produce(take());
    // The window is full: these wait, copied (the caller's buffers are gone after the call).
    ASSERT_EQ(produce(2), status::ok);
    ASSERT_EQ(produce(3), status::ok);
    ASSERT_EQ(produce(4), status::ok);
    EXPECT_TRUE(sent.empty()) << "nothing goes out while the window is full";
    EXPECT_EQ(c->in_flight(), 5u);
    // An ack frees a slot: the three queued produces leave as one batch of three records.
    answer(a.request_id, fp::ack{fp::error_code::none, 10, 10});
    c->poll();
    ASSERT_EQ(sent.size(), 1u);
    const auto f = take();
    const auto q = read_produce(f);
    EXPECT_EQ(q.sequence, 2) << "after records 0 and 1";
    std::vector<std::string> values;
    ASSERT_TRUE(storage::batch::for_each_record(std::get<fp::produce>(f.body).batch,
                                                [&](const auto&, const auto& v) {
                                                    values.emplace_back(
                                                      reinterpret_cast<const char*>(v->data()),
                                                      v->size());
                                                }));
    EXPECT_EQ(values, (std::vector<std::string>{"v2", "v3", "v4"}));
    // Each produce gets its own offsets from the batch's.
    answer(q.request_id, fp::ack{fp::error_code::none, 12, 14});
    answer(b.request_id, fp::ack{fp::error_code::none, 11, 11});
    c->poll();
    ASSERT_EQ(deliveries.size(), 5u);
    EXPECT_EQ(order, (std::vector<int>{0, 2, 3, 4, 1}));
    EXPECT_EQ(deliveries[1].base_offset, 12);
    EXPECT_EQ(deliveries[2].base_offset, 13);
    EXPECT_EQ(deliveries[3].last_offset, 14);
    EXPECT_EQ(c->in_flight(), 0u);
}

TEST_F(librunnel, queued_produces_fail_with_the_batch_before_them_and_the_queue_is_bounded) {
    make({.retransmit_us = 1'000'000, .timeout_ms = 60'000, .window = 1, .queue_bytes = 100});
    ASSERT_EQ(produce(0), status::ok);
    take(); // init_producer
    const auto a = read_produce(take());
    ASSERT_EQ(produce(1), status::ok); // queued (2 bytes + overhead)
    ASSERT_EQ(produce(2), status::ok);
    for (int i = 3; i < 10 && produce(i) == status::ok; ++i) {
    }
    EXPECT_EQ(produce(99), status::would_block) << "past queue_bytes";
    answer(a.request_id, fp::ack{fp::error_code::invalid_batch, -1, -1});
    c->poll();
    ASSERT_GE(deliveries.size(), 3u);
    for (const auto& d : deliveries) {
        EXPECT_EQ(d.error, from_wire(fp::error_code::invalid_batch));
    }
    EXPECT_EQ(c->in_flight(), 0u);
    EXPECT_TRUE(sent.empty()) << "nothing queued was sent after the failure";
}

TEST_F(librunnel, unanswered_batches_are_resent_unchanged_and_time_out_under_a_new_id) {
    make({.retransmit_us = 1000, .timeout_ms = 50});
    ASSERT_EQ(produce(0), status::ok);
    take(); // init_producer
    const auto first = take();
    const auto bytes = keep;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    c->poll();
    ASSERT_FALSE(sent.empty());
    take();
    EXPECT_EQ(keep, bytes) << "a retransmit is the same datagram";
    EXPECT_GE(c->stats().retransmits, 1u);
    // Broker says "an earlier batch is missing" or "overloaded": still just resent later.
    answer(first.request_id, fp::ack{fp::error_code::overloaded});
    c->poll();
    EXPECT_TRUE(deliveries.empty());
    std::this_thread::sleep_for(std::chrono::milliseconds(60));
    c->poll();
    ASSERT_EQ(deliveries.size(), 1u);
    EXPECT_EQ(deliveries[0].error, status::timed_out);
    EXPECT_EQ(c->in_flight(), 0u);
    sent.clear();
    need_id = true;
    ASSERT_EQ(produce(1), status::ok);
    EXPECT_TRUE(std::holds_alternative<fp::init_producer>(take().body)) << "a new producer id";
    const auto again = read_produce(take());
    EXPECT_EQ(again.producer_id, 501);
    EXPECT_EQ(again.sequence, 0);
}

TEST_F(librunnel, the_resend_timer_follows_the_ack_time_and_doubles_on_each_resend) {
    // The waits are bounds, not times: sleeps only overshoot, so the client's ack sample is at
    // least 20 ms and at most what the test measured; its resend wait is 3x the sample.
    using clock = std::chrono::steady_clock;
    auto sleep_until = [](clock::time_point t) { std::this_thread::sleep_until(t); };
    // retransmit_us 4 ms: the wait lies between 4 ms and 50x that, 200 ms.
    make({.retransmit_us = 4000, .timeout_ms = 60'000});
    const auto sent_a = clock::now();
    ASSERT_EQ(produce(0), status::ok);
    take(); // init_producer
    const auto a = read_produce(take());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    answer(a.request_id, fp::ack{fp::error_code::none, 0, 0});
    c->poll();
    const auto sample_max = clock::now() - sent_a;
    ASSERT_EQ(deliveries.size(), 1u);
    const auto sent_b = clock::now();
    ASSERT_EQ(produce(1), status::ok);
    read_produce(take());
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    c->poll();
    EXPECT_TRUE(sent.empty()) << "resent before the acks' usual time (at least 60 ms)";
    EXPECT_EQ(c->stats().retransmits, 0u);
    sleep_until(sent_b + 4 * sample_max);
    c->poll();
    EXPECT_EQ(c->stats().retransmits, 1u) << "resent once past 3x the ack time";
    const auto resent = clock::now();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    c->poll();
    EXPECT_EQ(c->stats().retransmits, 1u) << "the next wait is twice the first (120 ms at least)";
    sleep_until(resent + 8 * sample_max);
    c->poll();
    EXPECT_EQ(c->stats().retransmits, 2u);
}

TEST_F(librunnel, a_batch_that_fails_for_good_fails_the_later_ones_and_its_sequence_is_reused) {
    make();
    std::vector<sent_batch> b;
    for (int i = 0; i < 3; ++i) {
        ASSERT_EQ(produce(i), status::ok);
        if (i == 0) {
            take();
        }
        b.push_back(read_produce(take()));
    }
    answer(b[0].request_id, fp::ack{fp::error_code::none, 0, 0});
    answer(b[1].request_id, fp::ack{fp::error_code::storage_error});
    c->poll();
    ASSERT_EQ(deliveries.size(), 3u);
    EXPECT_EQ(deliveries[0].error, status::ok);
    EXPECT_EQ(deliveries[1].error, status(uint16_t(fp::error_code::storage_error)));
    EXPECT_EQ(deliveries[2].error, status(uint16_t(fp::error_code::storage_error)))
      << "batch 2 cannot be appended without batch 1";
    ASSERT_EQ(produce(3), status::ok);
    const auto next = read_produce(take());
    EXPECT_EQ(next.sequence, 1) << "the failed sequence is used again";
    EXPECT_EQ(next.producer_id, 500);
}

TEST_F(librunnel, a_fenced_producer_fails_everything_in_flight) {
    make();
    ASSERT_EQ(produce(0), status::ok);
    take();
    const auto b0 = read_produce(take());
    ASSERT_EQ(produce(1), status::ok);
    take();
    answer(b0.request_id, fp::ack{fp::error_code::invalid_producer_epoch});
    c->poll();
    ASSERT_EQ(deliveries.size(), 2u);
    EXPECT_EQ(deliveries[1].error, status(uint16_t(fp::error_code::invalid_producer_epoch)));
}

TEST_F(librunnel, bad_arguments_and_oversized_batches_are_refused_at_once) {
    make();
    const record r{.value = "x"};
    EXPECT_EQ(c->produce(orders, 2, std::span(&r, 1), nullptr), status::bad_argument);
    EXPECT_EQ(c->produce(orders, 0, {}, nullptr), status::bad_argument);
    answer(next_control++, fp::init_producer_answer{fp::error_code::none, 0, 1});
    const std::string big(2000, 'b');
    const record huge{.value = big};
    EXPECT_EQ(c->produce(orders, 0, std::span(&huge, 1), nullptr), status::too_large);
    EXPECT_EQ(c->in_flight(), 0u);
}

TEST_F(librunnel, resolve_is_retransmitted_until_answered_and_errors_come_through) {
    make({.retransmit_us = 100, .timeout_ms = 30});
    auto r = c->resolve("orders");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error(), status::timed_out);
    EXPECT_GT(sent.size(), 3u) << "sent again while unanswered";
    sent.clear();
    answer(2, fp::resolve_answer{fp::error_code::unknown_topic});
    r = c->resolve("nosuch");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error(), status(uint16_t(fp::error_code::unknown_topic)));
    answer(3, fp::resolve_answer{fp::error_code::none, 9, 4});
    r = c->resolve("orders");
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->handle, 9u);
    EXPECT_EQ(r->partition_count, 4u);
}

std::vector<std::byte> stored_batch(int64_t base, std::initializer_list<std::string_view> values) {
    std::vector<storage::record_spec> specs;
    for (auto v : values) {
        specs.push_back({.value = v});
    }
    auto b = storage::build_batch(specs);
    storage::batch::set_base_offset(b, model::offset(base));
    return b;
}

TEST_F(librunnel, a_subscription_delivers_in_order_asks_for_gaps_and_skips_what_it_has) {
    make({.retransmit_us = 1, .timeout_ms = 1000});
    answer(1, fp::subscribe_answer{fp::error_code::none, 77, 10});
    std::vector<std::pair<int64_t, std::string>> got;
    auto sub = c->subscribe(orders, 1, {.start_offset = -2}, [&](const record_view& r) {
        got.emplace_back(r.offset, std::string(reinterpret_cast<const char*>(r.value->data()),
                                               r.value->size()));
    });
    ASSERT_TRUE(sub.ok());
    EXPECT_EQ(sub.value(), 77u);
    const auto s = std::get<fp::subscribe>(take().body);
    EXPECT_EQ(s.partition, 1u);
    EXPECT_EQ(s.start_offset, -2);
    sent.clear();
    const auto b10 = stored_batch(10, {"a", "b"});
    const auto b12 = stored_batch(12, {"c"});
    const auto b13 = stored_batch(13, {"d", "e"});
    answer(0, fp::push{77, b10});
    answer(0, fp::push{77, b13}); // 12 is missing
    c->poll();
    ASSERT_EQ(got.size(), 2u);
    bool asked = false;
    bool credited = false;
    while (!sent.empty()) {
        const auto f = take();
        if (const auto* r = std::get_if<fp::range>(&f.body)) {
            EXPECT_EQ(r->from_offset, 12);
            EXPECT_EQ(r->to_offset, 13);
            asked = true;
        }
        if (const auto* cr = std::get_if<fp::credit>(&f.body)) {
            EXPECT_EQ(cr->next_offset, 12);
            credited = true;
        }
    }
    EXPECT_TRUE(asked);
    EXPECT_TRUE(credited);
    answer(0, fp::push{77, b12});
    answer(0, fp::push{77, b10}); // again: already had
    answer(0, fp::push{77, b13});
    c->poll();
    ASSERT_EQ(got.size(), 5u);
    for (size_t i = 0; i < got.size(); ++i) {
        EXPECT_EQ(got[i].first, int64_t(10 + i));
    }
    EXPECT_EQ(got[4].second, "e");
    EXPECT_EQ(c->next_offset(77), 15);
    c->unsubscribe(77);
    EXPECT_EQ(c->next_offset(77), -1);
}

} // namespace
} // namespace runnel::client
