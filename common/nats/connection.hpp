// One NATS connection that reconnects on its own, and retire(): the safe way to destroy a
// subscription under cnats 3.4 (see there). Stream admin, publishers and pull consumers made on a
// Connection must be destroyed before it. Thread-safe (cnats is).
#pragma once
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/nats/error.hpp"

typedef struct __natsConnection natsConnection;
typedef struct __natsSubscription natsSubscription;

namespace orders::nats {

struct ConnectOptions {
  std::string url = "nats://127.0.0.1:4222";  // comma-separated list allowed
  std::string name;                           // connection name shown by the server
  std::chrono::milliseconds connect_timeout{2000};
  // false: connect() throws when the server cannot be reached now (the caller retries);
  // true: connect() returns at once and keeps connecting in the background.
  bool retry_on_failed_connect = false;
  int max_reconnect = -1;  // after a lost connection: forever (-1), every reconnect_wait
  std::chrono::milliseconds reconnect_wait{250};
  std::chrono::milliseconds ping_interval{2000};
  int reconnect_buffer_bytes = 8 * 1024 * 1024;
  // Called from a cnats thread on disconnect (false) and reconnect (true). Keep it short.
  std::function<void(bool connected)> on_connection_change;
};

class Connection {
 public:
  static Connection connect(const ConnectOptions& options);
  // The defaults above with this url and name.
  static Connection connect(const std::string& url, const std::string& name = "");

  Connection(Connection&&) noexcept;
  Connection& operator=(Connection&&) noexcept;
  ~Connection();  // closes, destroys retired subscriptions, destroys the connection

  bool connected() const;  // status == CONNECTED (false while connecting, reconnecting, closed)
  bool closed() const;
  void flush(std::chrono::milliseconds timeout);  // round trip to the server; throws on failure
  void publish(std::string_view subject, std::string_view data);  // core NATS, no JetStream ack

  // Unsubscribes `sub` now and destroys it once the connection's reader thread cannot be using it
  // any more: cnats up to 3.5 (Debian 12 has 3.4) looks a message's subscription up and then
  // locks it without holding a reference, so destroying a subscription that a message is
  // arriving for crashes the process (nats.c#637, fixed by PR #638). A flush round trip returns
  // only after the reader has moved past everything before its PONG; while disconnected the
  // subscription waits for the next successful retire() flush or for the connection's end.
  void retire(natsSubscription* sub);

  natsConnection* raw() const;

 private:
  struct Impl;
  explicit Connection(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace orders::nats
