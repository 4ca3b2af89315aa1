#include "common/allocator.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace bench {

void KeepFreedMemoryForReuse() {
#if defined(__GLIBC__)
  // Setting either threshold also stops glibc's dynamic adjustment of both.
  constexpr int kTrimThresholdBytes = 32 << 20;  // keep up to 32 MiB of free heap top
  constexpr int kMmapThresholdBytes = 4 << 20;   // larger blocks are mapped and unmapped whole
  mallopt(M_TRIM_THRESHOLD, kTrimThresholdBytes);
  mallopt(M_MMAP_THRESHOLD, kMmapThresholdBytes);
  // gRPC's threads each get an arena of their own by default, and each arena keeps its own
  // free memory, so the same working set costs more as work moves between threads.
  constexpr int kArenas = 2;
  mallopt(M_ARENA_MAX, kArenas);
#endif
}

}  // namespace bench
