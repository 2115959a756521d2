// fhir/invariants.cpp — see invariants.h.
#include "fhir/invariants.h"

#include <atomic>
#include <memory>
#include <mutex>

#include "fhir/fhirpath_eval.h"
#include "util/log.h"

namespace ef::fhir::invariants {

namespace {

struct Entry {
  std::unique_ptr<fp::Expression> expr;  // null: native or not compiled
  bool native = false;
  std::string why;                       // compile error
  std::unique_ptr<std::atomic<bool>> logged = std::make_unique<std::atomic<bool>>(false);
};

struct Table {
  const model::Invariant* base = nullptr;
  std::vector<Entry> entries;
  std::atomic<uint64_t> runtime_errors{0};
};

bool is_native_key(const std::string& k) {
  static const char* keys[] = {"ele-1", "ext-1", "ref-1", "dom-2", "dom-3", "dom-4", "dom-5", "dom-6", "inv-1"};
  for (const char* x : keys)
    if (k == x) return true;
  return k.rfind("bdl-", 0) == 0;
}

Table& table() {
  static Table t;
  static std::once_flag once;
  std::call_once(once, [] {
    const auto& invs = model::model().invariants();
    t.base = invs.empty() ? nullptr : &invs[0];
    t.entries.resize(invs.size());
    size_t bad = 0;
    for (size_t i = 0; i < invs.size(); ++i) {
      Entry& e = t.entries[i];
      if (is_native_key(invs[i].key)) {
        e.native = true;
        continue;
      }
      auto c = fp::Expression::compile(invs[i].expression);
      if (c.ok()) {
        e.expr = std::make_unique<fp::Expression>(std::move(*c));
      } else {
        e.why = c.status().message;
        ++bad;
        log::warn("validation.invariant", {{"key", invs[i].key}, {"problem", "does not compile; not checked"},
                                           {"detail", e.why}});
      }
    }
    if (bad) log::warn("validation.invariants", {{"not_compiled", std::to_string(bad)}});
  });
  return t;
}

Entry* entry(const model::Invariant& inv) {
  Table& t = table();
  if (!t.base) return nullptr;
  size_t i = static_cast<size_t>(&inv - t.base);
  return i < t.entries.size() ? &t.entries[i] : nullptr;
}

}  // namespace

bool native(const model::Invariant& inv) {
  const Entry* e = entry(inv);
  return !e || e->native;
}

Outcome check(const model::Invariant& inv, const json::Value& v, const model::TypeDef* t,
              const json::Value* resource, const json::Value* root, uint64_t* budget) {
  Entry* e = entry(inv);
  if (!e || !e->expr) return Outcome::skipped;
  if (budget && *budget == 0) return Outcome::skipped;
  fp::Env env;
  env.resource = resource;
  env.root_resource = root;
  env.shared_steps = budget;
  fp::Coll focus{fp::node(v, t)};
  auto r = fp::evaluate(*e->expr, focus, env);
  Result<int> b = r.ok() ? fp::as_boolean(*r) : Result<int>(r.status());
  if (!b.ok()) {
    if (budget && *budget == 0) return Outcome::skipped;  // the resource's budget: said once by the caller
    table().runtime_errors.fetch_add(1, std::memory_order_relaxed);
    if (!e->logged->exchange(true))
      log::warn("validation.invariant", {{"key", inv.key}, {"problem", "run-time error; treated as passed"},
                                         {"detail", b.status().message}});
    return Outcome::skipped;
  }
  return *b == 0 ? Outcome::fail : Outcome::pass;
}

Stats stats() {
  Table& t = table();
  Stats s;
  const auto& invs = model::model().invariants();
  s.total = t.entries.size();
  for (size_t i = 0; i < t.entries.size(); ++i) {
    const Entry& e = t.entries[i];
    if (e.native) ++s.native;
    else if (e.expr) ++s.compiled;
    else s.not_compiled.push_back(invs[i].key + ": " + e.why);
  }
  s.runtime_errors = t.runtime_errors.load();
  return s;
}

}  // namespace ef::fhir::invariants
