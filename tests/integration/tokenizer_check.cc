// The tokenizer's side of integration.tokenizer (tokenizer_test.sh), which compares it with
// Hugging Face's own `tokenizers` from npm.
//   tokenizer_check count TOKENIZER FILE...     the tokens of each file: "COUNT FILE" lines
//   tokenizer_check count-by-line TOKENIZER FILE...  the same, summed over the non-empty lines
//   tokenizer_check prompts TOKENIZER TOKENS N  N synthetic prompts of TOKENS tokens, one JSON
//                                               string per line, as the engine builds them
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "worker/engine/prompts.h"
#include "worker/engine/request_builder.h"
#include "worker/engine/tokenizer.h"

namespace {

int Usage() {
  std::fprintf(stderr,
               "usage: tokenizer_check count|count-by-line TOKENIZER FILE...\n"
               "       tokenizer_check prompts TOKENIZER TOKENS N\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  using bench::engine::Tokenizer;
  if (argc < 4) return Usage();
  const std::string command = argv[1];
  auto tokenizer = Tokenizer::Load(argv[2]);
  if (!tokenizer.ok()) {
    std::fprintf(stderr, "tokenizer_check: %s\n",
                 std::string(tokenizer.status().message()).c_str());
    return 1;
  }
  std::fprintf(stderr, "tokenizer_check: %s\n", (*tokenizer)->Describe().c_str());
  if (command == "count" || command == "count-by-line") {
    for (int i = 3; i < argc; ++i) {
      std::ifstream in(argv[i], std::ios::binary);
      if (!in) {
        std::fprintf(stderr, "tokenizer_check: cannot read %s\n", argv[i]);
        return 1;
      }
      std::stringstream text;
      text << in.rdbuf();
      int64_t tokens = 0;
      if (command == "count") {
        tokens = (*tokenizer)->Count(text.str());
      } else {
        std::string line;
        while (std::getline(text, line)) {
          if (!line.empty()) tokens += (*tokenizer)->Count(line);
        }
      }
      std::printf("%lld %s\n", static_cast<long long>(tokens), argv[i]);
    }
    return 0;
  }
  if (command == "prompts" && argc == 5) {
    const long long tokens = std::atoll(argv[3]);
    const long long count = std::atoll(argv[4]);
    bench::engine::PromptSpec spec;
    spec.input_length = {static_cast<double>(tokens), 0, tokens, tokens};
    spec.output_length = {16, 0, 16, 16};
    spec.tokenizer = std::shared_ptr<const Tokenizer>(std::move(tokenizer).value());
    auto prompts = bench::engine::PromptSource::Create(spec);
    if (!prompts.ok()) {
      std::fprintf(stderr, "tokenizer_check: %s\n",
                   std::string(prompts.status().message()).c_str());
      return 1;
    }
    for (long long i = 0; i < count; ++i) {
      std::string line;
      bench::engine::AppendJsonString((*prompts)->Get(static_cast<uint64_t>(i)).text, line);
      std::printf("%s\n", line.c_str());
    }
    return 0;
  }
  return Usage();
}
