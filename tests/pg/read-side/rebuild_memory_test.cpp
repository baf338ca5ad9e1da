// rebuild-projection under a memory cap: the read-side binary, run with an address-space limit
// (prlimit --as), rebuilds a store whose views alone take more memory than the limit leaves it:
// the fold holds a page of events and a chunk of views per worker, not every order's view.
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "tests/support/event_loader.hpp"
#include "tests/support/services.hpp"

namespace orders::rebuild_test {
namespace {

using namespace std::chrono_literals;

std::string q1(pqxx::connection& c, const std::string& sql) {
  pqxx::nontransaction n(c);
  return n.exec1(sql)[0].as<std::string>();
}

// The cap: what the binary maps with nothing folded (code, libraries, thread stacks, one malloc
// arena) plus less than the store's views need all at once. Overridable for other platforms:
// REBUILD_MEMORY_CAP_MB.
constexpr long kCapMb = 62;

std::string cap_bytes() {
  const char* v = std::getenv("REBUILD_MEMORY_CAP_MB");
  const long mb = v && *v ? std::atol(v) : kCapMb;
  return std::to_string(mb * 1024 * 1024);
}

// A chunk of finished views copied at about 1 MB (REBUILD_TEST_CHUNK_BYTES: a huge value holds
// every view until the end, as a fold of the whole store in memory would; the test then fails).
std::string chunk_bytes() {
  const char* v = std::getenv("REBUILD_TEST_CHUNK_BYTES");
  return v && *v ? v : "1048576";
}

TEST(RebuildMemory, RebuildsAStoreLargerThanItsMemoryCap) {
#if defined(__SANITIZE_ADDRESS__)
  // ASan's shadow memory reserves terabytes of address space: no address-space cap can apply.
  GTEST_SKIP() << "an address-space cap (prlimit --as) cannot run an ASan binary";
#endif
  const auto url = migrated_database("rebuild_memory");
  pqxx::connection c(url);
  // 500 orders x 400 lines with 120-byte product ids: 200,000 lines, ~37 MB of views held at
  // once by a fold of the whole store in memory. Measured with 300 orders: bounded, the rebuild
  // passes under 55 MB (fails under 40); holding every view it fails under 55 (passes under 70).
  const auto loaded_at = std::chrono::steady_clock::now();
  ASSERT_EQ(load_wide_orders(c, 500, 400, 120), 500 * 401);
  std::cout << "loaded in "
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - loaded_at).count()
            << " s\n";

  testing::Process p(
      "/usr/bin/prlimit",
      {"--as=" + cap_bytes(), "--", testing::read_side_binary(), "rebuild-projection", "--all"},
      {{"DATABASE_URL", url},
       {"LOG_LEVEL", "warn"},
       {"MALLOC_ARENA_MAX", "1"},
       {"REBUILD_FOLD_WORKERS", "1"},
       {"REBUILD_PAGE_EVENTS", "1000"},
       {"REBUILD_CHUNK_BYTES", chunk_bytes()}});
  const auto rc = p.wait(120s);
  ASSERT_EQ(rc.value_or(-1), 0) << p.log();
  EXPECT_NE(p.log().find("rebuild done: 200,500 events, 500 orders"), std::string::npos) << p.log();
  EXPECT_EQ(q1(c, "SELECT count(*) FROM order_items"), "200000");
  EXPECT_EQ(q1(c, "SELECT count(*) FROM customer_order_items"), "200000");
  EXPECT_EQ(q1(c, "SELECT sum(total_cents) FROM orders"),
            std::to_string(500 * (100 * 400 + (2 + 401) * 400 / 2)));
}

}  // namespace
}  // namespace orders::rebuild_test
