// The replica's group applier (like the write-side's group commit): ONE thread and ONE Postgres
// connection per replica (or per slice of the partitions with PROJECTOR_APPLIERS > 1). That
// connection holds the session advisory lock of every partition the replica owns (of its slice;
// taken and released here, on this thread, at the coordinator's request), and it
// runs every apply: the applier takes whatever batches the partitions' fetchers have handed in
// (at most one per partition) and applies them together as ONE statement / transaction
// (apply_group, sql/functions/rs_apply_group.sql), then completes each batch (the fetcher acks it).
// Losing the connection loses every lock and every pending batch at once (Lost: the fetchers nak
// and stop; the coordinator acquires again). Only batches of partitions whose lock this connection
// holds (and of the fetcher the lock was taken for) are applied. A failed group is retried
// partition by partition, so only the failing partition's batch is failed (nak'd, retried after a
// back-off by its fetcher). After PROJECTOR_PARK_AFTER failed applies of a partition's batch, its
// poison events are parked per order (poison.hpp): that order's events wait in parked_events, the
// partition's other orders go on. The connection never writes events or the outbox: it only writes
// query tables and checkpoints.
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <pqxx/connection>

#include "common/codec/recorded_event.hpp"
#include "read-side/projector/batch_apply.hpp"
#include "read-side/projector/context.hpp"
#include "read-side/projector/parked_store.hpp"

namespace orders::read_side {

class GroupApplier {
 public:
  enum class Outcome { Applied, Failed, Lost };

  // `partitions`: how many partitions it may hold at most (sizes the view cache).
  GroupApplier(ProjectorContext& ctx, int partitions);
  ~GroupApplier();  // completes pending batches as Lost, closes the connection (releases the locks)
  GroupApplier(const GroupApplier&) = delete;
  GroupApplier& operator=(const GroupApplier&) = delete;

  // Coordinator: tries the partition's advisory lock on the applier's connection (connecting
  // first when needed). Returns the lease (> 0) the partition's fetcher must present, 0 when
  // another session holds it or Postgres is unreachable.
  std::uint64_t try_acquire(int partition);
  // Coordinator: unlocks the partition if still held under this lease (its fetcher must have
  // stopped first).
  void release(int partition, std::uint64_t lease);
  // Partitions whose lock the connection holds, with their leases.
  std::map<int, std::uint64_t> held() const;
  // False after an attempt to connect failed (until one succeeds).
  bool reachable() const;

  // Fetcher: hands in the partition's batch (stream order; an event whose stream_id is empty is
  // read from the event store at its global_position) and waits until it is applied and
  // committed (Applied: ack), failed (Failed: nak, back off, retry) or the lock is gone (Lost:
  // nak, stop). Blocks until then.
  Outcome apply(int partition, std::uint64_t lease, std::vector<codec::RecordedEvent>& events);

 private:
  struct Control {
    enum class Kind { Acquire, Release } kind;
    int partition = 0;
    bool done = false;
    std::uint64_t lease = 0;
  };
  struct Pending {
    int partition = 0;
    std::uint64_t lease = 0;
    std::vector<codec::RecordedEvent>* events = nullptr;
    bool done = false;
    Outcome outcome = Outcome::Lost;
    std::condition_variable cv;
  };

  void run();
  bool group_due() const;  // mu_ held: start the next group before group_delay is over
  void handle(Control& c);
  // Applies a group of handed-in batches, in phases: keep those whose lease still holds, read
  // the events the bus carried unreadable, apply (the group, else partition by partition),
  // then count, wake the orders' waiters and complete each batch.
  void apply_pending(std::vector<Pending*>& batch);
  std::vector<Pending*> take_live(std::vector<Pending*>& batch);  // the others: Lost
  bool read_unreadable_events(std::vector<Pending*>& live);       // false: connection lost
  // False when the connection was lost before anything of the group was applied.
  bool apply_live(std::vector<Pending*>& live, std::vector<Pending*>& applied,
                  std::vector<BatchStats>& stats);
  void apply_group_of(const std::vector<Pending*>& group, std::vector<Pending*>& applied,
                      std::vector<BatchStats>& stats);
  void log_applied(int partition, const std::vector<codec::RecordedEvent>& events);
  void publish_applied(const std::vector<Pending*>& applied, std::vector<BatchStats>& stats,
                       std::chrono::steady_clock::time_point started);
  void fail(Pending& p, const std::exception& e);  // Failed: the fetcher naks and retries
  // A partition's batch failed on its own: fails it, or after park_after failed applies parks
  // its poison events and applies the rest. False: the connection was lost (p not completed).
  bool fail_or_park(Pending& p, const std::exception& e, std::vector<Pending*>& applied,
                    std::vector<BatchStats>& stats);
  void lose_all(const std::vector<Pending*>& left, const std::exception& e);  // connection gone
  void connect();
  void lose_connection(const char* what);  // every lock gone: held_ cleared, cache emptied
  void complete(Pending& p, Outcome o);

  ProjectorContext& ctx_;
  mutable std::mutex mu_;
  std::condition_variable cv_;       // the applier thread waits here
  std::condition_variable done_cv_;  // Control requests wait here
  bool stop_ = false;
  std::deque<Control*> controls_;
  std::vector<Pending*> pending_;
  std::map<int, std::uint64_t> held_;  // guarded by mu_; changed only by the applier thread
  std::uint64_t next_lease_ = 1;
  bool reachable_ = true;  // guarded by mu_
  // Applier thread only:
  std::unique_ptr<pqxx::connection> conn_;
  ViewCache cache_;
  ParkedOrders parked_;          // orders with parked events (loaded at every acquire)
  std::map<int, int> failures_;  // consecutive failed applies per partition
  std::chrono::steady_clock::time_point last_used_;
  std::chrono::steady_clock::time_point last_group_{};  // when the last group started
  std::thread thread_;
};

}  // namespace orders::read_side
