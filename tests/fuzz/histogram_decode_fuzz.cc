#include <cstddef>
#include <cstdint>
// Placeholder: being written.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t*, size_t) { return 0; }
