#include "common/metrics/metrics.hpp"

#include <charconv>
#include <cmath>
#include <stdexcept>
#include <variant>

namespace orders::metrics {
namespace {

void atomic_add(std::atomic<double>& target, double v) {
  double current = target.load(std::memory_order_relaxed);
  while (!target.compare_exchange_weak(current, current + v, std::memory_order_relaxed)) {
  }
}

std::string format_number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, v);
  if (ec != std::errc()) return "NaN";
  return std::string(buf, ptr);
}

std::string escape_label_value(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string escape_help(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string render_labels(const Labels& labels, const std::string& extra_name = {},
                          const std::string& extra_value = {}) {
  if (labels.empty() && extra_name.empty()) return {};
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out += ',';
    first = false;
    out += k;
    out += "=\"";
    out += escape_label_value(v);
    out += '"';
  }
  if (!extra_name.empty()) {
    if (!first) out += ',';
    out += extra_name;
    out += "=\"";
    out += escape_label_value(extra_value);
    out += '"';
  }
  out += '}';
  return out;
}

bool valid_name(const std::string& name) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    const bool digit = c >= '0' && c <= '9';
    if (!alpha && !(digit && i > 0)) return false;
  }
  return true;
}

}  // namespace

void Counter::inc(double v) {
  atomic_add(v_, v);
}
double Counter::value() const {
  return v_.load(std::memory_order_relaxed);
}

void Gauge::set(double v) {
  v_.store(v, std::memory_order_relaxed);
}
void Gauge::add(double v) {
  atomic_add(v_, v);
}
double Gauge::value() const {
  return v_.load(std::memory_order_relaxed);
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      buckets_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1)) {
  for (std::size_t i = 1; i < bounds_.size(); ++i) {
    if (!(bounds_[i - 1] < bounds_[i]))
      throw std::invalid_argument("histogram bounds must increase");
  }
  for (std::size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0);
}

void Histogram::observe(double v) {
  std::size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  atomic_add(sum_, v);
  count_.fetch_add(1, std::memory_order_relaxed);
}

std::vector<std::uint64_t> Histogram::bucket_counts() const {
  std::vector<std::uint64_t> out(bounds_.size() + 1);
  std::uint64_t running = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    out[i] = running;
  }
  return out;
}

double Histogram::sum() const {
  return sum_.load(std::memory_order_relaxed);
}
std::uint64_t Histogram::count() const {
  return count_.load(std::memory_order_relaxed);
}

std::vector<double> latency_buckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

struct Registry::Family {
  std::string name;
  std::string help;
  Kind kind;
  bool callback = false;       // every sample is evaluated at render time
  std::vector<double> bounds;  // histograms
  std::map<Labels, std::unique_ptr<Counter>> counters;
  std::map<Labels, std::unique_ptr<Gauge>> gauges;
  std::map<Labels, std::unique_ptr<Histogram>> histograms;
  std::map<Labels, std::function<double()>> callbacks;
};

const char* Registry::kind_name(Kind k) {
  switch (k) {
    case Kind::Counter:
      return "counter";
    case Kind::Gauge:
      return "gauge";
    case Kind::Histogram:
      return "histogram";
  }
  return "untyped";
}

namespace {

bool valid_label_name(const std::string& name) {
  if (name.empty() || name == "le" || name.rfind("__", 0) == 0) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    const bool digit = c >= '0' && c <= '9';
    if (!alpha && !(digit && i > 0)) return false;
  }
  return true;
}

constexpr const char* kCallbackErrors = "orders_metric_callback_errors_total";

}  // namespace

Registry::Registry() = default;
Registry::~Registry() = default;

Registry::Family& Registry::family(const std::string& name, const std::string& help, Kind kind,
                                   const Labels& labels, bool callback) {
  for (const auto& [label, value] : labels) {
    if (!valid_label_name(label))
      throw std::invalid_argument(
          std::string("bad label name '").append(label).append("' of metric ").append(name));
  }
  auto& fam = families_[name];
  if (!fam) {
    if (!valid_name(name)) {
      families_.erase(name);
      throw std::invalid_argument("bad metric name: " + name);
    }
    fam = std::make_unique<Family>();
    fam->name = name;
    fam->help = help;
    fam->kind = kind;
    fam->callback = callback;
  }
  if (fam->kind != kind || fam->callback != callback) {
    throw std::logic_error("metric " + name + " is already registered as another " +
                           (fam->callback ? "callback " : "") + kind_name(fam->kind));
  }
  return *fam;
}

