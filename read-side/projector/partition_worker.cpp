#include "read-side/projector/partition_worker.hpp"

#include <chrono>
#include <memory>

#include "common/codec/bus_envelope.hpp"
#include "common/log/logger.hpp"
#include "common/nats/pull_consumer.hpp"
#include "read-side/projector/applier.hpp"
#include "read-side/projector/store_catch_up.hpp"

namespace orders::read_side {

using std::chrono::milliseconds;

PartitionWorker::PartitionWorker(int partition, std::uint64_t lease, ProjectorContext& ctx,
                                 GroupApplier& applier)
    : partition_(partition), lease_(lease), ctx_(ctx), applier_(applier) {
  worker_.start([this](std::stop_token stop) { run(stop); });
}

PartitionWorker::~PartitionWorker() {
  worker_.stop();
}

void PartitionWorker::run(std::stop_token stop) {
  const nlohmann::json fields = {{"partition", partition_}};
  ctx_.logger.info("partition acquired", fields);
  try {
    if (consume(stop)) {
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

// The batch's events; a body that is not a readable event becomes a bare position, which the
// applier reads from the event store.
std::vector<codec::RecordedEvent> PartitionWorker::decode(
    const std::vector<nats::Message>& msgs) const {
  std::vector<codec::RecordedEvent> events;
  events.reserve(msgs.size());
  for (const auto& m : msgs) {
    const auto position = static_cast<std::int64_t>(m.stream_sequence());
    auto e = codec::from_wire_json(m.data());
    if (!e) {
      codec::RecordedEvent unread;
      unread.global_position = position;
      events.push_back(std::move(unread));
      continue;
    }
    if (!e->global_position) e->global_position = position;
    events.push_back(std::move(*e));
  }
  return events;
}

// Replays from the event store what expired between the partition's last event and this batch.
// False: the partition was lost. When the stream or the store cannot be read now, the batch is
// nak'd (msgs emptied) to come again.
bool PartitionWorker::expired_first(StoreCatchUp& store, nats::StreamAdmin& admin,
                                    std::vector<nats::Message>& msgs,
                                    const std::vector<codec::RecordedEvent>& events,
                                    nats::PullConsumer& consumer, std::stop_token stop) {
  try {
    if (store.before_batch(admin, events, stop)) return true;
    consumer.nak(msgs);
    return false;
  } catch (const std::exception& e) {
    ctx_.logger.warn("expired-events check failed",
                     {{"partition", partition_}, {"error", e.what()}});
    consumer.nak(msgs);
    msgs.clear();
    return true;
  }
}

// While idle: replays what expired after the partition's last event (streams with limits).
// False: the partition was lost; a stream or store not readable now is tried again later.
bool PartitionWorker::expired_while_idle(StoreCatchUp& store, nats::StreamAdmin& admin,
                                         std::stop_token stop) {
  try {
    return store.idle(admin, stop);
  } catch (const std::exception& e) {
    ctx_.logger.debug("expired-events check failed",
                      {{"partition", partition_}, {"error", e.what()}});
    return true;
  }
}

nats::ConsumerOptions PartitionWorker::consumer_options() const {
  nats::ConsumerOptions options;
  options.stream = ctx_.stream;
  options.durable = "read_side_p" + std::to_string(partition_);
  options.filter_subject = codec::partition_subject(ctx_.stream, partition_);
  // Each new consumer generation starts after the partition's checkpoint: no old generation's
  // ack floor to read (their leaders may be gone with a nats-server), and this replica holds the
  // partition's lock, so nothing else applies it.
  options.applied_upto = [this] {
    return static_cast<std::uint64_t>(partition_checkpoint(ctx_.database_url, partition_));
  };
  // With the checkpoint in Postgres the consumer's own state need not survive its server: R1
  // (no Raft group per consumer to elect, or to stall without quorum, after a lost nats-server;
  // issue 15), and a consumer whose server is gone (503s, or silence) is replaced after 1 / 5 s.
  options.replicas = 1;
  options.rebind_after_no_responders = milliseconds(1000);
  options.rebind_after_silence = milliseconds(5000);
  // A generation placed on a server that was just lost never answers its create or delete:
  // give up on a create sooner, and do not wait for deletes (the partition lock fences).
  options.api_timeout = milliseconds(2000);
  options.async_deletes = true;
  return options;
}

bool PartitionWorker::consume(std::stop_token stop) {
  const auto options = consumer_options();
  std::unique_ptr<nats::PullConsumer> consumer;
  nats::StreamAdmin admin(ctx_.bus);
  StoreCatchUp store(partition_, lease_, ctx_, applier_);
  concurrency::Backoff backoff(milliseconds(100), milliseconds(2000));  // bind and apply retries
  int fetch_errors = 0;

  while (!stop.stop_requested()) {
    if (!consumer) {
      try {
        // What the stream no longer holds comes from the event store first.
        if (!store.begin(admin, stop)) return stop.stop_requested();
        consumer = std::make_unique<nats::PullConsumer>(ctx_.bus, options);
        backoff.reset();
        fetch_errors = 0;
      } catch (const std::exception& e) {  // NatsError, or Postgres for the checkpoint
        ctx_.logger.warn("consumer not ready", {{"partition", partition_}, {"error", e.what()}});
        concurrency::sleep_for(stop, backoff.next());
        continue;
      }
    }
    std::vector<nats::Message> msgs;
    try {
      const auto gaps = consumer->delivery_gaps();
      const std::string bound = consumer->consumer_name();
      msgs = consumer->fetch(ctx_.batch_size, milliseconds(500));
      fetch_errors = 0;
      if (consumer->delivery_gaps() != gaps) {
        ctx_.logger.warn("bus deliveries lost (a leader change): starting again at the ack floor",
                         {{"partition", partition_}, {"consumer", consumer->consumer_name()}});
      }
      if (consumer->consumer_name() != bound) {
        ctx_.logger.info("bus consumer bound anew",
                         {{"partition", partition_}, {"consumer", consumer->consumer_name()}});
      }
    } catch (const nats::NatsError& e) {
      if (++fetch_errors >= 5) consumer.reset();  // re-bind after a persistent failure
      ctx_.logger.warn("fetch failed",
                       {{"partition", partition_}, {"error", e.what()}, {"errors", fetch_errors}});
      concurrency::sleep_for(stop, milliseconds(100 * std::min(fetch_errors, 10)));
      continue;
    }
    if (msgs.empty()) {  // idle (the applier checks the lock-holding connection)
      if (!expired_while_idle(store, admin, stop)) return stop.stop_requested();
      continue;
    }

    auto events = decode(msgs);
    observe_event_ages(ctx_.metrics.event_age_fetched, events);
    // Only the highest message is needed from here on (AckAll acks everything up to it; a nak
    // rebinds at the ack floor): free the others' buffers while the batch waits and is applied.
    if (msgs.size() > 1) msgs.erase(msgs.begin(), msgs.end() - 1);
    if (!expired_first(store, admin, msgs, events, *consumer, stop)) return stop.stop_requested();
    if (msgs.empty()) {
      concurrency::sleep_for(stop, backoff.next());
      continue;
    }
    switch (applier_.apply(partition_, lease_, events)) {
      case GroupApplier::Outcome::Applied:
        store.applied(events);
        backoff.reset();
        try {
          consumer->ack(msgs);
        } catch (const nats::NatsError& e) {
          // Redelivered later and skipped as duplicates.
          ctx_.logger.warn("ack failed", {{"partition", partition_}, {"error", e.what()}});
        }
        break;
      case GroupApplier::Outcome::Failed:
        consumer->nak(msgs);
        concurrency::sleep_for(stop, backoff.next());
        break;
      case GroupApplier::Outcome::Lost:
        consumer->nak(msgs);
        return false;
    }
  }
  return true;
}

}  // namespace orders::read_side
