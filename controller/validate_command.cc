// Placeholder: being written.
#include "controller/commands.h"

namespace bench::controller {
int RunValidateCommand(const std::vector<std::string>&) { return kExitUsage; }
}  // namespace bench::controller
