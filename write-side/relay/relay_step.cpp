// The relay's loop over one leadership term: each iteration is ONE statement, relay_step()
// (sql/functions/relay_step.sql), in autocommit: it numbers committed outbox rows into global_log,
// writes the last_published hint, and returns the next events to publish after what is already in
// flight. It commits before the rows reach us, so nothing is published under a position that could
// be lost. Then the acks of the batches in flight (when all are in), then the new events are sent.
// Idle, it waits for wake() or a NOTIFY outbox, else the fallback poll.
#include <poll.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>

#include "write-side/relay/outbox_relay.hpp"
#include "write-side/relay/relay_session.hpp"

namespace orders::relay {

using std::chrono::milliseconds;

namespace {

double thread_cpu_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

double seconds_since(Clock::time_point a) {
  return std::chrono::duration<double>(Clock::now() - a).count();
}

}  // namespace

void OutboxRelay::lead(Session& s, std::stop_token stop) {
  blocked_logged_ = false;
  double cpu_seen = thread_cpu_seconds();
  while (!stop.stop_requested()) {
    const double cpu = thread_cpu_seconds();
    m_.cpu->inc(std::max(0.0, cpu - cpu_seen));
    cpu_seen = cpu;
    check_lease(*s.lease);
    // The step below sees every commit signalled so far: consume those signals, so that only the
    // ones arriving during the step start another.
    drain_wake_signal();
    const std::uint64_t notes_before = s.listener->count;
    ensure_nats(s);
    const bool may_publish = can_publish(s);
    const std::uint64_t from = may_publish ? s.sent_to() : s.cursor;
    pqxx::result step;
    const std::uint64_t n_seq = sequence_step(s, from, may_publish, step);
    if (stop.stop_requested()) break;
    check_lease(*s.lease);
    // The previous batches' acks are checked now only when all of them are in (they usually
    // arrive while the database works): waiting for a slow ack must not delay the new events.
    // JetStream keeps the order (ExpectLastSeq), and a failure found later means a resync.
    if (!s.in_flight.empty() &&
        (!s.js || s.js->async_pending() == 0 ||
         s.in_flight.size() >= static_cast<std::size_t>(opt_.publish_batch))) {
      settle(s);
    }
    std::uint64_t n_sent = 0;
    // After a failed ack the cursor is behind `from` and a resync comes first: drop the rows.
    if (may_publish && !s.need_resync && s.sent_to() == from) n_sent = send(s, step);
    (n_seq > 0 ? m_.steps_sequenced : step.size() > 1 ? m_.steps_read : m_.steps_empty)->inc();
    if (n_seq >= static_cast<std::uint64_t>(opt_.sequence_batch) ||
        n_sent >= static_cast<std::uint64_t>(opt_.publish_batch)) {
      m_.wake_busy->inc();
      continue;  // more work right away
    }
    if (!s.in_flight.empty()) {
      // Another commit is waiting: sequence it while these acks arrive. Else settle them now.
      if (wake_pending(s)) {
        m_.wake_busy->inc();
        continue;
      }
      settle(s);
    }
    report_backlog(s);
    const milliseconds timeout = idle_timeout(s);
    if (stop.stop_requested()) break;
    check_lease(*s.lease);
    if (s.listener->count != notes_before) {  // a commit arrived while we worked
      m_.wake_notify->inc();
      continue;
    }
    wait_for_wakeup(s, timeout);
  }
  settle(s);  // leaving: check what is still in flight (the next term resyncs anyway)
}

// relay_step: the hint (at most every kMarkEvery), numbering, and (when publishing) the events
// after `from`. Returns the number of rows numbered; `step` gets the result (row 0: counts).
std::uint64_t OutboxRelay::sequence_step(Session& s, std::uint64_t from, bool may_publish,
                                         pqxx::result& step) {
  const auto started = Clock::now();
  const std::uint64_t mark = std::min(s.cursor, s.last_sequenced);
  const bool mark_due = mark > s.marked && started >= s.next_mark;
  pqxx::nontransaction tx(*s.work);
  step = tx.exec_prepared("relay_step", static_cast<std::int64_t>(from),
                          static_cast<std::int64_t>(mark_due ? mark : 0), opt_.sequence_batch,
                          may_publish ? opt_.publish_batch : 0);
  if (mark_due) {
    s.marked = mark;
    s.next_mark = started + kMarkEvery;
  }
  const auto n_seq = step[0][0].as<std::uint64_t>();
  s.last_sequenced = step[0][1].as<std::uint64_t>();
  m_.step_sequence->observe(seconds_since(started));
  sequenced_ += n_seq;
  return n_seq;
}

// The backlog gauge, at most once a second (counting a queue table walks its dead rows).
void OutboxRelay::report_backlog(Session& s) {
  if (Clock::now() < s.next_backlog_check) return;
  pqxx::nontransaction tx(*s.work);
  auto outbox = tx.exec_prepared("relay_outbox_count")[0][0].as<std::uint64_t>();
  m_.backlog->set(
      static_cast<double>(outbox + (s.last_sequenced - std::min(s.cursor, s.last_sequenced))));
  s.next_backlog_check = Clock::now() + std::chrono::seconds(1);
}

// How long an idle relay may wait: the fallback poll, or sooner for a hint not yet written or
// events waiting for NATS to come back. (No committed row is ever left behind by a step.)
milliseconds OutboxRelay::idle_timeout(const Session& s) const {
  milliseconds timeout = opt_.poll_interval;
  if (std::min(s.cursor, s.last_sequenced) > s.marked) {
    auto until =
        std::chrono::duration_cast<milliseconds>(s.next_mark - Clock::now()) + milliseconds(1);
    timeout = std::min(timeout, std::clamp(until, milliseconds(1), kMarkEvery));
  }
  const bool unpublished = s.cursor < s.last_sequenced || s.need_resync;
  if (unpublished && !s.js) {
    auto until = std::chrono::duration_cast<milliseconds>(s.next_nats_attempt - Clock::now());
    timeout = std::min(timeout, std::clamp(until, milliseconds(1), opt_.poll_interval));
  } else if (unpublished && s.js && s.nc->connected()) {
    auto until = std::chrono::duration_cast<milliseconds>(s.next_nats_attempt - Clock::now());
    timeout = std::min(timeout, std::clamp(until, milliseconds(0), opt_.poll_interval));
  }
  return timeout;
}

// Wake-up pending (in-process signal or NOTIFY) without consuming it.
bool OutboxRelay::wake_pending(const Session& s) const {
  pollfd fds[2] = {{s.lease->sock(), POLLIN, 0}, {wake_fd_, POLLIN, 0}};
  return ::poll(fds, 2, 0) > 0;
}

// Waits for wake() / stop(), a NOTIFY on the lease connection, or the time-out; counts which.
void OutboxRelay::wait_for_wakeup(const Session& s, milliseconds timeout) {
  pollfd fds[2] = {{s.lease->sock(), POLLIN, 0}, {wake_fd_, POLLIN, 0}};
  int rc = ::poll(fds, 2, static_cast<int>(timeout.count()));
  if (rc > 0 && (fds[1].revents & POLLIN)) {
    drain_wake_signal();
    m_.wake_signal->inc();
  } else if (rc > 0) {
    m_.wake_notify->inc();
  } else {
    m_.wake_timeout->inc();
  }
}

void OutboxRelay::drain_wake_signal() {
  std::uint64_t v = 0;
  [[maybe_unused]] auto n = ::read(wake_fd_, &v, sizeof v);  // non-blocking; none is fine
}

}  // namespace orders::relay
