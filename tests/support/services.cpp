// Real services for tests: PostgreSQL cluster, nats-server, child processes. HttpClient lives in
// http_client.cpp.
#include "tests/support/services.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <pqxx/pqxx>

extern char** environ;

namespace orders::testing {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string tail(const std::string& text, std::size_t n = 4000) {
  return text.size() <= n ? text : "..." + text.substr(text.size() - n);
}

std::string make_temp_dir(const std::string& prefix) {
  std::string templ = (fs::temp_directory_path() / (prefix + "-XXXXXX")).string();
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) {
    throw std::runtime_error("mkdtemp failed: " + std::string(std::strerror(errno)));
  }
  return std::string(buf.data());
}

bool is_main_thread() {
  return ::syscall(SYS_gettid) == ::getpid();
}

// argv/envp built before fork so the child only calls async-signal-safe functions.
struct ExecSpec {
  std::vector<std::string> argv_storage;
  std::vector<std::string> env_storage;
  std::vector<char*> argv;
  std::vector<char*> envp;

  ExecSpec(const std::string& binary, const std::vector<std::string>& args,
           const std::map<std::string, std::string>& overrides) {
    argv_storage.push_back(binary);
    argv_storage.insert(argv_storage.end(), args.begin(), args.end());
    std::map<std::string, std::string> env;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
      std::string kv(*e);
      auto eq = kv.find('=');
      if (eq == std::string::npos) continue;
      env[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    for (const auto& [k, v] : overrides) env[k] = v;
    for (const auto& [k, v] : env) env_storage.push_back(k + "=" + v);
    for (auto& s : argv_storage) argv.push_back(s.data());
    argv.push_back(nullptr);
    for (auto& s : env_storage) envp.push_back(s.data());
    envp.push_back(nullptr);
  }
};

// Forks and execs; stdout+stderr to log_fd, stdin from /dev/null. Returns the pid.
pid_t spawn(const ExecSpec& spec, int log_fd, const std::string& cwd, bool die_with_parent,
            bool new_session) {
  int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    if (devnull >= 0) ::close(devnull);
    throw std::runtime_error("fork failed: " + std::string(std::strerror(errno)));
  }
  if (pid == 0) {
    if (new_session) ::setsid();
    if (die_with_parent) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);
    }
    // Reset signal state inherited from the test process.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    if (devnull >= 0) ::dup2(devnull, 0);
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) ::_exit(127);
    ::execve(spec.argv[0], spec.argv.data(), spec.envp.data());
    const char msg[] = "exec failed\n";
    ssize_t ignored = ::write(2, msg, sizeof(msg) - 1);
    (void)ignored;
    ::_exit(127);
  }
  if (devnull >= 0) ::close(devnull);
  return pid;
}

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// Runs a command to completion (output captured); returns {exit code, output}.
std::pair<int, std::string> run_command(const std::vector<std::string>& cmd,
                                        const std::string& cwd = "") {
  // Output goes to a file (not a pipe: a daemon started by the command could keep a pipe open).
  std::string tmp = cwd.empty() ? make_temp_dir("orders-cmd") : "";
  std::string out_path = (cwd.empty() ? tmp : cwd) + "/.command-output.log";
  int fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("cannot open " + out_path);
  ExecSpec spec(cmd.front(), std::vector<std::string>(cmd.begin() + 1, cmd.end()), {});
  pid_t pid = spawn(spec, fd, cwd, false, false);
  ::close(fd);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  std::string output = read_file(out_path);
  std::error_code ec;
  fs::remove(out_path, ec);
  if (!tmp.empty()) fs::remove_all(tmp, ec);
  return {decode_status(status), output};
}

std::string command_line(const std::vector<std::string>& cmd) {
  std::string s;
  for (const auto& c : cmd) s += (s.empty() ? "" : " ") + c;
  return s;
}

bool port_accepts(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

std::string pg_bindir() {
  if (const char* env = std::getenv("PG_BINDIR"); env != nullptr && *env != '\0') return env;
  for (const char* candidate :
       {"/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/17/bin"}) {
    if (fs::exists(fs::path(candidate) / "pg_ctl")) return candidate;
  }
  auto [rc, out] = run_command({"/bin/sh", "-c", "pg_config --bindir"});
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  if (rc == 0 && fs::exists(fs::path(out) / "pg_ctl")) return out;
  throw std::runtime_error("PostgreSQL server binaries not found (install the postgresql package)");
}

}  // namespace

