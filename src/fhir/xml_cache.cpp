// fhir/xml_cache.cpp — see xml_cache.h.
#include "fhir/xml_cache.h"

#include <functional>

#include "fhir/xml.h"

namespace ef::fhir::xml {

namespace {
uint64_t key_hash(std::string_view json, bool pretty) {
  return uint64_t(std::hash<std::string_view>()(json)) * 2 + (pretty ? 1 : 0);
}
}  // namespace

bool RenderCache::render(std::string_view json, bool pretty, std::string* out) {
  const uint64_t h = key_hash(json, pretty);
  std::shared_ptr<const std::string> found;
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (budget_ > 0) {
      auto range = index_.equal_range(h);
      for (auto it = range.first; it != range.second; ++it) {
        Entry& e = *it->second;
        if (e.pretty == pretty && e.json == json) {
          lru_.splice(lru_.begin(), lru_, it->second);
          found = e.xml;
          break;
        }
      }
      if (found) ++hits_;
      else ++misses_;
    }
  }
  if (found) {
    *out = *found;
    return true;
  }
  if (!write_text(json, pretty, out)) return false;
  std::lock_guard<std::mutex> lk(mu_);
  size_t cost = json.size() + out->size() + kEntryOverhead;
  if (budget_ == 0 || cost > budget_ / 8) return true;
  auto range = index_.equal_range(h);
  for (auto it = range.first; it != range.second; ++it)
    if (it->second->pretty == pretty && it->second->json == json) return true;  // another thread was first
  lru_.push_front(Entry{h, pretty, std::string(json), std::make_shared<const std::string>(*out)});
  index_.emplace(h, lru_.begin());
  bytes_ += cost;
  evict_locked();
  return true;
}

void RenderCache::evict_locked() {
  while (bytes_ > budget_ && !lru_.empty()) {
    auto last = std::prev(lru_.end());
    auto range = index_.equal_range(last->hash);
    for (auto it = range.first; it != range.second; ++it)
      if (it->second == last) {
        index_.erase(it);
        break;
      }
    bytes_ -= last->cost();
    lru_.erase(last);
  }
}

void RenderCache::set_budget(size_t budget_bytes) {
  std::lock_guard<std::mutex> lk(mu_);
  budget_ = budget_bytes;
  evict_locked();
}

RenderCache::Stats RenderCache::stats() const {
  std::lock_guard<std::mutex> lk(mu_);
  Stats s;
  s.hits = hits_;
  s.misses = misses_;
  s.entries = lru_.size();
  s.bytes = bytes_;
  s.budget = budget_;
  return s;
}

RenderCache& read_cache() {
  static RenderCache cache(8 * 1024 * 1024);
  return cache;
}

}  // namespace ef::fhir::xml
