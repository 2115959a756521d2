// util/trim.cpp — see trim.h.
#include "util/trim.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace ef::trim {

namespace {
thread_local bool t_marked = false;
}

void note(size_t bytes) {
  if (bytes > kAfterBytes) t_marked = true;
}

bool marked() { return t_marked; }

void now() {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

void trim_if_marked(bool clear) {
  if (!t_marked) return;
  now();
  if (clear) t_marked = false;
}

}  // namespace ef::trim
