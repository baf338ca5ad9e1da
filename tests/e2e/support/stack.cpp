#include "tests/e2e/support/stack.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace orders::testing::e2e {

namespace fs = std::filesystem;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace

Stack::Stack(StackOptions options) : options_(std::move(options)) {
  db_url_ = pg().create_database(options_.db_hint);
  std::string templ = (fs::temp_directory_path() / "orders-stack-XXXXXX").string();
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) throw std::runtime_error("Stack: mkdtemp failed");
  log_dir_ = buf.data();
  nats_ = std::make_unique<NatsServer>();
  write_port_ = free_port();
  for (int i = 0; i < options_.read_replicas; ++i) read_ports_.push_back(free_port());
  reads_.resize(read_ports_.size());
  start_write();
  if (options_.start_read_side) {
    for (int i = 0; i < options_.read_replicas; ++i) start_read(i);
  }
}

Stack::~Stack() {
  for (auto& r : reads_) {
    if (r) r->kill9();
  }
  if (write_) write_->kill9();
  reads_.clear();
  write_.reset();
  nats_.reset();
  std::error_code ec;
  if (const char* keep = std::getenv("KEEP_STACK_LOGS"); keep == nullptr || *keep == '\0') {
    fs::remove_all(log_dir_, ec);
  }
}

std::map<std::string, std::string> Stack::write_env() const {
  std::map<std::string, std::string> env = {
      {"WRITE_ADDRESS", "127.0.0.1"},
      {"WRITE_PORT", std::to_string(write_port_)},
      {"DATABASE_URL", db_url_},
      {"NATS_URL", nats_->url()},
      {"NATS_STREAM", "ORDERS"},
      {"PG_POOL_SIZE", "8"},
      {"HTTP_WORKERS", "32"},
      {"LOG_LEVEL", "warn"},
      {"COMMAND_TOKEN", ""},
      {"QUERY_TOKEN", ""},
      {"ADMIN_TOKEN", ""},
  };
  for (const auto& [k, v] : options_.write_env) env[k] = v;
  return env;
}

std::map<std::string, std::string> Stack::read_env(int replica) const {
  std::map<std::string, std::string> env = {
      {"READ_ADDRESS", "127.0.0.1"},
      {"READ_PORT", std::to_string(read_port(replica))},
      {"DATABASE_URL", db_url_},
      {"NATS_URL", nats_->url()},
      {"NATS_STREAM", "ORDERS"},
      {"PG_POOL_SIZE", "4"},
      {"HTTP_WORKERS", "16"},
      {"LOG_LEVEL", "warn"},
      {"REPLICA_ID", "replica-" + std::to_string(replica)},
      {"QUERY_TOKEN", ""},
      {"ADMIN_TOKEN", ""},
  };
  for (const auto& [k, v] : options_.read_env) env[k] = v;
  return env;
}

void Stack::start_write() {
  if (write_ && write_->running()) return;
  write_.reset();
  auto env = write_env();
  // start_service logs to a temp file; keep one log across restarts instead.
  write_ = std::make_unique<Process>(write_side_binary(), std::vector<std::string>{"serve"}, env,
                                     log_dir_ + "/write-side.log");
  HttpClient probe("127.0.0.1", write_port_);
  probe.set_timeout(std::chrono::seconds(2));
  bool ready = wait_until([&] { return !write_->running() || probe.get("/readyz").status == 200; },
                          options_.start_deadline, std::chrono::milliseconds(25));
  if (!ready || !write_->running()) {
    throw std::runtime_error("write-side did not become ready on port " +
                             std::to_string(write_port_) + "; log tail:\n" + log_tail(write_log()));
  }
}

void Stack::kill_write() {
  if (write_) write_->kill9();
}

void Stack::start_read(int replica) {
  auto& slot = reads_.at(static_cast<std::size_t>(replica));
  if (slot && slot->running()) return;
  slot.reset();
  slot = std::make_unique<Process>(read_side_binary(), std::vector<std::string>{"serve"},
                                   read_env(replica),
                                   log_dir_ + "/read-side-" + std::to_string(replica) + ".log");
  HttpClient probe("127.0.0.1", read_port(replica));
  probe.set_timeout(std::chrono::seconds(2));
  bool ready = wait_until([&] { return !slot->running() || probe.get("/readyz").status == 200; },
                          options_.start_deadline, std::chrono::milliseconds(25));
  if (!ready || !slot->running()) {
    throw std::runtime_error("read-side " + std::to_string(replica) +
                             " did not become ready; log tail:\n" + log_tail(read_log(replica)));
  }
}

void Stack::kill_read(int replica) {
  auto& slot = reads_.at(static_cast<std::size_t>(replica));
  if (slot) slot->kill9();
}

std::string Stack::write_log() const {
  return slurp(log_dir_ + "/write-side.log");
}
std::string Stack::read_log(int replica) const {
  return slurp(log_dir_ + "/read-side-" + std::to_string(replica) + ".log");
}

std::string Stack::sql(const std::string& query) const {
  return shared_pg().psql(db_url_, query);
}

std::int64_t Stack::sql_int(const std::string& query) const {
  std::string out = sql(query);
  if (out.empty()) return 0;
  return std::stoll(out);
}

bool is_problem(const HttpResult& r, int status, std::string* why) {
  auto fail = [&](const std::string& msg) {
    if (why != nullptr) {
      *why = msg + " (got status " + std::to_string(r.status) + ", body: " + r.body.substr(0, 300) +
             ")";
    }
    return false;
  };
  if (r.status != status) return fail("status is not " + std::to_string(status));
  auto ct = r.headers.find("content-type");
  if (ct == r.headers.end() || ct->second.rfind("application/problem+json", 0) != 0) {
    return fail("Content-Type is not application/problem+json");
  }
  nlohmann::json body;
  try {
    body = r.json();
  } catch (const std::exception&) {
    return fail("body is not JSON");
  }
  if (!body.is_object()) return fail("body is not an object");
  for (const char* field : {"type", "title", "detail"}) {
    if (!body.contains(field) || !body[field].is_string()) {
      return fail(std::string("field ") + field + " missing or not a string");
    }
  }
  if (!body.contains("status") || !body["status"].is_number_integer() ||
      body["status"].get<int>() != status) {
    return fail("field status missing or not " + std::to_string(status));
  }
  const auto rid = r.headers.find("x-request-id");
  if (rid == r.headers.end() || body.value("instance", "") != "urn:request:" + rid->second) {
    return fail("field instance is not urn:request:<X-Request-Id>");
  }
  if (r.headers.count("date") == 0) return fail("no Date header");
  return true;
}

std::string repeat(char c, std::size_t n) {
  return std::string(n, c);
}

std::string log_tail(const std::string& log, std::size_t n) {
  return log.substr(log.size() > n ? log.size() - n : 0);
}

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  return std::atoi(v);
}

}  // namespace orders::testing::e2e
