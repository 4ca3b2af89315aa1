#ifndef BENCH_COMMON_ALLOCATOR_H_
#define BENCH_COMMON_ALLOCATOR_H_

namespace bench {

// For long-lived processes (bench-worker, `bench-controller serve` and `run`). glibc's malloc
// returns freed heap to the kernel whenever the free top exceeds a threshold it keeps adjusting, so
// a process at a steady rate sees its RSS swing by megabytes as bursts come and go (5-7% in a soak)
// with no growth behind it. Fixed thresholds keep freed memory for reuse: RSS then tracks the
// high-water mark, and a real leak still shows as a climb. Call once, before threads start.
void KeepFreedMemoryForReuse();

// True when the settings above take effect here (glibc's malloc, no sanitizer's allocator).
bool AllocatorSettingsApply();

// Returns the free pages of every arena to the kernel (glibc's malloc_trim). For a process that
// churns large blocks across threads (`run`: engine snapshots, shard encoding and merging in one
// process), freed memory kept for reuse fragments over time and RSS creeps although the live heap
// is flat; a periodic call brings RSS back to what is in use. Costs a walk of the heaps (about a
// millisecond); call every few seconds at most.
void ReleaseFreedMemory();

}  // namespace bench

#endif  // BENCH_COMMON_ALLOCATOR_H_
