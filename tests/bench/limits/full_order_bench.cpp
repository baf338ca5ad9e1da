// The cost of a command on a full order next to a fresh one, on both sides. Starts PostgreSQL,
// nats-server, a write-side (relay on, as shipped) and one read-side, fills one order with the
// most lines (MAX_ORDER_LINES, default 1000) and keeps one with a single line, then, with the
// aggregate cache on and off, sends AddItem to the existing line of each order in alternating
// blocks (fresh, full, fresh, full: the VM's speed drifts). Prints per order: command p50/p99
// (2xx), 2xx -> visible on the read side p50/p99 (a conditional GET ?min_version=N with
// If-None-Match: "N": a 304 once applied, so the probe measures the apply, not the rendering of
// the order), write-side and read-side CPU per command, and the ratio full/fresh against the target
// (within 2x). Apart: a plain GET of each order (the read's own cost, which grows with the lines
// it returns).
//
//   full_order_bench [--commands N per block (300)] [--lines L (1000)]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "tests/support/services.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using namespace orders::testing;

struct Sample {
  std::vector<double> command_ms, visible_ms;
  double write_cpu = 0, read_cpu = 0;  // seconds
  int commands = 0, errors = 0;
};

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

std::string add(const std::string& product) {
  return R"({"product_id":")" + product + R"(","quantity":1,"price":"1.00"})";
}

// One block of `n` AddItems on `order`'s line p-0; each waits until the read side shows it.
void run_block(const std::string& order, int n, int wport, int rport, Process& ws, Process& rs,
               Sample& s) {
  HttpClient w("127.0.0.1", wport), r("127.0.0.1", rport);
  const double w0 = process_cpu_seconds(std::to_string(ws.pid()));
  const double r0 = process_cpu_seconds(std::to_string(rs.pid()));
  for (int i = 0; i < n; ++i) {
    const auto t0 = Clock::now();
    auto res = w.post("/orders/" + order + "/items", add("p-0"));
    const auto t1 = Clock::now();
    if (res.status != 200) {
      ++s.errors;
      continue;
    }
    const auto version = res.json().at("version").get<std::int64_t>();
    const auto tag = "\"" + std::to_string(version) + "\"";
    auto seen = r.request(
        "GET", "/orders/" + order + "?min_version=" + std::to_string(version) + "&wait_ms=10000",
        "", {{"If-None-Match", tag}});
    const auto t2 = Clock::now();
    if (seen.status != 304) ++s.errors;
    s.command_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    s.visible_ms.push_back(std::chrono::duration<double, std::milli>(t2 - t1).count());
    ++s.commands;
  }
  s.write_cpu += process_cpu_seconds(std::to_string(ws.pid())) - w0;
  s.read_cpu += process_cpu_seconds(std::to_string(rs.pid())) - r0;
}

