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

// The lowest checkpoint of the live projections for the partition (0: one has applied nothing).
std::int64_t partition_checkpoint(const std::string& url, int partition) {
  pqxx::connection conn(url);
  conn.prepare("sc_checkpoint",
               "SELECT coalesce(min(coalesce(c.last_global_position, 0)), 0) FROM projections p "
               "LEFT JOIN projection_checkpoints c ON c.projection = p.name AND c.partition = $1");
  pqxx::read_transaction tx(conn);
  return tx.exec_prepared1("sc_checkpoint", partition)[0].as<std::int64_t>();
}

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

StoreCatchUp::StoreCatchUp(int partition, std::uint64_t lease, ProjectorContext& ctx,
                           GroupApplier& applier)
    : partition_(partition), lease_(lease), ctx_(ctx), applier_(applier) {}

bool StoreCatchUp::begin(nats::StreamAdmin& admin, std::stop_token stop) {
  const auto info = admin.stream_info(ctx_.stream);
  if (!info) return true;  // no stream yet: the bind fails and is retried
  limited_ = info->max_age.count() > 0 || info->max_bytes > 0;
  last_ = std::max(last_, partition_checkpoint(ctx_.database_url, partition_));
  const auto first = static_cast<std::int64_t>(info->first_seq);
  if (first <= last_ + 1) return true;
  return replay(last_, first - 1, stop);
}

bool StoreCatchUp::before_batch(nats::StreamAdmin& admin,
                                const std::vector<codec::RecordedEvent>& batch,
                                std::stop_token stop) {
  if (!limited_ || batch.empty()) return true;
  const auto head = batch.front().global_position.value_or(0);
  if (head <= last_ + 1) return true;
  // Positions in (last_, head) are other partitions' events, or ours that expired before the
  // consumer passed them: the stream's first sequence read now tells (it only moves up, so what
  // is still there was there when the consumer passed it).
  const auto info = admin.stream_info(ctx_.stream);
  if (!info) throw nats::NatsError("stream " + ctx_.stream + " not found");
  const auto first = static_cast<std::int64_t>(info->first_seq);
  if (first <= last_ + 1) return true;
  return replay(last_, std::min(head, first) - 1, stop);
}

void StoreCatchUp::applied(const std::vector<codec::RecordedEvent>& batch) {
  for (const auto& e : batch) last_ = std::max(last_, e.global_position.value_or(0));
}

// Events of the partition in (after, upto], a page of global positions at a time, each applied as
// one batch (retried after a failure: duplicates are skipped).
bool StoreCatchUp::replay(std::int64_t after, std::int64_t upto, std::stop_token stop) {
  ctx_.logger.warn("events expired from the stream: replaying them from the event store",
                   {{"partition", partition_}, {"after", after}, {"upto", upto}});
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
      events += static_cast<std::int64_t>(mine.size());
      backoff.reset();
    }
    if (stop.stop_requested()) return false;
    from = to;
  }
  last_ = std::max(last_, upto);
  replayed_ += events;
  ctx_.logger.info("replayed from the event store",
                   {{"partition", partition_}, {"upto", upto}, {"events", events}});
  return true;
}

}  // namespace orders::read_side
