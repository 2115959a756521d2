// Tests for util/lru_cache.h (the LRU behind fhir::term::ExpansionCache and
// fhir::xml::RenderCache): eviction by entry count and by bytes in least-recently-used order,
// a get refreshing an entry, replacing or keeping an equal key, entries too large for the
// budget, a new budget evicting at once, and keys that share a hash.
#include <catch2/catch.hpp>

#include <memory>
#include <string>

#include "util/lru_cache.h"

using namespace ef;

namespace {
using Cache = util::LruCache<std::string, std::shared_ptr<const int>>;
uint64_t h(const std::string& k) { return std::hash<std::string>()(k); }
auto eq(const std::string& k) {
  return [k](const std::string& x) { return x == k; };
}
bool put(Cache& c, const std::string& k, int v, size_t cost, bool replace = true) {
  return c.put(h(k), eq(k), k, std::make_shared<const int>(v), cost, replace);
}
int get(Cache& c, const std::string& k) {
  auto v = c.get(h(k), eq(k));
  return v ? **v : -1;
}
}  // namespace

TEST_CASE("lru cache: eviction by entry count, least recently used first", "[util][lru]") {
  Cache c(3, 1000);
  put(c, "a", 1, 10);
  put(c, "b", 2, 10);
  put(c, "c", 3, 10);
  CHECK(get(c, "a") == 1);  // a is now the most recently used
  put(c, "d", 4, 10);       // evicts b
  CHECK(get(c, "b") == -1);
  CHECK(get(c, "a") == 1);
  CHECK(get(c, "c") == 3);
  CHECK(get(c, "d") == 4);
  auto s = c.stats();
  CHECK(s.entries == 3);
  CHECK(s.bytes == 30);
  CHECK(s.hits == 4);
  CHECK(s.misses == 1);
}

TEST_CASE("lru cache: eviction by bytes, and entries larger than the budget", "[util][lru]") {
  Cache c(100, 100);
  put(c, "a", 1, 40);
  put(c, "b", 2, 40);
  put(c, "c", 3, 40);  // 120 > 100: a goes
  CHECK(get(c, "a") == -1);
  CHECK(c.stats().bytes == 80);
  CHECK_FALSE(put(c, "huge", 9, 101));  // never fits: not kept, nothing evicted
  CHECK(get(c, "huge") == -1);
  CHECK(c.stats().entries == 2);
  CHECK(put(c, "big", 5, 100));  // fits alone: everything else goes
  CHECK(c.stats().entries == 1);
  CHECK(c.stats().bytes == 100);
  CHECK(get(c, "big") == 5);
}

TEST_CASE("lru cache: replace or keep an equal key; set_budget evicts at once; shared hashes", "[util][lru]") {
  Cache c(10, 1000);
  put(c, "k", 1, 10);
  CHECK(put(c, "k", 2, 20));  // replaced
  CHECK(get(c, "k") == 2);
  CHECK(c.stats().bytes == 20);
  CHECK_FALSE(put(c, "k", 3, 30, false));  // the first stays
  CHECK(get(c, "k") == 2);
  CHECK(c.stats().entries == 1);
  // two keys under one hash are told apart by the predicate
  c.put(7, eq("x"), "x", std::make_shared<const int>(10), 1);
  c.put(7, eq("y"), "y", std::make_shared<const int>(11), 1);
  CHECK(**c.get(7, eq("x")) == 10);
  CHECK(**c.get(7, eq("y")) == 11);
  CHECK_FALSE(c.get(7, eq("z")));
  c.set_budget(1, 1000);  // only the most recently used stays
  CHECK(c.stats().entries == 1);
  CHECK(**c.get(7, eq("y")) == 11);
  c.set_budget(0, 1000);  // no cache
  CHECK(c.stats().entries == 0);
  CHECK_FALSE(put(c, "k", 1, 1));
  c.set_budget(10, 1000);
  put(c, "k", 1, 1);
  c.clear();
  CHECK(c.stats().entries == 0);
  CHECK(c.stats().bytes == 0);
}
