// store/resources.h — persistence of resources: every version in resource_version (global
// commit order = seq), the current one in resource, and its search-index rows.  This layer
// is deliberately dumb: it does not know FHIR rules (ids, meta, preconditions); the
// repository (service/repository.h) decides, this file only reads and writes rows.
// Writes take the writer Conn from Database::write so several can share one transaction.
#pragma once
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "fhir/index_row.h"
#include "store/db.h"

namespace ef::store {

struct Current {
  int64_t rid = 0;
  int64_t version = 0;
  int64_t seq = 0;
  int64_t last_updated = 0;
  bool deleted = false;
};

struct Version {
  int64_t seq = 0;
  std::string type, id;
  int64_t version = 0;
  int64_t last_updated = 0;
  std::string method;  // POST PUT PATCH DELETE
  std::string body;    // empty for a delete
  bool is_delete() const { return method == "DELETE"; }
};

struct HistoryQuery {
  std::string type;  // empty: system history
  std::string id;    // empty: type history
  int64_t since_ms = -1;      // _since (inclusive)
  int64_t at_or_before_ms = -1;  // _at upper bound (inclusive), -1 none
  int64_t before_seq = 0;     // cursor: only seq < before_seq (0 = no cursor)
  int count = 50;
};

class Resources {
 public:
  explicit Resources(Database& db) : db_(db) {}
  // Registers every (type, code) search parameter and loads their ids.  Call once at start.
  Status init(const std::vector<std::pair<std::string, std::string>>& params);

  Result<std::optional<Current>> current(Conn& c, const std::string& type, const std::string& id);
  // Current version (not_found / gone are errors).  For gone, the status message names the version.
  Result<Version> read(Conn& c, const std::string& type, const std::string& id);
  Result<Version> vread(Conn& c, const std::string& type, const std::string& id, int64_t version);
  Result<Version> by_seq(Conn& c, int64_t seq);

  // Writes `body` as version `version` (the caller computed it and stamped the body).
  Result<Current> write_version(Conn& c, const std::string& type, const std::string& id, int64_t version,
                                const std::string& body, const std::string& method, int64_t now_ms,
                                const fhir::IndexRows& rows);
  Result<Current> write_delete(Conn& c, const std::string& type, const std::string& id, int64_t version,
                               int64_t now_ms);
  Status reindex_rows(Conn& c, int64_t rid, const std::string& type, const fhir::IndexRows& rows);

  // Newest first.
  Result<std::vector<Version>> history(Conn& c, const HistoryQuery& q);
  Result<int64_t> history_count(Conn& c, const HistoryQuery& q);

  // Search-parameter id for (type, code); 0 when unknown.
  int64_t pid(const std::string& type, const std::string& code) const;

 private:
  Status write_index(Conn& c, int64_t rid, const std::string& type, const fhir::IndexRows& rows);
  Status clear_index(Conn& c, int64_t rid);
  Database& db_;
  // type -> code -> pid; read-only after init
  std::unordered_map<std::string, std::unordered_map<std::string, int64_t>> pids_;
};

}  // namespace ef::store
