#include "common/metrics/metrics.hpp"

#include <thread>

#include <gtest/gtest.h>

namespace orders::metrics {
namespace {

bool contains(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

TEST(Metrics, CounterWithLabelsRendersHelpTypeAndValue) {
  Registry r;
  r.counter("orders_commands_total", "Commands by type", {{"type", "AddItem"}, {"outcome", "ok"}})
      .inc();
  r.counter("orders_commands_total", "Commands by type", {{"type", "AddItem"}, {"outcome", "ok"}})
      .inc(2);
  const std::string text = r.render();
  EXPECT_TRUE(contains(text, "# HELP orders_commands_total Commands by type\n")) << text;
  EXPECT_TRUE(contains(text, "# TYPE orders_commands_total counter\n")) << text;
  EXPECT_TRUE(contains(text, "orders_commands_total{type=\"AddItem\",outcome=\"ok\"} 3\n")) << text;
}

TEST(Metrics, SameNameAndLabelsIsTheSameObject) {
  Registry r;
  auto& a = r.gauge("g", "help", {{"x", "1"}});
  auto& b = r.gauge("g", "help", {{"x", "1"}});
  auto& c = r.gauge("g", "help", {{"x", "2"}});
  EXPECT_EQ(&a, &b);
  EXPECT_NE(&a, &c);
}

TEST(Metrics, GaugeSetAndAdd) {
  Registry r;
  auto& g = r.gauge("backlog", "Outbox rows");
  g.set(5);
  g.add(-2.5);
  EXPECT_DOUBLE_EQ(g.value(), 2.5);
  EXPECT_TRUE(contains(r.render(), "# TYPE backlog gauge\nbacklog 2.5\n")) << r.render();
}

TEST(Metrics, HistogramBucketsAreCumulativeWithSumAndCount) {
  Registry r;
  auto& h = r.histogram("lat_seconds", "Latency", {{"route", "/orders"}}, {0.1, 1});
  h.observe(0.05);
  h.observe(0.1);  // on the bound: le is inclusive
  h.observe(0.5);
  h.observe(7);
  const std::string text = r.render();
  EXPECT_TRUE(contains(text, "# TYPE lat_seconds histogram\n")) << text;
  EXPECT_TRUE(contains(text, "lat_seconds_bucket{route=\"/orders\",le=\"0.1\"} 2\n")) << text;
  EXPECT_TRUE(contains(text, "lat_seconds_bucket{route=\"/orders\",le=\"1\"} 3\n")) << text;
  EXPECT_TRUE(contains(text, "lat_seconds_bucket{route=\"/orders\",le=\"+Inf\"} 4\n")) << text;
  EXPECT_TRUE(contains(text, "lat_seconds_sum{route=\"/orders\"} 7.65\n")) << text;
  EXPECT_TRUE(contains(text, "lat_seconds_count{route=\"/orders\"} 4\n")) << text;
}

TEST(Metrics, LabelValuesAreEscaped) {
  Registry r;
  r.counter("c", "multi\nline \\ help", {{"v", "a\"b\\c\nd"}}).inc();
  const std::string text = r.render();
  EXPECT_TRUE(contains(text, "c{v=\"a\\\"b\\\\c\\nd\"} 1\n")) << text;
  EXPECT_TRUE(contains(text, "# HELP c multi\\nline \\\\ help\n")) << text;
}

TEST(Metrics, GaugeCallbackIsEvaluatedAtRender) {
  Registry r;
  double backlog = 1;
  r.gauge_callback("orders_outbox_backlog", "Unpublished outbox rows",
                   [&backlog] { return backlog; });
  EXPECT_TRUE(contains(r.render(), "orders_outbox_backlog 1\n"));
  backlog = 42;
  EXPECT_TRUE(contains(r.render(), "orders_outbox_backlog 42\n"));
}

TEST(Metrics, FailingCallbackHasNoSampleAndIsCounted) {
  Registry r;
  r.gauge_callback("broken", "Throws", []() -> double { throw std::runtime_error("db down"); });
  const std::string first = r.render();
  EXPECT_TRUE(contains(first, "# TYPE broken gauge\n")) << first;
  EXPECT_FALSE(contains(first, "\nbroken ")) << first;  // no sample, no sentinel
  EXPECT_TRUE(contains(first, "orders_metric_callback_errors_total{metric=\"broken\"} 0\n"))
      << first;
  EXPECT_TRUE(contains(r.render(), "orders_metric_callback_errors_total{metric=\"broken\"} 1\n"));
}

TEST(Metrics, CallbacksCarryLabelsAndCounterType) {
  Registry r;
  r.counter_callback("orders_x_total", "x", [] { return 3.0; }, {{"pool", "a"}});
  r.gauge_callback("orders_y", "y", [] { return 4.0; }, {{"pool", "a"}, {"state", "idle"}});
  const std::string text = r.render();
  EXPECT_TRUE(contains(text, "# TYPE orders_x_total counter\norders_x_total{pool=\"a\"} 3\n"))
      << text;
  EXPECT_TRUE(contains(text, "orders_y{pool=\"a\",state=\"idle\"} 4\n")) << text;
  EXPECT_THROW(r.counter("orders_x_total", "x"), std::logic_error);  // a callback family
}

TEST(Metrics, BadLabelNamesAreRejected) {
  Registry r;
  EXPECT_THROW(r.counter("c_total", "h", {{"le", "1"}}), std::invalid_argument);
  EXPECT_THROW(r.counter("c_total", "h", {{"__name__", "x"}}), std::invalid_argument);
  EXPECT_THROW(r.gauge("g", "h", {{"bad-name", "x"}}), std::invalid_argument);
  EXPECT_THROW(r.gauge("g", "h", {{"1st", "x"}}), std::invalid_argument);
  EXPECT_NO_THROW(r.gauge("g", "h", {{"code", "200"}}));
}

TEST(Metrics, NameReusedWithAnotherTypeIsAnError) {
  Registry r;
  r.counter("x", "h");
  EXPECT_THROW(r.gauge("x", "h"), std::logic_error);
  EXPECT_THROW(r.counter("bad name", "h"), std::invalid_argument);
}

TEST(Metrics, ConcurrentIncrementsAreNotLost) {
  Registry r;
  auto& c = r.counter("n", "h");
  auto& h = r.histogram("h_seconds", "h");
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c.inc();
        h.observe(0.001);
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_DOUBLE_EQ(c.value(), 40000);
  EXPECT_EQ(h.count(), 40000u);
  EXPECT_EQ(h.bucket_counts().back(), 40000u);
}

}  // namespace
}  // namespace orders::metrics
