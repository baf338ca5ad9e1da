#include "read-side/read_your_writes/apply_listener.hpp"

#include <charconv>
#include <memory>
#include <random>

#include <pqxx/pqxx>

#include "common/log/logger.hpp"
#include "common/metrics/metrics.hpp"
#include "read-side/projector/view_store.hpp"

namespace orders::read_side {

namespace {

void inc(metrics::Counter* c) {
  if (c) c->inc();
}

class Receiver : public pqxx::notification_receiver {
 public:
  Receiver(pqxx::connection_base& c, const std::string& token, ApplyNotifier& n,
           const ListenerMetrics& m, PeerPresence* peers)
      : pqxx::notification_receiver(c, kAppliedChannel),
        token_(token),
        notifier_(n),
        metrics_(m),
        peers_(peers) {}
  void operator()(const std::string& payload, int) override {
    if (payload.size() > token_.size() && payload.compare(0, token_.size(), token_) == 0 &&
        payload[token_.size()] == '\n') {
      inc(metrics_.own);  // the local projector woke its waiters already
      return;
    }
    if (peers_ != nullptr)
      peers_->heard_from_peer();  // another replica (an announcement or an apply)
    auto p = decode_applied(payload);
    if (!p || p->all) {
      inc(metrics_.all);
      notifier_.wake_all();
      return;
    }
    inc(metrics_.foreign);
    notifier_.applied(p->orders);
  }

 private:
  const std::string& token_;
  ApplyNotifier& notifier_;
  const ListenerMetrics& metrics_;
  PeerPresence* peers_;
};

}  // namespace

std::vector<std::string> encode_applied(const std::string& token,
                                        const std::unordered_map<std::string, std::int64_t>& orders,
                                        bool all) {
  std::vector<std::string> out;
  const std::string head = token + "\n";
  if (all) {
    out.push_back(head + "*\n");
    return out;
  }
  std::string cur = head;
  for (const auto& [id, version] : orders) {
    std::string line = id + " " + std::to_string(version) + "\n";
    if (cur.size() + line.size() > kMaxAppliedPayload && cur.size() > head.size()) {
      out.push_back(std::move(cur));
      cur = head;
    }
    cur += line;
  }
  if (cur.size() > head.size()) out.push_back(std::move(cur));
  return out;
}

std::optional<AppliedPayload> decode_applied(std::string_view payload) {
  auto nl = payload.find('\n');
  if (nl == std::string_view::npos || nl == 0) return std::nullopt;
  AppliedPayload p;
  p.token = std::string(payload.substr(0, nl));
  payload.remove_prefix(nl + 1);
  if (payload == "*\n") {
    p.all = true;
    return p;
  }
  while (!payload.empty()) {
    nl = payload.find('\n');
    if (nl == std::string_view::npos) return std::nullopt;
    auto line = payload.substr(0, nl);
    payload.remove_prefix(nl + 1);
    auto sp = line.rfind(' ');
    if (sp == std::string_view::npos || sp == 0) return std::nullopt;
    std::int64_t v = 0;
    auto digits = line.substr(sp + 1);
    auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
    if (ec != std::errc{} || ptr != digits.data() + digits.size()) return std::nullopt;
    p.orders.push_back(AppliedVersion{std::string(line.substr(0, sp)), v});
  }
  if (p.orders.empty()) return std::nullopt;
  return p;
}

std::string make_replica_token() {
  std::random_device rd;
  std::uniform_int_distribution<std::uint64_t> dist;
  const auto v = (static_cast<std::uint64_t>(rd()) << 32) ^ rd() ^ dist(rd);
  char buf[17] = {};
  auto [ptr, ec] = std::to_chars(buf, buf + 16, v, 16);
  return std::string(buf, ptr);
}

AppliedBroadcaster::AppliedBroadcaster(std::string database_url, std::string token,
                                       log::Logger& logger, const PeerPresence& peers,
                                       metrics::Counter* skipped)
    : url_(std::move(database_url)),
      token_(std::move(token)),
      logger_(logger),
      peers_(peers),
      skipped_(skipped),
      thread_([this] { run(); }) {}

AppliedBroadcaster::~AppliedBroadcaster() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void AppliedBroadcaster::request(const std::vector<AppliedVersion>& orders) {
  if (!peers_.any()) {
    inc(skipped_);
    return;
  }
  {
    std::lock_guard lock(mu_);
    if (!pending_all_) {
      for (const auto& o : orders) {
        auto [it, inserted] = pending_.try_emplace(o.order_id, o.version);
        if (!inserted && it->second < o.version) it->second = o.version;
      }
      // Too many to list cheaply: other replicas re-query all their waiters instead.
      if (pending_.size() > 4096) {
        pending_.clear();
        pending_all_ = true;
      }
    }
  }
  cv_.notify_one();
}

void AppliedBroadcaster::run() {
  std::unique_ptr<pqxx::connection> conn;
  while (true) {
    std::unordered_map<std::string, std::int64_t> orders;
    bool all = false;
    bool hello = false;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return !pending_.empty() || pending_all_ || pending_hello_ || stop_; });
      if (stop_) return;
      orders.swap(pending_);
      all = pending_all_;
      pending_all_ = false;
      hello = pending_hello_;
      pending_hello_ = false;
    }
    try {
      if (!conn) {
        conn = std::make_unique<pqxx::connection>(url_);
        conn->prepare("applied_notify", "SELECT pg_notify($1, $2)");
      }
      // An announcement is the bare token: no order to wake.
      auto payloads = hello && orders.empty() && !all ? std::vector<std::string>{token_ + "\n"}
                                                      : encode_applied(token_, orders, all);
      if (payloads.size() == 1) {
        pqxx::nontransaction n(*conn);
        n.exec_prepared("applied_notify", kAppliedChannel, payloads.front());
      } else {
        pqxx::work w(*conn);
        for (const auto& p : payloads) w.exec_prepared("applied_notify", kAppliedChannel, p);
        w.commit();
      }
    } catch (const std::exception& e) {
      // Not sent: the other replicas' waiters re-query on the next (wake-all) notification or
      // their periodic re-check.
      conn.reset();
      logger_.debug("applied notify failed", {{"error", e.what()}});
      std::unique_lock lock(mu_);
      pending_.clear();
      pending_all_ = true;
      pending_hello_ = pending_hello_ || hello;
      cv_.wait_for(lock, std::chrono::milliseconds(200), [&] { return stop_; });
    }
  }
}

