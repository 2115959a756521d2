// util/lru_cache.h — one bounded, thread-safe least-recently-used cache with an entry count and a
// byte budget, for the caches that hold derived data in memory (fhir::term::ExpansionCache:
// value set expansions; fhir::xml::RenderCache: XML renderings of stored JSON).
//
// Owns: the LRU order, the two bounds and eviction (least recently used first, until both
// hold), and the accounting (entries, bytes = the sum of the costs the caller gave, hits and
// misses).  Entries are found by a 64-bit hash the caller computes plus an equality predicate
// on the stored key, so a lookup never has to build a key object (RenderCache compares a
// string_view with the stored JSON text).  Values are copied out under the lock: use a
// shared_ptr.  The bytes let go by one put() are reported to util/trim.h (large evictions mark
// the thread for malloc_trim).
#pragma once
#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <utility>

#include "util/trim.h"

namespace ef::util {

template <class Key, class Value>
class LruCache {
 public:
  LruCache(size_t max_entries, size_t max_bytes) : max_entries_(max_entries), max_bytes_(max_bytes) {}

  // The value of the entry with this hash whose key satisfies eq(key), made most recently used;
  // nullopt when there is none.  Counts a hit or a miss.
  template <class Eq>
  std::optional<Value> get(uint64_t hash, const Eq& eq) {
    std::lock_guard<std::mutex> g(mu_);
    auto it = find_locked(hash, eq);
    if (it == lru_.end()) {
      ++misses_;
      return std::nullopt;
    }
    ++hits_;
    lru_.splice(lru_.begin(), lru_, it);
    return it->value;
  }

  // Adds an entry of `cost` bytes.  An entry with an equal key (eq) is replaced, or, with
  // replace = false, kept and the new one dropped (another thread was first).  Not kept when
  // there is no room at all (max_entries 0, or cost above max_bytes).  Then evicts least
  // recently used entries until both bounds hold.  Returns true when the entry was stored.
  template <class Eq>
  bool put(uint64_t hash, const Eq& eq, Key key, Value value, size_t cost, bool replace = true) {
    size_t freed = 0;
    bool kept = false;
    {
      std::lock_guard<std::mutex> g(mu_);
      if (max_entries_ == 0 || cost > max_bytes_) return false;
      auto old = find_locked(hash, eq);
      if (old != lru_.end()) {
        if (!replace) return false;
        freed += old->cost;
        erase_locked(old);
      }
      lru_.push_front(Entry{hash, std::move(key), std::move(value), cost});
      index_.emplace(hash, lru_.begin());
      bytes_ += cost;
      kept = true;
      freed += evict_locked();
    }
    trim::note(freed);
    return kept;
  }

  // New bounds, evicting down to them at once.
  void set_budget(size_t max_entries, size_t max_bytes) {
    size_t freed;
    {
      std::lock_guard<std::mutex> g(mu_);
      max_entries_ = max_entries;
      max_bytes_ = max_bytes;
      freed = evict_locked();
    }
    trim::note(freed);
  }

  void clear() {
    std::lock_guard<std::mutex> g(mu_);
    lru_.clear();
    index_.clear();
    bytes_ = 0;
  }

  struct Stats {
    size_t entries = 0, bytes = 0, max_entries = 0, max_bytes = 0;
    uint64_t hits = 0, misses = 0;
  };
  Stats stats() const {
    std::lock_guard<std::mutex> g(mu_);
    return Stats{lru_.size(), bytes_, max_entries_, max_bytes_, hits_, misses_};
  }

 private:
  struct Entry {
    uint64_t hash;
    Key key;
    Value value;
    size_t cost;
  };
  using Iter = typename std::list<Entry>::iterator;

  template <class Eq>
  Iter find_locked(uint64_t hash, const Eq& eq) {
    auto range = index_.equal_range(hash);
    for (auto it = range.first; it != range.second; ++it)
      if (eq(it->second->key)) return it->second;
    return lru_.end();
  }
  void erase_locked(Iter e) {
    auto range = index_.equal_range(e->hash);
    for (auto it = range.first; it != range.second; ++it)
      if (it->second == e) {
        index_.erase(it);
        break;
      }
    bytes_ -= e->cost;
    lru_.erase(e);
  }
  // Returns the bytes let go.
  size_t evict_locked() {
    size_t freed = 0;
    while (!lru_.empty() && (lru_.size() > max_entries_ || bytes_ > max_bytes_)) {
      freed += lru_.back().cost;
      erase_locked(std::prev(lru_.end()));
    }
    return freed;
  }

  mutable std::mutex mu_;
  size_t max_entries_, max_bytes_, bytes_ = 0;
  uint64_t hits_ = 0, misses_ = 0;
  std::list<Entry> lru_;  // front = most recently used
  std::unordered_multimap<uint64_t, Iter> index_;
};

}  // namespace ef::util
