#include "common/pg/pool.hpp"

#include <poll.h>

#include <algorithm>

namespace orders::pg {
namespace {

// An idle connection has nothing to read. Readable means the server closed it or sent a FATAL
// (pg_terminate_backend, restart): drop it instead of handing out a connection that will fail.
bool looks_healthy(pqxx::connection& conn) {
  if (!conn.is_open()) return false;
  const int fd = conn.sock();
  if (fd < 0) return false;
  pollfd p{};
  p.fd = fd;
  p.events = POLLIN;
  const int r = ::poll(&p, 1, 0);
  return r == 0;
}

}  // namespace

// Without connect_timeout, a connect to an unreachable host can hang far beyond the acquire
// time-out.
std::string with_connect_timeout(std::string url, std::chrono::milliseconds acquire_timeout) {
  if (url.find("connect_timeout") != std::string::npos) return url;
  const long seconds = std::max<long>(2, static_cast<long>((acquire_timeout.count() + 999) / 1000));
  const bool uri = url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0;
  if (uri) {
    url += url.find('?') == std::string::npos ? "?" : "&";
    url += "connect_timeout=" + std::to_string(seconds);
  } else {
    url += (url.empty() ? "" : " ") + std::string("connect_timeout=") + std::to_string(seconds);
  }
  return url;
}

Pool::Pool(std::string url, std::size_t size, ConnectionInit init,
           std::chrono::milliseconds acquire_timeout)
    : url_(std::move(url)),
      size_(size == 0 ? 1 : size),
      init_(std::move(init)),
      acquire_timeout_(acquire_timeout) {}

Pool::~Pool() = default;

Pool::Lease::Lease(Pool* pool, std::unique_ptr<pqxx::connection> conn)
    : pool_(pool), conn_(std::move(conn)) {}

Pool::Lease::Lease(Lease&& other) noexcept
    : pool_(other.pool_), conn_(std::move(other.conn_)), broken_(other.broken_) {
  other.pool_ = nullptr;
}

Pool::Lease::~Lease() {
  if (pool_ != nullptr && conn_) pool_->release(std::move(conn_), broken_);
}

Pool::Lease Pool::acquire() {
  return acquire(acquire_timeout_);
}

Pool::Lease Pool::acquire(std::chrono::milliseconds timeout) {
  const auto started = std::chrono::steady_clock::now();
  Lease lease = acquire_until(started + timeout, timeout);
  if (observer_) {
    observer_(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  }
  return lease;
}

Pool::Lease Pool::acquire_until(std::chrono::steady_clock::time_point deadline,
                                std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  while (true) {
    while (!idle_.empty()) {
      auto conn = std::move(idle_.back());
      idle_.pop_back();
      if (looks_healthy(*conn)) return Lease(this, std::move(conn));
      --open_;  // dropped; may be replaced just below
      lock.unlock();
      conn.reset();  // close outside the lock
      lock.lock();
    }
    if (open_ < size_) {
      ++open_;
      lock.unlock();
      try {
        auto conn =
            std::make_unique<pqxx::connection>(with_connect_timeout(url_, acquire_timeout_));
        if (init_) init_(*conn);
        return Lease(this, std::move(conn));
      } catch (...) {
        lock.lock();
        --open_;
        cv_.notify_one();
        throw;
      }
    }
    ++waiting_;
    const auto woke = cv_.wait_until(lock, deadline);
    --waiting_;
    if (woke == std::cv_status::timeout && idle_.empty() && open_ >= size_) {
      ++timeouts_;
      throw PoolExhausted("no database connection free within " + std::to_string(timeout.count()) +
                          " ms");
    }
  }
}

std::size_t Pool::in_use() const {
  std::lock_guard lock(mu_);
  return open_ - idle_.size();
}

Pool::Stats Pool::stats() const {
  std::lock_guard lock(mu_);
  return Stats{size_, open_, open_ - idle_.size(), waiting_, timeouts_};
}

void Pool::set_acquire_observer(std::function<void(double seconds)> observer) {
  observer_ = std::move(observer);
}

void Pool::release(std::unique_ptr<pqxx::connection> conn, bool broken) {
  const bool keep = !broken && conn && conn->is_open();
  if (!keep) conn.reset();  // close outside the lock
  {
    std::lock_guard lock(mu_);
    if (keep)
      idle_.push_back(std::move(conn));
    else
      --open_;
  }
  cv_.notify_one();
}

}  // namespace orders::pg
