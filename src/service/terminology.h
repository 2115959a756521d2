// service/terminology.h — the terminology operations for a caller (issue 21): $expand,
// $validate-code, $lookup, $subsumes, $translate over the bundled content (fhir/terminology.h)
// and the CodeSystem, ValueSet and ConceptMap resources stored in the database.
//
// Owns: finding definitions for a caller — a stored resource with the canonical URL (and
// version, when one is asked for) wins over the bundled one, and is used as soon as its write
// commits; stored definitions are consulted only when the caller may search that type
// (auth::Interaction::search_type on CodeSystem / ValueSet / ConceptMap; a caller without it,
// e.g. scopes patient/Observation.rs alone, gets the bundled content, which any authenticated
// caller may use); instance-level operations read the resource as a read interaction would.
// Also owns the expansion cache (keyed by generation, visibility, canonical, version and
// activeOnly) and the generation counter that invalidates it: bump_generation() is called by
// Service after every committed write of one of the three types (Service::execute,
// Service::bundle), after an import and after a sync pull page or conflict resolution
// (sync/puller.cpp) that wrote one, and when a cached expansion is about to be used and a
// version of one of the three types was committed since the last look by anyone — another
// process on the same database included, e.g. an `edgefhir import` while the server runs
// (store/changes.h: a scan of only the versions committed since; notice_writes()).
// Also resolves the code sets the token search modifiers :in, :not-in, :above and :below need
// (code_set).
#pragma once
#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "fhir/search_query.h"
#include "fhir/terminology.h"
#include "service/access.h"
#include "store/db.h"

namespace ef::service {

class Service;

// One operation's input, from GET parameters or a POST Parameters body (http/terminology.cpp).
struct TermRequest {
  std::string id;                       // instance level: ValueSet/[id], CodeSystem/[id], ConceptMap/[id]
  std::string url, version;             // url (ValueSet / CodeSystem / ConceptMap) and its version
  std::optional<json::Value> resource;  // an inline valueSet / codeSystem / conceptMap (POST)
  fhir::term::ExpandParams expand;
  fhir::term::CodeRef code;             // code/system/version/display or from coding/codeableConcept
  std::vector<fhir::term::CodeRef> codings;  // codeableConcept: any one valid is enough
  std::string code_a, code_b;           // $subsumes
  std::string target_system, target;    // $translate: targetsystem, target (value set)
  std::string source;                   // $translate: source value set
  bool reverse = false;
  std::vector<std::string> properties;  // $lookup property
};

class Terminology {
 public:
  explicit Terminology(Service& svc, fhir::term::Limits lim = {});
  ~Terminology();
  Terminology(const Terminology&) = delete;
  Terminology& operator=(const Terminology&) = delete;

  Result<json::Value> expand(const Access& a, const TermRequest& r);
  Result<json::Value> validate_code(const Access& a, const std::string& type, const TermRequest& r);
  Result<json::Value> lookup(const Access& a, const TermRequest& r);
  Result<json::Value> subsumes(const Access& a, const TermRequest& r);
  Result<json::Value> translate(const Access& a, const TermRequest& r);

  // The (system, code) pairs of a value set (by canonical URL or "ValueSet/id"), for :in / :not-in.
  // conn: the caller's read transaction when called from inside a search (else nullptr).
  Result<std::vector<std::pair<std::string, std::string>>> value_set_codes(const Access& a, const std::string& ref,
                                                                          store::Conn* conn);
  // The code itself and every descendant (below) or ancestor (above) in `system`, which the
  // server must hold as a code system with a hierarchy.
  Result<std::vector<std::string>> related_codes(const Access& a, const std::string& system, const std::string& code,
                                                 bool below, store::Conn* conn);
  // Fills SearchValue::code_set of every token :in / :not-in / :above / :below criterion of
  // q (also in chains and _has), through the process's Terminology (set by the Service);
  // refuses the search (400) when a value set or code system cannot be resolved.
  static Status resolve_code_sets(store::Conn& c, const Access& a, fhir::SearchQuery* q);
  static bool needs_code_sets(const fhir::SearchQuery& q);

  // A required binding check for the validator: is `system`/`code` ("" system: any) in the
  // stored value set `url`?  nullopt when no stored value set has that URL (the bundled
  // check applies) or it cannot be expanded.
  std::optional<bool> stored_binding_has(const std::string& url, const std::string& system, const std::string& code);

  const fhir::term::Limits& limits() const { return lim_; }
  // The configured budgets (limits.max_expansion_concepts, limits.terminology_cache_*); called
  // once at start-up, before requests are served.
  void configure(size_t max_expansion, size_t cache_entries, size_t cache_bytes);
  fhir::term::ExpansionCache& cache() { return cache_; }

  // stored_binding_has of the process's Terminology (nullopt when there is none): the
  // validator's hook (fhir::set_stored_binding_lookup).
  static std::optional<bool> stored_binding(const std::string& url, const std::string& system, const std::string& code);

  static void bump_generation();
  static uint64_t generation();
  // True for CodeSystem, ValueSet, ConceptMap.
  static bool is_terminology_type(const std::string& type);

 private:
  // Bumps the generation when a CodeSystem/ValueSet/ConceptMap version was committed since the
  // last look (by this process or another); conn: the caller's read transaction, or nullptr.
  // Without conn, looks at most once per millisecond per process.
  void notice_writes(store::Conn* conn);
  Result<std::shared_ptr<const json::Value>> value_set_def(const Access& a, const TermRequest& r, store::Conn* conn);
  Result<std::shared_ptr<const fhir::term::Expansion>> expansion(const Access& a, const TermRequest& r,
                                                                 std::shared_ptr<const json::Value>* def,
                                                                 store::Conn* conn);
  Service& svc_;
  fhir::term::Limits lim_;
  fhir::term::ExpansionCache cache_;
  std::atomic<int64_t> seen_seq_{-1};  // resource_version seq looked at last (-1: never)
  std::atomic<int64_t> last_look_us_{0};  // steady clock of the last completed look (notice_writes)
  std::mutex absent_mu_;
  uint64_t absent_gen_ = 0;
  std::unordered_set<std::string> absent_;  // URLs with no stored ValueSet (stored_binding_has)
};

}  // namespace ef::service
