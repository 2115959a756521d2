// service/bundle_internal.h — internal to the service/bundle_*.cpp files (not an API): the
// helpers that the pieces of BundleProcessor (bundle_processor.h) share across files.
//   bundle_parse.cpp      Bundle and entry-url parsing, reference rewriting
//   bundle_entry.cpp      one entry: assign an id, write, delete, get (execute())
//   bundle_processor.cpp  the transaction / batch / process drivers
//   bundle_import.cpp     the bulk import halves (prepare_import, commit_prepared)
#pragma once
#include <map>
#include <string>

#include "service/bundle_processor.h"
#include "util/json.h"
#include "util/status.h"

namespace ef::service::bundle_detail {

// st with its message prefixed by the entry's name (entry_name()).
Status at_entry(const EntryRequest& e, Status st);
// Whether `v` holds a member "reference" that is a conditional reference ("Type?search").
bool has_conditional_reference(const json::Value& v);
// Rewrites `res` as rewrite_references() does from `refs` alone (no database): a conditional
// reference fails (Err::internal; callers exclude them first).
Status rewrite_known_references(json::Value& res, const std::map<std::string, std::string>& refs,
                                std::map<std::string, std::string>* cache);
// The id an import derives from a urn:uuid fullUrl (lower-case uuid), "" when there is none.
std::string urn_id(const EntryRequest& e);
// Sets res.id.
void set_id(json::Value& res, const std::string& id);
// Processing order of a method: DELETE 0, POST 1, PUT/PATCH 2, GET/HEAD 3.
int phase_of(const std::string& m);
// Counts written / unchanged / failed from out.results.
void tally(BundleResult& out);

}  // namespace ef::service::bundle_detail
