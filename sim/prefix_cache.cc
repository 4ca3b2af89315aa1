#include "sim/prefix_cache.h"

#include "sim/model.h"

namespace bench::sim {

BlockHasher::BlockHasher(int64_t block_size, uint64_t seed)
    : block_size_(block_size), chain_(Mix64(seed ^ 0x70726566697863ULL)) {}

void BlockHasher::AddToken(std::string_view token) { Add(HashBytes(token, 0)); }

void BlockHasher::AddTokenId(uint64_t token_id) { Add(Mix64(token_id ^ 0x746f6b656e6964ULL)); }

void BlockHasher::Add(uint64_t token_hash) {
  // Order matters inside a block: mix position by position.
  block_ = Mix64(block_ ^ token_hash);
  if (++in_block_ < block_size_) return;
  chain_ = Mix64(chain_ ^ Mix64(block_));
  blocks_.push_back(chain_);
  block_ = 0;
  in_block_ = 0;
}

PrefixCache::PrefixCache(int64_t capacity_blocks) : capacity_(capacity_blocks) {}

void PrefixCache::TouchLocked(std::list<uint64_t>::iterator position) {
  lru_.splice(lru_.begin(), lru_, position);
}

int64_t PrefixCache::Lookup(const std::vector<uint64_t>& blocks) {
  MutexLock lock(mu_);
  int64_t hits = 0;
  // Chained hashes: block i can only be a hit if blocks 0..i-1 were.
  for (uint64_t block : blocks) {
    auto it = index_.find(block);
    if (it == index_.end()) break;
    TouchLocked(it->second);
    ++hits;
  }
  return hits;
}

void PrefixCache::Insert(const std::vector<uint64_t>& blocks) {
  if (capacity_ <= 0) return;
  MutexLock lock(mu_);
  // Inserted in reverse, so the first block ends up most recently used: a prefix outlives the
  // blocks that depend on it.
  for (auto block = blocks.rbegin(); block != blocks.rend(); ++block) {
    auto it = index_.find(*block);
    if (it != index_.end()) {
      TouchLocked(it->second);
      continue;
    }
    lru_.push_front(*block);
    index_.emplace(*block, lru_.begin());
  }
  while (static_cast<int64_t>(lru_.size()) > capacity_) {
    index_.erase(lru_.back());
    lru_.pop_back();
    ++evictions_;
  }
}

int64_t PrefixCache::size() const {
  MutexLock lock(mu_);
  return static_cast<int64_t>(lru_.size());
}

uint64_t PrefixCache::evictions() const {
  MutexLock lock(mu_);
  return evictions_;
}

}  // namespace bench::sim
