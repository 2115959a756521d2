// service/repository.h — the FHIR rules of the write and read interactions on top of
// store::Resources: server-assigned ids, versioning, meta stamping, If-Match, update-as-create,
// no-op updates that create no version, delete semantics, JSON Patch and FHIRPath Patch (a
// Parameters patch document; fhir/fhirpath_patch.h), $meta-add/$meta-delete; every resource written
// passes the injected WriteCheck (validation.on_write) first and is stored in R4 definition
// order (fhir/element_order.h).  HTTP handlers and the
// transaction processor both call this; it never sees HTTP.  Conn-taking methods run inside
// a transaction the caller owns; the others open their own.
#pragma once
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

#include "fhir/index_row.h"
#include "fhir/outcome.h"
#include "store/db.h"
#include "store/resources.h"
#include "util/clock.h"
#include "util/json.h"

namespace ef::service {

using fhir::IndexRows;

using Indexer = std::function<void(const json::Value& resource, IndexRows* out)>;
// Validation of every resource written (validation.on_write; fhir/validate.h check_on_write),
// injected like the Indexer: an error Status refuses the write; issues that do not refuse it
// are logged by the check (and appended to *kept when a list is passed; writes pass none).
using WriteCheck = std::function<Status(const json::Value& resource, std::vector<fhir::Issue>* kept)>;

struct WriteResult {
  std::string type, id;
  int64_t version = 0;
  int64_t last_updated = 0;
  bool created = false;   // 201 vs 200
  bool unchanged = false; // update identical to the current version: no new version
  bool deleted = false;
  std::string body;       // stored JSON (empty for delete)
};

struct WriteOptions {
  std::optional<int64_t> if_match;  // required current version
  std::string method;               // recorded in history: POST PUT PATCH (default by call)
};

class Repository {
 public:
  Repository(store::Database& db, store::Resources& res, const Clock& clock, Indexer indexer)
      : db_(db), res_(res), clock_(clock), indexer_(std::move(indexer)) {}

  // ---- inside a caller-owned write transaction ----
  Result<WriteResult> create(store::Conn& c, json::Value resource, const std::string& id = {});
  Result<WriteResult> update(store::Conn& c, const std::string& type, const std::string& id, json::Value resource,
                             const WriteOptions& opt = {});
  Result<WriteResult> patch(store::Conn& c, const std::string& type, const std::string& id, const json::Value& patch,
                            const WriteOptions& opt = {});
  Result<WriteResult> remove(store::Conn& c, const std::string& type, const std::string& id,
                             const WriteOptions& opt = {});
  // $meta-add (add) / $meta-delete: the profiles, tags and security labels of `meta` added to or
  // removed from the current version (fhir/fhirpath_patch.h apply_meta_change), written like a
  // patch: a new version when something changed, none when nothing did.
  Result<WriteResult> change_meta(store::Conn& c, const std::string& type, const std::string& id,
                                  const json::Value& meta, bool add, const WriteOptions& opt = {});

  // ---- own transaction ----
  Result<WriteResult> create(json::Value resource);
  Result<WriteResult> update(const std::string& type, const std::string& id, json::Value resource,
                             const WriteOptions& opt = {});
  Result<WriteResult> patch(const std::string& type, const std::string& id, const json::Value& patch,
                            const WriteOptions& opt = {});
  Result<WriteResult> remove(const std::string& type, const std::string& id, const WriteOptions& opt = {});

  // ---- bulk import, in two halves (service/import.cpp) ----
  // A version-1 create prepared without the database, on any thread: the resource stamped
  // (id, versionId 1, lastUpdated now_ms), serialised, and its index rows extracted.
  struct Prepared {
    std::string type, id, body;
    int64_t version = 1;
    int64_t now_ms = 0;
    IndexRows rows;
    // Where meta.lastUpdated's 24-character instant sits in body (the body starts
    // {"resourceType":..,"id":..,"meta":{"versionId":..,"lastUpdated":"..."), so that
    // write_prepared_create can restamp it; npos when the body does not start that way.
    size_t stamp_at = std::string::npos;
  };
  Prepared prepare_create(std::string type, std::string id, json::Value resource, int64_t now_ms) const {
    return prepare(std::move(type), std::move(id), std::move(resource), 1, now_ms);
  }
  // Stores it inside the caller's transaction.  Only when type/id has no current row at all
  // (the caller checked with Resources::current); otherwise use update() on the parsed body.
  Result<WriteResult> write_prepared(store::Conn& c, const Prepared& p, const std::string& method);
  // A plain create prepared before it queued for the writer (Service::execute, with
  // BundleProcessor::prepare_create): inside the caller's transaction, meta.lastUpdated (body and
  // row) is restamped by stamp() (later than every committed transaction), so that lastUpdated
  // follows commit order exactly as when the whole create runs in the writer; then stored as write_prepared(.., "POST").
  // WriteResult::body is the stored body (moved out of p).
  Result<WriteResult> write_prepared_create(store::Conn& c, Prepared& p);

  void set_check(WriteCheck check) { check_ = std::move(check); }
  // The write check alone (the import's prepared path calls it before preparing).
  Status check(const json::Value& resource, std::vector<fhir::Issue>* kept) const {
    return check_ ? check_(resource, kept) : Status();
  }

  store::Database& db() { return db_; }
  store::Resources& resources() { return res_; }
  const Clock& clock() const { return clock_; }
  void index(const json::Value& resource, IndexRows* out) const { if (indexer_) indexer_(resource, out); }
  static std::string new_id();

 private:
  Result<WriteResult> write(store::Conn& c, const std::string& type, const std::string& id, json::Value resource,
                            const std::optional<store::Current>& cur, const std::string& method);
  // Reads the current version, applies `edit` to it, re-checks it as a resource of type/id and
  // writes it (history method PATCH).  `what` names the edit in messages.
  Result<WriteResult> modify(store::Conn& c, const std::string& type, const std::string& id,
                             const std::function<Status(json::Value&)>& edit, const WriteOptions& opt, const char* what);
  // meta.lastUpdated for a write running now in the writer's open transaction: the wall clock,
  // at least `at_least`, and later than every lastUpdated of a transaction that already
  // committed (equal ones only inside one transaction, which commits atomically).  So a client
  // that saw lastUpdated T (the largest it received) finds every later commit with
  // `_lastUpdated=gtT`: no gap between incremental downloads (mobile sync, README "Mobile
  // clients").  More than ~1,000 commits/s in a row run ahead of the clock by the excess.
  int64_t stamp(int64_t at_least);
  // What every write stores: `resource` stamped as `version` at now_ms, serialised, indexed.
  Prepared prepare(std::string type, std::string id, json::Value resource, int64_t version, int64_t now_ms) const;
  store::Database& db_;
  store::Resources& res_;
  const Clock& clock_;
  Indexer indexer_;
  WriteCheck check_;
  std::mutex stamp_mu_;
  int64_t last_stamp_ = 0;  // the last stamp() and the transaction count when it was given
  uint64_t stamp_tx_ = 0;
};

}  // namespace ef::service
