// The projector's JetStream pull consumer (common/nats/pull_consumer) against a real nats-server:
// the credit window (one outstanding pull request, not one per fetch), order, AckAll acks,
// nak/redelivery of a whole batch in order, consumer generations (handover, fencing, migration from
// the explicit-ack consumer, racing binds), a deleted consumer, a nats-server restart and consumers
// destroyed while their messages arrive.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nats/nats.h>

#include "common/nats/publisher.hpp"
#include "common/nats/pull_consumer.hpp"
#include "common/nats/stream_admin.hpp"
#include "tests/support/nats_reader.hpp"
#include "tests/support/services.hpp"

namespace {

using namespace std::chrono_literals;
namespace nats = orders::nats;
using orders::testing::wait_until;

constexpr const char* kStream = "ORDERS";

class JetStreamBus : public ::testing::Test {
 protected:
  void SetUp() override {
    pub_conn_ = std::make_unique<nats::Connection>(nats::Connection::connect(nats_.url(), "pub"));
    pub_ = std::make_unique<nats::Publisher>(*pub_conn_);
    pub_admin_ = std::make_unique<nats::StreamAdmin>(*pub_conn_);
    nats::StreamSpec spec;
    spec.name = kStream;
    pub_admin_->ensure_stream(spec);
    nats::ConnectOptions co;  // as the read-side connects
    co.url = nats_.url();
    co.retry_on_failed_connect = true;
    co.ping_interval = std::chrono::minutes(2);
    bus_ = std::make_unique<nats::Connection>(nats::Connection::connect(co));
    admin_ = std::make_unique<nats::StreamAdmin>(*bus_);
    options_.stream = kStream;
    ASSERT_TRUE(wait_until([&] { return bus_->connected(); }, 10s));
    options_.durable = "bus_test_p3";
    options_.filter_subject = "orders.events.3";
  }
  void TearDown() override {
    admin_.reset();
    pub_admin_.reset();
    pub_.reset();
    pub_conn_.reset();
  }

  // Publishes n messages "m<i>" to partition 3; returns their stream sequences. Retries while
  // nats-server is coming back.
  std::vector<std::uint64_t> publish(int n, const std::string& tag = "m") {
    std::vector<std::uint64_t> seqs;
    for (int i = 0; i < n; ++i) {
      nats::OutMessage m;
      m.subject = "orders.events.3";
      m.data = tag + std::to_string(i);
      nats::PubResult r;
      EXPECT_TRUE(wait_until(
          [&] {
            r = pub_->publish(m);
            return r.ok;
          },
          10s, 50ms))
          << r.error;
      seqs.push_back(r.sequence);
    }
    return seqs;
  }

  // A consumer's number of delivered-but-unacked messages, -1 when it cannot be read.
  std::int64_t ack_pending(const std::string& consumer) {
    jsConsumerInfo* ci = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    if (js_GetConsumerInfo(&ci, admin_->raw(), kStream, consumer.c_str(), nullptr, &jerr) !=
        NATS_OK)
      return -1;
    auto n = static_cast<std::int64_t>(ci->NumAckPending);
    jsConsumerInfo_Destroy(ci);
    return n;
  }
  std::uint64_t ack_floor(const std::string& consumer) {
    jsConsumerInfo* ci = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    if (js_GetConsumerInfo(&ci, admin_->raw(), kStream, consumer.c_str(), nullptr, &jerr) !=
        NATS_OK)
      return 0;
    auto n = ci->AckFloor.Stream;
    jsConsumerInfo_Destroy(ci);
    return n;
  }
  bool consumer_exists(const std::string& consumer) {
    jsConsumerInfo* ci = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    if (js_GetConsumerInfo(&ci, admin_->raw(), kStream, consumer.c_str(), nullptr, &jerr) !=
        NATS_OK)
      return false;
    jsConsumerInfo_Destroy(ci);
    return true;
  }

