// A bounded pool of libpqxx connections. acquire() waits up to a deadline and then throws
// PoolExhausted (mapped to 503 + Retry-After). A connection found broken is dropped and replaced
// on the next acquire, so the pool heals after Postgres restarts or pg_terminate_backend.
// Connections are opened lazily (a service starts while Postgres is down). An idle connection that
// became readable (the server closed it or sent a FATAL) is dropped before being handed out; one
// that is no longer open when its Lease ends is dropped too. A URL without connect_timeout gets one
// (max(2 s, acquire timeout)) so an unreachable host cannot hang acquire().
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include <pqxx/pqxx>

namespace orders::pg {

struct PoolExhausted : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// url with connect_timeout=max(2 s, timeout) added unless it sets one already (libpq's minimum
// is 2 s), so that a connect to an unreachable host cannot hang.
std::string with_connect_timeout(std::string url, std::chrono::milliseconds timeout);

// Called on every new connection: prepare statements, SET statement_timeout, ...
using ConnectionInit = std::function<void(pqxx::connection&)>;

class Pool {
 public:
  Pool(std::string url, std::size_t size, ConnectionInit init = {},
       std::chrono::milliseconds acquire_timeout = std::chrono::milliseconds(2000));
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  class Lease {
   public:
    Lease(Lease&&) noexcept;
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    pqxx::connection& operator*() const { return *conn_; }
    pqxx::connection* operator->() const { return conn_.get(); }
    // Call after a pqxx::broken_connection: the connection is closed instead of returned.
    void discard() { broken_ = true; }

   private:
    friend class Pool;
    Lease(Pool* pool, std::unique_ptr<pqxx::connection> conn);
    Pool* pool_;
    std::unique_ptr<pqxx::connection> conn_;
    bool broken_ = false;
  };

  Lease acquire();  // throws PoolExhausted, pqxx::broken_connection (cannot connect)
  Lease acquire(std::chrono::milliseconds timeout);

  std::size_t size() const { return size_; }
  std::size_t in_use() const;
  const std::string& url() const { return url_; }

  struct Stats {
    std::size_t size = 0;        // most connections
    std::size_t open = 0;        // idle + leased (+ being opened)
    std::size_t in_use = 0;      // leased
    std::size_t waiting = 0;     // acquire() calls blocked for a free connection now
    std::uint64_t timeouts = 0;  // acquire() calls that gave up (PoolExhausted)
  };
  Stats stats() const;
  // Called with the seconds each successful acquire() took (waiting and connecting included).
  // Set it before the pool is shared between threads.
  void set_acquire_observer(std::function<void(double seconds)> observer);

 private:
  Lease acquire_until(std::chrono::steady_clock::time_point deadline,
                      std::chrono::milliseconds timeout);
  void release(std::unique_ptr<pqxx::connection> conn, bool broken);
  std::string url_;
  std::size_t size_;
  ConnectionInit init_;
  std::chrono::milliseconds acquire_timeout_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_;
  std::size_t open_ = 0;  // idle + leased
  std::size_t waiting_ = 0;
  std::uint64_t timeouts_ = 0;
  std::function<void(double)> observer_;
};

}  // namespace orders::pg
