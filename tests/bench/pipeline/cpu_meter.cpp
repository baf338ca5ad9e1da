#include "tests/bench/pipeline/cpu_meter.hpp"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <pqxx/pqxx>

#include "tests/support/services.hpp"

namespace orders::bench::pipeline {

namespace {

double cpu_of(int pid) {
  return orders::testing::process_cpu_seconds(std::to_string(pid));
}

bool has(const std::string& s, const char* what) {
  return s.find(what) != std::string::npos;
}

// What a client backend does, from its owner (application_name) and its last statement; "" when
// the statement does not tell (COMMIT, an idle connection).
std::string classify(const std::string& app, const std::string& query) {
  if (app.rfind("write-side", 0) != 0 && app.rfind("read-side", 0) != 0) return "pg: other clients";
  if (query.empty() || query == "COMMIT" || query == "BEGIN" || query == "ROLLBACK") return "";
  if (app.rfind("write-side", 0) == 0) {
    if (has(query, "relay") || has(query, "advisory") || has(query, "global_log") ||
        has(query, "outbox")) {
      return "pg: relay";
    }
    return "pg: writes";
  }
  // pg_notify: the projector announcing applied versions to the read-your-writes waiters.
  if (has(query, "rs_apply") || has(query, "projection_checkpoints") || has(query, "lease") ||
      has(query, "parked") || has(query, "partition") || has(query, "global_log") ||
      has(query, "FROM events") || has(query, "pg_notify")) {
    return "pg: projector";
  }
  return "pg: queries";
}

bool sticky(const std::string& role) {
  return role == "pg: relay" || role == "pg: projector";
}

}  // namespace

CpuMeter::CpuMeter(std::string db_url, std::vector<std::pair<std::string, int>> processes)
    : db_url_(std::move(db_url)), processes_(std::move(processes)) {}

std::vector<std::string> CpuMeter::parts() const {
  std::vector<std::string> out;
  for (const auto& [name, pid] : processes_) out.push_back(name);
  for (const char* p : {"pg: writes", "pg: relay", "pg: projector", "pg: queries",
                        "pg: other clients", "pg: background"}) {
    out.emplace_back(p);
  }
  return out;
}

CpuSample CpuMeter::sample() {
  CpuSample s;
  for (const auto& [name, pid] : processes_) {
    s.by_part[name] += cpu_of(pid);
    if (std::getenv("PIPELINE_SHOW_ROLES") != nullptr) {
      std::fprintf(stderr, "process %d %s %.2f s\n", pid, name.c_str(), cpu_of(pid));
    }
  }
  try {
    pqxx::connection c(db_url_);
    pqxx::read_transaction tx(c);
    for (const auto& row :
         tx.exec("SELECT pid, coalesce(application_name, ''), coalesce(backend_type, ''), "
                 "datname IS NOT DISTINCT FROM current_database(), datname IS NULL, "
                 "coalesce(query, '') FROM pg_stat_activity WHERE pid <> pg_backend_pid()")) {
      const int pid = row[0].as<int>();
      const std::string type = row[2].as<std::string>();
      std::string role;
      if (type != "client backend") {
        role = "pg: background";
      } else if (row[3].as<bool>()) {
        const std::string app = row[1].as<std::string>();
        role = classify(app, row[5].as<std::string>());
        auto& known = role_of_[pid];
        if (!role.empty() && (known.empty() || (!sticky(known) && sticky(role)))) known = role;
        role = known.empty() ? "pg: " + app + " (unclassified)" : known;
      } else {
        continue;  // another database's client (a previous run's leftovers)
      }
      const double cpu = cpu_of(pid);
      if (std::getenv("PIPELINE_SHOW_ROLES") != nullptr) {  // checks the classification
        std::fprintf(stderr, "backend %d %s [%s] %.2f s: %.100s\n", pid, role.c_str(),
                     row[1].c_str(), cpu, row[5].c_str());
      }
      s.backends[pid] = {role, cpu};
      s.by_part[role] += cpu;
    }
  } catch (const std::exception&) {
  }
  return s;
}

std::map<std::string, double> CpuMeter::between(const CpuSample& from, const CpuSample& to) {
  std::map<std::string, double> out;
  for (const auto& [part, cpu] : to.by_part) {
    if (part.rfind("pg: ", 0) == 0) continue;
    auto f = from.by_part.find(part);
    out[part] = cpu - (f == from.by_part.end() ? 0.0 : f->second);
  }
  for (const auto& [pid, v] : to.backends) {
    auto f = from.backends.find(pid);
    out[v.first] += v.second - (f == from.backends.end() ? 0.0 : f->second.second);
  }
  return out;
}

int nats_server_pid(int port) {
  const std::string want = std::string("-p") + '\0' + std::to_string(port) + '\0';
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const auto name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "cmdline");
    std::string cmd((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (cmd.find("nats-server") != std::string::npos && cmd.find(want) != std::string::npos) {
      return std::stoi(name);
    }
  }
  return 0;
}

std::vector<int> child_pids(int pid) {
  std::vector<int> out;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const auto name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    int ppid = 0;
    char state = 0;
    if (std::sscanf(stat.c_str() + close + 1, " %c %d", &state, &ppid) == 2 && ppid == pid) {
      out.push_back(std::stoi(name));
    }
  }
  return out;
}

}  // namespace orders::bench::pipeline
