// fhir/terminology.h — the terminology engine (issue 21): code systems, value set expansion,
// validate-code, lookup, subsumes and translate, over definitions handed in by a Source.
//
// Owns: the bundled content (data/terminology.tsv from tools/gen_terminology.py: the R4 spec's
// 636 CodeSystems and 889 ValueSets, embedded; indexed by URL on first use and each resource
// parsed only when first asked for, so an idle server pays nothing), parsing a CodeSystem
// resource (bundled or stored) into a code table with its hierarchy (nested concepts and the
// parent/child/subsumedBy properties), expanding a ValueSet's compose (include/exclude with
// concept lists, filters is-a, descendent-of, is-not-a, =, in, regex, exists, valueSet imports
// cycle-safe and depth-bounded), the budgets of all this (Limits), the expansion cache
// (bounded, keyed by the caller's key which includes the stored-content generation), and the
// code sets of bundled value sets the validator checks bindings against (bundled_code_set).
// It knows nothing of the database: stored CodeSystem/ValueSet/ConceptMap resources come in
// through a Source implemented by the interaction layer (service/terminology.h), which puts
// them before the bundled ones.  Errors are Status values: Err::not_found for an unknown value
// set or code system, Err::invalid for bad parameters, Err::not_supported (issue code
// "not-supported") for a system this server does not hold ("not available on this server")
// and for an unsupported filter, Err::too_large for a budget.
#pragma once
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "util/json.h"
#include "util/lru_cache.h"
#include "util/status.h"

