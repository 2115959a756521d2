// store/sync_state.cpp — see sync_state.h.
#include "store/sync_state.h"

namespace ef::store {

namespace {

// " AND type IN (?2,?3,...)" — parameters start at `first`.
std::string type_filter(const std::vector<std::string>& types, int first) {
  if (types.empty()) return {};
  std::string s = " AND type IN (";
  for (size_t i = 0; i < types.size(); ++i) s += (i ? ",?" : "?") + std::to_string(first + int(i));
  return s + ")";
}
void bind_types(Stmt& s, const std::vector<std::string>& types, int first) {
  for (size_t i = 0; i < types.size(); ++i) s.bind(first + int(i), types[i]);
}

// Steps `q` once and resets it: its first row through `of` (nullopt when there is none), or the
// statement's error (a statement that did not prepare steps false with its status).
template <class Of>
auto first_row(Stmt& q, Of of) -> Result<std::optional<decltype(of(q))>> {
  std::optional<decltype(of(q))> out;
  if (q.step()) out = of(q);
  Status s = q.status();
  q.reset();
  if (!s) return s;
  return out;
}

int64_t int64_of(Stmt& q) { return q.int64(0); }

int64_t newest_seq(Conn& c, Status* st) {
  Stmt& q = c.prepare("SELECT COALESCE(MAX(seq), 0) FROM resource_version");
  int64_t n = q.step() ? q.int64(0) : 0;
  *st = q.status();
  q.reset();
  return n;
}

#define SYNC_STATE_COLS                                                                                         \
  "upstream, start_seq, pushed_seq, enabled_at, COALESCE(last_attempt_at,0), COALESCE(last_success_at,0), " \
  "COALESCE(last_error,''), COALESCE(last_error_at,0), consecutive_failures, pushed_total"

SyncStateRow row_of(Stmt& q) {
  SyncStateRow r;
  r.upstream = std::string(q.text(0));
  r.start_seq = q.int64(1);
  r.pushed_seq = q.int64(2);
  r.enabled_at = q.int64(3);
  r.last_attempt_at = q.int64(4);
  r.last_success_at = q.int64(5);
  r.last_error = std::string(q.text(6));
  r.last_error_at = q.int64(7);
  r.consecutive_failures = q.int64(8);
  r.pushed_total = q.int64(9);
  return r;
}

Result<std::optional<SyncStateRow>> select_state(Conn& c, const std::string& upstream) {
  Stmt& q = c.prepare("SELECT " SYNC_STATE_COLS " FROM sync_state WHERE upstream=?");
  q.bind(1, upstream);
  return first_row(q, row_of);
}

#define CHANGE_COLS "seq, type, id, version, last_updated, method, body"

SyncChange change_of(Stmt& q) {
  SyncChange ch;
  ch.seq = q.int64(0);
  ch.type = std::string(q.text(1));
  ch.id = std::string(q.text(2));
  ch.version = q.int64(3);
  ch.last_updated = q.int64(4);
  ch.is_delete = q.text(5) == "DELETE";
  if (!ch.is_delete) ch.body = std::string(q.text(6));
  return ch;
}

#define CONFLICT_COLS                                                                                \
  "seq, at, type, id, local_version, change_seq, kind, COALESCE(expected_version,''), "              \
  "COALESCE(upstream_version,''), resolution, COALESCE(detail,''), direction, upstream_body, "       \
  "COALESCE(resolved_at,0)"

SyncConflictRow conflict_of(Stmt& q) {
  SyncConflictRow r;
  r.seq = q.int64(0);
  r.at = q.int64(1);
  r.type = std::string(q.text(2));
  r.id = std::string(q.text(3));
  r.local_version = q.int64(4);
  r.change_seq = q.int64(5);
  r.kind = std::string(q.text(6));
  r.expected_version = std::string(q.text(7));
  r.upstream_version = std::string(q.text(8));
  r.resolution = std::string(q.text(9));
  r.detail = std::string(q.text(10));
  r.direction = std::string(q.text(11));
  if (!q.is_null(12)) r.upstream_body = std::string(q.text(12));
  r.resolved_at = q.int64(13);
  return r;
}

#define SYNC_PULL_COLS                                                                                   \
  "upstream, search, cursor_ms, history_since_ms, full_done, last_attempt_at, last_success_at, "          \
  "last_error_at, last_error, consecutive_failures, received_total, deleted_total, created_at"

SyncPullRow pull_of(Stmt& q) {
  SyncPullRow r;
  r.upstream = std::string(q.text(0));
  r.search = std::string(q.text(1));
  r.cursor_ms = q.int64(2);
  r.history_since_ms = q.int64(3);
  r.full_done = q.int64(4) != 0;
  r.last_attempt_at = q.int64(5);
  r.last_success_at = q.int64(6);
  r.last_error_at = q.int64(7);
  r.last_error = std::string(q.text(8));
  r.consecutive_failures = q.int64(9);
  r.received_total = q.int64(10);
  r.deleted_total = q.int64(11);
  r.created_at = q.int64(12);
  return r;
}

Result<std::optional<SyncPullRow>> select_pull(Conn& c, const std::string& upstream, const std::string& search) {
  Stmt& q = c.prepare("SELECT " SYNC_PULL_COLS " FROM sync_pull WHERE upstream=? AND search=?");
  q.bind(1, upstream).bind(2, search);
  return first_row(q, pull_of);
}

void bind_opt(Stmt& s, int i, const std::string& v) {
  if (v.empty()) s.bind_null(i);
  else s.bind(i, v);
}

}  // namespace

Result<SyncStateRow> SyncState::ensure(const std::string& upstream, int64_t now_ms) {
  std::optional<SyncStateRow> out;
  Status st = db_.write([&](Conn& c) -> Status {
    auto cur = select_state(c, upstream);
    if (!cur) return cur.status();
    if (*cur) {
      out = **cur;
      return Status();
    }
    Status s;
    int64_t start = newest_seq(c, &s);
    if (!s) return s;
    Stmt& ins = c.prepare("INSERT INTO sync_state(upstream, start_seq, pushed_seq, enabled_at) VALUES(?,?,?,?)");
    ins.bind(1, upstream).bind(2, start).bind(3, start).bind(4, now_ms);
    s = ins.run();
    if (!s) return s;
    SyncStateRow r;
    r.upstream = upstream;
    r.start_seq = r.pushed_seq = start;
    r.enabled_at = now_ms;
    out = r;
    return Status();
  });
  if (!st) return st;
  return *out;
}

Result<std::optional<SyncStateRow>> SyncState::get(const std::string& upstream) {
  Result<std::optional<SyncStateRow>> out = std::optional<SyncStateRow>();
  Status st = db_.read([&](Conn& c) -> Status {
    out = select_state(c, upstream);
    return out.status();
  });
  if (!st) return st;
  return out;
}

Result<SyncPending> SyncState::pending(int64_t after_seq, int limit, const std::vector<std::string>& types) {
  SyncPending p;
  Status st = db_.read([&](Conn& c) -> Status {
    Stmt& q = c.prepare(
        "SELECT " CHANGE_COLS " FROM resource_version WHERE seq>?1" +
        type_filter(types, 3) + " ORDER BY seq LIMIT ?2");
    q.bind(1, after_seq).bind(2, int64_t(limit));
    bind_types(q, types, 3);
    while (q.step()) p.changes.push_back(change_of(q));
    Status s = q.status();
    q.reset();
    if (!s) return s;
    if (limit > 0 && int(p.changes.size()) >= limit) {
      p.covered_seq = p.changes.back().seq;
    } else {
      p.covered_seq = std::max(after_seq, newest_seq(c, &s));
    }
    return s;
  });
  if (!st) return st;
  return p;
}

Result<std::optional<SyncChange>> SyncState::latest_change(const std::string& type, const std::string& id) {
  Result<std::optional<SyncChange>> out = std::optional<SyncChange>();
  Status st = db_.read([&](Conn& c) -> Status {
    Stmt& q = c.prepare("SELECT " CHANGE_COLS " FROM resource_version WHERE type=? AND id=? ORDER BY version DESC LIMIT 1");
    q.bind(1, type).bind(2, id);
    out = first_row(q, change_of);
    return out.status();
  });
  if (!st) return st;
  return out;
}

Result<SyncQueue> SyncState::queue(const std::string& upstream, int64_t after_seq, const std::vector<std::string>& types) {
  SyncQueue out;
  Status st = db_.read([&](Conn& c) -> Status {
    // Versions the upstream already has (pulled, or acknowledged out of order) are not queued.
    Stmt& q = c.prepare(
        "SELECT COUNT(*), COALESCE(MIN(seq), 0) FROM resource_version rv WHERE seq>?1" + type_filter(types, 3) +
        " AND NOT EXISTS (SELECT 1 FROM sync_resource s WHERE s.upstream=?2 AND s.type=rv.type AND s.id=rv.id "
        "AND s.local_version>=rv.version)");
    q.bind(1, after_seq).bind(2, upstream);
    bind_types(q, types, 3);
    int64_t first = 0;
    if (q.step()) {
      out.length = q.int64(0);
      first = q.int64(1);
    }
    Status s = q.status();
    q.reset();
    if (!s) return s;
    if (first > 0) {
      Stmt& lu = c.prepare("SELECT last_updated FROM resource_version WHERE seq=?");
      lu.bind(1, first);
      if (lu.step()) out.oldest_unsent_ms = lu.int64(0);
      s = lu.status();
      lu.reset();
      if (!s) return s;
    }
    out.newest_seq = newest_seq(c, &s);
    return s;
  });
  if (!st) return st;
  return out;
}

Result<std::optional<std::string>> SyncState::upstream_version(const std::string& upstream, const std::string& type,
                                                               const std::string& id) {
  std::optional<std::string> out;
  Status st = db_.read([&](Conn& c) -> Status {
    Stmt& q = c.prepare("SELECT upstream_version FROM sync_resource WHERE upstream=? AND type=? AND id=?");
    q.bind(1, upstream).bind(2, type).bind(3, id);
    if (q.step() && !q.is_null(0)) out = std::string(q.text(0));
    Status s = q.status();
    q.reset();
    return s;
  });
  if (!st) return st;
  return out;
}

Status SyncState::write_acks(Conn& c, const std::string& upstream, const std::vector<SyncAck>& acks,
                             const std::vector<SyncConflictRow>& conflicts, int64_t now_ms) {
  Stmt& up = c.prepare(
      "INSERT INTO sync_resource(upstream, type, id, upstream_version, local_version, pushed_at, origin) "
      "VALUES(?,?,?,?,?,?,'push') ON CONFLICT(upstream, type, id) DO UPDATE SET "
      "upstream_version=excluded.upstream_version, local_version=MAX(local_version, excluded.local_version), "
      "pushed_at=excluded.pushed_at, origin='push'");
  for (const SyncAck& a : acks) {
    up.reset();
    up.bind(1, upstream).bind(2, a.type).bind(3, a.id);
    if (a.upstream_version) up.bind(4, *a.upstream_version);
    else up.bind_null(4);
    up.bind(5, a.local_version).bind(6, now_ms);
    Status s = up.run();
    if (!s) return s;
  }
  for (const SyncConflictRow& k : conflicts) {
    Status s = add_conflict(c, upstream, k, now_ms);
    if (!s) return s;
  }
  return Status();
}

Status SyncState::commit(const std::string& upstream, int64_t pushed_seq, const std::vector<SyncAck>& acks,
                         const std::vector<SyncConflictRow>& conflicts, int64_t now_ms) {
  return db_.write([&](Conn& c) -> Status {
    Status s = write_acks(c, upstream, acks, conflicts, now_ms);
    if (!s) return s;
    Stmt& u = c.prepare(
        "UPDATE sync_state SET pushed_seq=MAX(pushed_seq, ?2), last_attempt_at=?3, last_success_at=?3, "
        "consecutive_failures=0, pushed_total=pushed_total+?4 WHERE upstream=?1");
    u.bind(1, upstream).bind(2, pushed_seq).bind(3, now_ms).bind(4, int64_t(acks.size() + conflicts.size()));
    s = u.run();
    if (!s) return s;
    if (c.changes() != 1) return Status(Err::internal, "sync state for '" + upstream + "' is missing");
    return Status();
  });
}

Status SyncState::fail(const std::string& upstream, int64_t pushed_seq, const std::vector<SyncAck>& acks,
                       const std::vector<SyncConflictRow>& conflicts, const std::string& error, int64_t now_ms) {
  return db_.write([&](Conn& c) -> Status {
    Status s = write_acks(c, upstream, acks, conflicts, now_ms);
    if (!s) return s;
    Stmt& u = c.prepare(
        "UPDATE sync_state SET pushed_seq=MAX(pushed_seq, ?2), last_attempt_at=?3, last_error=?4, last_error_at=?3, "
        "consecutive_failures=consecutive_failures+1, pushed_total=pushed_total+?5 WHERE upstream=?1");
    u.bind(1, upstream).bind(2, pushed_seq).bind(3, now_ms).bind(4, error);
    u.bind(5, int64_t(acks.size() + conflicts.size()));
    return u.run();
  });
}

Result<std::vector<SyncConflictRow>> SyncState::conflicts(const std::string& upstream, int limit) {
  std::vector<SyncConflictRow> out;
  Status st = db_.read([&](Conn& c) -> Status {
    Stmt& q = c.prepare(
        "SELECT " CONFLICT_COLS " FROM sync_conflict WHERE upstream=? ORDER BY seq DESC LIMIT ?");
    q.bind(1, upstream).bind(2, int64_t(limit));
    while (q.step()) out.push_back(conflict_of(q));
    Status s = q.status();
    q.reset();
    return s;
  });
  if (!st) return st;
  return out;
}

Result<int64_t> SyncState::conflict_count(const std::string& upstream, const std::string& kind) {
  Result<std::optional<int64_t>> n = std::optional<int64_t>();
  Status st = db_.read([&](Conn& c) -> Status {
    Stmt& q = c.prepare("SELECT COUNT(*) FROM sync_conflict WHERE upstream=?1 AND (?2='' OR kind=?2)");
    q.bind(1, upstream).bind(2, kind);
    n = first_row(q, int64_of);
    return n.status();
  });
  if (!st) return st;
  return n->value_or(0);
}

Result<std::optional<SyncConflictRow>> SyncState::conflict(const std::string& upstream, int64_t seq) {
  Result<std::optional<SyncConflictRow>> out = std::optional<SyncConflictRow>();
  Status st = db_.read([&](Conn& c) -> Status {
    Stmt& q = c.prepare("SELECT " CONFLICT_COLS " FROM sync_conflict WHERE upstream=? AND seq=?");
    q.bind(1, upstream).bind(2, seq);
    out = first_row(q, conflict_of);
    return out.status();
  });
  if (!st) return st;
  return out;
}

Result<int64_t> SyncState::pending_count(const std::string& upstream) {
  Result<std::optional<int64_t>> n = std::optional<int64_t>();
  Status st = db_.read([&](Conn& c) -> Status {
    Stmt& q = c.prepare("SELECT COUNT(*) FROM sync_conflict WHERE upstream=? AND resolution='pending'");
    q.bind(1, upstream);
    n = first_row(q, int64_of);
    return n.status();
  });
  if (!st) return st;
  return n->value_or(0);
}

Result<std::optional<SyncResourceRow>> SyncState::resource(const std::string& upstream, const std::string& type,
                                                           const std::string& id) {
  Result<std::optional<SyncResourceRow>> out = std::optional<SyncResourceRow>();
  Status st = db_.read([&](Conn& c) -> Status {
    out = resource(c, upstream, type, id);
    return out.status();
  });
  if (!st) return st;
  return out;
}

Result<bool> SyncState::has_pending(const std::string& upstream, const std::string& type, const std::string& id) {
  bool out = false;
  Status st = db_.read([&](Conn& c) -> Status {
    auto p = pending_conflict(c, upstream, type, id);
    if (!p) return p.status();
    out = p->has_value();
    return Status();
  });
  if (!st) return st;
  return out;
}

Result<std::optional<SyncResourceRow>> SyncState::resource(Conn& c, const std::string& upstream,
                                                           const std::string& type, const std::string& id) {
  Stmt& q = c.prepare("SELECT upstream_version, local_version, origin FROM sync_resource WHERE upstream=? AND type=? AND id=?");
  q.bind(1, upstream).bind(2, type).bind(3, id);
  return first_row(q, [](Stmt& row) {
    SyncResourceRow r;
    if (!row.is_null(0)) r.upstream_version = std::string(row.text(0));
    r.local_version = row.int64(1);
    r.origin = std::string(row.text(2));
    return r;
  });
}

Status SyncState::put_resource(Conn& c, const std::string& upstream, const std::string& type, const std::string& id,
                               const std::optional<std::string>& upstream_version, int64_t local_version,
                               const std::string& origin, int64_t now_ms) {
  Stmt& up = c.prepare(
      "INSERT INTO sync_resource(upstream, type, id, upstream_version, local_version, pushed_at, origin) "
      "VALUES(?,?,?,?,?,?,?) ON CONFLICT(upstream, type, id) DO UPDATE SET "
      "upstream_version=excluded.upstream_version, local_version=excluded.local_version, "
      "pushed_at=excluded.pushed_at, origin=excluded.origin");
  up.bind(1, upstream).bind(2, type).bind(3, id);
  if (upstream_version) up.bind(4, *upstream_version);
  else up.bind_null(4);
  up.bind(5, local_version).bind(6, now_ms).bind(7, origin);
  return up.run();
}

Status SyncState::add_conflict(Conn& c, const std::string& upstream, const SyncConflictRow& k, int64_t now_ms) {
  Stmt& ins = c.prepare(
      "INSERT INTO sync_conflict(upstream, at, type, id, local_version, change_seq, kind, expected_version, "
      "upstream_version, resolution, detail, direction, upstream_body) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)");
  ins.bind(1, upstream).bind(2, k.at ? k.at : now_ms).bind(3, k.type).bind(4, k.id).bind(5, k.local_version);
  ins.bind(6, k.change_seq).bind(7, k.kind);
  bind_opt(ins, 8, k.expected_version);
  bind_opt(ins, 9, k.upstream_version);
  ins.bind(10, k.resolution);
  bind_opt(ins, 11, k.detail);
  ins.bind(12, k.direction.empty() ? std::string("push") : k.direction);
  if (k.upstream_body) ins.bind(13, *k.upstream_body);
  else ins.bind_null(13);
  return ins.run();
}

Result<std::optional<SyncConflictRow>> SyncState::pending_conflict(Conn& c, const std::string& upstream,
                                                                   const std::string& type, const std::string& id) {
  Stmt& q = c.prepare("SELECT " CONFLICT_COLS " FROM sync_conflict WHERE upstream=? AND type=? AND id=? AND "
                      "resolution='pending' ORDER BY seq DESC LIMIT 1");
  q.bind(1, upstream).bind(2, type).bind(3, id);
  return first_row(q, conflict_of);
}

Result<bool> SyncState::conflict_recorded(Conn& c, const std::string& upstream, const std::string& type,
                                          const std::string& id, const std::string& upstream_version,
                                          const std::string& kind) {
  Stmt& q = c.prepare("SELECT 1 FROM sync_conflict WHERE upstream=? AND type=? AND id=? AND upstream_version=? "
                      "AND kind=? LIMIT 1");
  q.bind(1, upstream).bind(2, type).bind(3, id).bind(4, upstream_version).bind(5, kind);
  bool found = q.step();
  Status s = q.status();
  q.reset();
  if (!s) return s;
  return found;
}

Status SyncState::update_pending(Conn& c, int64_t seq, const std::string& upstream_version,
                                 const std::string& upstream_body, const std::string& detail) {
  Stmt& u = c.prepare("UPDATE sync_conflict SET upstream_version=?, upstream_body=?, detail=? WHERE seq=?");
  u.bind(1, upstream_version).bind(2, upstream_body).bind(3, detail).bind(4, seq);
  return u.run();
}

Status SyncState::resolve(Conn& c, int64_t seq, const std::string& resolution, int64_t now_ms) {
  Stmt& u = c.prepare("UPDATE sync_conflict SET resolution=?, resolved_at=? WHERE seq=? AND resolution='pending'");
  u.bind(1, resolution).bind(2, now_ms).bind(3, seq);
  Status s = u.run();
  if (!s) return s;
  if (c.changes() != 1) return Status(Err::conflict, "conflict " + std::to_string(seq) + " is not pending");
  return Status();
}

Result<SyncPullRow> SyncState::pull_ensure(const std::string& upstream, const std::string& search, int64_t now_ms) {
  Result<std::optional<SyncPullRow>> out = std::optional<SyncPullRow>();
  Status st = db_.write([&](Conn& c) -> Status {
    Stmt& ins = c.prepare("INSERT OR IGNORE INTO sync_pull(upstream, search, created_at) VALUES(?,?,?)");
    ins.bind(1, upstream).bind(2, search).bind(3, now_ms);
    Status s = ins.run();
    if (!s) return s;
    out = select_pull(c, upstream, search);
    return out.status();
  });
  if (!st) return st;
  if (!*out) return Status(Err::internal, "sync_pull row missing");
  return **out;
}

Result<std::optional<SyncPullRow>> SyncState::pull_get(const std::string& upstream, const std::string& search) {
  Result<std::optional<SyncPullRow>> out = std::optional<SyncPullRow>();
  Status st = db_.read([&](Conn& c) -> Status {
    out = select_pull(c, upstream, search);
    return out.status();
  });
  if (!st) return st;
  return out;
}

Status SyncState::pull_progress(Conn& c, const std::string& upstream, const std::string& search, int64_t cursor_ms,
                                int64_t received, int64_t deleted) {
  Stmt& u = c.prepare(
      "UPDATE sync_pull SET cursor_ms=MAX(cursor_ms, ?3), received_total=received_total+?4, "
      "deleted_total=deleted_total+?5 WHERE upstream=?1 AND search=?2");
  u.bind(1, upstream).bind(2, search).bind(3, cursor_ms).bind(4, received).bind(5, deleted);
  return u.run();
}

Status SyncState::pull_history_start(const std::string& upstream, const std::string& search,
                                     int64_t history_since_ms) {
  return db_.write([&](Conn& c) -> Status {
    Stmt& u = c.prepare("UPDATE sync_pull SET history_since_ms=?3 WHERE upstream=?1 AND search=?2 AND history_since_ms=0");
    u.bind(1, upstream).bind(2, search).bind(3, history_since_ms);
    return u.run();
  });
}

Status SyncState::pull_finish(const std::string& upstream, const std::string& search, bool ok,
                              const std::string& error, int64_t history_since_ms, bool full_done, int64_t now_ms) {
  return db_.write([&](Conn& c) -> Status {
    if (ok) {
      Stmt& u = c.prepare(
          "UPDATE sync_pull SET last_attempt_at=?3, last_success_at=?3, consecutive_failures=0, last_error='', "
          "history_since_ms=MAX(history_since_ms, ?4), full_done=MAX(full_done, ?5) WHERE upstream=?1 AND search=?2");
      u.bind(1, upstream).bind(2, search).bind(3, now_ms).bind(4, history_since_ms).bind(5, int64_t(full_done ? 1 : 0));
      return u.run();
    }
    Stmt& u = c.prepare(
        "UPDATE sync_pull SET last_attempt_at=?3, last_error=?4, last_error_at=?3, "
        "consecutive_failures=consecutive_failures+1 WHERE upstream=?1 AND search=?2");
    u.bind(1, upstream).bind(2, search).bind(3, now_ms).bind(4, error);
    return u.run();
  });
}

}  // namespace ef::store