// ---------------------------------------------------------------------------------------------
int free_port() {
  static std::mutex mu;
  static std::set<int> handed_out;
  static std::mt19937 rng(
      static_cast<unsigned>(::getpid()) ^
      static_cast<unsigned>(std::chrono::steady_clock::now().time_since_epoch().count()));
  std::lock_guard lock(mu);
  // Below the Linux ephemeral range (32768+) so outgoing connections never take the port later.
  std::uniform_int_distribution<int> dist(20000, 32000);
  for (int attempt = 0; attempt < 1000; ++attempt) {
    int port = dist(rng);
    if (handed_out.count(port) != 0) continue;
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok =
        ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 && ::listen(fd, 1) == 0;
    ::close(fd);
    if (ok && !port_accepts(port)) {
      handed_out.insert(port);
      return port;
    }
  }
  throw std::runtime_error("no free port found");
}

bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds deadline,
                std::chrono::milliseconds every) {
  auto end = std::chrono::steady_clock::now() + deadline;
  while (true) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= end) return pred();
    std::this_thread::sleep_for(every);
  }
}

// ---------------------------------------------------------------------------------------------
// PgServer

struct PgServer::Impl {
  std::string bindir;
  std::string dir;
  std::string data;
  std::string logfile;
  int port = 0;
  bool as_postgres = false;
  bool running = false;
  pid_t watchdog = -1;
  int watchdog_fd = -1;
  std::atomic<int> db_counter{0};

  Impl() = default;
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  ~Impl() {
    // Whatever state a failed stop/start left behind: stop any postmaster on the folder before
    // deleting it, so no orphaned server keeps running on a deleted cluster.
    if (running || fs::exists(data + "/postmaster.pid")) {
      try {
        running = true;
        stop("immediate");
      } catch (...) {
      }
    }
    std::error_code ec;
    if (!dir.empty()) fs::remove_all(dir, ec);
    if (watchdog_fd >= 0) ::close(watchdog_fd);
    if (watchdog > 0) {
      int status = 0;
      ::waitpid(watchdog, &status, 0);
    }
  }

  std::vector<std::string> pg_cmd(std::vector<std::string> cmd) const {
    if (!as_postgres) return cmd;
    std::vector<std::string> full = {"/usr/sbin/runuser", "-u", "postgres", "--"};
    if (!fs::exists(full[0])) full[0] = "/sbin/runuser";
    full.insert(full.end(), cmd.begin(), cmd.end());
    return full;
  }

  void run_pg(const std::vector<std::string>& cmd, const std::string& what) const {
    auto full = pg_cmd(cmd);
    auto [rc, out] = run_command(full, dir);
    if (rc != 0) {
      throw std::runtime_error("PgServer: " + what + " failed (exit " + std::to_string(rc) +
                               "): " + command_line(full) + "\n" + tail(out) + "\nserver log:\n" +
                               tail(read_file(logfile)));
    }
  }

  void append_conf(const std::string& text) const {
    std::ofstream conf(data + "/postgresql.conf", std::ios::app);
    conf << text;
    if (!conf) throw std::runtime_error("PgServer: cannot write postgresql.conf");
  }

  bool try_start() {
    auto full = pg_cmd({bindir + "/pg_ctl", "-D", data, "-l", logfile, "-w", "-t", "60", "start"});
    auto [rc, out] = run_command(full, dir);
    if (rc == 0) {
      running = true;
      return true;
    }
    last_error = out;
    return false;
  }
  std::string last_error;

  void start() {
    if (running) return;
    if (!try_start()) {
      // pg_ctl gave up waiting but the server may still come up: stop it, report the failure.
      try {
        running = true;
        stop("immediate");
      } catch (...) {
      }
      throw std::runtime_error("PgServer: pg_ctl start failed on port " + std::to_string(port) +
                               "\n" + tail(last_error) + "\nserver log:\n" +
                               tail(read_file(logfile)));
    }
  }

