#include "common/concurrency/worker.hpp"

#include <algorithm>
#include <cstdint>

namespace orders::concurrency {

void Signal::notify() {
  {
    std::lock_guard lock(mu_);
    pending_ = true;
  }
  cv_.notify_all();
}

bool Signal::wait(std::stop_token stop) {
  std::unique_lock lock(mu_);
  if (!cv_.wait(lock, stop, [this] { return pending_; })) return false;
  pending_ = false;
  return true;
}

bool Signal::wait_for(std::stop_token stop, std::chrono::steady_clock::duration timeout) {
  std::unique_lock lock(mu_);
  if (!cv_.wait_for(lock, stop, timeout, [this] { return pending_; })) return false;
  pending_ = false;
  return true;
}

bool sleep_for(std::stop_token stop, std::chrono::steady_clock::duration d) {
  std::mutex mu;
  std::condition_variable_any cv;
  std::unique_lock lock(mu);
  cv.wait_for(lock, stop, d, [] { return false; });
  return !stop.stop_requested();
}

void Worker::start(std::function<void(std::stop_token)> body) {
  if (thread_.joinable()) return;
  thread_ = std::jthread(std::move(body));
}

void Worker::stop() {
  if (!thread_.joinable()) return;
  thread_.request_stop();
  thread_.join();
}

std::chrono::milliseconds Backoff::next() {
  const auto now = next_;
  const auto grown = std::chrono::milliseconds(
      static_cast<std::int64_t>(static_cast<double>(next_.count()) * factor_));
  next_ = std::min(std::max(grown, next_ + std::chrono::milliseconds(1)), max_);
  return now;
}

}  // namespace orders::concurrency
