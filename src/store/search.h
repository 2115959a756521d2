// store/search.h — executes a parsed search (fhir/search_query.h) over the idx_* tables.
//
// SQL.  Every criterion becomes a predicate on the candidate resource row (`rid IN (SELECT rid
// FROM idx_<type> WHERE pid=? AND <value match>)`, chains and _has as nested subqueries over
// idx_reference); values are always bound, so the SQL text depends only on the query's shape
// and Conn::prepare's per-connection statement cache is reused across requests.
// Parameter ids are looked up in search_param (small indexed lookups), so this needs no
// store::Resources and works on any Conn.
//
// Paging (keyset, robust while data changes).  Results are ordered by the _sort keys (each the
// first index value of its parameter: string norm, date lo, number, token code, reference
// Type/id; _id, _lastUpdated from the resource table; missing values last), then by rid
// (insertion order: a resource keeps its rid across updates).  A page token (_cursor) is
// base64url of the last (or, for `previous`, the first) row's sort keys and rid, so the next
// page starts strictly after that row: resources created meanwhile show up on later pages
// (or not at all when they sort before the cursor), and resources that were already listed
// are never listed twice nor skipped, unless an update changed their sort key.
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

struct SearchRunOptions {
  bool bodies = true;  // load the stored JSON of each row
  // Authorization hook for included resources: false = leave resources of this type out.
  std::function<bool(const std::string& type)> include_type_allowed;
};

constexpr size_t kMaxIncludes = 1000;

// Runs `q` (one page).  Run inside Database::read for a consistent snapshot.
// Err::invalid when q.cursor is not a token this query produced.
Result<SearchPage> run_search(Conn& c, const fhir::SearchQuery& q, const SearchRunOptions& opt = {});

// Only the number of matches (for _summary=count).
Result<int64_t> count_search(Conn& c, const fhir::SearchQuery& q);

// For conditional create/update/delete and transactions: the (type, id) of current,
// non-deleted resources of `type` matching `query_string` ("identifier=http://x|1&active=true"),
// in insertion order, at most `limit`.  Unknown parameters are an error here (strict): a
// conditional operation must not match more than was asked.  `base_url` (optional) is stripped
// from absolute references.
Result<std::vector<std::pair<std::string, std::string>>> resolve_matches(Conn& c, const std::string& type,
                                                                         const std::string& query_string,
                                                                         size_t limit,
                                                                         const std::string& base_url = {});

}  // namespace ef::store
