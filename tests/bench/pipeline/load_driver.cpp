#include "tests/bench/pipeline/load_driver.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <deque>
#include <limits>
#include <mutex>
#include <optional>
#include <stdexcept>

#include "tests/support/http_wire.hpp"

namespace orders::bench::pipeline {

using orders::testing::connect_nonblocking;
using orders::testing::receive_available;
using orders::testing::take_response;
using namespace std::chrono_literals;

namespace {

std::int64_t ticks(Clock::time_point t) {
  return t.time_since_epoch().count();
}

// The "version" field of a command's JSON answer, or -1.
std::int64_t version_of(const std::string& body) {
  const auto at = body.find("\"version\":");
  if (at == std::string::npos) return -1;
  return std::strtoll(body.c_str() + at + 10, nullptr, 10);
}

// One keep-alive connection with one request in flight at a time.
struct Conn {
  int fd = -1;
  bool busy = false;
  std::string out, in;
  std::size_t written = 0;
  Clock::time_point t0;
};

void watch(int ep, int fd, std::uint32_t what, std::uint32_t index, int op) {
  epoll_event ev{};
  ev.events = what;
  ev.data.u32 = index;
  ::epoll_ctl(ep, op, fd, &ev);
}

// Writes what is left of c.out; false when the connection broke.
bool flush(int ep, Conn& c, std::uint32_t index) {
  while (c.written < c.out.size()) {
    const ssize_t n =
        ::send(c.fd, c.out.data() + c.written, c.out.size() - c.written, MSG_NOSIGNAL);
    if (n > 0) {
      c.written += static_cast<std::size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINPROGRESS ||
                         errno == ENOTCONN)) {
      watch(ep, c.fd, EPOLLIN | EPOLLOUT, index, EPOLL_CTL_MOD);
      return true;
    } else {
      return false;
    }
  }
  watch(ep, c.fd, EPOLLIN, index, EPOLL_CTL_MOD);
  return true;
}

struct Probe {
  std::string id;
  std::int64_t version = 0;
  Clock::time_point acked;
  std::size_t port_index = 0;
};

}  // namespace

struct Load::Shared {
  std::atomic<bool> sending{true};
  std::atomic<std::int64_t> measure_from{std::numeric_limits<std::int64_t>::max()};
  std::atomic<std::int64_t> measure_to{std::numeric_limits<std::int64_t>::max()};
  std::atomic<std::int64_t> acked{0};
  std::atomic<std::int64_t> stop_deadline{std::numeric_limits<std::int64_t>::max()};
  bool in_window(Clock::time_point t0) const {
    const auto t = ticks(t0);
    return t >= measure_from.load(std::memory_order_relaxed) &&
           t < measure_to.load(std::memory_order_relaxed);
  }
};

// ---- the prober: lag probes on their own epoll loop, so a probe never delays a command ----------
class Load::Prober {
 public:
  Prober(const LoadSpec& spec) : ports_(spec.probe_ports), ep_(::epoll_create1(0)) {
    if (ep_ < 0) throw std::runtime_error("epoll_create1 failed");
    wake_ = ::eventfd(0, EFD_NONBLOCK);
    watch(ep_, wake_, EPOLLIN, kWake, EPOLL_CTL_ADD);
    free_.resize(ports_.size());
    for (std::size_t p = 0; p < ports_.size(); ++p) {
      for (int i = 0; i < spec.probe_connections; ++i) {
        conns_.emplace_back();
        port_of_.push_back(p);
        probes_.emplace_back();
        open(conns_.size() - 1);
        free_[p].push_back(conns_.size() - 1);
      }
    }
  }
  ~Prober() {
    for (auto& c : conns_)
      if (c.fd >= 0) ::close(c.fd);
    ::close(wake_);
    ::close(ep_);
  }
  void submit(Probe p) {
    {
      std::lock_guard lock(mu_);
      inbox_.push_back(std::move(p));
    }
    const std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_, &one, sizeof one);
  }
  void finish(Clock::time_point deadline) { deadline_.store(ticks(deadline)); }
  void loop();
  std::vector<double> lags;
  std::int64_t failed = 0;
  std::size_t max_queued = 0;

 private:
  static constexpr std::uint32_t kWake = 0xffffffffu;
  void open(std::size_t i) {
    conns_[i].fd = connect_nonblocking(ports_[port_of_[i]]);
    conns_[i].in.clear();
    watch(ep_, conns_[i].fd, EPOLLIN, static_cast<std::uint32_t>(i), EPOLL_CTL_ADD);
  }
  void dispatch();
  void receive(std::size_t i);
  void fail(std::size_t i);
  void done(std::size_t i) {
    conns_[i].busy = false;
    free_[port_of_[i]].push_back(i);
  }
  bool idle() const {
    std::size_t free_n = 0;
    for (const auto& f : free_) free_n += f.size();
    return pending_.empty() && free_n == conns_.size();
  }

  std::vector<int> ports_;
  int ep_, wake_ = -1;
  std::vector<Conn> conns_;
  std::vector<std::size_t> port_of_;
  std::vector<Probe> probes_;                   // the probe each connection carries
  std::vector<std::vector<std::size_t>> free_;  // free connections per port
  std::deque<Probe> pending_;
  std::mutex mu_;
  std::deque<Probe> inbox_;
  std::atomic<std::int64_t> deadline_{std::numeric_limits<std::int64_t>::max()};
};

