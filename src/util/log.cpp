// util/log.cpp — see log.h.
#include "util/log.h"

#include <atomic>
#include <cstdio>
#include <mutex>

#include "util/clock.h"
#include "util/json.h"
#include "util/time.h"

namespace ef::log {
namespace {
std::atomic<int> g_min{int(Level::info)};
std::mutex g_mu;
const char* name(Level l) {
  switch (l) {
    case Level::debug: return "debug";
    case Level::info: return "info";
    case Level::warn: return "warn";
    default: return "error";
  }
}
}  // namespace

void set_min_level(Level l) { g_min = int(l); }
void set_quiet(bool q) { g_min = int(q ? Level::error : Level::info); }

void write(Level l, const std::string& event, std::initializer_list<Field> fields) {
  if (int(l) < g_min) return;
  json::Object o;
  o["ts"] = json::Value(timefmt::format_instant(SystemClock::instance().now_ms()));
  o["level"] = json::Value(std::string(name(l)));
  o["event"] = json::Value(event);
  for (const auto& f : fields) {
    if (f.kind == Field::Kind::number) o[f.first] = json::make_number(f.second);
    else if (f.kind == Field::Kind::boolean) o[f.first] = json::Value(f.second == "true");
    else o[f.first] = json::Value(f.second);
  }
  std::string line = json::write(json::Value(o));
  line.push_back('\n');
  std::lock_guard<std::mutex> lk(g_mu);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace ef::log