  // Fetches (batch at a time) until `want` messages came or the deadline passed.
  static std::vector<std::uint64_t> collect(nats::PullConsumer& c, std::size_t want, int batch,
                                            bool ack = true,
                                            std::chrono::milliseconds deadline = 10s) {
    std::vector<std::uint64_t> got;
    const auto end = std::chrono::steady_clock::now() + deadline;
    while (got.size() < want && std::chrono::steady_clock::now() < end) {
      auto msgs = c.fetch(batch, 200ms);
      EXPECT_LE(msgs.size(), static_cast<std::size_t>(batch));
      for (const auto& m : msgs) got.push_back(m.stream_sequence());
      if (ack) c.ack(msgs);
    }
    return got;
  }

  orders::testing::NatsServer nats_;
  std::unique_ptr<nats::Connection> pub_conn_;
  std::unique_ptr<nats::Publisher> pub_;
  std::unique_ptr<nats::StreamAdmin> pub_admin_;
  std::unique_ptr<nats::Connection> bus_;
  std::unique_ptr<nats::StreamAdmin> admin_;
  nats::ConsumerOptions options_;
};

// ensure_stream applies retention limits to an existing stream (and takes them off again); with a
// byte limit the server drops the stream's oldest messages, so its first sequence moves up.
TEST_F(JetStreamBus, EnsureStreamAppliesAndUpdatesRetentionLimits) {
  nats::StreamSpec spec;
  spec.name = kStream;
  spec.max_age = std::chrono::hours(1);
  spec.max_bytes = 4096;
  auto info = pub_admin_->ensure_stream(spec);
  EXPECT_EQ(info.max_age, std::chrono::hours(1));
  EXPECT_EQ(info.max_bytes, 4096);
  EXPECT_EQ(info.duplicate_window, std::chrono::minutes(2));
  const auto seqs = publish(200, std::string(64, 'r'));
  auto after = admin_->stream_info(kStream);
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->last_seq, seqs.back());
  EXPECT_GT(after->first_seq, 1u);
  EXPECT_LE(after->bytes, 4096u);
  spec.max_bytes = 8192;  // one limit alone changes too
  EXPECT_EQ(pub_admin_->ensure_stream(spec).max_bytes, 8192);
  spec.max_age = std::chrono::hours(2);
  EXPECT_EQ(pub_admin_->ensure_stream(spec).max_age, std::chrono::hours(2));
  spec.max_age = std::chrono::milliseconds(0);
  spec.max_bytes = -1;
  info = pub_admin_->ensure_stream(spec);
  EXPECT_EQ(info.max_age, std::chrono::milliseconds(0));
  EXPECT_EQ(info.max_bytes, -1);
}

TEST_F(JetStreamBus, DeliversAllInStreamOrderAndAcks) {
  auto seqs = publish(120);
  nats::PullConsumer c(*bus_, options_);
  auto got = collect(c, seqs.size(), 25);
  EXPECT_EQ(got, seqs);
  EXPECT_TRUE(wait_until([&] { return ack_pending(c.consumer_name()) == 0; }, 5s))
      << ack_pending(c.consumer_name());
  // The payload comes through untouched.
  publish(1, "payload-");
  auto msgs = c.fetch(10, 5s);
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].data(), "payload-0");
  c.ack(msgs);
  // Nothing left: a fetch times out empty (and close to its time-out, not at once or much later).
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(c.fetch(10, 300ms).empty());
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(took, 250ms);
  EXPECT_LT(took, 2s);
}

TEST_F(JetStreamBus, TrickleNeedsNoPullRequestPerFetch) {
  nats::PullConsumer c(*bus_, options_);
  EXPECT_TRUE(c.fetch(500, 50ms).empty());
  const auto before = c.pull_requests();
  for (int i = 0; i < 30; ++i) {
    auto seq = publish(1, "t");
    // A single message comes back at once, without waiting for the batch of 500 or the time-out.
    const auto t0 = std::chrono::steady_clock::now();
    auto msgs = c.fetch(500, 5s);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
    ASSERT_EQ(msgs.size(), 1u);
    EXPECT_EQ(msgs[0].stream_sequence(), seq[0]);
    c.ack(msgs);
  }
  // The one request of 500 credits opened before serves all 30 (the old fetch sent 2-3 each).
  EXPECT_LE(c.pull_requests() - before, 2u);
}

