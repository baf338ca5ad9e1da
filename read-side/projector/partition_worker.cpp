#include "read-side/projector/partition_worker.hpp"

#include <chrono>

#include "common/codec/recorded_event.hpp"
#include "common/log/logger.hpp"
#include "read-side/bus/jetstream.hpp"
#include "read-side/projector/applier.hpp"

namespace orders::read_side {

PartitionWorker::PartitionWorker(int partition, std::uint64_t lease, ProjectorContext& ctx,
                                 GroupApplier& applier)
    : partition_(partition), lease_(lease), ctx_(ctx), applier_(applier) {
  thread_ = std::thread([this] { run(); });
}

PartitionWorker::~PartitionWorker() {
  request_stop();
  if (thread_.joinable()) thread_.join();
}

void PartitionWorker::request_stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
}

void PartitionWorker::pause(std::chrono::milliseconds d) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, d, [&] { return stop_.load(); });
}

void PartitionWorker::run() {
  const nlohmann::json fields = {{"partition", partition_}};
  ctx_.logger.info("partition acquired", fields);
  try {
    if (consume()) {
      state_ = State::Stopped;
      ctx_.logger.info("partition released", fields);
    } else {
      state_ = State::Lost;
      ctx_.logger.warn("partition lost", fields);
    }
  } catch (const std::exception& e) {
    state_ = State::Lost;
    ctx_.logger.warn("partition lost", {{"partition", partition_}, {"error", e.what()}});
  }
}

bool PartitionWorker::consume() {
  const std::string prefix = ctx_.bus.subject_prefix();
  bus::ConsumerOptions options;
  options.durable = "read_side_p" + std::to_string(partition_);
  options.filter_subject = prefix + ".events." + std::to_string(partition_);

  std::unique_ptr<bus::PullConsumer> consumer;
  auto backoff = std::chrono::milliseconds(100);
  int fetch_errors = 0;

  while (!stop_) {
    if (!consumer) {
      try {
        consumer = std::make_unique<bus::PullConsumer>(ctx_.bus, options);
        backoff = std::chrono::milliseconds(100);
        fetch_errors = 0;
      } catch (const bus::NatsError& e) {
        ctx_.logger.warn("consumer not ready", {{"partition", partition_}, {"error", e.what()}});
        pause(backoff);
        backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
        continue;
      }
    }
    std::vector<bus::Message> msgs;
    try {
      msgs = consumer->fetch(ctx_.batch_size, std::chrono::milliseconds(500));
      fetch_errors = 0;
    } catch (const bus::NatsError& e) {
      if (++fetch_errors >= 5) consumer.reset();  // re-bind after a persistent failure
      ctx_.logger.debug("fetch failed", {{"partition", partition_}, {"error", e.what()}});
      pause(std::chrono::milliseconds(100 * std::min(fetch_errors, 10)));
      continue;
    }
    if (msgs.empty()) continue;  // idle (the applier checks the lock-holding connection)

    std::vector<codec::RecordedEvent> events;
    events.reserve(msgs.size());
    for (const auto& m : msgs) {
      const auto position = static_cast<std::int64_t>(m.stream_sequence());
      auto e = codec::from_wire_json(m.data());
      if (!e) {
        // Not a readable event body: the applier reads the event store at this position.
        codec::RecordedEvent unread;
        unread.global_position = position;
        events.push_back(std::move(unread));
        continue;
      }
      if (!e->global_position) e->global_position = position;
      events.push_back(std::move(*e));
    }

    observe_event_ages(ctx_.metrics.event_age_fetched, events);
    // Only the highest message is needed from here on (AckAll acks everything up to it; a nak
    // rebinds at the ack floor): free the others' buffers while the batch waits and is applied.
    if (msgs.size() > 1) msgs.erase(msgs.begin(), msgs.end() - 1);
    switch (applier_.apply(partition_, lease_, events)) {
      case GroupApplier::Outcome::Applied:
        backoff = std::chrono::milliseconds(100);
        try {
          consumer->ack(msgs);
        } catch (const bus::NatsError& e) {
          // Redelivered later and skipped as duplicates.
          ctx_.logger.warn("ack failed", {{"partition", partition_}, {"error", e.what()}});
        }
        break;
      case GroupApplier::Outcome::Failed:
        consumer->nak(msgs);
        pause(backoff);
        backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
        break;
      case GroupApplier::Outcome::Lost:
        consumer->nak(msgs);
        return false;
    }
  }
  return true;
}

}  // namespace orders::read_side
