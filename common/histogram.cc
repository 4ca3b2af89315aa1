#include "common/histogram.h"

#include <bit>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/check.h"

namespace bench {

// Everything HdrHistogram derives from (lowest, highest, digits); see ComputeLayout.
struct Histogram::Layout {
  int64_t lowest_discernible_value;
  int64_t highest_trackable_value;
  int significant_digits;
  int unit_magnitude;
  int sub_bucket_half_count_magnitude;
  int32_t bucket_count;
  int32_t counts_length;
};

absl::StatusOr<Histogram::Layout> Histogram::ComputeLayout(int64_t lowest_discernible_value,
                                                           int64_t highest_trackable_value,
                                                           int significant_digits) {
  if (lowest_discernible_value < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "histogram lowest discernible value must be >= 1, got ", lowest_discernible_value));
  }
  // highest < 2 * lowest, written so that it cannot overflow.
  if (highest_trackable_value / 2 < lowest_discernible_value) {
    return absl::InvalidArgumentError(
        absl::StrCat("histogram highest trackable value must be >= 2 * lowest discernible value (",
                     lowest_discernible_value, "), got ", highest_trackable_value));
  }
  if (significant_digits < 0 || significant_digits > 5) {
    return absl::InvalidArgumentError(
        absl::StrCat("histogram significant digits must be in [0, 5], got ", significant_digits));
  }
  Layout layout{};
  layout.lowest_discernible_value = lowest_discernible_value;
  layout.highest_trackable_value = highest_trackable_value;
  layout.significant_digits = significant_digits;

  // Single-unit resolution is kept up to 2 * 10^digits ("+-1 at 1000" also means "+-2 at
  // 2000"); the sub-bucket count is the next power of two.
  int64_t largest_value_with_single_unit_resolution = 2;
  for (int i = 0; i < significant_digits; ++i) largest_value_with_single_unit_resolution *= 10;
  int sub_bucket_count_magnitude = 0;  // ceil(log2(...)), exactly.
  while ((int64_t{1} << sub_bucket_count_magnitude) < largest_value_with_single_unit_resolution) {
    ++sub_bucket_count_magnitude;
  }
  layout.sub_bucket_half_count_magnitude = std::max(sub_bucket_count_magnitude, 1) - 1;
  layout.unit_magnitude = 63 - std::countl_zero(static_cast<uint64_t>(lowest_discernible_value));
  if (layout.unit_magnitude + layout.sub_bucket_half_count_magnitude > 61) {
    return absl::InvalidArgumentError(absl::StrCat("histogram cannot keep ", significant_digits,
                                                   " significant digits above lowest value ",
                                                   lowest_discernible_value));
  }
  const int64_t sub_bucket_count = int64_t{1} << (layout.sub_bucket_half_count_magnitude + 1);

  // Bucket k covers [0, sub_bucket_count * 2^k) in steps of 2^k (times the unit); count buckets
  // until the highest trackable value is covered. The shift cannot overflow: see the guard.
  int64_t smallest_untrackable_value = sub_bucket_count << layout.unit_magnitude;
  int64_t buckets_needed = 1;
  while (smallest_untrackable_value <= highest_trackable_value) {
    if (smallest_untrackable_value > std::numeric_limits<int64_t>::max() / 2) {
      ++buckets_needed;  // The next shift would overflow: this last bucket reaches INT64_MAX.
      break;
    }
    smallest_untrackable_value <<= 1;
    ++buckets_needed;
  }
  // Bucket 0 uses all its sub-buckets, the others only their top half: (buckets + 1) halves.
  const int64_t counts_length = (buckets_needed + 1) * (sub_bucket_count / 2);
  if (counts_length > kMaxCountsLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("histogram layout (lowest ", lowest_discernible_value, ", highest ",
                     highest_trackable_value, ", ", significant_digits, " digits) needs ",
                     counts_length, " counts, more than the limit of ", kMaxCountsLength));
  }
  layout.bucket_count = static_cast<int32_t>(buckets_needed);
  layout.counts_length = static_cast<int32_t>(counts_length);
  return layout;
}

Histogram::Histogram(const Layout& layout)
    : lowest_discernible_value_(layout.lowest_discernible_value),
      highest_trackable_value_(layout.highest_trackable_value),
      significant_digits_(layout.significant_digits),
      unit_magnitude_(layout.unit_magnitude),
      sub_bucket_half_count_magnitude_(layout.sub_bucket_half_count_magnitude),
      sub_bucket_count_(int32_t{1} << (layout.sub_bucket_half_count_magnitude + 1)),
      sub_bucket_half_count_(int32_t{1} << layout.sub_bucket_half_count_magnitude),
      sub_bucket_mask_(static_cast<uint64_t>(sub_bucket_count_ - 1) << layout.unit_magnitude),
      bucket_zero_top_bit_(layout.unit_magnitude + layout.sub_bucket_half_count_magnitude),
      bucket_count_(layout.bucket_count),
      counts_(static_cast<size_t>(layout.counts_length), 0) {}

