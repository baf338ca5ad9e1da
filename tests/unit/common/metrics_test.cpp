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
  r.counter("commands_total", "Commands by type", {{"type", "AddItem"}, {"outcome", "ok"}}).inc();
  r.counter("commands_total", "Commands by type", {{"type", "AddItem"}, {"outcome", "ok"}}).inc(2);
  const std::string text = r.render();
  EXPECT_TRUE(contains(text, "# HELP commands_total Commands by type\n")) << text;
  EXPECT_TRUE(contains(text, "# TYPE commands_total counter\n")) << text;
  EXPECT_TRUE(contains(text, "commands_total{type=\"AddItem\",outcome=\"ok\"} 3\n")) << text;
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
  r.gauge_callback("outbox_backlog", "Unpublished outbox rows", [&backlog] { return backlog; });
  EXPECT_TRUE(contains(r.render(), "outbox_backlog 1\n"));
  backlog = 42;
  EXPECT_TRUE(contains(r.render(), "outbox_backlog 42\n"));
  r.gauge_callback("broken", "Throws", []() -> double { throw std::runtime_error("db down"); });
  EXPECT_TRUE(contains(r.render(), "broken NaN\n")) << r.render();
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
