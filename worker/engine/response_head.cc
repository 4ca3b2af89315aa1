#include "worker/engine/response_head.h"

#include <algorithm>

#include "worker/engine/http_text.h"

namespace bench::engine {

bool IsEventStream(std::string_view content_type) {
  constexpr std::string_view kEventStream = "text/event-stream";
  content_type = TrimWhitespace(content_type);
  if (content_type.size() < kEventStream.size() ||
      !EqualsIgnoreCase(content_type.substr(0, kEventStream.size()), kEventStream)) {
    return false;
  }
  if (content_type.size() == kEventStream.size()) return true;
  const char next = content_type[kEventStream.size()];
  return next == ';' || IsOptionalWhitespace(next);
}

bool IsIdentityEncoding(std::string_view content_encoding) {
  content_encoding = TrimWhitespace(content_encoding);
  return content_encoding.empty() || EqualsIgnoreCase(content_encoding, "identity");
}

void HeaderCapture::NameBytes(std::string_view bytes) {
  for (size_t i = 0; i < bytes.size() && may_match_; ++i) {
    if (matched_ < name_.size() && ToLowerAscii(bytes[i]) == name_[matched_]) {
      ++matched_;
    } else {
      may_match_ = false;
    }
  }
}

void HeaderCapture::StartValue() {
  capturing_ = may_match_ && matched_ == name_.size();
  if (capturing_) length_ = 0;
}

void HeaderCapture::ValueBytes(std::string_view bytes) {
  if (!capturing_) return;
  const size_t n = std::min(bytes.size(), value_.size() - length_);
  std::copy_n(bytes.data(), n, value_.data() + length_);
  length_ += n;
}

void HeaderCapture::Reset() {
  matched_ = 0;
  may_match_ = false;
  capturing_ = false;
  length_ = 0;
}

}  // namespace bench::engine
