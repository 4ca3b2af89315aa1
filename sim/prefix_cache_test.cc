#include "sim/prefix_cache.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace bench::sim {
namespace {

std::vector<uint64_t> Blocks(const std::vector<std::string>& tokens, int64_t block_size = 4,
                             uint64_t seed = 0) {
  BlockHasher hasher(block_size, seed);
  for (const std::string& token : tokens) hasher.AddToken(token);
  return hasher.TakeBlocks();
}

std::vector<std::string> Words(const std::string& prefix, int count) {
  std::vector<std::string> words;
  for (int i = 0; i < count; ++i) words.push_back(prefix + std::to_string(i));
  return words;
}

TEST(BlockHasherTest, OnlyFullBlocksAreHashed) {
  EXPECT_EQ(Blocks(Words("w", 3)).size(), 0u);
  EXPECT_EQ(Blocks(Words("w", 4)).size(), 1u);
  EXPECT_EQ(Blocks(Words("w", 35), 16).size(), 2u);
}

TEST(BlockHasherTest, HashesAreChained) {
  std::vector<std::string> a = Words("w", 12);
  std::vector<std::string> b = a;
  b[6] = "other";  // In the second block.
  const auto blocks_a = Blocks(a);
  const auto blocks_b = Blocks(b);
  ASSERT_EQ(blocks_a.size(), 3u);
  EXPECT_EQ(blocks_a[0], blocks_b[0]);
  EXPECT_NE(blocks_a[1], blocks_b[1]);
  EXPECT_NE(blocks_a[2], blocks_b[2]);  // Same tokens, different history.
  std::vector<std::string> c = a;
  std::swap(c[0], c[1]);  // Order inside a block matters.
  EXPECT_NE(Blocks(c)[0], blocks_a[0]);
  EXPECT_NE(Blocks(a, 4, 1)[0], blocks_a[0]);  // The seed matters.
  EXPECT_EQ(Blocks(a), blocks_a);              // And nothing else.
}

TEST(BlockHasherTest, TokenIdsAndTextAreDifferentTokens) {
  BlockHasher ids(2, 0);
  ids.AddTokenId(1);
  ids.AddTokenId(2);
  BlockHasher text(2, 0);
  text.AddToken("1");
  text.AddToken("2");
  EXPECT_NE(ids.blocks(), text.blocks());
}

TEST(PrefixCacheTest, LongestCachedPrefix) {
  PrefixCache cache(100);
  const auto prompt = Blocks(Words("w", 40));
  EXPECT_EQ(cache.Lookup(prompt), 0);
  cache.Insert(prompt);
  EXPECT_EQ(cache.size(), 10);
  EXPECT_EQ(cache.Lookup(prompt), 10);
  std::vector<std::string> diverging = Words("w", 40);
  diverging[21] = "x";  // Block 5 differs: blocks 0-4 hit.
  EXPECT_EQ(cache.Lookup(Blocks(diverging)), 5);
}

TEST(PrefixCacheTest, LeastRecentlyUsedBlocksGoFirst) {
  PrefixCache cache(8);
  const auto a = Blocks(Words("a", 16));  // 4 blocks each
  const auto b = Blocks(Words("b", 16));
  const auto c = Blocks(Words("c", 16));
  cache.Insert(a);
  cache.Insert(b);
  EXPECT_EQ(cache.size(), 8);
  EXPECT_EQ(cache.Lookup(a), 4);  // a is now more recent than b.
  cache.Insert(c);
  EXPECT_EQ(cache.size(), 8);
  EXPECT_EQ(cache.evictions(), 4u);
  EXPECT_EQ(cache.Lookup(b), 0);
  EXPECT_EQ(cache.Lookup(a), 4);
  EXPECT_EQ(cache.Lookup(c), 4);
}

TEST(PrefixCacheTest, APromptsFirstBlocksOutliveItsLastOnes) {
  PrefixCache cache(6);
  const auto a = Blocks(Words("a", 16));
  const auto b = Blocks(Words("b", 16));
  cache.Insert(a);
  cache.Insert(b);  // Two of a's blocks must go: its last two.
  EXPECT_EQ(cache.Lookup(a), 2);
  EXPECT_EQ(cache.Lookup(b), 4);
}

TEST(PrefixCacheTest, ZeroCapacityCachesNothing) {
  PrefixCache cache(0);
  const auto a = Blocks(Words("a", 16));
  cache.Insert(a);
  EXPECT_EQ(cache.Lookup(a), 0);
  EXPECT_EQ(cache.size(), 0);
}

}  // namespace
}  // namespace bench::sim
