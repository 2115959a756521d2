// store/search.h — executes a parsed search (fhir/search_query.h) over the idx_* tables.
//
// SQL.  Every criterion becomes a predicate on the candidate resource row (`rid IN (SELECT rid
// FROM idx_<type> WHERE pid=? AND <value match>)`, chains and _has as nested subqueries over
// idx_reference); values are always bound, so the SQL text depends only on the query's shape
// and Conn::prepare's per-connection statement cache is reused across requests.
// Parameter ids are looked up in search_param (small indexed lookups), so this needs no
// store::Resources and works on any Conn.
// A search with one positive token, reference, string or uri criterion and no _sort (e.g.
// Observation?code:below=...) instead reads its criterion's index rows once, checks those
// resources against the resource table in one statement (the same deleted, type, compartment
// and view predicates) and pages and counts the survivors in memory (search.cpp: the
// collected path; same results, issue 21).
//
// Paging (keyset, robust while data changes).  Results are ordered by the _sort keys (each the
// first index value of its parameter: string norm, date lo, number, token code, reference
// Type/id; _id, _lastUpdated from the resource table; missing values last), then by rid
// (insertion order: a resource keeps its rid across updates).  A page token (_cursor) is
// base64url of the last (or, for `previous`, the first) row's sort keys and rid, so the next
// page starts strictly after that row: resources created meanwhile show up on later pages
// (or not at all when they sort before the cursor), and resources that were already listed
// are never listed twice nor skipped, unless an update changed their sort key.  A search sorted
// first by _lastUpdated ascending (a sync client's download) is also bounded to what was last
// updated at or before the newest lastUpdated of its types when the first page was read (the
// bound is in the token): paging ends even while writers keep updating, and later writes
// come with the client's next `_lastUpdated=gt` query.
//
// _include/_revinclude: applied to the page's matches (and, with :iterate, to included
// resources, up to 4 rounds); included resources never repeat a match; at most
// kMaxIncludes per page.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "fhir/search_query.h"
#include "store/db.h"

namespace ef::store {

struct SearchRow {
  int64_t rid = 0;
  std::string type, id;
  int64_t version = 0;
  int64_t last_updated = 0;
  std::string body;  // stored JSON (empty when bodies were not requested)
};

struct SearchPage {
  std::vector<SearchRow> matches;
  std::vector<SearchRow> included;
  int64_t total = -1;       // -1: not computed (_total=none)
  std::string next_cursor;  // empty: no next page
  std::string prev_cursor;  // empty: no previous page
  bool includes_truncated = false;
};

// ---- the caller's view (authorization, applied in the SQL) ----
// What one caller may see of one resource type.  The interaction layer (service/access.h)
// builds it from the authorization decision; this file turns it into a predicate that every
// statement touching resources ANDs in: the matches, the count, every _include/_revinclude
// (:iterate) round, the resources a chain looks at and the referring resources of _has.  So
// totals, paging, includes and conditional matches are right by construction, and nothing
// outside the view can influence an answer.
struct ViewAlt {
  std::string patient;                    // "": no compartment limit; else Patient/{patient}'s compartment
  std::vector<fhir::Criterion> criteria;  // all must hold (SMART v2 ?param constraints, parsed for the type)
};
struct TypeView {
  bool visible = false;       // false: nothing of this type is visible
  std::vector<ViewAlt> alts;  // visible and empty: the whole type; else a resource matching any one alt
};
class View {
 public:
  virtual ~View() = default;
  // Must return the same answer for the same type during one statement's construction.
  virtual const TypeView& type_view(const std::string& type) const = 0;
};

struct SearchRunOptions {
  bool bodies = true;  // load the stored JSON of each row
  // The caller's view; null = everything (unauthenticated configuration, CLI, sync).
  const View* view = nullptr;
  // A filter on included resources by type that is part of the query, not of authorization
  // (Patient/$everything leaves compartment types out of its includes): false = leave out.
  std::function<bool(const std::string& type)> include_type_allowed;
};

constexpr size_t kMaxIncludes = 1000;

// Runs `q` (one page).  Run inside Database::read for a consistent snapshot.
// Err::invalid when q.cursor is not a token this query produced.
Result<SearchPage> run_search(Conn& c, const fhir::SearchQuery& q, const SearchRunOptions& opt = {});

// Only the number of matches (for _summary=count).
Result<int64_t> count_search(Conn& c, const fhir::SearchQuery& q, const View* view = nullptr);

// Whether the current, non-deleted resource type/id is inside `view` (true when view is null).
Result<bool> visible(Conn& c, const std::string& type, const std::string& id, const View* view);

// For conditional create/update/delete and transactions: the (type, id) of current,
// non-deleted resources of `type` matching `query_string` ("identifier=http://x|1&active=true"),
// in insertion order, at most `limit`.  Unknown parameters are an error here (strict): a
// conditional operation must not match more than was asked.  `base_url` (optional) is stripped
// from absolute references.
// Only resources inside `view` are considered (null: all): outside the caller's view a match
// behaves as no match.
Result<std::vector<std::pair<std::string, std::string>>> resolve_matches(Conn& c, const std::string& type,
                                                                         const std::string& query_string,
                                                                         size_t limit,
                                                                         const std::string& base_url = {},
                                                                         const View* view = nullptr);

// $meta at system / type level (https://hl7.org/fhir/R4/resource-operation-meta.html): the
// distinct profiles (_profile index), tags (_tag) and security labels (_security) of current,
// non-deleted resources of `type` ("" = every type) inside `view` (null: all), from the index
// tables (no bodies are read).  At most `limit` of each kind; `truncated` says more exist.
// Displays are not returned (the index keeps only a normalised form of them).
struct MetaCodes {
  std::vector<std::string> profiles;                              // sorted
  std::vector<std::pair<std::string, std::string>> tags, security;  // (system, code), sorted
  bool truncated = false;
};
Result<MetaCodes> meta_codes(Conn& c, const std::string& type, const View* view, size_t limit);

}  // namespace ef::store
