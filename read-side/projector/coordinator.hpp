// Scale-out: every ~1 s a replica heartbeats (read_side_replicas), counts the live replicas,
// and owns at most ceil(16 / live) partitions: for free partitions while below its share it has
// the replica's GroupApplier take the partition's session advisory lock (on the applier's one
// connection) and starts the partition's fetcher (PartitionWorker); above its share it stops the
// excess fetchers (each finishes its batch) and has the applier unlock their partitions. A
// partition whose lock the applier lost (its connection broke: every partition at once) has its
// fetcher stopped and is acquired again. A dead replica's locks vanish with its connection; its
// heartbeat expires after kReplicaTtl, so the survivors take its partitions within
// ~kReplicaTtl + 1 s.
// Also refreshes the projector lag gauges.
#pragma once
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <stop_token>
#include <string>
#include <vector>

#include "common/concurrency/worker.hpp"
#include "read-side/projector/applier.hpp"
#include "read-side/projector/context.hpp"
#include "read-side/projector/partition_worker.hpp"
#include "read-side/query/projection_status.hpp"

namespace orders::read_side {

inline constexpr auto kCoordinatorTick = std::chrono::milliseconds(1000);
inline constexpr auto kReplicaTtl = std::chrono::seconds(4);

// ceil(partitions / live), live >= 1.
int fair_share(int partitions, int live_replicas);

class Coordinator {
 public:
  Coordinator(ProjectorContext& ctx, std::string replica_id);
  ~Coordinator();  // stops every fetcher (each finishes its batch), the applier, removes the
                   // heartbeat
  Coordinator(const Coordinator&) = delete;
  Coordinator& operator=(const Coordinator&) = delete;

  std::vector<int> owned() const;  // partitions whose fetcher runs (the applier holds their locks)

 private:
  struct Heartbeat {
    int live = 1;        // live replicas, this one included
    std::set<int> held;  // partitions whose lock some replica holds
  };
  struct Plan {
    std::set<int> excess;     // owned partitions to release
    std::vector<int> wanted;  // free partitions to acquire
  };

  void run(std::stop_token stop);
  // One round, in phases: (connect,) stop the fetchers whose lock is gone, heartbeat and read
  // who is live and which partitions are held, plan the fair share, release the excess, acquire.
  void tick(std::stop_token stop);
  void connect();
  void stop_lost_fetchers();
  std::string owned_text() const;  // "3,7,12": the partitions this replica runs fetchers for
  Heartbeat heartbeat(const std::string& owned);  // one transaction; refreshes the lag gauges
  void refresh_lag_gauges(const std::vector<ProjectionStatus>& status);
  Plan plan_ownership(int target, const std::set<int>& held) const;
  bool acquire(const std::vector<int>& wanted, std::stop_token stop);  // false: stop requested
  // Stops the fetchers `which` selects (all asked at once, then joined) and has the applier
  // unlock their partitions.
  void stop_and_release(const std::function<bool(int, const PartitionWorker&,
                                                 const std::map<int, std::uint64_t>&)>& which);
  ProjectorContext& ctx_;
  std::string replica_id_;
  int offset_;
  mutable std::mutex mu_;  // guards workers_
  GroupApplier& applier_for(int partition) {
    return *appliers_[static_cast<std::size_t>(partition) % appliers_.size()];
  }
  std::vector<std::unique_ptr<GroupApplier>>
      appliers_;  // outlive the fetchers (declared before them)
  std::map<int, std::unique_ptr<PartitionWorker>> workers_;
  std::unique_ptr<pqxx::connection> conn_;
  concurrency::Worker worker_;  // stopped first in ~Coordinator, before what it uses goes
};

}  // namespace orders::read_side
