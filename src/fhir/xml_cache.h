// fhir/xml_cache.h — a bounded cache of FHIR XML renderings (xml::write_text) keyed by the JSON
// text they were rendered from, so that reading the same stored resource version again as XML
// costs a hash, a compare and a copy instead of a conversion (issue 19: XML reads at least 0.8
// of JSON reads).
//
// Owns: the cache's memory budget and its eviction (least recently used first).  The key is
// the content itself (64-bit hash, then the whole JSON text compared byte for byte, and the
// pretty flag), never a type/id/version: a rendering is a pure function of its key, so a hit
// can only ever return what write_text would return for the same text, whoever asks, however
// the resource was stored (a reused id, a restored database).  Budget: JSON + XML bytes plus a
// fixed overhead per entry; a text larger than budget/8 is rendered and not kept.  Safe to use
// from many threads (the LRU structure is util/lru_cache.h, one mutex; the rendering and the
// copy out run outside it).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "util/lru_cache.h"

namespace ef::fhir::xml {

class RenderCache {
 public:
  explicit RenderCache(size_t budget_bytes) : lru_(SIZE_MAX, budget_bytes) {}
  // write_text(json, pretty, out), from the cache when the same text was rendered before.
  bool render(std::string_view json, bool pretty, std::string* out);

  struct Stats {
    uint64_t hits = 0, misses = 0;
    size_t entries = 0, bytes = 0, budget = 0;
  };
  Stats stats() const;
  void set_budget(size_t budget_bytes);  // 0 = off (everything is rendered, nothing kept)
  static constexpr size_t kEntryOverhead = 128;  // list node, map slot, string headers

 private:
  struct Key {
    bool pretty;
    std::string json;
  };
  util::LruCache<Key, std::shared_ptr<const std::string>> lru_;
};

// The process's cache for resource reads (http/xml_body.h); its budget is
// limits.xml_cache_bytes (8 MiB unless configured).
RenderCache& read_cache();

}  // namespace ef::fhir::xml
