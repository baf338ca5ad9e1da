// Background threads that stop cooperatively: a std::jthread whose body takes a std::stop_token,
// a wake-up Signal and an interruptible sleep, so a class that runs a loop needs no stop flag,
// mutex or condition variable of its own just to be stopped.
#pragma once
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <stop_token>
#include <thread>

namespace orders::concurrency {

// A level-triggered "there is work" flag one or more waiters block on, woken early by a stop
// request. notify() never blocks on the waiter; notifications while nobody waits coalesce.
class Signal {
 public:
  void notify();
  // True when notified (the flag is cleared); false on time-out or stop request.
  bool wait(std::stop_token stop);
  bool wait_for(std::stop_token stop, std::chrono::steady_clock::duration timeout);

 private:
  std::mutex mu_;
  std::condition_variable_any cv_;
  bool pending_ = false;
};

// Sleeps up to `d`; false when a stop was requested (at once or during the sleep).
bool sleep_for(std::stop_token stop, std::chrono::steady_clock::duration d);

// Owns one thread running body(stop_token). stop() (or the destructor) requests a stop and joins.
// The owner must call stop() in its own destructor, or declare the Worker after every member the
// body uses, so the thread never outlives what it touches.
class Worker {
 public:
  Worker() = default;
  explicit Worker(std::function<void(std::stop_token)> body) { start(std::move(body)); }
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;
  ~Worker() { stop(); }

  // Starts the thread; a no-op when it is already running.
  void start(std::function<void(std::stop_token)> body);
  void request_stop() { thread_.request_stop(); }
  void stop();
  bool running() const { return thread_.joinable(); }

 private:
  std::jthread thread_;
};

// Exponential back-off between retries: initial, initial*factor, ... capped at max.
class Backoff {
 public:
  Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max, double factor = 2.0)
      : initial_(initial), max_(max), factor_(factor), next_(initial) {}
  // The delay to wait now; the following call returns a longer one.
  std::chrono::milliseconds next();
  void reset() { next_ = initial_; }

 private:
  std::chrono::milliseconds initial_;
  std::chrono::milliseconds max_;
  double factor_;
  std::chrono::milliseconds next_;
};

}  // namespace orders::concurrency
