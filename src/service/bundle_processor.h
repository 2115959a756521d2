// service/bundle_processor.h — transaction and batch Bundles, and the conditional interactions
// (https://hl7.org/fhir/R4/http.html#transaction , #cond-update , #cdelete , #ccreate).
// No HTTP here: entries go in as parsed JSON, results come out as per-entry outcomes that
// http/bundle.cpp turns into a transaction-response / batch-response Bundle and that
// `edgefhir import` counts.
//
// Transaction (all or nothing, inside ONE caller-owned store::Conn write transaction):
//   1. every entry is checked (method, url, resource) before anything is written;
//   2. DELETE entries run (conditional ones resolved first);
//   3. ids are assigned: POST gets a new id (or, with ifNoneExist and one match, the match;
//      or, with ids_from_urn, the uuid of its urn:uuid fullUrl — existing already counts as
//      the ifNoneExist match), PUT/PATCH take the URL id or
//      resolve their condition; every fullUrl then maps to "Type/id";
//   4. POST, then PUT/PATCH entries are written, each after rewriting every JSON member named
//      "reference" (urn:uuid:/urn:oid: placeholders and absolute fullUrls via the map,
//      conditional "Type?search" references via the resolver: exactly one match or the
//      transaction fails) and urn placeholders inside narrative (text.div);
//   5. GET entries (read, vread, search) run last and see the transaction's writes.
//   The first failure aborts with a Status naming the entry: "entry 3 (urn:uuid:...): ...".
// Batch: entries run in request order, each in its own write transaction; a failure only
// fails that entry.  urn:uuid references may point at entries processed before.
//
// Matches for conditions come from an injected resolver (store::resolve_matches in the
// server), so tests can substitute a fake.
//
// Authorization (issue 14): BundleOptions cannot be built without the caller's Access
// (service/access.h), and every entry kind applies it here, the same way a direct request
// does (HTTP requests run through execute() and service/reads.h too): GET entries read
// through service/reads.h; conditions, ifNoneExist and conditional references are resolved
// inside the caller's view (a match outside it is no match); a write needs its permission,
// a stored target inside the view (outside it behaves as absent), and proposed content that
// Access::check_write allows.
//
// Files: bundle_parse.cpp (parse, parse_url, reference rewriting), bundle_entry.cpp (one entry:
// execute, assign, write, remove, get; prepare_create for a plain create), bundle_processor.cpp (transaction, batch, process),
// bundle_import.cpp (prepare_import, commit_prepared); bundle_internal.h is what they share.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "service/access.h"
#include "service/repository.h"
#include "fhir/resource.h"
#include "store/db.h"
#include "util/json.h"
#include "util/status.h"

namespace ef::service {

using fhir::ParseLimits;

// (type, id) of current resources of `type` inside `view` (null: all) matching `query`
// ("identifier=s|v"), at most `limit`.
using MatchResolver = std::function<Result<std::vector<std::pair<std::string, std::string>>>(
    store::Conn& c, const std::string& type, const std::string& query, size_t limit, const store::View* view)>;

// One interaction, as found in Bundle.entry.request (or built from an HTTP request).
struct EntryRequest {
  size_t index = 0;        // position in the Bundle (for messages)
  std::string full_url;    // Bundle.entry.fullUrl
  std::string method;      // GET POST PUT PATCH DELETE
  std::string url;         // "Patient", "Patient/1", "Patient?identifier=x", "Patient/1/_history/2"
  json::Value resource;    // null when absent
  json::Value patch;       // PATCH from HTTP: the JSON Patch or FHIRPath Patch (Parameters) document
                           // (else, in a Bundle, a Binary with a JSON Patch or a Parameters in `resource`)
  std::string meta_op;     // PATCH as $meta-add / $meta-delete ("meta-add", "meta-delete"): `patch` is the Meta
  std::string if_none_exist, if_match, if_none_match, if_modified_since;
  size_t max_deletes = 1;  // conditional delete: more matches than this -> 412 (1 = single mode)

  // Filled by parsing url.
  std::string type, id, vid, query;
  bool history = false;            // GET [Type[/id]]/_history (type and id may be empty)
  std::string compartment_id;      // GET Patient/{compartment_id}/{type or "*"} (type "" for "*")
  bool new_id = false;             // set by the processor: a conditional update that creates
  bool conditional() const { return !query.empty() && method != "GET" && method != "HEAD"; }
};

enum class Outcome {
  created,       // 201
  updated,       // 200
  unchanged,     // 200, no new version (identical update)
  exists,        // 200, ifNoneExist matched: nothing written
  deleted,       // 204 (also when nothing was there)
  read,          // 200 with body
  not_modified,  // 304
  failed,        // status in `error`
};

struct EntryResult {
  Outcome outcome = Outcome::failed;
  std::string type, id;
  int64_t version = 0;
  int64_t last_updated = 0;
  std::string body;        // resource JSON (written, read, or the searchset Bundle)
  Status error;            // Outcome::failed
  std::vector<std::pair<std::string, std::string>> deleted;  // conditional delete: what went
};

struct BundleOptions {
  explicit BundleOptions(const Access& a) : access(&a) {}
  const Access* access;        // the caller (never null)
  size_t max_entries = 10000;
  std::string base_url;        // our base: absolute URLs under it are local
  // Import: a POST with a urn:uuid fullUrl creates Type/<uuid>, or, when that exists already,
  // leaves it alone (Outcome::exists), so loading the same Bundles again writes nothing.
  bool ids_from_urn = false;
  ParseLimits limits;
  int64_t now_ms = 0;          // for search `ap`
  // Resource bytes the results may hold (limits.max_response_bytes; 0 = no limit): once
  // reached, a batch answers its remaining entries 413, a transaction fails with 413.
  size_t max_response_bytes = 0;
};

struct BundleResult {
  std::string type;  // transaction | batch
  std::vector<EntryRequest> requests;  // in request order (resources moved out)
  std::vector<EntryResult> results;    // same order
  size_t written = 0, unchanged = 0, failed = 0;
};

class BundleProcessor {
 public:
  BundleProcessor(Repository& repo, MatchResolver resolve) : repo_(repo), resolve_(std::move(resolve)) {}

