// util/pages.cpp — see pages.h.
#include "util/pages.h"

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

#ifdef __linux__
#include <sys/mman.h>
#include <unistd.h>
#endif

namespace ef::pages {

void release(std::string_view text) {
#ifdef __linux__
  const uintptr_t page = uintptr_t(sysconf(_SC_PAGESIZE));
  uintptr_t lo = (uintptr_t(text.data()) + page - 1) & ~(page - 1);
  uintptr_t hi = (uintptr_t(text.data()) + text.size()) & ~(page - 1);
  if (hi > lo) madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_DONTNEED);
#else
  (void)text;
#endif
}

void release_within(std::string_view part, std::string_view whole) {
#ifdef __linux__
  const uintptr_t page = uintptr_t(sysconf(_SC_PAGESIZE));
  uintptr_t lo = uintptr_t(part.data()) & ~(page - 1);
  uintptr_t hi = (uintptr_t(part.data()) + part.size() + page - 1) & ~(page - 1);
  uintptr_t wlo = (uintptr_t(whole.data()) + page - 1) & ~(page - 1);
  uintptr_t whi = (uintptr_t(whole.data()) + whole.size()) & ~(page - 1);
  if (lo < wlo) lo = wlo;
  if (hi > whi) hi = whi;
  if (hi > lo) madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_DONTNEED);
#else
  (void)part;
  (void)whole;
#endif
}

void release_own_code() {
#ifdef __linux__
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return;
  exe[n] = 0;
  FILE* f = std::fopen("/proc/self/maps", "r");
  if (!f) return;
  char line[4096 + 256];
  while (std::fgets(line, sizeof line, f)) {
    unsigned long lo = 0, hi = 0;
    char perms[8] = {0};
    int path_at = 0;
    if (std::sscanf(line, "%lx-%lx %7s %*s %*s %*s %n", &lo, &hi, perms, &path_at) < 3 || path_at <= 0) continue;
    std::string path(line + path_at);
    while (!path.empty() && (path.back() == '\n' || path.back() == ' ')) path.pop_back();
    // Only the binary's unmodified code: private, executable, not writable.
    if (path == exe && std::strcmp(perms, "r-xp") == 0 && hi > lo)
      madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_DONTNEED);
  }
  std::fclose(f);
#endif
}

}  // namespace ef::pages
