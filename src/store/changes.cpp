// store/changes.cpp — see changes.h.
#include "store/changes.h"

namespace ef::store {

Result<ChangeScan> changes_since(Conn& c, int64_t after_seq, const std::vector<std::string>& types,
                                 int64_t max_scan) {
  if (types.empty() || types.size() > 8) return Status(Err::internal, "changes_since: 1 to 8 types");
  ChangeScan out;
  Stmt& top = c.prepare("SELECT max(seq) FROM resource_version");
  if (!top.step()) {
    if (!top.status()) return top.status();
    return out;
  }
  out.newest_seq = top.is_null(0) ? 0 : top.int64(0);
  top.reset();
  if (out.newest_seq <= after_seq) {
    out.newest_seq = after_seq;
    return out;
  }
  if (out.newest_seq - after_seq > max_scan) {
    out.touched = true;
    return out;
  }
  std::string sql = "SELECT 1 FROM resource_version WHERE seq > ?1 AND seq <= ?2 AND type IN (";
  for (size_t i = 0; i < types.size(); ++i) sql += (i ? ",?" : "?") + std::to_string(i + 3);
  sql += ") LIMIT 1";
  Stmt& q = c.prepare(sql);
  if (!q.status()) return q.status();
  q.bind(1, after_seq).bind(2, out.newest_seq);
  for (size_t i = 0; i < types.size(); ++i) q.bind(int(i + 3), types[i]);
  out.touched = q.step();
  if (!q.status()) return q.status();
  q.reset();
  return out;
}

Result<int64_t> data_version(Conn& c) {
  Stmt& q = c.prepare("PRAGMA data_version");
  if (!q.step()) return q.status().ok() ? Status(Err::internal, "PRAGMA data_version: no row") : q.status();
  int64_t v = q.int64(0);
  q.reset();
  return v;
}

}  // namespace ef::store
