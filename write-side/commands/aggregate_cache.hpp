// LRU cache of hot aggregates (order states), shared by the committers. A cached state is a hint:
// every append is verified by the unique (stream_id, version) key, and a stream that failed that
// check is dropped from the cache. Capacity 0 turns caching off (every command loads its stream).
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

  std::optional<domain::OrderState> get(const std::string& stream_id);
  void put(const std::string& stream_id, domain::OrderState state);
  void erase(const std::string& stream_id);
  void clear();
  std::size_t size() const;
  std::size_t capacity() const { return capacity_; }

 private:
  using Entry = std::pair<std::string, domain::OrderState>;
  std::size_t capacity_;
  mutable std::mutex mu_;
  std::list<Entry> lru_;  // most recent first
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
};

}  // namespace orders::write_side
