// LRU cache of hot aggregates (order states), shared by the committers. A cached state is a hint:
// every append is verified by the unique (stream_id, version) key. A stream that failed that check
// stays cached, marked stale: its state is still a committed one, so the next command catches it up
// with the few events written since instead of loading the whole stream (which let the instance
// that wrote them win every race on a hot stream). Capacity 0 turns caching off.
#pragma once
#include <cstddef>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "common/domain/order.hpp"

namespace orders::write_side {

class AggregateCache {
 public:
  explicit AggregateCache(std::size_t capacity) : capacity_(capacity) {}

  struct Entry {
    domain::OrderState state;
    bool stale = false;  // newer events may exist: catch up from state.version before use
  };

  std::optional<Entry> get(const std::string& stream_id);
  void put(const std::string& stream_id, domain::OrderState state);  // fresh (not stale)
  void mark_stale(const std::string& stream_id);
  void erase(const std::string& stream_id);
  void clear();
  std::size_t size() const;
  std::size_t capacity() const { return capacity_; }

 private:
  using Slot = std::pair<std::string, Entry>;
  std::size_t capacity_;
  mutable std::mutex mu_;
  std::list<Slot> lru_;  // most recent first
  std::unordered_map<std::string, std::list<Slot>::iterator> index_;
};

}  // namespace orders::write_side
