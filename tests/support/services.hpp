// Real services for tests: a throwaway PostgreSQL cluster and nats-server on loopback (temp data
// folder, free port), child processes for the services under test, a blocking HTTP client, and
// wait_until for condition-with-deadline waits (never a bare sleep standing in for sync).
#pragma once
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace orders::testing {

int free_port();

// Polls pred every `every` until it returns true or the deadline passes; returns the last result.
bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds deadline,
                std::chrono::milliseconds every = std::chrono::milliseconds(10));

// A PostgreSQL 15 cluster: initdb into a temp folder (as the `postgres` system user when running
// as root, via runuser), fsync on, listening on 127.0.0.1:<free port>, trust auth for user
// postgres. Destructor stops it (immediate) and deletes the folder.
class PgServer {
 public:
  PgServer();
  ~PgServer();
  PgServer(const PgServer&) = delete;
  PgServer& operator=(const PgServer&) = delete;

  int port() const;
  std::string url(
      const std::string& database = "postgres") const;  // postgresql://postgres@127.0.0.1:P/db
  // CREATE DATABASE with a unique name derived from hint; returns its URL.
  std::string create_database(const std::string& hint);
  void stop();     // pg_ctl stop -m fast (data kept)
  void start();    // pg_ctl start -w
  void restart();  // stop + start
  // Runs one SQL statement on the given database and returns the rows as text (tab-separated
  // columns, newline-separated rows), like psql -At.
  std::string psql(const std::string& database_url, const std::string& sql) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// One cluster per test process, started on first use.
PgServer& shared_pg();

// nats-server -js -sd <temp>/js -a 127.0.0.1 -p <free port>. The port and data survive restart.
class NatsServer {
 public:
  NatsServer();
  ~NatsServer();
  NatsServer(const NatsServer&) = delete;
  NatsServer& operator=(const NatsServer&) = delete;

  int port() const;
  std::string url() const;  // nats://127.0.0.1:P
  void kill9();             // SIGKILL, waits for exit
  void stop();              // SIGTERM, waits for exit
  void start();             // waits until the port accepts connections
  bool running() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A child process with its own environment additions; stdout+stderr go to a log file.
class Process {
 public:
  Process(std::string binary, std::vector<std::string> args,
          std::map<std::string, std::string> env_overrides, std::string log_path = "");
  ~Process();  // SIGKILL if still running
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  int pid() const;
  bool running();
  void signal(int sig);
  void kill9();  // SIGKILL and reap
  // Waits for exit; returns the exit code (128+signal when killed), nullopt on time-out.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  std::string log() const;  // the log file's contents
  const std::string& log_path() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// CPU seconds (user + system) a process used since it started, from /proc/<pid>/stat; 0 when it is
// gone. pid "self" is this process. For benchmarks that report CPU per operation.
double process_cpu_seconds(const std::string& pid);

// Path of a built binary: env var override (WRITE_SIDE_BIN, READ_SIDE_BIN) or the CMake location.
std::string write_side_binary();
std::string read_side_binary();

// Starts a service binary and waits (deadline) until GET /readyz on `port` answers 200.
std::unique_ptr<Process> start_service(
    const std::string& binary, std::vector<std::string> args,
    std::map<std::string, std::string> env, int port,
    std::chrono::milliseconds deadline = std::chrono::seconds(20));

struct HttpResult {
  int status = 0;  // 0: connection failed / closed without a response
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
  nlohmann::json json() const;                 // parses body (throws on bad JSON)
};

// Blocking HTTP/1.1 client (one keep-alive connection, reconnects on demand).
class HttpClient {
 public:
  HttpClient(std::string host, int port);
  ~HttpClient();
  HttpResult request(const std::string& method, const std::string& target,
                     const std::string& body = "",
                     const std::map<std::string, std::string>& headers = {});
  HttpResult get(const std::string& target) { return request("GET", target); }
  HttpResult post(const std::string& target, const std::string& body,
                  const std::map<std::string, std::string>& headers = {}) {
    return request("POST", target, body, headers);
  }
  HttpResult del(const std::string& target) { return request("DELETE", target); }
  // Sends raw bytes and reads whatever comes back until close or timeout (hostile-input tests).
  std::string raw(const std::string& bytes, std::chrono::milliseconds timeout);
  // Per-request deadline (connect + write + read); default 60 s. On time-out: status 0.
  void set_timeout(std::chrono::milliseconds timeout);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace orders::testing
