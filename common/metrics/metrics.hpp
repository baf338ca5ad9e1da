// A small Prometheus registry: counters, gauges and histograms with labels, rendered in the
// text exposition format. Thread-safe; hot-path updates are lock-free after first lookup.
// Metric and label names are checked at registration (std::invalid_argument): names match
// [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]* and neither "__*" nor "le". The
// naming policy of this service (prefix orders_ or process_, label `code` for HTTP statuses) is
// checked by tests over the services' real /metrics and listed in docs/operations.md.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace orders::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void inc(double v = 1.0);
  double value() const;

 private:
  std::atomic<double> v_{0.0};
};

class Gauge {
 public:
  void set(double v);
  void add(double v);
  double value() const;

 private:
  std::atomic<double> v_{0.0};
};

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double v);
  // snapshot for rendering
  std::vector<std::uint64_t> bucket_counts() const;  // cumulative, one per bound, then +Inf
  double sum() const;
  std::uint64_t count() const;
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;
  std::atomic<double> sum_{0.0};
  std::atomic<std::uint64_t> count_{0};
};

// Default latency buckets in seconds: 0.0005 .. 10.
std::vector<double> latency_buckets();

class Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // The same (name, labels) returns the same object; references stay valid for the registry's life.
  Counter& counter(const std::string& name, const std::string& help, const Labels& labels = {});
  Gauge& gauge(const std::string& name, const std::string& help, const Labels& labels = {});
  Histogram& histogram(const std::string& name, const std::string& help, const Labels& labels = {},
                       std::vector<double> bounds = latency_buckets());
  // Evaluated at render time (e.g. outbox backlog read from Postgres by the caller's callback).
  // A callback that throws has no sample in that scrape (never a made-up value) and counts in
  // orders_metric_callback_errors_total{metric}.
  void gauge_callback(const std::string& name, const std::string& help, std::function<double()> fn,
                      const Labels& labels = {});
  void counter_callback(const std::string& name, const std::string& help,
                        std::function<double()> fn, const Labels& labels = {});
  std::string render() const;  // text/plain; version=0.0.4

 private:
  enum class Kind { Counter, Gauge, Histogram };
  struct Family;
  // The family `name` (created on first use; caller holds mu_). Throws on a bad name or label
  // name, and std::logic_error when it exists with another kind or another plain/callback form.
  Family& family(const std::string& name, const std::string& help, Kind kind, const Labels& labels,
                 bool callback);
  void add_callback(const std::string& name, const std::string& help, Kind kind,
                    std::function<double()> fn, const Labels& labels);
  static const char* kind_name(Kind kind);
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Family>> families_;
};

}  // namespace orders::metrics
