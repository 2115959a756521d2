// service/reads.h — every read of resource data, as the caller may see it: read, vread,
// instance/type/system history, and search (type, system, compartment, with _include,
// _revinclude, chains, _has, totals).  Direct requests (service/service.h) and Bundle GET
// entries (service/bundle_processor.h) both come here, inside the caller's transaction.
//
// Rules (issue 14): outside the caller's view a resource behaves exactly as one that does
// not exist — same status, same text (which names only what the caller sent).  Earlier and
// deleted versions keep the compartment of the version being read: a deletion is judged by
// the version before it, each history entry by itself, so reusing a deleted id never shows
// earlier versions to a caller who could not read them.  Type and system history are refused
// to callers limited by scopes (their entries would have to be judged one by one over the
// whole database; search with _lastUpdated gives the same data through the view).
#pragma once
#include <string>
#include <vector>

#include "fhir/outcome.h"
#include "fhir/search_query.h"
#include "service/access.h"
#include "service/repository.h"
#include "store/resources.h"
#include "store/search.h"

namespace ef::service {

Result<store::Version> read_current(store::Conn& c, const Access& a, Repository& repo, const std::string& type,
                                    const std::string& id);
Result<store::Version> read_version(store::Conn& c, const Access& a, Repository& repo, const std::string& type,
                                    const std::string& id, int64_t version);

struct HistoryPage {
  std::vector<store::Version> versions;  // newest first, at most q.count
  int64_t total = 0;
  bool more = false;  // a next page exists
};
Result<HistoryPage> history(store::Conn& c, const Access& a, Repository& repo, const store::HistoryQuery& q);

// The history query of GET [Type[/id]]/_history?_since=&_at=&_count=&_cursor= (other
// parameters are ignored).  Errors name the parameter.
Result<store::HistoryQuery> parse_history_query(const std::string& type, const std::string& id,
                                                const fhir::QueryParams& params);
// The entries of a history Bundle (fullUrl, resource, request, response per version).
std::vector<fhir::BundleEntry> history_entries(const std::vector<store::Version>& versions, const std::string& base_url);

// `i`: search_type (q.types has the one type), search_system, search_compartment.  Every
// matched and included resource is judged by decide(search_type, its type).
struct SearchResult {
  store::SearchPage page;
  int64_t count = -1;  // _summary=count / _count=0: the total only
};
Result<SearchResult> search(store::Conn& c, const Access& a, auth::Interaction i, const fhir::SearchQuery& q,
                            store::SearchRunOptions ro = {});

// "Type/id is not known": the answer for a resource that does not exist or that the caller
// may not see.
Status not_known(const std::string& type, const std::string& id);

}  // namespace ef::service
