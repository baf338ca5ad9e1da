// A process that only runs an OutboxRelay (for kill -9 tests): relay_runner DATABASE_URL NATS_URL.
// Runs until SIGTERM/SIGINT (graceful stop) or SIGKILL.
#include <csignal>
#include <cstdio>

#include "common/log/logger.hpp"
#include "common/metrics/metrics.hpp"
#include "write-side/relay/outbox_relay.hpp"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: relay_runner DATABASE_URL NATS_URL\n");
    return 2;
  }
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // before any thread starts
  orders::log::Logger logger("relay-runner", orders::log::Level::Info);
  orders::metrics::Registry registry;
  orders::relay::RelayOptions o;
  o.database_url = argv[1];
  o.nats_url = argv[2];
  o.publish_batch = 500;
  orders::relay::OutboxRelay relay(o, logger, registry);
  relay.start();
  int sig = 0;
  sigwait(&set, &sig);
  relay.stop();
  return 0;
}
