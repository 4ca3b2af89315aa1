#include "common/clock.h"

#include <time.h>

namespace bench {

int64_t MonotonicNowNs() {
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<int64_t>(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
}

MonotonicClock& MonotonicClock::Get() {
  static auto* clock = new MonotonicClock();
  return *clock;
}

int64_t MonotonicClock::NowNs() const { return MonotonicNowNs(); }

}  // namespace bench