// A message published right after a partly used request expired comes at once: the window has
// replaced the request already (kRenewEarly before its expiry), whether or not the 408 arrives.
TEST_F(JetStreamBus, AMessageRightAfterAPartlyUsedRequestExpiredComesAtOnce) {
  nats::PullConsumer c(*bus_, options_);
  const auto requested = std::chrono::steady_clock::now();
  EXPECT_TRUE(c.fetch(5000, 50ms).empty());  // opens the request (5000 credits, expires in 2 s)
  auto first = publish(1, "early");
  auto msgs = c.fetch(5000, 5s);
  ASSERT_EQ(msgs.size(), 1u);
  c.ack(msgs);
  // Idle until just after the server expired that request (the scenario's timing, not a wait
  // for a condition), fetching like a projector does.
  while (std::chrono::steady_clock::now() < requested + 2200ms)
    EXPECT_TRUE(c.fetch(5000, 100ms).empty());
  auto late = publish(1, "late");
  const auto t0 = std::chrono::steady_clock::now();
  msgs = c.fetch(5000, 5s);
  const auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].stream_sequence(), late[0]);
  EXPECT_LT(took, 400ms);
}

TEST_F(JetStreamBus, NakedBatchComesBackWholeAndInOrderBeforeLaterMessages) {
  nats::PullConsumer c(*bus_, options_);
  // Open a window of 10 credits, then let the server push 10 messages into it.
  EXPECT_TRUE(c.fetch(10, 50ms).empty());
  auto seqs = publish(10);
  ASSERT_TRUE(wait_until([&] { return ack_pending(c.consumer_name()) == 10; }, 5s))
      << ack_pending(c.consumer_name());
  // Take 3 of them and nak them: the 7 already here must not overtake the redelivery.
  auto first = c.fetch(3, 1s);
  ASSERT_EQ(first.size(), 3u);
  EXPECT_EQ(first[0].stream_sequence(), seqs[0]);
  c.nak(first);
  first.clear();
  auto more = publish(5, "late");
  seqs.insert(seqs.end(), more.begin(), more.end());
  auto got = collect(c, seqs.size(), 3);
  EXPECT_EQ(got, seqs);
  EXPECT_TRUE(wait_until([&] { return ack_pending(c.consumer_name()) == 0; }, 5s))
      << ack_pending(c.consumer_name());
}

TEST_F(JetStreamBus, UnackedMessagesOfAClosedConsumerGoToTheNextOne) {
  auto seqs = publish(8);
  {
    nats::PullConsumer c(*bus_, options_);
    auto msgs = c.fetch(8, 2s);
    ASSERT_FALSE(msgs.empty());
    c.nak(msgs);  // as the partition worker does when its Postgres connection broke
  }
  nats::PullConsumer next(*bus_, options_);
  EXPECT_EQ(collect(next, seqs.size(), 8), seqs);
}

// cnats 3.4 crashes when a subscription is destroyed while its message is being handed to it
// (nats.c#637); a partition worker that loses its partition destroys its consumer while the
// rest of a pull's batch is still arriving. Each round takes the first messages of a large pull
// and destroys the consumer (and with it the inbox subscription) at once, with the connection's
// reader thread delivering the rest. (Destroying at once crashed 15 of 15 runs.)
TEST_F(JetStreamBus, DestroyingAConsumerWhileItsMessagesArriveIsSafe) {
  auto seqs = publish(3000);
  int rounds_with_messages = 0;
  for (int round = 0; round < 150; ++round) {
    nats::PullConsumer c(*bus_, options_);
    auto msgs = c.fetch(3000, 2s);
    if (!msgs.empty()) ++rounds_with_messages;
    c.nak(msgs);
  }
  EXPECT_EQ(rounds_with_messages, 150);
  nats::PullConsumer last(*bus_, options_);
  EXPECT_EQ(collect(last, seqs.size(), 3000), seqs);
}

