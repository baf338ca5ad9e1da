#include "write-side/relay/outbox_relay.hpp"

#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <stdexcept>
#include <utility>

#include "common/codec/bus_envelope.hpp"
#include "write-side/relay/relay_session.hpp"

namespace orders::relay {

using std::chrono::milliseconds;

OutboxRelay::OutboxRelay(RelayOptions options, log::Logger& logger, metrics::Registry& registry)
    : opt_(std::move(options)), log_(logger), m_(registry) {
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) throw std::runtime_error("eventfd failed");
  for (int p = 0; p < codec::kPartitions; ++p) {
    subjects_.push_back(codec::partition_subject(opt_.stream, p));
  }
}

OutboxRelay::~OutboxRelay() {
  stop();
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void OutboxRelay::start() {
  worker_.start([this](std::stop_token stop) {
    ::pthread_setname_np(::pthread_self(), "outbox-relay");  // for top -H / perf
    run(stop);
  });
}

void OutboxRelay::stop() {
  worker_.request_stop();
  wake();  // out of the poll for notifications
  worker_.stop();
}

void OutboxRelay::wake() {
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
}

RelayStats OutboxRelay::stats() const {
  return RelayStats{published_.load(), sequenced_.load(), publish_errors_.load(),
                    resyncs_.load(),   terms_.load(),     mismatches_.load()};
}

// Leadership terms until stopped: a candidate waits for the lock, a leader leads until it loses
// the lease (or a database error), then starts over after a back-off.
void OutboxRelay::run(std::stop_token stop) {
  concurrency::Backoff backoff(opt_.backoff_min, opt_.backoff_max);
  while (!stop.stop_requested()) {
    milliseconds delay{0};
    {
      Session s(opt_.backoff_min, opt_.backoff_max);
      try {
        if (acquire_leadership(s, stop)) {
          lead(s, stop);
          backoff.reset();
        }
      } catch (const std::exception& e) {
        delay = backoff.next();
        log_.warn(leader_ ? "relay: leadership lost" : "relay: cannot become leader",
                  {{"error", e.what()}, {"retry_ms", delay.count()}});
      }
      end_term(leader_);
    }  // connections closed here: the advisory lock is released
    if (delay.count() > 0) concurrency::sleep_for(stop, delay);
  }
}

void OutboxRelay::end_term(bool was_leader) {
  if (was_leader) log_.info("relay: leadership ended");
  leader_ = false;
  m_.leader->set(0);
  set_nats_connected(false);
}

// Takes the advisory lock (retrying every leader_retry while another replica holds it), LISTENs
// on outbox and prepares the work connection. False when stopped while waiting.
bool OutboxRelay::acquire_leadership(Session& s, std::stop_token stop) {
  s.lease = connect_pg(opt_.database_url);
  prepare_lease(*s.lease);
  bool logged = false;
  while (!stop.stop_requested() && !try_lock(*s.lease, kRelayLockKey)) {
    if (!logged) {
      log_.info("relay: another replica is the leader; standing by");
      logged = true;
    }
    concurrency::sleep_for(stop, opt_.leader_retry);
  }
  if (stop.stop_requested()) return false;
  s.listener = std::make_unique<OutboxListener>(*s.lease);  // LISTEN outbox
  s.work = connect_pg(opt_.database_url);
  const RelayState state = prepare_work(*s.work, opt_.statement_timeout);
  s.last_sequenced = state.last_sequenced;
  s.marked = state.last_published;
  leader_ = true;
  m_.leader->set(1);
  ++terms_;
  log_.info("relay: became leader",
            {{"stream", opt_.stream}, {"last_sequenced", s.last_sequenced}});
  return true;
}

void OutboxRelay::set_nats_connected(bool up) {
  nats_connected_ = up;
  m_.nats->set(up ? 1 : 0);
}

}  // namespace orders::relay
