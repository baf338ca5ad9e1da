// The whole service stack for reliability tests: a fresh database on the test process's shared
// PostgreSQL cluster, a nats-server, one write-side and N read-side replicas, each on a fixed port
// that survives a restart (so clients and the test keep their addresses across kills).
#pragma once
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/services.hpp"

namespace orders::testing::e2e {

struct StackOptions {
  int read_replicas = 1;
  bool start_read_side = true;
  std::string db_hint = "reliability";
  std::map<std::string, std::string> write_env;  // extra settings for the write-side
  std::map<std::string, std::string> read_env;   // extra settings for every read-side replica
  std::chrono::milliseconds start_deadline{std::chrono::seconds(30)};
};

class Stack {
 public:
  explicit Stack(StackOptions options = {});
  ~Stack();
  Stack(const Stack&) = delete;
  Stack& operator=(const Stack&) = delete;

  PgServer& pg() { return shared_pg(); }
  NatsServer& nats() { return *nats_; }
  const std::string& db_url() const { return db_url_; }

  int write_port() const { return write_port_; }
  int read_port(int replica = 0) const { return read_ports_.at(static_cast<std::size_t>(replica)); }
  int read_replicas() const { return static_cast<int>(read_ports_.size()); }

  // Starts (waits for /readyz 200) or SIGKILLs a service. start_* is a no-op when running.
  void start_write();
  void kill_write();
  void start_read(int replica);
  void kill_read(int replica);
  Process* write_process() { return write_.get(); }
  Process* read_process(int replica) { return reads_.at(static_cast<std::size_t>(replica)).get(); }
  // Every log line the write-side (or a replica) wrote, across restarts.
  std::string write_log() const;
  std::string read_log(int replica) const;

  // psql -At on the stack's database (see PgServer::psql).
  std::string sql(const std::string& query) const;
  std::int64_t sql_int(const std::string& query) const;
  std::int64_t events_count() const { return sql_int("SELECT count(*) FROM events"); }

  std::map<std::string, std::string> write_env() const;
  std::map<std::string, std::string> read_env(int replica) const;

 private:
  StackOptions options_;
  std::string db_url_;
  std::string log_dir_;
  std::unique_ptr<NatsServer> nats_;
  int write_port_ = 0;
  std::vector<int> read_ports_;
  std::unique_ptr<Process> write_;
  std::vector<std::unique_ptr<Process>> reads_;
};

// True when `r` is an application/problem+json error with the given status and the fields of
// docs/http-api.md (type, title, status == r.status, detail, instance naming the request), with a
// Date header. `why` says what is wrong otherwise.
bool is_problem(const HttpResult& r, int status, std::string* why = nullptr);

// "a" repeated n times, handy for long ids and bodies.
std::string repeat(char c, std::size_t n);

// The last `n` bytes of a service log, for failure messages.
std::string log_tail(const std::string& log, std::size_t n = 4000);

// An integer test setting from the environment (unset or empty: `fallback`).
int env_int(const char* name, int fallback);

}  // namespace orders::testing::e2e
