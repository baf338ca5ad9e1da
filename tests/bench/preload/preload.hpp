// Bulk preload for the benchmarks: N stored events written with set-based SQL the way the
// write-side and its relay would have left them after running for a long time (events with their
// metadata, global_log dense up to the head, relay_state caught up, snapshots, VACUUM ANALYZE),
// and the JetStream stream brought to that same head (stream_prime.hpp).
//
//   pqxx::connection c(url);
//   auto r = bench::preload_events(c, {.orders = 1'000'000}, [](auto done) { ... });
#pragma once
#include <cstdint>
#include <functional>
#include <string>

#include <pqxx/pqxx>

namespace orders::bench {

struct PreloadSpec {
  // Every order: OrderCreated, 6 OrderItemAdded, OrderConfirmed, OrderShipped, OrderDelivered
  // (10 events), recorded from 2024-01-01 on at 1,000 orders per 10 s (so all "old"); blocks of
  // 1,000 orders interleave by version and follow each other. Order ids "<prefix>-<n>" (n from 1),
  // customers "<prefix>-c<n % 997>".
  std::int64_t orders = 100000;
  std::string prefix = "old";
  int snapshot_every_nth_order = 10;  // these orders also have a snapshot at version 10
  int metadata_pad_bytes = 0;         // > 0: a "blob" of that many characters per metadata
  std::int64_t chunk_orders = 50000;  // orders per transaction
  bool vacuum = true;                 // VACUUM ANALYZE + CHECKPOINT at the end (if any events)
};

struct PreloadResult {
  std::int64_t events = 0;
  std::int64_t orders = 0;
  std::int64_t head = 0;  // global_log's last global position (= relay_state.last_published)
  double seconds = 0;
};

// Appends after whatever the store holds (positions and global positions after the current
// heads). `progress` (may be empty) gets the events written so far after each chunk.
PreloadResult preload_events(pqxx::connection& conn, const PreloadSpec& spec,
                             const std::function<void(std::int64_t)>& progress = {});

// Bytes per stored event: pg_total_relation_size (heap + TOAST + indexes) of events, global_log
// and snapshots, over the number of events.
struct StoreSize {
  std::int64_t events = 0;
  std::int64_t events_bytes = 0, global_log_bytes = 0, snapshots_bytes = 0;
  std::int64_t events_toast_bytes = 0;  // of events_bytes: the TOAST table and its index
  double bytes_per_event() const;
};
StoreSize store_size(pqxx::connection& conn);

}  // namespace orders::bench