Histogram::Histogram()
    : Histogram([] {
        auto layout = ComputeLayout(kDefaultLowestDiscernibleValue, kDefaultHighestTrackableValue,
                                    kDefaultSignificantDigits);
        BENCH_CHECK_OK(layout.status());
        return *layout;
      }()) {}

absl::StatusOr<Histogram> Histogram::Create(int64_t lowest_discernible_value,
                                            int64_t highest_trackable_value,
                                            int significant_digits) {
  auto layout =
      ComputeLayout(lowest_discernible_value, highest_trackable_value, significant_digits);
  if (!layout.ok()) return layout.status();
  return Histogram(*layout);
}

bool Histogram::RecordN(int64_t value, int64_t count) {
  if (value < 0 || count < 0) return false;
  if (count == 0) return true;
  int64_t new_total = 0;
  if (__builtin_add_overflow(total_count_, count, &new_total)) return false;
  if (value > highest_trackable_value_) {
    value = highest_trackable_value_;
    clamped_count_ += count;  // <= total count, so it cannot overflow either.
  }
  const int32_t index = CountsIndexFor(value);
  counts_[index] += count;
  total_count_ = new_total;
  max_index_ = std::max(max_index_, index);
  min_index_ = std::min(min_index_, index);
  return true;
}

absl::Status Histogram::AddCountAtIndex(int32_t index, int64_t count) {
  if (index < 0 || index >= counts_length()) {
    return absl::InvalidArgumentError(
        absl::StrCat("counts index ", index, " outside [0, ", counts_length(), ")"));
  }
  if (count < 0) {
    return absl::InvalidArgumentError(absl::StrCat("negative count ", count, " at index ", index));
  }
  if (count == 0) return absl::OkStatus();
  int64_t new_total = 0;
  if (__builtin_add_overflow(total_count_, count, &new_total)) {
    return absl::InvalidArgumentError(
        absl::StrCat("total count overflows int64 adding ", count, " at index ", index));
  }
  counts_[index] += count;
  total_count_ = new_total;
  max_index_ = std::max(max_index_, index);
  min_index_ = std::min(min_index_, index);
  return absl::OkStatus();
}

absl::Status Histogram::Add(const Histogram& other) {
  int64_t new_total = 0;
  if (__builtin_add_overflow(total_count_, other.total_count_, &new_total)) {
    return absl::OutOfRangeError(absl::StrCat("histogram add: total count overflows int64 (",
                                              total_count_, " + ", other.total_count_, ")"));
  }
  if (SameLayout(other)) {
    // No bucket can overflow: each is at most the total, which was checked.
    for (int32_t i = other.min_index_; i <= other.max_index_; ++i) counts_[i] += other.counts_[i];
    total_count_ = new_total;
    max_index_ = std::max(max_index_, other.max_index_);
    min_index_ = std::min(min_index_, other.min_index_);
  } else {
    other.ForEachNonZeroBucket([this](const Bucket& bucket) {
      // Cannot fail: the value is >= 0, the count > 0 and the total was checked.
      RecordN(bucket.lowest_value, bucket.count);
    });
  }
  clamped_count_ += other.clamped_count_;
  return absl::OkStatus();
}

absl::Status Histogram::Subtract(const Histogram& earlier) {
  if (!SameLayout(earlier)) {
    return absl::InvalidArgumentError("histogram subtract: layouts differ");
  }
  if (earlier.total_count_ > total_count_ || earlier.clamped_count_ > clamped_count_) {
    return absl::InvalidArgumentError(
        absl::StrCat("histogram subtract: ", earlier.total_count_, " counts from ", total_count_));
  }
  for (int32_t i = earlier.min_index_; i <= earlier.max_index_; ++i) {
    if (earlier.counts_[i] > counts_[i]) {
      return absl::InvalidArgumentError(absl::StrCat("histogram subtract: index ", i, " holds ",
                                                     counts_[i], ", not ", earlier.counts_[i],
                                                     " or more"));
    }
  }
  for (int32_t i = earlier.min_index_; i <= earlier.max_index_; ++i)
    counts_[i] -= earlier.counts_[i];
  total_count_ -= earlier.total_count_;
  clamped_count_ -= earlier.clamped_count_;
  // The extremes may have emptied: find them again within the old range.
  const int32_t old_min = min_index_;
  const int32_t old_max = max_index_;
  min_index_ = std::numeric_limits<int32_t>::max();
  max_index_ = -1;
  for (int32_t i = old_min; i <= old_max; ++i) {
    if (counts_[i] == 0) continue;
    min_index_ = std::min(min_index_, i);
    max_index_ = i;
  }
  return absl::OkStatus();
}

void Histogram::Reset() {
  if (max_index_ >= 0) std::fill(counts_.begin() + min_index_, counts_.begin() + max_index_ + 1, 0);
  total_count_ = 0;
  clamped_count_ = 0;
  max_index_ = -1;
  min_index_ = std::numeric_limits<int32_t>::max();
}

