#include "write-side/commands/aggregate_cache.hpp"

namespace orders::write_side {

std::optional<AggregateCache::Entry> AggregateCache::get(const std::string& stream_id) {
  if (capacity_ == 0) return std::nullopt;
  std::lock_guard lock(mu_);
  auto it = index_.find(stream_id);
  if (it == index_.end()) return std::nullopt;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->second;
}

void AggregateCache::put(const std::string& stream_id, domain::OrderState state) {
  if (capacity_ == 0) return;
  std::lock_guard lock(mu_);
  auto it = index_.find(stream_id);
  if (it != index_.end()) {
    it->second->second = Entry{std::move(state), false};
    lru_.splice(lru_.begin(), lru_, it->second);
    return;
  }
  lru_.emplace_front(stream_id, Entry{std::move(state), false});
  index_.emplace(stream_id, lru_.begin());
  while (lru_.size() > capacity_) {
    index_.erase(lru_.back().first);
    lru_.pop_back();
  }
}

void AggregateCache::mark_stale(const std::string& stream_id) {
  if (capacity_ == 0) return;
  std::lock_guard lock(mu_);
  auto it = index_.find(stream_id);
  if (it != index_.end()) it->second->second.stale = true;
}

void AggregateCache::erase(const std::string& stream_id) {
  if (capacity_ == 0) return;
  std::lock_guard lock(mu_);
  auto it = index_.find(stream_id);
  if (it == index_.end()) return;
  lru_.erase(it->second);
  index_.erase(it);
}

void AggregateCache::clear() {
  std::lock_guard lock(mu_);
  lru_.clear();
  index_.clear();
}

std::size_t AggregateCache::size() const {
  std::lock_guard lock(mu_);
  return lru_.size();
}

}  // namespace orders::write_side