  void stop(const std::string& mode) {
    if (!running) return;
    run_pg({bindir + "/pg_ctl", "-D", data, "-m", mode, "-w", "-t", "60", "stop"}, "pg_ctl stop");
    running = false;
  }

  // A detached shell that stops the cluster and removes the folder once this process is gone
  // (its stdin pipe closes), so a crashed or killed test leaves nothing running.
  void start_watchdog() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return;
    std::string stop_cmd =
        command_line(pg_cmd({bindir + "/pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"}));
    std::string script = "read _ignored; " + stop_cmd + " >/dev/null 2>&1; rm -rf '" + dir + "'";
    ExecSpec spec("/bin/sh", {"-c", script}, {});
    int devnull = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    pid_t pid = ::fork();
    if (pid == 0) {
      ::setsid();
      ::dup2(fds[0], 0);
      if (devnull >= 0) {
        ::dup2(devnull, 1);
        ::dup2(devnull, 2);
      }
      ::execve(spec.argv[0], spec.argv.data(), spec.envp.data());
      ::_exit(127);
    }
    if (devnull >= 0) ::close(devnull);
    ::close(fds[0]);
    if (pid < 0) {
      ::close(fds[1]);
      return;
    }
    watchdog = pid;
    watchdog_fd = fds[1];
  }
};

PgServer::PgServer() : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.bindir = pg_bindir();
  m.as_postgres = ::geteuid() == 0;
  m.dir = make_temp_dir("orders-pg");
  m.data = m.dir + "/data";
  m.logfile = m.dir + "/postgres.log";
  if (m.as_postgres) {
    passwd* pw = ::getpwnam("postgres");
    if (pw == nullptr) throw std::runtime_error("PgServer: running as root but no postgres user");
    if (::chown(m.dir.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      throw std::runtime_error("PgServer: chown " + m.dir + ": " + std::strerror(errno));
    }
  }
  ::chmod(m.dir.c_str(), 0700);
  m.start_watchdog();
  m.run_pg({m.bindir + "/initdb", "-D", m.data, "-U", "postgres", "--auth=trust", "-E", "UTF8",
            "--locale=C", "--no-sync"},
           "initdb");
  m.append_conf(
      "\n# orders test cluster\n"
      "listen_addresses = '127.0.0.1'\n"
      "unix_socket_directories = '" +
      m.dir +
      "'\n"
      "fsync = on\n"
      "max_connections = 300\n"
      "shared_buffers = 256MB\n"
      "log_min_messages = warning\n");
  // Extra postgresql.conf lines for a profiling run of a test or benchmark (e.g. auto_explain or
  // pg_stat_statements in shared_preload_libraries, logging_collector to keep the log).
  if (const char* extra = std::getenv("TEST_PG_EXTRA_CONF"); extra != nullptr && *extra != '\0') {
    m.append_conf(std::string(extra) + "\n");
  }
  for (int attempt = 0;; ++attempt) {
    m.port = free_port();
    m.append_conf("port = " + std::to_string(m.port) + "\n");
    if (m.try_start()) break;
    std::string log = read_file(m.logfile);
    bool port_clash = log.find("could not bind") != std::string::npos ||
                      log.find("already in use") != std::string::npos;
    if (!port_clash || attempt >= 4) {
      throw std::runtime_error("PgServer: pg_ctl start failed on port " + std::to_string(m.port) +
                               "\n" + tail(m.last_error) + "\nserver log:\n" + tail(log));
    }
  }
}

PgServer::~PgServer() = default;

int PgServer::port() const {
  return impl_->port;
}

std::string PgServer::url(const std::string& database) const {
  return "postgresql://postgres@127.0.0.1:" + std::to_string(impl_->port) + "/" + database;
}

