// An HdrHistogram-compatible latency histogram. It uses exactly HdrHistogram's bucket layout, so
// counts index i covers the same value range as in the Java, C and JS implementations and the V2
// encoding (common/histogram_codec.h) interoperates with them. Values are non-negative integers,
// microseconds by convention. Recording costs a few nanoseconds: no division, no virtual call.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "absl/base/optimization.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace bench {

// Counts of values in HdrHistogram buckets. A plain value type with one owner; not thread-safe
// (each recording thread keeps its own and they are merged with Add). Copyable and movable.
//
// The layout is fixed at creation by (lowest discernible value, highest trackable value,
// significant digits). Values above the highest trackable value are recorded as that value and
// counted in clamped_count(), so a slow request is never dropped silently; negative values are
// rejected. Statistics follow hdr-histogram-js / Java: Min() is the lowest and Max() the highest
// value equivalent to the extreme recorded values, Mean() and StdDev() use each bucket's median
// equivalent value, ValueAtPercentile() returns the highest equivalent value of its bucket.
class Histogram {
 public:
  static constexpr int64_t kDefaultLowestDiscernibleValue = 1;
  static constexpr int64_t kDefaultHighestTrackableValue = 3'600'000'000;  // 1 h in us.
  static constexpr int kDefaultSignificantDigits = 3;
  // Layouts needing more counts than this are refused (16 MiB of counts); it bounds what a
  // hostile encoding can make the decoder allocate. 1 us..1 h at 5 digits needs exactly 2^21.
  static constexpr int64_t kMaxCountsLength = int64_t{1} << 21;

  // One non-zero counts slot: the values [lowest_value, highest_value] recorded `count` times.
  struct Bucket {
    int32_t index;
    int64_t lowest_value;
    int64_t highest_value;
    int64_t count;
  };

  // The default layout: 1 us to 1 h with 3 significant digits (0.1% relative error).
  Histogram();
  // kInvalidArgument unless lowest >= 1, highest >= 2 * lowest, 0 <= digits <= 5 and the layout
  // needs at most kMaxCountsLength counts (HdrHistogram's rules plus that cap).
  static absl::StatusOr<Histogram> Create(int64_t lowest_discernible_value,
                                          int64_t highest_trackable_value, int significant_digits);

  // Records one value. Returns false (and records nothing) for a negative value. A value above
  // highest_trackable_value() is recorded as that value and counted in clamped_count().
  bool Record(int64_t value) {
    if (ABSL_PREDICT_FALSE(static_cast<uint64_t>(value) >
                           static_cast<uint64_t>(highest_trackable_value_))) {
      return RecordN(value, 1);  // Negative (rejected) or clamped: off the fast path.
    }
    const int32_t index = CountsIndexFor(value);
    ++counts_[index];
    ++total_count_;
    max_index_ = std::max(max_index_, index);
    min_index_ = std::min(min_index_, index);
    return true;
  }
  // Records `value` `count` times. Returns false (and records nothing) if value < 0, count < 0
  // or the total count would overflow int64. Clamps like Record(). count == 0 records nothing.
  bool RecordN(int64_t value, int64_t count);

  // Adds `other`'s counts to this histogram. When both have the same layout (SameLayout) this
  // is an exact bucket-wise sum: merging shards equals recording all their samples in one
  // histogram. Otherwise each of other's non-zero buckets is re-recorded at its lowest
  // equivalent value (HdrHistogram's add semantics), which is exact only when this layout is at
  // least as fine everywhere; values above this highest_trackable_value() are clamped and
  // counted. other's clamped_count() is carried over. kOutOfRange (and no change) if the total
  // count would overflow int64.
  absl::Status Add(const Histogram& other);

  // Removes `earlier`'s counts: turns a cumulative histogram into the delta since `earlier` was
  // copied from it. kInvalidArgument (and no change) unless the layouts are the same and every
  // bucket of `earlier` is at most this one's, i.e. `earlier` is a past state of this histogram.
  absl::Status Subtract(const Histogram& earlier);

  // Clears all counts and clamped_count(); the layout stays.
  void Reset();

  int64_t TotalCount() const { return total_count_; }
  // How many recorded values were above highest_trackable_value() and recorded as it.
  int64_t clamped_count() const { return clamped_count_; }
  // 0 when empty or when a value in index 0's range (0 at unit resolution) was recorded; else the
  // lowest value equivalent to the smallest non-zero recorded value (Java's getMinValue).
  int64_t Min() const;
  // The highest value equivalent to the largest recorded value; 0 when empty.
  int64_t Max() const;
  // Over each bucket's median equivalent value, as HdrHistogram; 0 when empty.
  double Mean() const;
  // Population standard deviation over median equivalent values; 0 when empty.
  double StdDev() const;
  // HdrHistogram's percentile (as hdr-histogram-js): the first bucket at which the running count
  // reaches max(1, ceil(p/100 * total)), with a 1-ulp guard against fp round-up; returns that
  // bucket's highest equivalent value, or its lowest for p == 0. p is clamped to [0, 100];
  // 0 when empty.
  int64_t ValueAtPercentile(double percentile) const;

