// store/resources.cpp — see resources.h.
#include "store/resources.h"

namespace ef::store {

Status Resources::init(const std::vector<std::pair<std::string, std::string>>& params) {
  Status st = db_.write([&](Conn& c) -> Status {
    Stmt& ins = c.prepare("INSERT OR IGNORE INTO search_param(type, code) VALUES(?, ?)");
    for (const auto& p : params) {
      ins.reset();
      ins.bind(1, p.first).bind(2, p.second);
      Status s = ins.run();
      if (!s) return s;
    }
    return Status();
  });
  if (!st) return st;
  return db_.read([&](Conn& c) -> Status {
    Stmt& q = c.prepare("SELECT pid, type, code FROM search_param");
    while (q.step()) pids_[std::string(q.text(1))][std::string(q.text(2))] = q.int64(0);
    return q.status();
  });
}

int64_t Resources::pid(const std::string& type, const std::string& code) const {
  auto t = pids_.find(type);
  if (t == pids_.end()) return 0;
  auto it = t->second.find(code);
  return it == t->second.end() ? 0 : it->second;
}

Result<std::optional<Current>> Resources::current(Conn& c, const std::string& type, const std::string& id) {
  Stmt& q = c.prepare("SELECT rid, version, seq, last_updated, deleted FROM resource WHERE type=? AND id=?");
  q.bind(1, type).bind(2, id);
  std::optional<Current> out;
  if (q.step()) {
    Current cur;
    cur.rid = q.int64(0);
    cur.version = q.int64(1);
    cur.seq = q.int64(2);
    cur.last_updated = q.int64(3);
    cur.deleted = q.int64(4) != 0;
    out = cur;
  }
  Status st = q.status();
  q.reset();
  if (!st) return st;
  return out;
}

static Version row_to_version(Stmt& q) {
  Version v;
  v.seq = q.int64(0);
  v.type = std::string(q.text(1));
  v.id = std::string(q.text(2));
  v.version = q.int64(3);
  v.last_updated = q.int64(4);
  v.method = std::string(q.text(5));
  v.body = std::string(q.text(6));
  return v;
}

#define VERSION_COLS "seq, type, id, version, last_updated, method, body"

Result<Version> Resources::by_seq(Conn& c, int64_t seq) {
  Stmt& q = c.prepare("SELECT " VERSION_COLS " FROM resource_version WHERE seq=?");
  q.bind(1, seq);
  if (!q.step()) {
    Status st = q.status();
    q.reset();
    return st.ok() ? Status(Err::not_found, "no version with sequence " + std::to_string(seq)) : st;
  }
  Version v = row_to_version(q);
  q.reset();
  return v;
}

Result<Version> Resources::read(Conn& c, const std::string& type, const std::string& id) {
  auto cur = current(c, type, id);
  if (!cur) return cur.status();
  if (!*cur) return Status(Err::not_found, type + "/" + id + " is not known");
  if ((*cur)->deleted) {
    Status st(Err::gone, type + "/" + id + " was deleted (version " + std::to_string((*cur)->version) + ")");
    return st;
  }
  return by_seq(c, (*cur)->seq);
}

Result<Version> Resources::vread(Conn& c, const std::string& type, const std::string& id, int64_t version) {
  Stmt& q = c.prepare("SELECT " VERSION_COLS " FROM resource_version WHERE type=? AND id=? AND version=?");
  q.bind(1, type).bind(2, id).bind(3, version);
  if (!q.step()) {
    Status st = q.status();
    q.reset();
    if (!st) return st;
    return Status(Err::not_found, type + "/" + id + " has no version " + std::to_string(version));
  }
  Version v = row_to_version(q);
  q.reset();
  if (v.is_delete()) return Status(Err::gone, type + "/" + id + " version " + std::to_string(version) + " is a deletion");
  return v;
}

Result<Current> Resources::write_version(Conn& c, const std::string& type, const std::string& id, int64_t version,
                                         const std::string& body, const std::string& method, int64_t now_ms,
                                         const fhir::IndexRows& rows) {
  Stmt& ins = c.prepare(
      "INSERT INTO resource_version(type, id, version, last_updated, method, body) VALUES(?,?,?,?,?,?)");
  ins.bind(1, type).bind(2, id).bind(3, version).bind(4, now_ms).bind(5, method).bind_blob(6, body);
  Status st = ins.run();
  if (!st) return st;
  Current cur;
  cur.seq = c.last_insert_rowid();
  cur.version = version;
  cur.last_updated = now_ms;
  Stmt& up = c.prepare(
      "INSERT INTO resource(type, id, version, seq, last_updated, deleted) VALUES(?,?,?,?,?,0) "
      "ON CONFLICT(type, id) DO UPDATE SET version=excluded.version, seq=excluded.seq, "
      "last_updated=excluded.last_updated, deleted=0 RETURNING rid");
  up.bind(1, type).bind(2, id).bind(3, version).bind(4, cur.seq).bind(5, now_ms);
  if (up.step()) cur.rid = up.int64(0);
  st = up.status();
  up.reset();
  if (!st) return st;
  if (version > 1) {
    st = clear_index(c, cur.rid);
    if (!st) return st;
  }
  st = write_index(c, cur.rid, type, rows);
  if (!st) return st;
  return cur;
}

Result<Current> Resources::write_delete(Conn& c, const std::string& type, const std::string& id, int64_t version,
                                        int64_t now_ms) {
  Stmt& ins = c.prepare(
      "INSERT INTO resource_version(type, id, version, last_updated, method, body) VALUES(?,?,?,?,'DELETE',NULL)");
  ins.bind(1, type).bind(2, id).bind(3, version).bind(4, now_ms);
  Status st = ins.run();
  if (!st) return st;
  Current cur;
  cur.seq = c.last_insert_rowid();
  cur.version = version;
  cur.last_updated = now_ms;
  cur.deleted = true;
  Stmt& up = c.prepare("UPDATE resource SET version=?, seq=?, last_updated=?, deleted=1 WHERE type=? AND id=? RETURNING rid");
  up.bind(1, version).bind(2, cur.seq).bind(3, now_ms).bind(4, type).bind(5, id);
  if (up.step()) cur.rid = up.int64(0);
  st = up.status();
  up.reset();
  if (!st) return st;
  return clear_index(c, cur.rid).ok() ? Result<Current>(cur) : Result<Current>(Status(Err::internal, "index cleanup failed"));
}

Status Resources::clear_index(Conn& c, int64_t rid) {
  static const char* kTables[] = {"idx_string", "idx_token", "idx_date", "idx_number", "idx_reference", "idx_uri"};
  for (const char* t : kTables) {
    Stmt& d = c.prepare(std::string("DELETE FROM ") + t + " WHERE rid=?");
    d.bind(1, rid);
    Status st = d.run();
    if (!st) return st;
  }
  return Status();
}

Status Resources::reindex_rows(Conn& c, int64_t rid, const std::string& type, const fhir::IndexRows& rows) {
  Status st = clear_index(c, rid);
  if (!st) return st;
  return write_index(c, rid, type, rows);
}

static void bind_opt(Stmt& s, int i, const std::string& v) {
  if (v.empty()) s.bind_null(i);
  else s.bind(i, v);
}

Status Resources::write_index(Conn& c, int64_t rid, const std::string& type, const fhir::IndexRows& rows) {
  using fhir::ParamType;
  auto of_type = pids_.find(type);  // once per resource, not per row
  if (of_type == pids_.end()) return Status();
  // n numbers the rows of this resource: with rid and pid the primary key of every idx_*
  // table (migration 12); unique across the tables, so unique within each.
  int64_t n = 0;
  for (const fhir::IndexRow& r : rows) {
    auto found = of_type->second.find(r.param);
    if (found == of_type->second.end()) continue;  // a parameter the registry does not know: nothing can search it
    int64_t p = found->second;
    Stmt* s = nullptr;
    switch (r.type) {
      case ParamType::string:
        s = &c.prepare("INSERT INTO idx_string(rid, pid, norm, exact, grp, n) VALUES(?,?,?,?,?,?)");
        s->bind(1, rid).bind(2, p).bind(3, r.text).bind(4, r.exact).bind(5, int64_t(r.group)).bind(6, n);
        break;
      case ParamType::token:
        s = &c.prepare("INSERT INTO idx_token(rid, pid, system, code, text, type_system, type_code, grp, n) VALUES(?,?,?,?,?,?,?,?,?)");
        s->bind(1, rid).bind(2, p);
        bind_opt(*s, 3, r.system);
        bind_opt(*s, 4, r.code);
        bind_opt(*s, 5, r.text);
        bind_opt(*s, 6, r.type_system);
        bind_opt(*s, 7, r.type_code);
        s->bind(8, int64_t(r.group)).bind(9, n);
        break;
      case ParamType::date:
        s = &c.prepare("INSERT INTO idx_date(rid, pid, lo, hi, grp, n) VALUES(?,?,?,?,?,?)");
        s->bind(1, rid).bind(2, p).bind(3, r.lo_ms).bind(4, r.hi_ms).bind(5, int64_t(r.group)).bind(6, n);
        break;
      case ParamType::number:
      case ParamType::quantity:
        s = &c.prepare("INSERT INTO idx_number(rid, pid, num, lo, hi, system, code, unit, grp, n) VALUES(?,?,?,?,?,?,?,?,?,?)");
        s->bind(1, rid).bind(2, p).bind(3, r.num).bind(4, r.num_lo).bind(5, r.num_hi);
        bind_opt(*s, 6, r.system);
        bind_opt(*s, 7, r.code);
        bind_opt(*s, 8, r.text);
        s->bind(9, int64_t(r.group)).bind(10, n);
        break;
      case ParamType::reference:
        s = &c.prepare("INSERT INTO idx_reference(rid, pid, ref_type, ref_id, exact, system, code, grp, n) VALUES(?,?,?,?,?,?,?,?,?)");
        s->bind(1, rid).bind(2, p);
        bind_opt(*s, 3, r.ref_type);
        bind_opt(*s, 4, r.ref_id);
        bind_opt(*s, 5, r.exact);
        bind_opt(*s, 6, r.system);
        bind_opt(*s, 7, r.code);
        s->bind(8, int64_t(r.group)).bind(9, n);
        break;
      case ParamType::uri:
        s = &c.prepare("INSERT INTO idx_uri(rid, pid, exact, grp, n) VALUES(?,?,?,?,?)");
        s->bind(1, rid).bind(2, p).bind(3, r.exact).bind(4, int64_t(r.group)).bind(5, n);
        break;
      default:
        continue;
    }
    Status st = s->run();
    if (!st) return st;
    ++n;
  }
  return Status();
}

static std::string history_where(const HistoryQuery& q) {
  std::string w = " WHERE 1=1";
  if (!q.type.empty()) w += " AND type=?1";
  if (!q.id.empty()) w += " AND id=?2";
  if (q.since_ms >= 0) w += " AND last_updated>=?3";
  if (q.at_or_before_ms >= 0) w += " AND last_updated<=?4";
  if (q.before_seq > 0) w += " AND seq<?5";
  return w;
}

static void history_bind(Stmt& s, const HistoryQuery& q) {
  if (!q.type.empty()) s.bind(1, q.type);
  if (!q.id.empty()) s.bind(2, q.id);
  if (q.since_ms >= 0) s.bind(3, q.since_ms);
  if (q.at_or_before_ms >= 0) s.bind(4, q.at_or_before_ms);
  if (q.before_seq > 0) s.bind(5, q.before_seq);
}

Result<std::vector<Version>> Resources::history(Conn& c, const HistoryQuery& q) {
  Stmt& s = c.prepare("SELECT " VERSION_COLS " FROM resource_version" + history_where(q) + " ORDER BY seq DESC LIMIT ?6");
  history_bind(s, q);
  s.bind(6, int64_t(q.count));
  std::vector<Version> out;
  while (s.step()) out.push_back(row_to_version(s));
  Status st = s.status();
  s.reset();
  if (!st) return st;
  return out;
}

Result<int64_t> Resources::history_count(Conn& c, const HistoryQuery& q) {
  HistoryQuery all = q;
  all.before_seq = 0;
  Stmt& s = c.prepare("SELECT COUNT(*) FROM resource_version" + history_where(all));
  history_bind(s, all);
  int64_t n = s.step() ? s.int64(0) : 0;
  Status st = s.status();
  s.reset();
  if (!st) return st;
  return n;
}

}  // namespace ef::store
