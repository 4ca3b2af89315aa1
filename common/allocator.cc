#include "common/allocator.h"

// Any libc header defines __GLIBC__; without one first, the test below would compile the
// settings out (as it once did, silently).
#include <cstdlib>

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

bool AllocatorSettingsApply() {
#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  return true;
#else
  return false;
#endif
}

void ReleaseFreedMemory() {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

}  // namespace bench
