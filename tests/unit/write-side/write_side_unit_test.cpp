// Pure pieces of the write-side: JSON string escaping for the batch parameter, UUID v4 format,
// the LRU aggregate cache.
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "write-side/commands/aggregate_cache.hpp"
#include "write-side/crypto/uuid.hpp"
#include "write-side/store/event_store.hpp"

namespace orders::write_side {
namespace {

TEST(AppendJsonString, RoundTripsThroughAJsonParser) {
  for (std::string s :
       {std::string("plain"), std::string("quote\" back\\slash"),
        std::string("ctl\n\r\t\x01\x1f end"), std::string("caf\xc3\xa9"), std::string()}) {
    std::string out;
    append_json_string(out, s);
    auto parsed = nlohmann::json::parse(out, nullptr, false);
    ASSERT_FALSE(parsed.is_discarded()) << out;
    EXPECT_EQ(parsed.get<std::string>(), s);
  }
}

TEST(UuidV4, FormatAndUniqueness) {
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i) {
    const auto id = uuid_v4();
    ASSERT_EQ(id.size(), 36u);
    EXPECT_EQ(id[8], '-');
    EXPECT_EQ(id[13], '-');
    EXPECT_EQ(id[14], '4');
    EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos) << id;
    EXPECT_TRUE(seen.insert(id).second);
  }
}

TEST(UuidV4, ThreadsDrawDistinctIdsAndEveryRandomHexDigitVaries) {
  // Each thread has its own buffer of kernel randomness: no two threads may repeat a sequence.
  std::vector<std::vector<std::string>> per_thread(4);
  {
    std::vector<std::thread> threads;
    for (auto& ids : per_thread)
      threads.emplace_back([&ids] {
        for (int i = 0; i < 2000; ++i) ids.push_back(uuid_v4());
      });
    for (auto& t : threads) t.join();
  }
  std::set<std::string> seen;
  std::vector<std::set<char>> digits(36);
  for (const auto& ids : per_thread)
    for (const auto& id : ids) {
      EXPECT_TRUE(seen.insert(id).second) << id;
      for (std::size_t k = 0; k < id.size(); ++k) digits[k].insert(id[k]);
    }
  for (std::size_t k = 0; k < 36; ++k) {
    if (k == 8 || k == 13 || k == 14 || k == 18 || k == 23) continue;  // dashes, version
    EXPECT_GE(digits[k].size(), k == 19 ? 4u : 16u) << "position " << k;
  }
}

TEST(UuidV7, FormatTimePrefixAndUniqueness) {
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i) {
    const auto id = uuid_v7();
    ASSERT_EQ(id.size(), 36u);
    EXPECT_EQ(id[8], '-');
    EXPECT_EQ(id[14], '7') << id;
    EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos) << id;
    EXPECT_TRUE(seen.insert(id).second);
  }
  // The first 48 bits are the Unix time in ms, so ids of later milliseconds sort after earlier
  // ones.
  const auto a = uuid_v7_at(0x0123456789abULL);
  EXPECT_EQ(a.substr(0, 13), "01234567-89ab");
  EXPECT_LT(uuid_v7_at(1'700'000'000'000ULL), uuid_v7_at(1'700'000'000'001ULL));
}

TEST(AggregateCache, EvictsTheLeastRecentlyUsed) {
  AggregateCache cache(2);
  domain::OrderState s;
  s.version = 1;
  cache.put("a", s);
  cache.put("b", s);
  ASSERT_TRUE(cache.get("a"));  // a is now the most recent
  cache.put("c", s);            // evicts b
  EXPECT_TRUE(cache.get("a"));
  EXPECT_FALSE(cache.get("b"));
  EXPECT_TRUE(cache.get("c"));
  s.version = 7;
  cache.put("a", s);
  EXPECT_EQ(cache.get("a")->state.version, 7);
  EXPECT_FALSE(cache.get("a")->stale);
  cache.mark_stale("a");  // kept, as a base to catch up from
  EXPECT_TRUE(cache.get("a")->stale);
  EXPECT_EQ(cache.get("a")->state.version, 7);
  cache.put("a", s);
  EXPECT_FALSE(cache.get("a")->stale);
  cache.mark_stale("missing");
  EXPECT_FALSE(cache.get("missing"));
  cache.erase("a");
  EXPECT_FALSE(cache.get("a"));
  EXPECT_EQ(cache.size(), 1u);
}

TEST(AggregateCache, CapacityZeroCachesNothing) {
  AggregateCache cache(0);
  cache.put("a", domain::OrderState{});
  EXPECT_FALSE(cache.get("a"));
  EXPECT_EQ(cache.size(), 0u);
}

}  // namespace
}  // namespace orders::write_side
