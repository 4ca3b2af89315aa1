#ifndef BENCH_COMMON_ALLOCATOR_H_
#define BENCH_COMMON_ALLOCATOR_H_

namespace bench {

// For long-lived processes (bench-worker, `bench-controller serve` and `run`). glibc's malloc
// returns freed heap to the kernel whenever the free top exceeds a threshold it keeps adjusting, so
// a process at a steady rate sees its RSS swing by megabytes as bursts come and go (5-7% in a soak)
// with no growth behind it. Fixed thresholds keep freed memory for reuse: RSS then tracks the
// high-water mark of the small blocks, while large ones (128 KiB and up: histograms, result
// files) go back to the kernel when freed; a real leak still shows as a climb. Call once,
// before threads start.
void KeepFreedMemoryForReuse();

// True when the settings above take effect here (glibc's malloc, no sanitizer's allocator).
bool AllocatorSettingsApply();

}  // namespace bench

#endif  // BENCH_COMMON_ALLOCATOR_H_
