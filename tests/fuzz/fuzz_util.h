// tests/fuzz/fuzz_util.h — shared by the libFuzzer targets: invariant checks that abort
// with a message (so libFuzzer saves the input as a crash), and input splitting.
#pragma once
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#define FUZZ_CHECK(cond, what)                                                        \
  do {                                                                                \
    if (!(cond)) {                                                                    \
      std::fprintf(stderr, "INVARIANT FAILED %s:%d: %s (%s)\n", __FILE__, __LINE__,  \
                   #cond, std::string(what).c_str());                                 \
      std::abort();                                                                   \
    }                                                                                 \
  } while (0)

namespace fuzz {

// True when `name` is listed in $FUZZ_IGNORE_KNOWN (space separated).  run.sh sets it from
// tests/fuzz/known-issues while exploring, so a reported, not yet fixed bug does not stop
// the search; regression replay runs without it, so the bug still fails `make fuzz`.
inline bool known_issue(const char* name) {
  const char* env = std::getenv("FUZZ_IGNORE_KNOWN");
  if (!env) return false;
  std::string list = std::string(" ") + env + " ";
  return list.find(std::string(" ") + name + " ") != std::string::npos;
}

// Splits at NUL bytes into at most `n` parts (the last part keeps any further NULs).
inline std::vector<std::string_view> split(std::string_view in, size_t n) {
  std::vector<std::string_view> out;
  while (out.size() + 1 < n) {
    size_t p = in.find('\0');
    if (p == std::string_view::npos) break;
    out.push_back(in.substr(0, p));
    in.remove_prefix(p + 1);
  }
  out.push_back(in);
  return out;
}

}  // namespace fuzz