// `n` plain GETs of `order`: p50 and the read-side's CPU per GET.
std::pair<double, double> read_whole(const std::string& order, int n, int rport, Process& rs) {
  HttpClient r("127.0.0.1", rport);
  std::vector<double> ms;
  const double r0 = process_cpu_seconds(std::to_string(rs.pid()));
  for (int i = 0; i < n; ++i) {
    const auto t0 = Clock::now();
    if (r.get("/orders/" + order).status != 200) continue;
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  const double cpu = process_cpu_seconds(std::to_string(rs.pid())) - r0;
  return {percentile(ms, 0.5), 1e6 * cpu / std::max(1, n)};
}

void measure(bool cache, int commands, int lines) {
  NatsServer nats;
  const auto db = shared_pg().create_database(cache ? "full_order_cache" : "full_order_nocache");
  const int wport = free_port(), rport = free_port();
  auto ws = start_service(write_side_binary(), {"serve"},
                          {{"DATABASE_URL", db},
                           {"NATS_URL", nats.url()},
                           {"WRITE_PORT", std::to_string(wport)},
                           {"MAX_ORDER_LINES", std::to_string(lines)},
                           {"CACHE_SIZE", cache ? "100000" : "0"}},
                          wport, 60s);
  auto rs = start_service(
      read_side_binary(), {"serve"},
      {{"DATABASE_URL", db}, {"NATS_URL", nats.url()}, {"READ_PORT", std::to_string(rport)}}, rport,
      60s);
  HttpClient w("127.0.0.1", wport);
  w.post("/orders", R"({"order_id":"fresh","customer_id":"c"})");
  w.post("/orders/fresh/items", add("p-0"));
  w.post("/orders", R"({"order_id":"full","customer_id":"c"})");
  for (int i = 0; i < lines; ++i) w.post("/orders/full/items", add("p-" + std::to_string(i)));
  HttpClient r("127.0.0.1", rport);
  r.get("/orders/full?min_version=" + std::to_string(lines + 1) + "&wait_ms=60000");

  Sample fresh, full;
  for (int round = 0; round < 2; ++round) {
    run_block("fresh", commands, wport, rport, *ws, *rs, fresh);
    run_block("full", commands, wport, rport, *ws, *rs, full);
  }
  auto row = [&](const char* name, const Sample& s) {
    std::printf(
        "  %-6s %-12s cmd p50 %6.2f p99 %6.2f ms | visible p50 %6.2f p99 %6.2f ms | "
        "cpu/cmd write %6.0f us, read %6.0f us | errors %d\n",
        cache ? "on" : "off", name, percentile(s.command_ms, 0.5), percentile(s.command_ms, 0.99),
        percentile(s.visible_ms, 0.5), percentile(s.visible_ms, 0.99),
        1e6 * s.write_cpu / std::max(1, s.commands), 1e6 * s.read_cpu / std::max(1, s.commands),
        s.errors);
  };
  row("fresh (1)", fresh);
  row(("full (" + std::to_string(lines) + ")").c_str(), full);
  auto ratio = [](double a, double b) { return b > 0 ? a / b : 0; };
  std::printf(
      "  %-6s full/fresh: cmd p50 %.2fx p99 %.2fx, visible p50 %.2fx p99 %.2fx, "
      "cpu write %.2fx read %.2fx (target <= 2x)\n",
      cache ? "on" : "off",
      ratio(percentile(full.command_ms, 0.5), percentile(fresh.command_ms, 0.5)),
      ratio(percentile(full.command_ms, 0.99), percentile(fresh.command_ms, 0.99)),
      ratio(percentile(full.visible_ms, 0.5), percentile(fresh.visible_ms, 0.5)),
      ratio(percentile(full.visible_ms, 0.99), percentile(fresh.visible_ms, 0.99)),
      ratio(full.write_cpu, fresh.write_cpu), ratio(full.read_cpu, fresh.read_cpu));
  const auto [fresh_ms, fresh_us] = read_whole("fresh", commands, rport, *rs);
  const auto [full_ms, full_us] = read_whole("full", commands, rport, *rs);
  std::printf(
      "  %-6s GET of the whole order (a read, not a command): fresh p50 %.2f ms, %.0f us CPU; "
      "full p50 %.2f ms, %.0f us CPU\n",
      cache ? "on" : "off", fresh_ms, fresh_us, full_ms, full_us);
}

}  // namespace

int main(int argc, char** argv) {
  int commands = 300, lines = 1000;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--commands" && i + 1 < argc) {
      commands = std::stoi(argv[++i]);
    } else if (a == "--lines" && i + 1 < argc) {
      lines = std::stoi(argv[++i]);
    } else {
      std::printf("full_order_bench [--commands N per block (300)] [--lines L (1000)]\n");
      return a == "--help" ? 0 : 2;
    }
  }
  std::string command = argv[0];
  for (int i = 1; i < argc; ++i) command += std::string(" ") + argv[i];
  std::printf(
      "AddItem on an order with %d lines next to a fresh order; 1 client, closed loop,\n"
      "shipped settings (relay on, info logging), %d commands per block, blocks "
      "alternating\n",
      lines, commands);
  measure(true, commands, lines);
  measure(false, commands, lines);
  std::printf("reproduce: %s\n", command.c_str());
  return 0;
}
