// CPU seconds per part of a running stack: named processes (by pid) and the Postgres backends of
// one database told apart by role (application_name says which service owns a connection, the
// statement it last ran says what it does: writes, relay, projector or queries), plus Postgres'
// own background processes (WAL writer, checkpointer, ...). Two samples give CPU per command.
#pragma once
#include <map>
#include <string>
#include <vector>

namespace orders::bench::pipeline {

struct CpuSample {
  std::map<std::string, double> by_part;                   // part -> CPU seconds used so far
  std::map<int, std::pair<std::string, double>> backends;  // pid -> (part, CPU seconds)
};

class CpuMeter {
 public:
  // processes: (part name, pid). db_url: the stack's database (its backends are sampled).
  CpuMeter(std::string db_url, std::vector<std::pair<std::string, int>> processes);
  CpuSample sample();
  // CPU seconds per part between two samples (a backend born in between counts from zero).
  static std::map<std::string, double> between(const CpuSample& from, const CpuSample& to);
  // The parts in print order.
  std::vector<std::string> parts() const;

 private:
  std::string db_url_;
  std::vector<std::pair<std::string, int>> processes_;
  std::map<int, std::string> role_of_;  // sticky: a relay or projector connection stays one
};

// The nats-server process listening on `port` (its command line holds "-p" "<port>"), or 0.
int nats_server_pid(int port);
// Direct children of pid (e.g. node's cluster workers).
std::vector<int> child_pids(int pid);

}  // namespace orders::bench::pipeline