  // Calls fn(const Bucket&) for each non-zero bucket in increasing value order.
  template <typename Fn>
  void ForEachNonZeroBucket(Fn&& fn) const {
    for (int32_t i = min_index_; i <= max_index_; ++i) {  // None when empty: min > max.
      if (counts_[i] == 0) continue;
      const int64_t lowest = ValueFromIndex(i);
      fn(Bucket{i, lowest, HighestEquivalentValue(lowest), counts_[i]});
    }
  }
  std::vector<Bucket> NonZeroBuckets() const;

  // Layout parameters and the values HdrHistogram derives from them.
  int64_t lowest_discernible_value() const { return lowest_discernible_value_; }
  int64_t highest_trackable_value() const { return highest_trackable_value_; }
  int significant_digits() const { return significant_digits_; }
  int unit_magnitude() const { return unit_magnitude_; }
  int sub_bucket_half_count_magnitude() const { return sub_bucket_half_count_magnitude_; }
  int32_t sub_bucket_count() const { return sub_bucket_count_; }
  int32_t bucket_count() const { return bucket_count_; }
  int32_t counts_length() const { return static_cast<int32_t>(counts_.size()); }
  // Same (lowest, highest, digits): counts index i means the same values in both.
  bool SameLayout(const Histogram& other) const {
    return lowest_discernible_value_ == other.lowest_discernible_value_ &&
           highest_trackable_value_ == other.highest_trackable_value_ &&
           significant_digits_ == other.significant_digits_;
  }

  // Index-level access, as HdrHistogram names it. `value` must be in [0, highest_trackable_value()]
  // and `index` in [0, counts_length()).
  int32_t CountsIndexFor(int64_t value) const {
    const int bucket_index = BucketIndexOf(static_cast<uint64_t>(value));
    const int32_t sub_bucket_index =
        static_cast<int32_t>(value >> (bucket_index + unit_magnitude_));
    // HdrHistogram's (bucket + 1) * half_count + (sub_bucket - half_count), two operations less.
    return (bucket_index << sub_bucket_half_count_magnitude_) + sub_bucket_index;
  }
  int64_t CountAtIndex(int32_t index) const { return counts_[index]; }
  // The lowest value that lands in counts index `index`.
  int64_t ValueFromIndex(int32_t index) const;
  int64_t LowestEquivalentValue(int64_t value) const;
  // Saturates at INT64_MAX for the top bucket of layouts that reach it.
  int64_t HighestEquivalentValue(int64_t value) const;
  int64_t MedianEquivalentValue(int64_t value) const;
  int64_t SizeOfEquivalentValueRange(int64_t value) const;
  // The highest index with a non-zero count, or -1 when empty (the encoder's end).
  int32_t MaxNonZeroIndex() const { return max_index_; }

  // For decoders: adds `count` at counts index `index`, keeping total, min and max consistent.
  // kInvalidArgument if index is outside [0, counts_length()), count < 0, or the total would
  // overflow int64 (nothing changes then).
  absl::Status AddCountAtIndex(int32_t index, int64_t count);

  // Same layout and bucket-for-bucket equal counts (clamped_count() is not compared).
  friend bool operator==(const Histogram& a, const Histogram& b) {
    return a.SameLayout(b) && a.total_count_ == b.total_count_ && a.counts_ == b.counts_;
  }
  friend bool operator!=(const Histogram& a, const Histogram& b) { return !(a == b); }

 private:
  struct Layout;
  static absl::StatusOr<Layout> ComputeLayout(int64_t lowest_discernible_value,
                                              int64_t highest_trackable_value,
                                              int significant_digits);
  explicit Histogram(const Layout& layout);
  // HdrHistogram's getBucketIndex: how many powers of two `value` is above bucket 0's range.
  int BucketIndexOf(uint64_t value) const {
    // The top set bit's position (one bsr/lzcnt) minus bucket 0's top bit. The mask is never 0,
    // so the builtin's undefined case cannot arise (std::countl_zero would test for it).
    return (63 - __builtin_clzll(value | sub_bucket_mask_)) - bucket_zero_top_bit_;
  }

  // Layout (immutable after construction; not const so the class stays assignable).
  int64_t lowest_discernible_value_ = 0;
  int64_t highest_trackable_value_ = 0;
  int significant_digits_ = 0;
  int unit_magnitude_ = 0;
  int sub_bucket_half_count_magnitude_ = 0;
  int32_t sub_bucket_count_ = 0;
  int32_t sub_bucket_half_count_ = 0;
  uint64_t sub_bucket_mask_ = 0;
  int bucket_zero_top_bit_ = 0;  // unit_magnitude + sub_bucket_half_count_magnitude.
  int32_t bucket_count_ = 0;

  // State. Invariant: max_index_ / min_index_ are the highest / lowest indices with a non-zero
  // count, -1 / INT32_MAX when there is none. (Java tracks the lowest non-zero value instead;
  // Min() reports 0 whenever index 0 has a count, so the lowest index gives the same answer.)
  std::vector<int64_t> counts_;
  int64_t total_count_ = 0;
  int64_t clamped_count_ = 0;
  int32_t max_index_ = -1;
  int32_t min_index_ = std::numeric_limits<int32_t>::max();
};

}  // namespace bench