std::string PgServer::create_database(const std::string& hint) {
  std::string base;
  for (char c : hint) {
    if (std::isalnum(static_cast<unsigned char>(c)) != 0) {
      base += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else {
      base += '_';
    }
  }
  if (base.empty() || std::isdigit(static_cast<unsigned char>(base.front())) != 0) {
    base = "db_" + base;
  }
  if (base.size() > 40) base.resize(40);
  std::string name =
      base + "_" + std::to_string(++impl_->db_counter) + "_" + std::to_string(::getpid());
  psql(url("postgres"), "CREATE DATABASE \"" + name + "\"");
  return url(name);
}

void PgServer::stop() {
  impl_->stop("fast");
}
void PgServer::start() {
  impl_->start();
}
void PgServer::restart() {
  stop();
  start();
}

std::string PgServer::psql(const std::string& database_url, const std::string& sql) const {
  pqxx::connection conn(database_url);
  pqxx::nontransaction tx(conn);
  pqxx::result result = tx.exec(sql);
  std::string out;
  for (const auto& row : result) {
    if (!out.empty()) out += '\n';
    bool first = true;
    for (const auto& field : row) {
      if (!first) out += '\t';
      first = false;
      if (!field.is_null()) out += field.c_str();
    }
  }
  return out;
}

PgServer& shared_pg() {
  static PgServer server;
  return server;
}

// ---------------------------------------------------------------------------------------------
// NatsServer

struct NatsServer::Impl {
  std::string dir;
  int port = 0;
  pid_t pid = -1;

  Impl() = default;
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  ~Impl() {
    reap(SIGKILL);
    std::error_code ec;
    if (!dir.empty()) fs::remove_all(dir, ec);
  }

  std::string logfile() const { return dir + "/nats.log"; }

  void reap(int sig) {
    if (pid <= 0) return;
    ::kill(pid, sig);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    pid = -1;
  }

  bool child_alive() {
    if (pid <= 0) return false;
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      pid = -1;
      return false;
    }
    return true;
  }

  // Returns false if the server exited (port clash or other failure).
  bool launch() {
    int fd = ::open(logfile().c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) throw std::runtime_error("NatsServer: cannot open " + logfile());
    std::string binary = "/usr/sbin/nats-server";
    if (!fs::exists(binary)) binary = "/usr/bin/nats-server";
    if (const char* env = std::getenv("NATS_SERVER_BIN"); env != nullptr && *env != '\0') {
      binary = env;
    }
    ExecSpec spec(binary,
                  {"-js", "-sd", dir + "/js", "-a", "127.0.0.1", "-p", std::to_string(port)}, {});
    pid = spawn(spec, fd, dir, is_main_thread(), false);
    ::close(fd);
    bool up = wait_until([&] { return !child_alive() || port_accepts(port); }, 15s, 5ms);
    if (!up) {
      reap(SIGKILL);
      throw std::runtime_error("NatsServer: not accepting on port " + std::to_string(port) +
                               " within 15s\n" + tail(read_file(logfile())));
    }
    return child_alive();
  }
};

NatsServer::NatsServer() : impl_(std::make_unique<Impl>()) {
  impl_->dir = make_temp_dir("orders-nats");
  for (int attempt = 0;; ++attempt) {
    impl_->port = free_port();
    if (impl_->launch()) return;
    if (attempt >= 4) {
      throw std::runtime_error("NatsServer: nats-server exited at start\n" +
                               tail(read_file(impl_->logfile())));
    }
  }
}

NatsServer::~NatsServer() = default;

int NatsServer::port() const {
  return impl_->port;
}
std::string NatsServer::url() const {
  return "nats://127.0.0.1:" + std::to_string(impl_->port);
}
void NatsServer::kill9() {
  impl_->reap(SIGKILL);
}
void NatsServer::stop() {
  impl_->reap(SIGTERM);
}
bool NatsServer::running() const {
  return impl_->child_alive();
}

void NatsServer::start() {
  if (impl_->child_alive()) return;
  // The old socket may linger briefly after a kill; retry the same port for a while.
  bool ok = wait_until([&] { return impl_->launch(); }, 15s, 50ms);
  if (!ok) {
    throw std::runtime_error("NatsServer: restart on port " + std::to_string(impl_->port) +
                             " failed\n" + tail(read_file(impl_->logfile())));
  }
}

// ---------------------------------------------------------------------------------------------
// Process

struct Process::Impl {
  std::string log_path;
  std::string temp_dir;  // removed in the destructor when the log was our own temp file
  pid_t pid = -1;
  std::optional<int> exit_code;

