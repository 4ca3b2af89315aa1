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
  // Larger blocks are mapped and unmapped whole: a histogram's counts (about 190 KB, seven to a
  // StatsShard) copied for a moment leave nothing behind, where in the heap the most copies
  // ever alive at once (two shards decoded together, say) would stay resident for good, a step
  // in RSS at whatever time that first happened. glibc starts at this value and then raises it.
  constexpr int kMmapThresholdBytes = 128 << 10;
  mallopt(M_TRIM_THRESHOLD, kTrimThresholdBytes);
  mallopt(M_MMAP_THRESHOLD, kMmapThresholdBytes);
  // gRPC's threads each get an arena of their own by default, and each arena keeps its own
  // free memory, so the same working set costs more as work moves between threads.
  constexpr int kArenas = 2;
  mallopt(M_ARENA_MAX, kArenas);
#endif
}

// A sanitizer brings an allocator of its own (gcc's macros, clang's __has_feature).
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define BENCH_OWN_ALLOCATOR 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
#define BENCH_OWN_ALLOCATOR 1
#endif
#endif

bool AllocatorSettingsApply() {
#if defined(__GLIBC__) && !defined(BENCH_OWN_ALLOCATOR)
  return true;
#else
  return false;
#endif
}

}  // namespace bench