// A name reused with another type is a programming error (std::logic_error).
Counter& Registry::counter(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard lock(mu_);
  auto& slot = family(name, help, Kind::Counter, labels, false).counters[labels];
  if (!slot) slot = std::make_unique<Counter>();
  return *slot;
}

Gauge& Registry::gauge(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard lock(mu_);
  auto& slot = family(name, help, Kind::Gauge, labels, false).gauges[labels];
  if (!slot) slot = std::make_unique<Gauge>();
  return *slot;
}

Histogram& Registry::histogram(const std::string& name, const std::string& help,
                               const Labels& labels, std::vector<double> bounds) {
  std::lock_guard lock(mu_);
  auto& fam = family(name, help, Kind::Histogram, labels, false);
  if (fam.histograms.empty() && fam.bounds.empty()) fam.bounds = std::move(bounds);
  auto& slot = fam.histograms[labels];
  if (!slot) slot = std::make_unique<Histogram>(fam.bounds);
  return *slot;
}

void Registry::add_callback(const std::string& name, const std::string& help, Kind kind,
                            std::function<double()> fn, const Labels& labels) {
  std::lock_guard lock(mu_);
  family(name, help, kind, labels, true).callbacks[labels] = std::move(fn);
  // Registered up front so that the error counter is always rendered (0 when all is well).
  auto& errors =
      family(kCallbackErrors, "Metric callbacks that failed, so their sample was left out",
             Kind::Counter, {{"metric", name}}, false)
          .counters[{{"metric", name}}];
  if (!errors) errors = std::make_unique<Counter>();
}

void Registry::gauge_callback(const std::string& name, const std::string& help,
                              std::function<double()> fn, const Labels& labels) {
  add_callback(name, help, Kind::Gauge, std::move(fn), labels);
}

void Registry::counter_callback(const std::string& name, const std::string& help,
                                std::function<double()> fn, const Labels& labels) {
  add_callback(name, help, Kind::Counter, std::move(fn), labels);
}

namespace {

void render_histogram(std::string& out, const std::string& name, const Labels& labels,
                      const Histogram& h) {
  // _count is the +Inf bucket of the same snapshot, so the two always agree.
  const auto counts = h.bucket_counts();
  for (std::size_t i = 0; i < h.bounds().size(); ++i) {
    out += name + "_bucket" + render_labels(labels, "le", format_number(h.bounds()[i])) + " " +
           std::to_string(counts[i]) + "\n";
  }
  out += name + "_bucket" + render_labels(labels, "le", "+Inf") + " " +
         std::to_string(counts.back()) + "\n";
  out += name + "_sum" + render_labels(labels) + " " + format_number(h.sum()) + "\n";
  out += name + "_count" + render_labels(labels) + " " + std::to_string(counts.back()) + "\n";
}

}  // namespace

std::string Registry::render() const {
  // Callbacks may be slow (a Postgres query): copy them out and evaluate without the lock.
  struct Pending {
    std::string name, help;
    Kind kind;
    std::map<Labels, std::function<double()>> fns;
    Counter* errors;  // orders_metric_callback_errors_total{metric=name}
  };
  std::vector<Pending> callbacks;
  std::string out;
  {
    std::lock_guard lock(mu_);
    for (const auto& [name, fam] : families_) {
      if (fam->callback) {
        const auto& errors = families_.at(kCallbackErrors)->counters;
        callbacks.push_back(
            {name, fam->help, fam->kind, fam->callbacks, errors.at({{"metric", name}}).get()});
        continue;
      }
      out += "# HELP " + name + " " + escape_help(fam->help) + "\n";
      out += "# TYPE " + name + " " + kind_name(fam->kind) + "\n";
      for (const auto& [labels, c] : fam->counters)
        out += name + render_labels(labels) + " " + format_number(c->value()) + "\n";
      for (const auto& [labels, g] : fam->gauges)
        out += name + render_labels(labels) + " " + format_number(g->value()) + "\n";
      for (const auto& [labels, h] : fam->histograms) render_histogram(out, name, labels, *h);
    }
  }
  for (const auto& cb : callbacks) {
    out += "# HELP " + cb.name + " " + escape_help(cb.help) + "\n";
    out += "# TYPE " + cb.name + " " + kind_name(cb.kind) + "\n";
    for (const auto& [labels, fn] : cb.fns) {
      try {
        const double v = fn();
        out += cb.name + render_labels(labels) + " " + format_number(v) + "\n";
      } catch (...) {
        // No sample rather than a sentinel; the failure is counted (rendered next scrape).
        cb.errors->inc();
      }
    }
  }
  return out;
}

}  // namespace orders::metrics