  Impl() = default;
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  ~Impl() {
    if (pid > 0 && poll()) {
      ::kill(pid, SIGKILL);
      int status = 0;
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
    }
    std::error_code ec;
    if (!temp_dir.empty()) fs::remove_all(temp_dir, ec);
  }

  bool poll() {
    if (exit_code || pid <= 0) return false;
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      exit_code = decode_status(status);
      return false;
    }
    return r == 0;
  }
};

Process::Process(std::string binary, std::vector<std::string> args,
                 std::map<std::string, std::string> env_overrides, std::string log_path)
    : impl_(std::make_unique<Impl>()) {
  if (log_path.empty()) {
    impl_->temp_dir = make_temp_dir("orders-proc");
    log_path = impl_->temp_dir + "/" + fs::path(binary).filename().string() + ".log";
  }
  impl_->log_path = log_path;
  if (::access(binary.c_str(), X_OK) != 0) {
    throw std::runtime_error("Process: binary not found or not executable: " + binary);
  }
  int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("Process: cannot open log " + log_path);
  ExecSpec spec(binary, args, env_overrides);
  impl_->pid = spawn(spec, fd, "", is_main_thread(), false);
  ::close(fd);
}

Process::~Process() = default;

int Process::pid() const {
  return impl_->pid;
}
bool Process::running() {
  return impl_->poll();
}

void Process::signal(int sig) {
  if (impl_->poll()) ::kill(impl_->pid, sig);
}

void Process::kill9() {
  if (!impl_->poll()) return;
  ::kill(impl_->pid, SIGKILL);
  int status = 0;
  while (::waitpid(impl_->pid, &status, 0) < 0 && errno == EINTR) {
  }
  impl_->exit_code = decode_status(status);
}

std::optional<int> Process::wait(std::chrono::milliseconds timeout) {
  wait_until([&] { return !impl_->poll(); }, timeout, 5ms);
  return impl_->exit_code;
}

std::string Process::log() const {
  return read_file(impl_->log_path);
}
const std::string& Process::log_path() const {
  return impl_->log_path;
}

// ---------------------------------------------------------------------------------------------

double process_cpu_seconds(const std::string& pid) {
  std::ifstream in("/proc/" + pid + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto close = stat.rfind(')');  // the command name may hold spaces and parentheses
  if (close == std::string::npos) return 0;
  std::istringstream fields(stat.substr(close + 2));
  std::string f;
  double ticks = 0;
  for (int i = 3; fields >> f; ++i) {  // field 3 is the state; 14 utime, 15 stime
    if (i == 14 || i == 15) ticks += std::stod(f);
    if (i == 15) break;
  }
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

std::string write_side_binary() {
  if (const char* env = std::getenv("WRITE_SIDE_BIN"); env != nullptr && *env != '\0') return env;
  return WRITE_SIDE_BIN_DEFAULT;
}

std::string read_side_binary() {
  if (const char* env = std::getenv("READ_SIDE_BIN"); env != nullptr && *env != '\0') return env;
  return READ_SIDE_BIN_DEFAULT;
}

std::unique_ptr<Process> start_service(const std::string& binary, std::vector<std::string> args,
                                       std::map<std::string, std::string> env, int port,
                                       std::chrono::milliseconds deadline) {
  auto proc = std::make_unique<Process>(binary, std::move(args), std::move(env));
  HttpClient client("127.0.0.1", port);
  client.set_timeout(2s);
  bool ready = wait_until([&] { return !proc->running() || client.get("/readyz").status == 200; },
                          deadline, 20ms);
  if (!ready || !proc->running()) {
    std::string why = proc->running()
                          ? "no 200 from /readyz within " + std::to_string(deadline.count()) + " ms"
                          : "exited with code " + std::to_string(proc->wait(0ms).value_or(-1));
    std::string log = proc->log();
    proc->kill9();
    throw std::runtime_error("start_service " + binary + " on port " + std::to_string(port) + ": " +
                             why + "\nlog tail:\n" + tail(log));
  }
  return proc;
}

nlohmann::json HttpResult::json() const {
  return nlohmann::json::parse(body);
}

}  // namespace orders::testing
