// bench-sim's prefix cache: prompts are hashed in blocks of block_size tokens with chained hashes
// (a block's hash covers every token before it, as vLLM's block hashes do), and a fixed number of
// blocks is kept with LRU eviction. Cached leading blocks skip prefill time and are reported as
// usage.prompt_tokens_details.cached_tokens.
#pragma once

#include <cstdint>
#include <list>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "common/mutex.h"

namespace bench::sim {

// Builds the chained hashes of a prompt's full blocks, token by token. A trailing partial block
// has no hash (it is never cached). Not thread-safe; one per request being parsed.
class BlockHasher {
 public:
  BlockHasher(int64_t block_size, uint64_t seed);
  void AddToken(std::string_view token);
  void AddTokenId(uint64_t token_id);
  const std::vector<uint64_t>& blocks() const { return blocks_; }
  std::vector<uint64_t> TakeBlocks() { return std::move(blocks_); }

 private:
  void Add(uint64_t token_hash);

  int64_t block_size_;
  uint64_t chain_;        // Hash of every full block so far.
  uint64_t block_ = 0;    // Hash of the tokens of the block being filled.
  int64_t in_block_ = 0;  // Tokens in it.
  std::vector<uint64_t> blocks_;
};

// The cache, shared by every loop (one model). Thread-safe.
class PrefixCache {
 public:
  explicit PrefixCache(int64_t capacity_blocks);
  PrefixCache(const PrefixCache&) = delete;
  PrefixCache& operator=(const PrefixCache&) = delete;

  // The number of leading `blocks` that are cached; those become the most recently used.
  int64_t Lookup(const std::vector<uint64_t>& blocks);
  // Caches `blocks` (a prompt whose prefill is done) as the most recently used, its first block
  // last to go; then evicts the least recently used blocks beyond the capacity.
  void Insert(const std::vector<uint64_t>& blocks);

  int64_t size() const;
  int64_t capacity() const { return capacity_; }
  uint64_t evictions() const;

 private:
  void TouchLocked(std::list<uint64_t>::iterator position) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const int64_t capacity_;
  mutable Mutex mu_;
  std::list<uint64_t> lru_ ABSL_GUARDED_BY(mu_);  // Front: most recently used.
  absl::flat_hash_map<uint64_t, std::list<uint64_t>::iterator> index_ ABSL_GUARDED_BY(mu_);
  uint64_t evictions_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace bench::sim