void Load::Prober::loop() {
  std::vector<epoll_event> events(conns_.size() + 1);
  while (true) {
    {
      std::lock_guard lock(mu_);
      while (!inbox_.empty()) {
        pending_.push_back(std::move(inbox_.front()));
        inbox_.pop_front();
      }
    }
    const auto deadline = deadline_.load();
    if (deadline != std::numeric_limits<std::int64_t>::max() &&
        (idle() || ticks(Clock::now()) >= deadline)) {
      std::lock_guard lock(mu_);
      if (inbox_.empty() || ticks(Clock::now()) >= deadline) break;
    }
    dispatch();
    const int n = ::epoll_wait(ep_, events.data(), static_cast<int>(events.size()), 20);
    for (int k = 0; k < n; ++k) {
      const auto& ev = events[static_cast<std::size_t>(k)];
      if (ev.data.u32 == kWake) {
        std::uint64_t v;
        [[maybe_unused]] auto r = ::read(wake_, &v, sizeof v);
        continue;
      }
      const std::size_t i = ev.data.u32;
      if (ev.events & (EPOLLERR | EPOLLHUP)) {
        fail(i);
        continue;
      }
      if ((ev.events & EPOLLOUT) && !flush(ep_, conns_[i], ev.data.u32)) {
        fail(i);
        continue;
      }
      if (ev.events & EPOLLIN) receive(i);
    }
  }
  failed += static_cast<std::int64_t>(pending_.size());
}

void Load::Prober::dispatch() {
  max_queued = std::max(max_queued, pending_.size());
  for (std::size_t n = pending_.size(); n > 0; --n) {
    Probe p = std::move(pending_.front());
    pending_.pop_front();
    auto& free = free_[p.port_index];
    if (free.empty()) {
      pending_.push_back(std::move(p));
      continue;
    }
    const std::size_t i = free.back();
    free.pop_back();
    auto& c = conns_[i];
    c.out = "GET /orders/" + p.id + "?min_version=" + std::to_string(p.version) +
            "&wait_ms=10000 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    c.written = 0;
    c.busy = true;
    probes_[i] = std::move(p);
    if (!flush(ep_, c, static_cast<std::uint32_t>(i))) fail(i);
  }
}

void Load::Prober::receive(std::size_t i) {
  auto& c = conns_[i];
  if (!receive_available(c.fd, c.in)) {
    fail(i);
    return;
  }
  auto r = take_response(c.in);
  if (!r || !c.busy) return;
  if (r->status == 200) {
    lags.push_back(
        std::chrono::duration<double, std::milli>(Clock::now() - probes_[i].acked).count());
  } else {
    ++failed;
  }
  done(i);
}

void Load::Prober::fail(std::size_t i) {
  ::epoll_ctl(ep_, EPOLL_CTL_DEL, conns_[i].fd, nullptr);
  ::close(conns_[i].fd);
  const bool was_busy = conns_[i].busy;
  open(i);
  if (was_busy) {
    ++failed;
    done(i);
  }
}

