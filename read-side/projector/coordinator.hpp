// Scale-out: every ~1 s a replica heartbeats (read_side_replicas), counts the live replicas,
// and owns at most ceil(16 / live) partitions: it starts a PartitionWorker (which takes the
// partition's session advisory lock) for free partitions while below its share, and releases the
// excess when above it. A dead replica's locks vanish with its connections; its heartbeat expires
// after kReplicaTtl, so the survivors take its partitions within ~kReplicaTtl + 1 s.
// Also refreshes the projector lag gauges.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "projector/context.hpp"
#include "projector/partition_worker.hpp"

namespace orders::read_side {

inline constexpr auto kCoordinatorTick = std::chrono::milliseconds(1000);
inline constexpr auto kReplicaTtl = std::chrono::seconds(4);

// ceil(partitions / live), live >= 1.
int fair_share(int partitions, int live_replicas);

class Coordinator {
 public:
  Coordinator(ProjectorContext& ctx, std::string replica_id);
  ~Coordinator();  // stops every worker (each finishes its batch), removes the heartbeat
  Coordinator(const Coordinator&) = delete;
  Coordinator& operator=(const Coordinator&) = delete;

  std::vector<int> owned() const;  // partitions whose worker holds the lock

 private:
  void run();
  void tick();
  ProjectorContext& ctx_;
  std::string replica_id_;
  int offset_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::map<int, std::unique_ptr<PartitionWorker>> workers_;
  std::unique_ptr<pqxx::connection> conn_;
  std::thread thread_;
};

}  // namespace orders::read_side