TEST_F(JetStreamBus, OneAckCoversTheWholeBatch) {
  nats::PullConsumer c(*bus_, options_);
  EXPECT_TRUE(c.fetch(50, 50ms).empty());
  auto seqs = publish(50);
  ASSERT_TRUE(wait_until([&] { return ack_pending(c.consumer_name()) == 50; }, 5s));
  std::vector<nats::Message> all;
  while (all.size() < seqs.size()) {
    auto msgs = c.fetch(50, 1s);
    ASSERT_FALSE(msgs.empty());
    for (auto& m : msgs) all.push_back(std::move(m));
  }
  // Acking just the last fetched batch (here: all, in one call) settles everything before it.
  c.ack(all);
  EXPECT_TRUE(wait_until([&] { return ack_pending(c.consumer_name()) == 0; }, 5s))
      << ack_pending(c.consumer_name());
}

TEST_F(JetStreamBus, ANewOwnerGetsThePreviousOwnersUnackedMessagesAtOnceAndFencesItOff) {
  auto seqs = publish(6);
  nats::PullConsumer old_owner(*bus_, options_);
  auto held = collect(old_owner, 2, 2, /*ack=*/false);  // fetched, never applied nor acked
  ASSERT_EQ(held.size(), 2u);
  EXPECT_TRUE(old_owner.fetch(10, 50ms).size() <= 4u);  // and a request left open
  const std::string old_name = old_owner.consumer_name();

  nats::PullConsumer owner(*bus_, options_);  // e.g. the other replica after the partition failover
  EXPECT_NE(owner.consumer_name(), old_name);
  EXPECT_FALSE(consumer_exists(old_name));
  // Everything not acked comes in order now, not after ack_wait behind later messages.
  const auto t0 = std::chrono::steady_clock::now();
  auto later = publish(3, "later");
  seqs.insert(seqs.end(), later.begin(), later.end());
  EXPECT_EQ(collect(owner, seqs.size(), 4), seqs);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
  // The old owner's generation is gone: nothing published since reaches it (it may still hold
  // messages delivered to it before; its fetch may also fail on the deleted consumer).
  auto fenced = publish(2, "fenced");
  try {
    for (const auto& m : old_owner.fetch(10, 300ms)) {
      EXPECT_TRUE(std::find(fenced.begin(), fenced.end(), m.stream_sequence()) == fenced.end());
    }
  } catch (const nats::NatsError&) {
  }
  EXPECT_EQ(collect(owner, 2, 10).size(), 2u);
}

TEST_F(JetStreamBus, StartsAtTheAckFloorOfTheExplicitAckConsumerOfEarlierVersions) {
  auto seqs = publish(10);
  {
    orders::testing::ReaderSpec spec;
    spec.stream = kStream;
    spec.durable = options_.durable;  // "bus_test_p3", explicit acks
    spec.filter_subject = options_.filter_subject;
    spec.explicit_ack = true;
    orders::testing::NatsReader legacy(*pub_admin_, spec);
    std::size_t acked = 0;
    while (acked < 4) {
      for (auto& m : legacy.fetch(static_cast<int>(4 - acked), 2s)) {
        m.ack_sync(2s);
        ++acked;
      }
    }
  }
  ASSERT_TRUE(consumer_exists(options_.durable));
  const std::vector<std::uint64_t> rest(seqs.begin() + 4, seqs.end());
  {
    nats::PullConsumer c(*bus_, options_);
    EXPECT_EQ(c.consumer_name().rfind(options_.durable + "_a1_", 0), 0u) << c.consumer_name();
    EXPECT_FALSE(consumer_exists(options_.durable));
    EXPECT_EQ(collect(c, 6, 10, /*ack=*/false), rest);
  }
  // A generation that never acked hands on the floor it started at (not the stream's start).
  nats::PullConsumer c(*bus_, options_);
  EXPECT_EQ(c.consumer_name().rfind(options_.durable + "_a2_", 0), 0u) << c.consumer_name();
  EXPECT_EQ(collect(c, 6, 10), rest);
  EXPECT_TRUE(c.fetch(10, 100ms).empty());
}