  // Checks that `bundle` is a transaction or batch Bundle within the limits and splits it
  // into requests (urls parsed).  Errors name the entry.
  Result<std::vector<EntryRequest>> parse(json::Value bundle, const BundleOptions& opt, std::string* type) const;

  // Runs a transaction inside the caller's write transaction: on error the caller must roll
  // back (Database::write does when the callback returns the error).
  Result<BundleResult> transaction(store::Conn& c, std::vector<EntryRequest> entries, const BundleOptions& opt);
  // Runs a batch: one write transaction per entry (Database::write), failures per entry.
  BundleResult batch(std::vector<EntryRequest> entries, const BundleOptions& opt);
  // Parses and dispatches on Bundle.type; a transaction runs in its own Database::write.
  Result<BundleResult> process(json::Value bundle, const BundleOptions& opt);

  // Bulk import in two halves (for the import engine, service/import.cpp), so that the CPU
  // work of a Bundle (reference rewriting, stamping, serialising, index extraction) runs on
  // another thread while the writer stores the previous one.  prepare_import() (any thread, no database): when every
  // entry is a create the importer can decide alone -- a POST whose urn:uuid fullUrl gives its
  // id (ids_from_urn) or a PUT Type/id, no preconditions, no conditional URL, no conditional
  // references in the resources, each target once -- prepares them in processing order
  // (Repository::prepare_create, references rewritten as transaction() would) and returns
  // true; otherwise false, and `entries` (possibly with references already rewritten, which
  // transaction() leaves as they are) go to transaction() instead.  commit_prepared() (inside
  // the caller's write transaction) then does what transaction() would: a target that does not
  // exist is written as prepared; a POST whose target exists is `exists`; anything else is an
  // update from the prepared body.
  struct PreparedEntry {
    EntryRequest request;  // resource moved out
    Repository::Prepared prepared;
  };
  bool prepare_import(std::vector<EntryRequest>& entries, const BundleOptions& opt, int64_t now_ms,
                      std::vector<PreparedEntry>* out) const;
  Result<BundleResult> commit_prepared(store::Conn& c, std::vector<PreparedEntry> entries);

  // A plain create -- POST, no ifNoneExist, not an import (ids_from_urn), no conditional
  // reference or urn placeholder in the resource -- needs the database only to store it: with
  // everything else (authorization, content check, validation.on_write, a new id, stamping,
  // serialising, index rows) done here on the request's thread before it queues for the
  // writer, the writer only runs its SQL (Service::execute).  Returns true with *out filled
  // (e.resource moved into it); false, e unchanged, when the create is not plain or any check
  // refuses it: the general path (execute()) then runs it and reports the refusal exactly.
  bool prepare_create(EntryRequest& e, const BundleOptions& opt, Repository::Prepared* out) const;
  // Stores what prepare_create made, inside the caller's write transaction (Outcome::created).
  Result<EntryResult> write_prepared_create(store::Conn& c, Repository::Prepared& p);

  // One interaction (conditional or not) inside the caller's write transaction.  `refs` maps
  // fullUrls to "Type/id" for reference rewriting (may be empty).
  Result<EntryResult> execute(store::Conn& c, EntryRequest& e, const BundleOptions& opt,
                              std::map<std::string, std::string>* refs = nullptr);

  // Parses an entry/request url into type, id, vid, query.  Absolute URLs must start with
  // base_url.
  static Status parse_url(EntryRequest& e, const std::string& base_url);

  // Rewrites every member named "reference" (and urn placeholders inside "div") in `res`.
  // Exposed for tests.
  Status rewrite_references(store::Conn& c, const Access& a, json::Value& res,
                            const std::map<std::string, std::string>& refs,
                            std::map<std::string, std::string>* cond_cache);

 private:
  Status assign(store::Conn& c, EntryRequest& e, const BundleOptions& opt, std::string* target_id, bool* exists);
  Result<EntryResult> write(store::Conn& c, EntryRequest& e, const BundleOptions& opt, const std::string& target_id,
                            bool exists, const std::map<std::string, std::string>& refs,
                            std::map<std::string, std::string>* cond_cache);
  Result<EntryResult> remove(store::Conn& c, EntryRequest& e, const BundleOptions& opt);
  Result<EntryResult> get(store::Conn& c, EntryRequest& e, const BundleOptions& opt);
  Result<std::string> resolve_one(store::Conn& c, const Access& a, const std::string& type, const std::string& query,
                                  const char* what);
  // A write's target: refuses when the caller may not write it (outside the view: as absent).
  Status check_target(store::Conn& c, const Access& a, auth::Interaction i, const std::string& type,
                      const std::string& id, bool* visible);
  Status check_content(const Access& a, auth::Interaction i, const json::Value& res, const std::string& id,
                       bool creating) const;

  Repository& repo_;
  MatchResolver resolve_;
};

// "entry 3 (urn:uuid:...)" — how messages name an entry.
std::string entry_name(const EntryRequest& e);

}  // namespace ef::service
