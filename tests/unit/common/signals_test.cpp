#include <signal.h>
#include <unistd.h>

#include <future>

#include <gtest/gtest.h>

#include "common/http/server.hpp"

namespace orders::http {
namespace {

// main() blocks SIGTERM/SIGINT first; a SIGTERM sent to the process then stays pending until
// wait_for_termination_signal() takes it, instead of killing the process.
TEST(TerminationSignal, BlockedSigtermIsDeliveredToTheWaiter) {
  block_termination_signals();
  auto waiter = std::async(std::launch::async, [] { wait_for_termination_signal(); });
  EXPECT_EQ(waiter.wait_for(std::chrono::milliseconds(50)), std::future_status::timeout);
  ASSERT_EQ(::kill(::getpid(), SIGTERM), 0);
  EXPECT_EQ(waiter.wait_for(std::chrono::seconds(5)), std::future_status::ready);
}

}  // namespace
}  // namespace orders::http