// ---- a driver thread: a share of the command connections on one epoll loop --------------------
class Load::Driver {
 public:
  Driver(const LoadSpec& spec, Shared& shared, Prober* prober, int first, int count)
      : spec_(spec), shared_(shared), prober_(prober), first_(first), ep_(::epoll_create1(0)) {
    if (ep_ < 0) throw std::runtime_error("epoll_create1 failed");
    per_order_ = 1 + spec.items_per_order + (spec.confirm_and_ship ? 2 : 0);
    if (spec.rate > 0)
      interval_ = std::chrono::nanoseconds(1'000'000'000LL * spec.connections / spec.rate);
    conns_.resize(static_cast<std::size_t>(count));
    slots_.resize(conns_.size());
    const auto start = Clock::now();
    for (std::size_t i = 0; i < conns_.size(); ++i) {
      // Open loop: connections start evenly spread over one interval.
      slots_[i].due = start + interval_ * (first_ + static_cast<int>(i)) / spec.connections;
      open(i);
    }
  }
  ~Driver() {
    for (auto& c : conns_)
      if (c.fd >= 0) ::close(c.fd);
    ::close(ep_);
  }
  void loop();
  LoadResult counts;
  Clock::time_point last_answer{};

 private:
  struct Slot {
    long long k = 0;  // the connection's command number
    std::string order;
    Clock::time_point due;
  };
  void open(std::size_t i) {
    conns_[i].fd = connect_nonblocking(spec_.port);
    conns_[i].in.clear();
    watch(ep_, conns_[i].fd, EPOLLIN, static_cast<std::uint32_t>(i), EPOLL_CTL_ADD);
  }
  void send_command(std::size_t i);
  void receive(std::size_t i);
  void answered(std::size_t i, int status, const std::string& body);
  void fail(std::size_t i);

  const LoadSpec& spec_;
  Shared& shared_;
  Prober* prober_;
  int first_;
  int ep_;
  int per_order_ = 1;
  std::chrono::nanoseconds interval_{0};
  std::vector<Conn> conns_;
  std::vector<Slot> slots_;
};

void Load::Driver::loop() {
  std::vector<epoll_event> events(conns_.size());
  while (true) {
    const auto now = Clock::now();
    const bool sending = shared_.sending.load(std::memory_order_relaxed);
    if (!sending) {
      const bool busy =
          std::any_of(conns_.begin(), conns_.end(), [](const Conn& c) { return c.busy; });
      if (!busy || ticks(now) >= shared_.stop_deadline.load()) break;
    }
    auto wake = now + 50ms;
    for (std::size_t i = 0; sending && i < conns_.size(); ++i) {
      if (conns_[i].busy) continue;
      if (slots_[i].due <= now) {
        send_command(i);
      } else {
        wake = std::min(wake, slots_[i].due);
      }
    }
    const auto wait =
        std::chrono::duration_cast<std::chrono::microseconds>(wake - Clock::now()).count();
    const int timeout_ms = wait <= 0 ? 0 : static_cast<int>((wait + 999) / 1000);
    const int n = ::epoll_wait(ep_, events.data(), static_cast<int>(events.size()), timeout_ms);
    for (int k = 0; k < n; ++k) {
      const auto& ev = events[static_cast<std::size_t>(k)];
      const std::size_t i = ev.data.u32;
      if (ev.events & (EPOLLERR | EPOLLHUP)) {
        fail(i);
        continue;
      }
      if ((ev.events & EPOLLOUT) && !flush(ep_, conns_[i], ev.data.u32)) {
        fail(i);
        continue;
      }
      if (ev.events & EPOLLIN) receive(i);
    }
  }
}

// The order script of a connection: CreateOrder, AddItem x items_per_order, [Confirm, Ship].
void Load::Driver::send_command(std::size_t i) {
  auto& s = slots_[i];
  const long long step = s.k % per_order_;
  std::string target, body;
  if (step == 0) {
    s.order = spec_.tag + "-c" + std::to_string(first_ + static_cast<int>(i)) + "-o" +
              std::to_string(s.k / per_order_);
    target = "/orders";
    body = "{\"order_id\":\"" + s.order + "\",\"customer_id\":\"cust-" +
           std::to_string((first_ + static_cast<int>(i)) % 100) + "\"}";
  } else if (step <= spec_.items_per_order) {
    target = "/orders/" + s.order + "/items";
    body = "{\"product_id\":\"p-" + std::to_string(step) + "\",\"quantity\":1,\"price\":\"9.99\"}";
  } else if (step == spec_.items_per_order + 1) {
    target = "/orders/" + s.order + "/confirm";
    body = "{}";
  } else {
    target = "/orders/" + s.order + "/ship";
    body = "{\"tracking_number\":\"TRK" + std::to_string(s.k) + "\"}";
  }
  auto& c = conns_[i];
  c.out = "POST " + target +
          " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: " +
          std::to_string(body.size()) + "\r\n\r\n" + body;
  c.written = 0;
  c.busy = true;
  c.t0 = Clock::now();
  if (!flush(ep_, c, static_cast<std::uint32_t>(i))) fail(i);
}

void Load::Driver::receive(std::size_t i) {
  auto& c = conns_[i];
  if (!receive_available(c.fd, c.in)) {
    fail(i);
    return;
  }
  auto r = take_response(c.in);
  if (!r || !c.busy) return;
  answered(i, r->status, r->body);
}

void Load::Driver::answered(std::size_t i, int status, const std::string& body) {
  auto& c = conns_[i];
  auto& s = slots_[i];
  const auto now = Clock::now();
  last_answer = now;
  const bool measured = shared_.in_window(c.t0);
  if (status >= 200 && status < 300) {
    shared_.acked.fetch_add(1, std::memory_order_relaxed);
    if (measured) {
      ++counts.ok;
      counts.latency_us.push_back(static_cast<std::uint32_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(now - c.t0).count()));
      // A fixed stride, staggered across connections so the probes spread evenly in time.
      const long long n = s.k + first_ + static_cast<long long>(i);
      if (prober_ != nullptr && n % spec_.probe_stride == 0) {
        const auto v = version_of(body);
        const auto port =
            static_cast<std::size_t>(n / spec_.probe_stride) % spec_.probe_ports.size();
        if (v > 0) prober_->submit(Probe{s.order, v, now, port});
      }
    }
  } else if (measured) {
    ++counts.errors;
    ++counts.statuses[status];
    if (counts.first_error.empty())
      counts.first_error = std::to_string(status) + " " + body.substr(0, 300);
  }
  c.busy = false;
  ++s.k;
  s.due += interval_;
}

