// store/reindex.cpp — see reindex.h.
#include "store/reindex.h"

namespace ef::store {

namespace {

const char* const kIndexTables[] = {"idx_string", "idx_token", "idx_date", "idx_number", "idx_reference", "idx_uri"};

// " AND r.type IN (?2, ?3, ...)" for the type filter, parameters starting at `first`.
std::string type_filter(size_t n, int first) {
  if (n == 0) return "";
  std::string s = " AND r.type IN (";
  for (size_t i = 0; i < n; ++i) s += (i ? ",?" : "?") + std::to_string(first + int(i));
  return s + ")";
}

}  // namespace

Result<std::vector<StoredResource>> current_resources_after(Conn& c, int64_t after_rid, size_t limit,
                                                            const std::vector<std::string>& types) {
  // ?1 = after_rid, ?2 = limit, ?3... = types
  Stmt& q = c.prepare(
      "SELECT r.rid, r.type, r.id, v.body FROM resource r JOIN resource_version v ON v.seq = r.seq "
      "WHERE r.rid > ?1 AND r.deleted = 0" + type_filter(types.size(), 3) + " ORDER BY r.rid LIMIT ?2");
  q.bind(1, after_rid).bind(2, int64_t(limit));
  for (size_t i = 0; i < types.size(); ++i) q.bind(int(3 + i), types[i]);
  std::vector<StoredResource> out;
  while (q.step()) {
    StoredResource r;
    r.rid = q.int64(0);
    r.type = std::string(q.text(1));
    r.id = std::string(q.text(2));
    r.body = std::string(q.text(3));
    out.push_back(std::move(r));
  }
  Status st = q.status();
  q.reset();
  if (!st) return st;
  return out;
}

Result<int64_t> count_current_resources(Conn& c, const std::vector<std::string>& types) {
  Stmt& q = c.prepare("SELECT COUNT(*) FROM resource r WHERE r.deleted = 0" + type_filter(types.size(), 1));
  for (size_t i = 0; i < types.size(); ++i) q.bind(int(1 + i), types[i]);
  int64_t n = q.step() ? q.int64(0) : 0;
  Status st = q.status();
  q.reset();
  if (!st) return st;
  return n;
}

Result<int64_t> delete_orphan_index_rows(Conn& c) {
  int64_t n = 0;
  for (const char* t : kIndexTables) {
    Stmt& d = c.prepare(std::string("DELETE FROM ") + t +
                        " WHERE rid NOT IN (SELECT rid FROM resource WHERE deleted = 0)");
    Status st = d.run();
    if (!st) return st;
    n += c.changes();
  }
  return n;
}

Result<int64_t> count_index_rows(Conn& c) {
  int64_t n = 0;
  for (const char* t : kIndexTables) {
    Stmt& q = c.prepare(std::string("SELECT COUNT(*) FROM ") + t);
    if (q.step()) n += q.int64(0);
    Status st = q.status();
    q.reset();
    if (!st) return st;
  }
  return n;
}

}  // namespace ef::store
