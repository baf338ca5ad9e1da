#include "read-side/projector/store_catch_up.hpp"

#include <algorithm>
#include <chrono>
#include <memory>

#include <pqxx/pqxx>

#include "common/concurrency/worker.hpp"
#include "common/log/logger.hpp"
#include "read-side/projector/applier.hpp"
#include "read-side/rebuild/replay.hpp"

namespace orders::read_side {

namespace {

// Global positions per page read from the store (every partition's events: 1/16 are kept).
constexpr int kPage = 5000;
constexpr auto kIdleCheck = std::chrono::seconds(5);

std::unique_ptr<pqxx::connection> replay_connection(const std::string& url) {
  auto conn = std::make_unique<pqxx::connection>(url);
  // As the rebuild's page readers (see rebuild::PagePrefetcher): index nested loops, no hash join
  // scanning all of events per page.
  conn->set_variable("enable_hashjoin", "off");
  conn->set_variable("enable_mergejoin", "off");
  rebuild::prepare_replay_statements(*conn);
  return conn;
}

}  // namespace

std::int64_t partition_checkpoint(const std::string& url, int partition) {
  pqxx::connection conn(url);
  conn.prepare("sc_checkpoint",
               "SELECT coalesce(min(coalesce(c.last_global_position, 0)), 0) FROM projections p "
               "LEFT JOIN projection_checkpoints c ON c.projection = p.name AND c.partition = $1");
  pqxx::read_transaction tx(conn);
  return tx.exec_prepared1("sc_checkpoint", partition)[0].as<std::int64_t>();
}

StoreCatchUp::StoreCatchUp(int partition, std::uint64_t lease, ProjectorContext& ctx,
                           GroupApplier& applier)
    : partition_(partition), lease_(lease), ctx_(ctx), applier_(applier) {}

bool StoreCatchUp::begin(nats::StreamAdmin& admin, std::stop_token stop) {
  const auto info = admin.stream_info(ctx_.stream);
  if (!info) return true;  // no stream yet: the bind fails and is retried
  max_age_ = info->max_age;
  max_bytes_ = info->max_bytes > 0;
  last_ = std::max(last_, partition_checkpoint(ctx_.database_url, partition_));
  const auto first = static_cast<std::int64_t>(info->first_seq);
  if (first <= last_ + 1) return true;
  return replay(last_, first - 1, stop);
}

bool StoreCatchUp::before_batch(nats::StreamAdmin& admin,
                                const std::vector<codec::RecordedEvent>& batch,
                                std::stop_token stop) {
  if (batch.empty() || !may_have_expired()) return true;
  // Positions after the last event that the batch skips are other partitions' events, or ours
  // that expired before the consumer passed them. The stream's first sequence read now tells:
  // expiry drops a prefix and only moves up, so what is still there was there when the consumer
  // passed it. What expired is replayed (with the batch's own events below that point, which
  // the batch then skips as duplicates).
  const auto info = admin.stream_info(ctx_.stream);
  if (!info) throw nats::NatsError("stream " + ctx_.stream + " not found");
  const auto first = static_cast<std::int64_t>(info->first_seq);
  if (first <= last_ + 1) return true;
  return replay(last_, first - 1, stop);
}

bool StoreCatchUp::idle(nats::StreamAdmin& admin, std::stop_token stop) {
  const auto now = std::chrono::steady_clock::now();
  if (now < next_idle_check_ || !may_have_expired()) return true;
  next_idle_check_ = now + kIdleCheck;
  const auto info = admin.stream_info(ctx_.stream);
  if (!info) return true;
  const auto first = static_cast<std::int64_t>(info->first_seq);
  if (first <= last_ + 1) return true;
  return replay(last_, first - 1, stop);
}

bool StoreCatchUp::may_have_expired() const {
  if (max_bytes_) return true;
  if (max_age_.count() <= 0) return false;
  if (last_recorded_us_ <= 0) return true;
  // Everything after the last event was stored after it (its recorded_at is before its
  // publication); half the max age is the margin for the clocks of Postgres and nats-server.
  const auto age_us = codec::unix_now_us() - last_recorded_us_;
  return age_us > std::chrono::duration_cast<std::chrono::microseconds>(max_age_).count() / 2;
}

void StoreCatchUp::note(const codec::RecordedEvent& e) {
  const auto gp = e.global_position.value_or(0);
  if (gp < last_) return;
  last_ = gp;
  if (e.recorded_at_us > 0) last_recorded_us_ = e.recorded_at_us;
}

void StoreCatchUp::applied(const std::vector<codec::RecordedEvent>& batch) {
  for (const auto& e : batch) note(e);
}

// Events of the partition in (after, upto], a page of global positions at a time, each applied as
// one batch (retried after a failure: duplicates are skipped).
bool StoreCatchUp::replay(std::int64_t after, std::int64_t upto, std::stop_token stop) {
  auto conn = replay_connection(ctx_.database_url);
  concurrency::Backoff backoff(std::chrono::milliseconds(100), std::chrono::milliseconds(2000));
  std::int64_t events = 0;
  for (std::int64_t from = after; from < upto;) {
    const auto to = std::min(upto, from + kPage);
    std::vector<codec::RecordedEvent> mine;
    {
      pqxx::read_transaction tx(*conn);
      for (auto& e : rebuild::read_page(tx, from, to, kPage)) {
        if (codec::partition_of(e.stream_id) == partition_) mine.push_back(std::move(e));
      }
    }
    if (!mine.empty()) {
      switch (applier_.apply(partition_, lease_, mine)) {
        case GroupApplier::Outcome::Applied:
          break;
        case GroupApplier::Outcome::Failed:
          if (!concurrency::sleep_for(stop, backoff.next())) return false;
          continue;  // the same page again
        case GroupApplier::Outcome::Lost:
          return false;
      }
      if (events == 0) {
        ctx_.logger.warn("events expired from the stream: replaying them from the event store",
                         {{"partition", partition_}, {"after", after}, {"upto", upto}});
      }
      events += static_cast<std::int64_t>(mine.size());
      for (const auto& e : mine) note(e);
      backoff.reset();
    }
    if (stop.stop_requested()) return false;
    from = to;
  }
  last_ = std::max(last_, upto);  // (the partition had nothing else up to there)
  replayed_ += events;
  if (events > 0) {
    ctx_.logger.info("replayed from the event store",
                     {{"partition", partition_}, {"upto", upto}, {"events", events}});
  }
  return true;
}

}  // namespace orders::read_side