void Load::Driver::fail(std::size_t i) {
  auto& c = conns_[i];
  ::epoll_ctl(ep_, EPOLL_CTL_DEL, c.fd, nullptr);
  ::close(c.fd);
  const bool was_busy = c.busy;
  open(i);
  if (was_busy) answered(i, 0, "connection failed");
}

// ---- Load ------------------------------------------------------------------------------------
Load::Load(LoadSpec spec) : spec_(std::move(spec)), shared_(std::make_shared<Shared>()) {
  if (!spec_.probe_ports.empty()) prober_ = std::make_unique<Prober>(spec_);
  const int n = std::max(1, std::min(spec_.threads, spec_.connections));
  for (int t = 0; t < n; ++t) {
    const int first = spec_.connections * t / n, last = spec_.connections * (t + 1) / n;
    drivers_.push_back(
        std::make_unique<Driver>(spec_, *shared_, prober_.get(), first, last - first));
  }
}

Load::~Load() {
  shared_->sending = false;
  shared_->stop_deadline = 0;
  if (prober_) prober_->finish(Clock::now());
  for (auto& t : threads_)
    if (t.joinable()) t.join();
}

void Load::start() {
  for (auto& d : drivers_) threads_.emplace_back([d = d.get()] { d->loop(); });
  if (prober_) threads_.emplace_back([p = prober_.get()] { p->loop(); });
}

void Load::measure_begin() {
  shared_->measure_from = ticks(Clock::now());
}
void Load::measure_end() {
  shared_->measure_to = ticks(Clock::now());
}

std::int64_t Load::acknowledged() const {
  return shared_->acked.load();
}

Clock::time_point Load::stop(std::chrono::milliseconds deadline) {
  shared_->stop_deadline = ticks(Clock::now() + deadline);
  shared_->sending = false;
  for (std::size_t i = 0; i < drivers_.size(); ++i) threads_[i].join();
  Clock::time_point last{};
  for (const auto& d : drivers_) last = std::max(last, d->last_answer);
  return last;
}

LoadResult Load::result(std::chrono::milliseconds deadline) {
  if (prober_) {
    prober_->finish(Clock::now() + deadline);
    threads_.back().join();
  }
  threads_.clear();
  LoadResult r;
  r.seconds = std::chrono::duration<double>(
                  Clock::duration(shared_->measure_to.load() - shared_->measure_from.load()))
                  .count();
  for (auto& d : drivers_) {
    r.ok += d->counts.ok;
    r.errors += d->counts.errors;
    for (auto [s, n] : d->counts.statuses) r.statuses[s] += n;
    r.latency_us.insert(r.latency_us.end(), d->counts.latency_us.begin(),
                        d->counts.latency_us.end());
    if (r.first_error.empty()) r.first_error = d->counts.first_error;
  }
  if (prober_) {
    r.lag_ms = prober_->lags;
    r.probes_failed = prober_->failed;
    r.probes_max_queued = prober_->max_queued;
  }
  return r;
}

}  // namespace orders::bench::pipeline