TEST_F(JetStreamBus, RacingBindsNeverShareAConsumerAndTheNextBindTakesTheHighestFloor) {
  auto seqs = publish(6);
  for (int round = 0; round < 5; ++round) {
    std::unique_ptr<nats::PullConsumer> a, b;
    std::thread ta([&] {
      try {
        a = std::make_unique<nats::PullConsumer>(*bus_, options_);
      } catch (const nats::NatsError&) {
      }
    });
    std::thread tb([&] {
      try {
        b = std::make_unique<nats::PullConsumer>(*bus_, options_);
      } catch (const nats::NatsError&) {
      }
    });
    ta.join();
    tb.join();
    ASSERT_TRUE(a || b);
    if (a && b) {
      EXPECT_NE(a->consumer_name(), b->consumer_name());
    }
    if (round == 3 && a && consumer_exists(a->consumer_name())) {
      // One of them applies and acks the first half.
      EXPECT_EQ(collect(*a, 3, 3), std::vector<std::uint64_t>(seqs.begin(), seqs.begin() + 3));
      ASSERT_TRUE(wait_until([&] { return ack_floor(a->consumer_name()) == seqs[2]; }, 5s));
      seqs.erase(seqs.begin(), seqs.begin() + 3);
    }
  }
  nats::PullConsumer c(*bus_, options_);
  EXPECT_EQ(collect(c, seqs.size(), 10), seqs);
}

TEST_F(JetStreamBus, DeletedConsumerFailsOneFetchThenTheNextFetchRebinds) {
  publish(2);
  nats::PullConsumer c(*bus_, options_);
  EXPECT_EQ(collect(c, 2, 10).size(), 2u);
  EXPECT_TRUE(c.fetch(10, 50ms).empty());  // a request is open now
  pub_admin_->delete_consumer(kStream, c.consumer_name());
  bool failed = false;
  const auto end = std::chrono::steady_clock::now() + 5s;
  while (!failed && std::chrono::steady_clock::now() < end) {
    try {
      c.fetch(10, 200ms);
    } catch (const nats::NatsError&) {
      failed = true;
    }
  }
  EXPECT_TRUE(failed);
  // No generation left: the new one starts over from the stream's start (deliver all); the
  // projector skips what it applied before as duplicates.
  EXPECT_EQ(collect(c, 2, 10).size(), 2u);
  EXPECT_TRUE(consumer_exists(c.consumer_name()));
}

// Deliveries that never reach the consumer (as when the consumer's leader dies with them in
// flight and the new leader goes on after them) must not be acked by a later delivery's AckAll:
// here another subscriber's pull request takes two of them; the consumer sees the jump in the
// consumer sequence, drops what follows and starts again at its ack floor, so nothing is skipped.
TEST_F(JetStreamBus, DeliveriesThatNeverArrivedComeAgainBeforeLaterOnes) {
  nats::PullConsumer c(*bus_, options_);
  auto seqs = publish(2);
  EXPECT_EQ(collect(c, 2, 2), seqs);  // and a request for 2 more is open now
  // A second request on the same consumer beside ours: it takes two of the next four messages.
  natsSubscription* thief = nullptr;
  ASSERT_EQ(natsConnection_SubscribeSync(&thief, pub_conn_->raw(), "thief.inbox"), NATS_OK);
  const std::string next =
      std::string("$JS.API.CONSUMER.MSG.NEXT.") + kStream + "." + c.consumer_name();
  const std::string body = R"({"batch":2,"expires":10000000000})";
  ASSERT_EQ(natsConnection_PublishRequest(pub_conn_->raw(), next.c_str(), "thief.inbox",
                                          body.data(), static_cast<int>(body.size())),
            NATS_OK);
  ASSERT_EQ(natsConnection_Flush(pub_conn_->raw()), NATS_OK);
  auto more = publish(4, "more");
  std::vector<std::uint64_t> stolen;
  while (stolen.size() < 2) {
    natsMsg* m = nullptr;
    ASSERT_EQ(natsSubscription_NextMsg(&m, thief, 5000), NATS_OK);
    nats::Message taken(m);
    if (taken.stream_sequence() != 0) stolen.push_back(taken.stream_sequence());
  }
  natsSubscription_Destroy(thief);
  for (auto seq : stolen) EXPECT_NE(std::find(more.begin(), more.end(), seq), more.end()) << seq;
  auto last = publish(2, "last");
  // Everything after the first two, in stream order: the stolen two were never acked.
  std::vector<std::uint64_t> want(more);
  want.insert(want.end(), last.begin(), last.end());
  EXPECT_EQ(collect(c, want.size(), 10, true, 5s), want);
  EXPECT_GE(c.delivery_gaps(), 1u);
}

