#include "read-side/read_your_writes/apply_publisher.hpp"

#include <chrono>
#include <memory>

#include <pqxx/pqxx>

#include "common/log/logger.hpp"
#include "common/metrics/metrics.hpp"
#include "read-side/read_your_writes/applied_payload.hpp"

namespace orders::read_side {

namespace {
// Beyond this many orders in one notification, other replicas re-query all their waiters instead.
constexpr std::size_t kMaxListedOrders = 4096;

// Sends one coalesced request; (re)connects when `conn` is empty. Throws when not sent.
void notify(std::unique_ptr<pqxx::connection>& conn, const std::string& url,
            const std::string& token, const std::unordered_map<std::string, std::int64_t>& orders,
            bool all, bool hello) {
  if (!conn) {
    conn = std::make_unique<pqxx::connection>(url);
    conn->prepare("applied_notify", "SELECT pg_notify($1, $2)");
  }
  // An announcement is the bare token: no order to wake.
  auto payloads = hello && orders.empty() && !all ? std::vector<std::string>{token + "\n"}
                                                  : encode_applied(token, orders, all);
  if (payloads.size() == 1) {
    pqxx::nontransaction n(*conn);
    n.exec_prepared("applied_notify", kAppliedChannel, payloads.front());
  } else {
    pqxx::work w(*conn);
    for (const auto& payload : payloads)
      w.exec_prepared("applied_notify", kAppliedChannel, payload);
    w.commit();
  }
}

}  // namespace

ApplyPublisher::ApplyPublisher(std::string database_url, std::string token, log::Logger& logger,
                               const PeerPresence& peers, metrics::Counter* skipped)
    : url_(std::move(database_url)),
      token_(std::move(token)),
      logger_(logger),
      peers_(peers),
      skipped_(skipped) {
  requested_.notify();  // the announcement
  worker_.start([this](std::stop_token stop) { run(stop); });
}

void ApplyPublisher::request(const std::vector<AppliedVersion>& orders) {
  if (!peers_.any()) {
    if (skipped_) skipped_->inc();
    return;
  }
  {
    std::lock_guard lock(mu_);
    if (!pending_.all) {
      for (const auto& o : orders) {
        auto [it, inserted] = pending_.orders.try_emplace(o.order_id, o.version);
        if (!inserted && it->second < o.version) it->second = o.version;
      }
      if (pending_.orders.size() > kMaxListedOrders) {
        pending_.orders.clear();
        pending_.all = true;
      }
    }
  }
  requested_.notify();
}

ApplyPublisher::Pending ApplyPublisher::take_pending() {
  std::lock_guard lock(mu_);
  Pending p;
  std::swap(p, pending_);
  return p;
}

void ApplyPublisher::run(std::stop_token stop) {
  std::unique_ptr<pqxx::connection> conn;
  while (requested_.wait(stop)) {
    const Pending p = take_pending();
    if (p.orders.empty() && !p.all && !p.hello) continue;
    try {
      notify(conn, url_, token_, p.orders, p.all, p.hello);
    } catch (const std::exception& e) {
      // Not sent: the other replicas' waiters re-query on the next (wake-all) notification or
      // their periodic re-check.
      conn.reset();
      logger_.debug("applied notify failed", {{"error", e.what()}});
      {
        std::lock_guard lock(mu_);
        pending_.orders.clear();
        pending_.all = true;
        pending_.hello = pending_.hello || p.hello;
      }
      if (!concurrency::sleep_for(stop, std::chrono::milliseconds(200))) return;
      requested_.notify();
    }
  }
}

}  // namespace orders::read_side
