// http/pool.h — the worker pool behind cpp-httplib: an elastic thread pool.
// cpp-httplib runs each accepted connection (keep-alive included) on one pool thread until
// the connection closes, so the pool size is the number of connections served at once.
// A fixed pool either starves clients when idle/slow connections pile up (small) or costs
// memory for threads that are never used (large).  This pool starts `min` threads, adds one
// whenever a connection arrives and no thread is idle (up to `max`), and lets threads above
// `min` exit after `idle_ms` without work.  Beyond `max`, connections wait in the queue.
#pragma once
#include <httplib.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>

#include "util/trim.h"

namespace ef::http {

// Memory after large requests: glibc keeps freed memory in its arenas (one per busy thread),
// so a server that answered one 16 MB request would hold it for ever.  A request whose body
// or response exceeded kTrimAfterBytes — or whose handling did large work that marked the
// thread (util/trim.h: e.g. a value set expansion) — marks its thread; the thread hands free
// memory back to the OS (malloc_trim) when the handler returns and again when the connection
// ends (the response body is freed after it was written).  Small requests never pay for a trim.
constexpr size_t kTrimAfterBytes = trim::kAfterBytes;
void note_request_bytes(size_t bytes);
void trim_if_large(bool last = false);  // last: the marked request is wholly freed

class ElasticPool : public httplib::TaskQueue {
 public:
  ElasticPool(size_t min, size_t max, int idle_ms = 30000);
  ~ElasticPool() override;
  void enqueue(std::function<void()> fn) override;
  void shutdown() override;  // runs the queued work, then waits for every thread to end

  size_t threads() const;

 private:
  void spawn_locked();
  void work();

  const size_t min_, max_;
  const int idle_ms_;
  mutable std::mutex mu_;
  std::condition_variable cv_, done_cv_;
  std::deque<std::function<void()>> jobs_;
  size_t threads_ = 0, idle_ = 0;
  bool stopping_ = false;
};

}  // namespace ef::http