// With applied_upto (the projector's checkpoint) a new generation starts right after it, not at
// the old generations' ack floors (here the first owner acked all five, applied only three).
TEST_F(JetStreamBus, ANewGenerationStartsAfterWhatTheCallerApplied) {
  auto seqs = publish(5);
  {
    nats::PullConsumer first(*bus_, options_);
    EXPECT_EQ(collect(first, 5, 10), seqs);
    EXPECT_TRUE(wait_until([&] { return ack_floor(first.consumer_name()) == seqs.back(); }, 5s));
  }
  auto options = options_;
  options.applied_upto = [&] { return seqs[2]; };
  nats::PullConsumer next(*bus_, options);
  EXPECT_EQ(collect(next, 2, 10), std::vector<std::uint64_t>(seqs.begin() + 3, seqs.end()));
}

// An idle consumer is heard (each expired request is answered 408), so rebind_after_silence
// does not replace it; a consumer lost with its server in a cluster is not heard at all.
TEST_F(JetStreamBus, AnIdleConsumerIsHeardAndKept) {
  auto options = options_;
  options.rebind_after_silence = 3s;
  nats::PullConsumer c(*bus_, options);
  const auto name = c.consumer_name();
  const auto end = std::chrono::steady_clock::now() + 7s;  // past two silences' worth
  while (std::chrono::steady_clock::now() < end) EXPECT_TRUE(c.fetch(10, 200ms).empty());
  EXPECT_EQ(c.consumer_name(), name);
  auto seqs = publish(1);
  EXPECT_EQ(collect(c, 1, 10), seqs);
}

TEST_F(JetStreamBus, KeepsDeliveringAfterNatsServerRestart) {
  auto seqs = publish(5);
  nats::PullConsumer c(*bus_, options_);
  EXPECT_EQ(collect(c, 5, 10), seqs);
  EXPECT_TRUE(wait_until([&] { return ack_pending(c.consumer_name()) == 0; }, 5s));
  EXPECT_TRUE(c.fetch(10, 50ms).empty());  // the window's request is open on the old server
  nats_.kill9();
  nats_.start();
  ASSERT_TRUE(wait_until([&] { return bus_->connected(); }, 10s));
  auto after = publish(5, "after");
  // The request the old server held is gone; the window must notice the reconnect and ask again
  // (the request would have been replaced anyway after kExpiry - kRenewEarly = 1.75 s).
  // SIGKILL may lose the consumer's latest acks, so some of the first five may come again first.
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::uint64_t> got;
  const auto end = t0 + 10s;
  while ((got.size() < after.size() || !std::equal(after.begin(), after.end(), got.end() - 5)) &&
         std::chrono::steady_clock::now() < end) {
    auto msgs = c.fetch(10, 200ms);
    for (const auto& m : msgs) got.push_back(m.stream_sequence());
    c.ack(msgs);
  }
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
  ASSERT_GE(got.size(), after.size());
  EXPECT_TRUE(std::equal(after.begin(), after.end(), got.end() - 5));
  EXPECT_TRUE(std::is_sorted(got.begin(), got.end()));
  for (std::size_t i = 0; i + after.size() < got.size(); ++i) {
    EXPECT_TRUE(std::find(seqs.begin(), seqs.end(), got[i]) != seqs.end()) << got[i];
  }
}

}  // namespace
