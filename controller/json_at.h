// Reading results files that may be partial, hand-edited or written by another version: a
// missing key, or a value that is not an object, reads as null instead of throwing.
#pragma once

#include <string_view>

#include "nlohmann/json.hpp"

namespace bench::controller {

inline const nlohmann::ordered_json& JsonAt(const nlohmann::ordered_json& json,
                                            std::string_view key) {
  static const nlohmann::ordered_json kNull = nullptr;
  if (!json.is_object()) return kNull;
  const auto it = json.find(key);
  return it == json.end() ? kNull : *it;
}

}  // namespace bench::controller