AppliedListener::AppliedListener(std::string database_url, std::string own_token,
                                 ApplyNotifier& notifier, log::Logger& logger,
                                 ListenerMetrics metrics, PeerPresence* peers)
    : url_(std::move(database_url)),
      token_(std::move(own_token)),
      notifier_(notifier),
      logger_(logger),
      metrics_(metrics),
      peers_(peers) {
  thread_ = std::thread([this] { run(); });
}

AppliedListener::~AppliedListener() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void AppliedListener::run() {
  auto backoff = std::chrono::milliseconds(100);
  while (!stop_) {
    try {
      pqxx::connection conn(url_);
      // A silently reactivated connection would miss notifications sent while it was down: never
      // reactivate; this loop reconnects explicitly and re-checks (wake_all below) instead.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
      conn.inhibit_reactivation(true);
#pragma GCC diagnostic pop
      Receiver receiver(conn, token_, notifier_, metrics_, peers_);
      backoff = std::chrono::milliseconds(100);
      // Catch up on anything committed while we were not listening.
      notifier_.wake_all();
      while (!stop_) conn.await_notification(0, 200'000);
    } catch (const std::exception& e) {
      if (stop_) break;
      logger_.warn("applied listener: reconnecting", {{"error", e.what()}});
      for (auto waited = std::chrono::milliseconds(0); waited < backoff && !stop_;
           waited += std::chrono::milliseconds(50)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
    }
  }
}

}  // namespace orders::read_side
