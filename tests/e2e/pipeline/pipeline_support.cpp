#include "tests/e2e/pipeline/pipeline_support.hpp"

#include <algorithm>

namespace orders::testing::pipeline {

using namespace std::chrono_literals;

PipelineStack::PipelineStack(int read_replicas)
    : db_(shared_pg().create_database("pipeline")), write_port_(free_port()) {
  for (int i = 0; i < read_replicas; ++i) read_ports_.push_back(free_port());
  reads_.resize(static_cast<std::size_t>(read_replicas));
  start_write();
  for (int i = 0; i < read_replicas; ++i) start_read(i);
}

PipelineStack::~PipelineStack() {
  for (auto& r : reads_) r.reset();
  write_.reset();
}

void PipelineStack::start_write() {
  write_ = start_service(write_side_binary(), {"serve"},
                         {{"DATABASE_URL", db_},
                          {"NATS_URL", nats_.url()},
                          {"WRITE_PORT", std::to_string(write_port_)},
                          {"PG_POOL_SIZE", "8"},
                          {"LOG_LEVEL", "info"}},
                         write_port_, 30s);
}

void PipelineStack::kill_write() {
  if (write_) write_->kill9();
}

void PipelineStack::start_read(int i) {
  const auto port = read_port(i);
  reads_.at(static_cast<std::size_t>(i)) = start_service(read_side_binary(), {"serve"},
                                                         {{"DATABASE_URL", db_},
                                                          {"NATS_URL", nats_.url()},
                                                          {"READ_PORT", std::to_string(port)},
                                                          {"REPLICA_ID", replica_id(i)},
                                                          {"PG_POOL_SIZE", "4"},
                                                          {"LOG_LEVEL", "info"}},
                                                         port, 30s);
}

void PipelineStack::kill_read(int i) {
  auto& p = reads_.at(static_cast<std::size_t>(i));
  if (p) p->kill9();
}

HttpResult seed_step(HttpClient& c, const std::string& order_id, const std::string& customer_id,
                     int step) {
  switch (step) {
    case 0:
      return c.post("/orders",
                    nlohmann::json{{"order_id", order_id}, {"customer_id", customer_id}}.dump());
    case 1:
      return c.post("/orders/" + order_id + "/items",
                    R"({"product_id":"product-1","quantity":2,"price":"10.00"})");
    case 2:
      return c.post("/orders/" + order_id + "/items",
                    R"({"product_id":"product-2","quantity":1,"price":15})");
    case 3:
      return c.post("/orders/" + order_id + "/confirm", "");
    case 4:
      return c.post("/orders/" + order_id + "/ship", R"({"tracking_number":"TRK123456"})");
    default:
      return HttpResult{};
  }
}

CommandLoad::CommandLoad(int write_port, int threads, std::string prefix)
    : port_(write_port), prefix_(std::move(prefix)) {
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this, i] { run(i); });
}

CommandLoad::~CommandLoad() {
  stop();
}

void CommandLoad::stop() {
  stop_ = true;
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

std::map<std::string, std::int64_t> CommandLoad::acked_versions() const {
  std::lock_guard lock(mu_);
  return versions_;
}

void CommandLoad::run(int thread_index) {
  HttpClient c("127.0.0.1", port_);
  for (int n = 0; !stop_; ++n) {
    const auto id = prefix_ + "-" + std::to_string(thread_index) + "-" + std::to_string(n);
    const auto customer = "cust-" + std::to_string(n % 5);
    for (int step = 0; step < 5 && !stop_; ++step) {
      HttpResult r;
      // Retry a step that got no answer (service down) until it is answered: an unanswered
      // command may or may not have been appended, so the next one tells (409 = it was).
      for (int attempt = 0; attempt < 200 && !stop_; ++attempt) {
        r = seed_step(c, id, customer, step);
        if (r.status != 0 && r.status != 503) break;
        std::this_thread::sleep_for(50ms);  // back-off while the write-side restarts
      }
      if (r.status >= 200 && r.status < 300) {
        ++acked_;
        std::int64_t version = step + 1;
        try {
          version = r.json().at("version").get<std::int64_t>();
        } catch (const std::exception&) {
        }
        std::lock_guard lock(mu_);
        auto& v = versions_[id];
        v = std::max(v, version);
      } else if (r.status == 409 && step == 0) {
        // Created by an unanswered attempt: continue with the next step.
        std::lock_guard lock(mu_);
        versions_.emplace(id, 1);
      } else {
        ++failed_;
        break;
      }
    }
  }
}

}  // namespace orders::testing::pipeline
