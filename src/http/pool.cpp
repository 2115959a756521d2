// http/pool.cpp — see pool.h.  Threads are detached; shutdown() waits on a count instead of
// joining, so threads that retire on their own need no bookkeeping.
#include "http/pool.h"

#include "http/sockbudget.h"
#include "util/trim.h"


#include <chrono>
#include <thread>

namespace ef::http {

void note_request_bytes(size_t bytes) { trim::note(bytes); }

void trim_if_large(bool last) { trim::trim_if_marked(last); }

ElasticPool::ElasticPool(size_t min, size_t max, int idle_ms)
    : min_(std::max<size_t>(1, min)), max_(std::max(max, std::max<size_t>(1, min))), idle_ms_(idle_ms) {
  std::lock_guard lk(mu_);
  for (size_t i = 0; i < min_; ++i) spawn_locked();
}

ElasticPool::~ElasticPool() { shutdown(); }

void ElasticPool::spawn_locked() {
  ++threads_;
  std::thread([this] { work(); }).detach();
}

void ElasticPool::enqueue(std::function<void()> fn) {
  std::lock_guard lk(mu_);
  jobs_.push_back(std::move(fn));
  // Every idle thread may already be claimed by queued jobs.
  if (idle_ < jobs_.size() && threads_ < max_) spawn_locked();
  cv_.notify_one();
}

void ElasticPool::work() {
  std::unique_lock lk(mu_);
  for (;;) {
    ++idle_;
    bool got = cv_.wait_for(lk, std::chrono::milliseconds(idle_ms_), [this] { return stopping_ || !jobs_.empty(); });
    --idle_;
    if (!got && threads_ > min_) break;  // retire: idle too long and above the floor
    if (jobs_.empty()) {
      if (stopping_) break;
      continue;
    }
    auto fn = std::move(jobs_.front());
    jobs_.pop_front();
    lk.unlock();
    // each job is one connection (httplib's process_and_close_socket): its socket reads are
    // budgeted (http/sockbudget.h)
    sockbudget::arm_connection();
    fn();
    sockbudget::disarm();
    trim_if_large(true);
    lk.lock();
  }
  --threads_;
  done_cv_.notify_all();
}

void ElasticPool::shutdown() {
  std::unique_lock lk(mu_);
  stopping_ = true;
  cv_.notify_all();
  done_cv_.wait(lk, [this] { return threads_ == 0; });
}

size_t ElasticPool::threads() const {
  std::lock_guard lk(mu_);
  return threads_;
}

}  // namespace ef::http
