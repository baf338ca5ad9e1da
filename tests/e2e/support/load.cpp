#include "tests/e2e/support/load.hpp"

#include <random>
#include <sstream>

namespace orders::testing::e2e {

CommandLoad::CommandLoad(LoadOptions options, AckLog& acks)
    : options_(std::move(options)), acks_(acks) {}

CommandLoad::~CommandLoad() {
  stop();
}

void CommandLoad::start() {
  for (int i = 0; i < options_.threads; ++i) threads_.emplace_back([this, i] { worker(i); });
}

void CommandLoad::stop() {
  stopping_.store(true);
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

std::map<int, std::int64_t> CommandLoad::statuses() const {
  std::lock_guard lock(mu_);
  return statuses_;
}

std::vector<std::string> CommandLoad::examples() const {
  std::lock_guard lock(mu_);
  return examples_;
}

std::string CommandLoad::describe_statuses() const {
  std::ostringstream out;
  bool first = true;
  for (const auto& [status, n] : statuses()) {
    out << (first ? "" : " ") << (status == 0 ? std::string("no-response") : std::to_string(status))
        << "=" << n;
    first = false;
  }
  return out.str();
}

void CommandLoad::count_status(int status) {
  std::lock_guard lock(mu_);
  ++statuses_[status];
}

void CommandLoad::note(const std::string& s) {
  std::lock_guard lock(mu_);
  if (examples_.size() < 20) examples_.push_back(s);
}

bool CommandLoad::run_command(HttpClient& client, const std::string& method,
                              const std::string& target, const std::string& body,
                              const std::string& key, const std::string& order_id) {
  ++commands_;
  auto headers = options_.headers;
  headers["Idempotency-Key"] = key;
  for (int attempt = 0; attempt < options_.max_attempts; ++attempt) {
    HttpResult r = client.request(method, target, body, headers);
    ++sent_;
    count_status(r.status);
    if (r.status >= 200 && r.status < 300) {
      try {
        auto j = r.json();
        Ack a;
        a.order_id = j.at("order_id").get<std::string>();
        a.version = j.at("version").get<std::int64_t>();
        if (j.contains("position") && j["position"].is_number_integer()) {
          a.position = j["position"].get<std::int64_t>();
        }
        if (a.order_id != order_id) note("2xx for " + order_id + " names order " + a.order_id);
        acks_.add(std::move(a));
        ++acked_;
      } catch (const std::exception&) {
        note("2xx with an unreadable body on " + target + ": " + r.body.substr(0, 200));
      }
      return true;
    }
    if (r.status >= 400 && r.status < 500 && r.status != 408 && r.status != 429) {
      ++unexpected_4xx_;
      note(method + " " + target + " (key " + key + ", attempt " + std::to_string(attempt + 1) +
           "): " + std::to_string(r.status) + " " + r.body.substr(0, 200));
      return false;
    }
    // In doubt (no response, 5xx): back off and retry with the same key.
    std::this_thread::sleep_for(std::chrono::milliseconds(50 * std::min(attempt + 1, 6)));
  }
  ++abandoned_;
  note("abandoned " + method + " " + target + " after " + std::to_string(options_.max_attempts) +
       " attempts");
  return false;
}

void CommandLoad::worker(int index) {
  HttpClient client("127.0.0.1", options_.port);
  client.set_timeout(options_.request_timeout);
  std::mt19937 rng(static_cast<unsigned>(index * 7919 + 17));
  auto chance = [&rng](int percent) { return static_cast<int>(rng() % 100) < percent; };
  for (std::int64_t n = 0; !stopping_.load(); ++n) {
    const std::string order =
        options_.prefix + "-" + std::to_string(index) + "-" + std::to_string(n);
    const std::string path = "/orders/" + order;
    const std::string customer = "cust-" + std::to_string((index + n) % 7);
    int step = 0;
    auto cmd = [&](const std::string& method, const std::string& target, const std::string& body) {
      if (stopping_.load()) return false;
      const bool ok =
          run_command(client, method, target, body, order + ":" + std::to_string(step++), order);
      if (ok) std::this_thread::sleep_for(options_.think);
      return ok;
    };
    nlohmann::json create = {{"order_id", order}, {"customer_id", customer}};
    if (!cmd("POST", "/orders", create.dump())) continue;
    const int q1 = 1 + static_cast<int>(rng() % 5);
    if (!cmd("POST", path + "/items",
             nlohmann::json{{"product_id", "p-1"}, {"quantity", q1}, {"price", "19.99"}}.dump())) {
      continue;
    }
    if (!cmd("POST", path + "/items",
             nlohmann::json{{"product_id", "p-2"}, {"quantity", 2}, {"price", 5}}.dump())) {
      continue;
    }
    if (chance(30) &&
        !cmd("POST", path + "/items",
             nlohmann::json{{"product_id", "p-1"}, {"quantity", 1}, {"price", "19.990"}}.dump())) {
      continue;
    }
    if (chance(25) && !cmd("DELETE", path + "/items/p-2", "")) continue;
    if (chance(10)) continue;  // stays Draft
    if (!cmd("POST", path + "/confirm", "")) continue;
    if (chance(10)) continue;
    if (!cmd("POST", path + "/ship", nlohmann::json{{"tracking_number", "TRK-" + order}}.dump())) {
      continue;
    }
    if (chance(10)) continue;
    cmd("POST", path + "/deliver", "");
  }
}

}  // namespace orders::testing::e2e
