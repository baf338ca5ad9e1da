// What the pipeline benchmark prints: one row per run, CPU per command by process and Postgres
// role, each target beside its measured figure (met / missed by X), the baselines, the command.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "tests/bench/pipeline/runs.hpp"

namespace orders::bench::pipeline {

struct Report {
  Report(Options o, std::string command);
  void print() const;

  Options options;
  std::string command;
  double load_average_at_start = 0;
  RunResult pipeline;
  std::optional<RunResult> pipeline_warn, write_alone, emmett;
  std::string emmett_why;
  std::vector<std::string> append_peers;

 private:
  void print_runs() const;
  void print_cpu() const;
  void print_targets() const;
  void print_baselines() const;
  std::vector<const RunResult*> runs() const;
};

// Total CPU microseconds per command of the services and Postgres (the bench's driver excluded).
double service_cpu_us(const RunResult& r);

}  // namespace orders::bench::pipeline
