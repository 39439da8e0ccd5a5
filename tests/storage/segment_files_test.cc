#include "storage/detail/segment_files.h"

#include <gtest/gtest.h>

using namespace runnel;
using namespace runnel::storage::detail;

TEST(segment_files, names_round_trip) {
    EXPECT_EQ(segment_name(model::offset(42)), "00000000000000000042");
    EXPECT_EQ(parse_segment_name("00000000000000000042.log"), model::offset(42));
    EXPECT_FALSE(parse_segment_name("00000000000000000042.index"));
    EXPECT_FALSE(parse_segment_name("0000000000000000004x.log"));
    EXPECT_FALSE(parse_segment_name("42.log"));
}

TEST(segment_files, indexes_round_trip_and_detect_corruption) {
    segment_summary s{12345, model::offset(900), model::timestamp_ms(77), model::offset(850)};
    std::vector<index_entry> entries{{0, 0}, {10, 4100}, {25, 8300}};
    auto file = encode_offset_index(s, entries);
    auto decoded = decode_offset_index(file);
    ASSERT_TRUE(decoded);
    EXPECT_EQ(decoded->first.size_bytes, 12345u);
    EXPECT_EQ(decoded->first.next_offset, model::offset(900));
    ASSERT_EQ(decoded->second.size(), 3u);
    EXPECT_EQ(decoded->second[2].position, 8300u);
    for (size_t i = 0; i < file.size(); ++i) {
        auto bad = file;
        bad[i] ^= std::byte(0x40);
        EXPECT_FALSE(decode_offset_index(bad)) << "flipped byte " << i;
    }
    file.pop_back();
    EXPECT_FALSE(decode_offset_index(file));

    std::vector<time_entry> times{{model::timestamp_ms(5), 0}, {model::timestamp_ms(9), 7}};
    auto tfile = encode_time_index(s, times);
    auto tdecoded = decode_time_index(tfile);
    ASSERT_TRUE(tdecoded);
    EXPECT_EQ(tdecoded->second[1].timestamp, model::timestamp_ms(9));
    EXPECT_FALSE(decode_offset_index(tfile)); // wrong kind
}

TEST(segment_files, checkpoints_round_trip_and_reject_torn_files) {
    epoch_map m{{model::epoch(0), model::offset(0)}, {model::epoch(3), model::offset(100)}};
    auto f = encode_epochs(m);
    EXPECT_EQ(decode_epochs(f), m);
    f.pop_back(); // torn: last line without newline
    EXPECT_FALSE(decode_epochs(f));
    epoch_map bad{{model::epoch(3), model::offset(0)}, {model::epoch(1), model::offset(5)}};
    EXPECT_FALSE(decode_epochs(encode_epochs(bad)));

    auto s = encode_log_start(model::offset(31337));
    EXPECT_EQ(decode_log_start(s), model::offset(31337));
    s.resize(s.size() - 2);
    EXPECT_FALSE(decode_log_start(s));
}