int64_t Histogram::ValueFromIndex(int32_t index) const {
  int32_t bucket_index = (index >> sub_bucket_half_count_magnitude_) - 1;
  int32_t sub_bucket_index = (index & (sub_bucket_half_count_ - 1)) + sub_bucket_half_count_;
  if (bucket_index < 0) {
    sub_bucket_index -= sub_bucket_half_count_;
    bucket_index = 0;
  }
  // Below 2^63 for every index of a valid layout (the top bucket ends at INT64_MAX).
  return static_cast<int64_t>(static_cast<uint64_t>(sub_bucket_index)
                              << (bucket_index + unit_magnitude_));
}

int64_t Histogram::LowestEquivalentValue(int64_t value) const {
  const int bucket_index = BucketIndexOf(static_cast<uint64_t>(value));
  const int shift = bucket_index + unit_magnitude_;
  return static_cast<int64_t>((static_cast<uint64_t>(value) >> shift) << shift);
}

int64_t Histogram::SizeOfEquivalentValueRange(int64_t value) const {
  const int bucket_index = BucketIndexOf(static_cast<uint64_t>(value));
  const uint64_t sub_bucket_index =
      static_cast<uint64_t>(value) >> (bucket_index + unit_magnitude_);
  // HdrHistogram's rule; the second case only arises past the last bucket.
  const int magnitude =
      unit_magnitude_ + (sub_bucket_index >= static_cast<uint64_t>(sub_bucket_count_)
                             ? bucket_index + 1
                             : bucket_index);
  return magnitude >= 63 ? std::numeric_limits<int64_t>::max() : int64_t{1} << magnitude;
}

int64_t Histogram::HighestEquivalentValue(int64_t value) const {
  const uint64_t highest = static_cast<uint64_t>(LowestEquivalentValue(value)) +
                           static_cast<uint64_t>(SizeOfEquivalentValueRange(value)) - 1;
  return static_cast<int64_t>(
      std::min<uint64_t>(highest, static_cast<uint64_t>(std::numeric_limits<int64_t>::max())));
}

int64_t Histogram::MedianEquivalentValue(int64_t value) const {
  return LowestEquivalentValue(value) + SizeOfEquivalentValueRange(value) / 2;
}

int64_t Histogram::Min() const {
  if (total_count_ == 0) return 0;
  return ValueFromIndex(min_index_);  // 0 when index 0 (the value 0) has a count, as Java.
}

int64_t Histogram::Max() const {
  if (max_index_ < 0) return 0;
  return HighestEquivalentValue(ValueFromIndex(max_index_));
}

double Histogram::Mean() const {
  if (total_count_ == 0) return 0.0;
  // Same order of operations as hdr-histogram-js, so the doubles agree exactly.
  double total_value = 0.0;
  ForEachNonZeroBucket([&](const Bucket& bucket) {
    total_value += static_cast<double>(MedianEquivalentValue(bucket.lowest_value)) *
                   static_cast<double>(bucket.count);
  });
  return total_value / static_cast<double>(total_count_);
}

double Histogram::StdDev() const {
  if (total_count_ == 0) return 0.0;
  const double mean = Mean();
  double geometric_deviation_total = 0.0;
  ForEachNonZeroBucket([&](const Bucket& bucket) {
    const double deviation = static_cast<double>(MedianEquivalentValue(bucket.lowest_value)) - mean;
    geometric_deviation_total += deviation * deviation * static_cast<double>(bucket.count);
  });
  return std::sqrt(geometric_deviation_total / static_cast<double>(total_count_));
}

int64_t Histogram::ValueAtPercentile(double percentile) const {
  if (total_count_ == 0) return 0;
  const double requested = percentile >= 0.0 ? std::min(percentile, 100.0) : 0.0;  // NaN -> 0.
  const double fp_count_at_percentile = requested / 100.0 * static_cast<double>(total_count_);
  // p/100 * total can land 1 ulp above an integer (99.9% of 1000 is 999.0000000000001); taking
  // one ulp off before rounding up keeps it on 999, as hdr-histogram-js (and Java's nextAfter).
  const double ulp = fp_count_at_percentile > 0.0
                         ? std::exp2(std::floor(std::log2(fp_count_at_percentile)) - 52)
                         : 0.0;
  const int64_t count_at_percentile =
      std::max<int64_t>(1, static_cast<int64_t>(std::ceil(fp_count_at_percentile - ulp)));
  int64_t total_to_current_index = 0;
  for (int32_t i = min_index_; i <= max_index_; ++i) {
    total_to_current_index += counts_[i];
    if (total_to_current_index >= count_at_percentile) {
      const int64_t value_at_index = ValueFromIndex(i);
      return percentile == 0.0 ? LowestEquivalentValue(value_at_index)
                               : HighestEquivalentValue(value_at_index);
    }
  }
  return 0;  // Unreachable: the count at percentile never exceeds the total.
}

std::vector<Histogram::Bucket> Histogram::NonZeroBuckets() const {
  std::vector<Bucket> buckets;
  ForEachNonZeroBucket([&](const Bucket& bucket) { buckets.push_back(bucket); });
  return buckets;
}

}  // namespace bench
