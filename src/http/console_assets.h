// http/console_assets.h — the web console's files (console/* in the source tree), compiled
// into the binary by tools/embed_assets.py (build/gen/console_assets.cpp).
#pragma once
#include <string_view>
#include <vector>

namespace ef::http {

struct ConsoleAsset {
  const char* name;          // file name, e.g. "console.js"
  const char* content_type;  // from the extension
  std::string_view bytes;
};

const std::vector<ConsoleAsset>& console_assets();

}  // namespace ef::http
