// util/trim.h — handing freed heap memory back to the OS after large work.  glibc keeps freed
// memory in its arenas (one per busy thread), so a thread that once built a 20 MB structure
// would keep ~20 MB resident for ever after freeing it.
//
// Owns: the per-thread mark "this thread did large work" and the trim itself.  Any layer
// marks (note(bytes) with the approximate size of what it built: a request body or response,
// an expansion of value sets, a parsed definition); the thread that serves requests (http/pool)
// trims once the request is answered and its temporaries are freed, so small work never pays
// for a trim (malloc_trim walks the whole heap: ~0.1-1 ms).  Threads that are not request
// threads call trim_if_marked() themselves when their large work is done.
#pragma once
#include <cstddef>

namespace ef::trim {

constexpr size_t kAfterBytes = 1024 * 1024;  // work above this marks the thread

// This thread built or freed about `bytes` of heap; marks it when above kAfterBytes.
void note(size_t bytes);
bool marked();
// Trims (malloc_trim(0)) when this thread is marked; clear: unmark it afterwards.
void trim_if_marked(bool clear);
// Trims now, whatever the mark (e.g. after a cache let go of a large entry).
void now();

}  // namespace ef::trim
