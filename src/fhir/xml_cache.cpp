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
  auto same = [&](const Key& k) { return k.pretty == pretty && k.json == json; };
  if (lru_.stats().max_bytes > 0) {
    if (auto found = lru_.get(h, same)) {
      *out = **found;
      return true;
    }
  }
  if (!write_text(json, pretty, out)) return false;
  size_t cost = json.size() + out->size() + kEntryOverhead;
  size_t budget = lru_.stats().max_bytes;
  if (budget == 0 || cost > budget / 8) return true;
  // replace = false: when another thread was first, its entry stays
  lru_.put(h, same, Key{pretty, std::string(json)}, std::make_shared<const std::string>(*out), cost, false);
  return true;
}

void RenderCache::set_budget(size_t budget_bytes) { lru_.set_budget(SIZE_MAX, budget_bytes); }

RenderCache::Stats RenderCache::stats() const {
  auto l = lru_.stats();
  Stats s;
  s.hits = l.hits;
  s.misses = l.misses;
  s.entries = l.entries;
  s.bytes = l.bytes;
  s.budget = l.max_bytes;
  return s;
}

RenderCache& read_cache() {
  static RenderCache cache(8 * 1024 * 1024);
  return cache;
}

}  // namespace ef::fhir::xml
