// util/clock.h — the injectable clock.  Nothing in src/ reads the time except through a
// Clock, so tests pin exact instants instead of sleeping.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>

namespace ef {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t now_ms() const = 0;  // milliseconds since the Unix epoch
  int64_t now_s() const { return now_ms() / 1000; }
};

class SystemClock : public Clock {
 public:
  int64_t now_ms() const override {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  }
  static const SystemClock& instance() {
    static SystemClock c;
    return c;
  }
};

// A clock that shows a set instant until told otherwise (tests, `token inspect --now`).
// Safe to move from one thread while others read it (background threads under test).
class FixedClock : public Clock {
 public:
  explicit FixedClock(int64_t ms) : ms_(ms) {}
  int64_t now_ms() const override { return ms_.load(); }
  void set_ms(int64_t ms) { ms_ = ms; }
  void advance_ms(int64_t d) { ms_ += d; }
  void advance_s(int64_t s) { ms_ += s * 1000; }

 private:
  std::atomic<int64_t> ms_;
};

}  // namespace ef