namespace ef::fhir::term {

struct Designation {
  std::string language, use_system, use_code, use_display, value;
};

struct Property {
  std::string code;
  std::string member;  // "valueCode", "valueString", "valueBoolean", ...
  json::Value value;
};

struct Concept {
  std::string code, display, definition;
  std::vector<Designation> designations;
  std::vector<Property> properties;
  std::vector<uint32_t> parents, children;  // indexes into CodeSystem::concepts
  bool inactive = false, abstract_ = false;
};

struct CodeSystem {
  std::string url, version, name, content = "complete", hierarchy_meaning;
  bool case_sensitive = true;
  bool stored = false;  // from the database (not bundled)
  std::vector<Concept> concepts;
  std::unordered_map<std::string, uint32_t> by_code;
  const Concept* find(const std::string& code) const;
  int index(const std::string& code) const;  // -1 when unknown
  // a is b or an ancestor of b (indexes).
  bool subsumes(uint32_t a, uint32_t b) const;
  // b and every descendant of b (each once), in table order.
  std::vector<uint32_t> descendants_or_self(uint32_t b) const;
};

Result<std::shared_ptr<const CodeSystem>> parse_code_system(const json::Value& cs, bool stored);

// Where definitions come from.  Versions: "" = any (the stored one first, else the bundled).
class Source {
 public:
  virtual ~Source() = default;
  virtual std::shared_ptr<const CodeSystem> code_system(const std::string& url, const std::string& version) const = 0;
  virtual std::shared_ptr<const json::Value> value_set(const std::string& url, const std::string& version) const = 0;
  // A ConceptMap by canonical URL; or, url "", the first one whose source / target value sets
  // match (either may be "").
  virtual std::shared_ptr<const json::Value> concept_map(const std::string& url, const std::string& source,
                                                         const std::string& target) const {
    return nullptr;
  }
};

// The bundled content alone (thread-safe; lazily indexed).
const Source& bundled();
size_t bundled_count(const char* kind);  // "CodeSystem" / "ValueSet": resources in the table

struct Limits {
  size_t max_expansion = 10000;  // concepts in one expansion (before paging)
  int max_depth = 8;             // nested valueSet imports
  size_t max_regex = 200;        // characters of a regex filter
  size_t max_regex_input = 256;  // codes/values longer than this never match a regex
  int64_t max_count = 10000;     // $expand count
  int64_t max_offset = 100000;   // $expand offset
};

struct Item {
  std::string system, version, code, display;
  bool inactive = false, abstract_ = false;
  std::vector<Designation> designations;
};

struct Expansion {
  std::string url, version;
  std::vector<Item> items;
  std::unordered_map<std::string, uint32_t> index;  // system + '\x1f' + code -> items index
  size_t bytes = 0;                                  // approximate memory (cache accounting)
  const Item* find(const std::string& system, const std::string& code) const;
  // Without a system: the first item with this code (any system).
  const Item* find_code(const std::string& code) const;
};

// The full expansion of `vs` (a ValueSet resource), every concept; active_only drops inactive
// ones.  Precomputed expansions in the definition are used when there is no compose.
Result<std::shared_ptr<const Expansion>> expand(const Source& src, const json::Value& vs, bool active_only,
                                                const Limits& lim);

struct ExpandParams {
  std::string filter;            // case-insensitive substring of code or display (word starts)
  int64_t offset = 0, count = -1;  // count -1: all
  bool include_designations = false;
  std::string display_language;  // a designation in this language replaces the display
  bool active_only = false;
};
// The ValueSet resource answered by $expand: the definition's metadata and an expansion with
// total (after the text filter), offset, the parameters used, and the page of contains.
json::Value expansion_resource(const json::Value& vs, const Expansion& e, const ExpandParams& p,
                               const std::string& timestamp);

// ---- operations (the answers are Parameters resources) ----
struct CodeRef {
  std::string system, version, code, display;
};
// $validate-code against an expansion: result, message, display.
json::Value validate_code(const Expansion& e, const std::string& vs_url, const CodeRef& c);
// $validate-code against a code system alone (CodeSystem/$validate-code): unused here.
// $lookup: name, version, display, designation*, property* (parent/child included).
Result<json::Value> lookup(const Source& src, const CodeRef& c, const std::vector<std::string>& properties);
// $subsumes: outcome equivalent | subsumes | subsumed-by | not-subsumed.
Result<json::Value> subsumes(const Source& src, const std::string& system, const std::string& version,
                             const std::string& a, const std::string& b);
// $translate through a ConceptMap: result, message, match* (equivalence, concept, source).
// `reverse` maps target -> source.
Result<json::Value> translate(const json::Value& map, const CodeRef& c, const std::string& target_system, bool reverse);

// A bounded cache of full expansions (entries and bytes: Expansion::bytes), least recently
// used out first (util/lru_cache.h).
class ExpansionCache {
 public:
  ExpansionCache(size_t max_entries, size_t max_bytes) : lru_(max_entries, max_bytes) {}
  std::shared_ptr<const Expansion> get(const std::string& key);
  void put(const std::string& key, std::shared_ptr<const Expansion> e);
  void clear() { lru_.clear(); }
  size_t size() const { return lru_.stats().entries; }
  size_t bytes() const { return lru_.stats().bytes; }
  // New bounds (entries and bytes; 0 entries = no cache), evicting down to them at once.
  void set_budget(size_t max_entries, size_t max_bytes) { lru_.set_budget(max_entries, max_bytes); }

 private:
  util::LruCache<std::string, std::shared_ptr<const Expansion>> lru_;
};

// The codes of a bundled value set for the validator's binding checks (fhir/validate.cpp):
// system -> codes, built from this engine's expansion of the bundled definition (bundled
// content only, default Limits) the first time a binding names it, then kept for the life of
// the process — bundled content never changes, and the validator asks only for the canonicals
// of the type model's required/extensible/preferred bindings (342), so the table is bounded.
// A check is then two hash lookups.  enumerated = false when the engine cannot enumerate the
// value set (a code system not held, a filter it refuses, a budget) or it is empty: such a
// binding is not checked against the bundled content.
struct CodeSet {
  bool enumerated = false;
  std::unordered_map<std::string, std::unordered_set<std::string>> codes;  // system -> codes
  bool has_code(const std::string& code) const;                             // in any system
  bool has(const std::string& system, const std::string& code) const;
  bool has_system(const std::string& system) const { return codes.count(system) > 0; }
};
// Never null; the pointer stays valid for the life of the process.  Thread-safe.
const CodeSet* bundled_code_set(const std::string& url);
size_t bundled_code_sets_built();  // how many are built so far (tests)

// An error with issue code "not-supported" (400): a system the server does not hold, an
// unsupported filter.
Status not_available(const std::string& msg);

}  // namespace ef::fhir::term
