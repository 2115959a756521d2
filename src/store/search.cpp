// store/search.cpp — see search.h.  Search execution: count_search, run_search (the driving
// criterion, the collected path of a one-criterion search, sort keys, keyset cursors, paging,
// bodies) and visible.  The SQL text comes from
// the builder in search_sql.cpp; _include rounds and resolve_matches are search_include.cpp.
#include "store/search.h"

#include <algorithm>
#include <cerrno>
#include <cfloat>
#include <limits>
#include <map>
#include <optional>

#include "fhir/search_params.h"
#include "store/search_sql.h"
#include "util/base64url.h"
#include "util/json.h"

namespace ef::store {

using namespace detail;

namespace {

// ---- sort keys and cursors ----

Bind key_sentinel(KeyKind kind, bool desc) {
  switch (kind) {
    case KeyKind::i: return desc ? std::numeric_limits<int64_t>::min() : std::numeric_limits<int64_t>::max();
    case KeyKind::r: return desc ? -DBL_MAX : DBL_MAX;
    case KeyKind::s: return desc ? std::string() : std::string("\xF4\x8F\xBF\xBF\xFF");
  }
  return int64_t(0);
}

void sort_expr(Builder& B, const std::string& a, const std::vector<std::string>& types, const fhir::SortKey& k) {
  if (k.code == "_id") { B.sql += a + ".id"; return; }
  if (k.code == "_lastUpdated") { B.sql += a + ".last_updated"; return; }
  const char* col = "norm";
  switch (k.param->type) {
    case ParamType::string: col = "norm"; break;
    case ParamType::token: col = "code"; break;
    case ParamType::date: col = "lo"; break;
    case ParamType::number: case ParamType::quantity: col = "num"; break;
    case ParamType::reference: col = nullptr; break;
    case ParamType::uri: col = "exact"; break;
    default: col = "rid"; break;
  }
  std::string x = B.alias("s");
  std::string val = col ? x + "." + col : x + ".ref_type||'/'||" + x + ".ref_id";
  // by rid ('+' on pid: otherwise SQLite prefers the (pid, value) index for MIN/MAX and scans
  // every row of the parameter for each candidate)
  B.sql += "COALESCE((SELECT " + std::string(k.desc ? "MAX(" : "MIN(") + val + ") FROM " + table_for(k.param->type) + " " +
           x + " WHERE " + x + ".rid=" + a + ".rid AND ";
  B.pid_pred("+" + x + ".pid", types, k.param->code);
  B.sql += "),?)";
  B.b(key_sentinel(key_kind(k), k.desc));
}

struct Cursor {
  bool before = false;
  int64_t rid = 0;
  std::vector<Bind> keys;
  std::optional<int64_t> bound;  // lastUpdated snapshot bound (see sync_bound)
};

std::string encode_cursor(bool before, int64_t rid, const std::vector<Bind>& keys, std::optional<int64_t> bound) {
  json::Array a;
  a.push_back(json::Value(std::string(before ? "b" : "a")));
  a.push_back(json::Value(std::to_string(rid)));
  for (const Bind& k : keys) {
    if (auto* i = std::get_if<int64_t>(&k)) a.push_back(json::Value("i" + std::to_string(*i)));
    else if (auto* d = std::get_if<double>(&k)) {
      char buf[40];
      snprintf(buf, sizeof buf, "r%.17g", *d);
      a.push_back(json::Value(std::string(buf)));
    } else a.push_back(json::Value("s" + std::get<std::string>(k)));
  }
  if (bound) a.push_back(json::Value("u" + std::to_string(*bound)));
  return b64::url_encode(json::write(json::Value(a)));
}

Result<Cursor> decode_cursor(const std::string& tok, const std::vector<fhir::SortKey>& sort) {
  Status bad(Err::invalid, "_cursor: the paging token is not valid for this search (start again from the first page)",
             "_cursor");
  auto raw = b64::url_decode(tok);
  if (!raw) return bad;
  auto v = json::parse(*raw);
  if (!v) return bad;
  const json::Array* a = json::as_array(*v);
  if (!a || (a->size() != sort.size() + 2 && a->size() != sort.size() + 3)) return bad;
  std::vector<std::string> s;
  for (const auto& e : *a) {
    const std::string* str = json::as_string(e);
    if (!str) return bad;
    s.push_back(*str);
  }
  Cursor c;
  if (s[0] != "a" && s[0] != "b") return bad;
  c.before = s[0] == "b";
  char* end = nullptr;
  c.rid = std::strtoll(s[1].c_str(), &end, 10);
  if (s[1].empty() || *end) return bad;
  for (size_t i = 0; i < sort.size(); ++i) {
    const std::string& k = s[i + 2];
    KeyKind kind = key_kind(sort[i]);
    if (k.empty()) return bad;
    if (kind == KeyKind::i && k[0] == 'i') {
      errno = 0;
      long long n = std::strtoll(k.c_str() + 1, &end, 10);
      if (*end || errno) return bad;
      c.keys.push_back(int64_t(n));
    } else if (kind == KeyKind::r && k[0] == 'r') {
      double d = std::strtod(k.c_str() + 1, &end);
      if (*end) return bad;
      c.keys.push_back(d);
    } else if (kind == KeyKind::s && k[0] == 's') {
      c.keys.push_back(k.substr(1));
    } else {
      return bad;
    }
  }
  if (s.size() == sort.size() + 3) {
    const std::string& u = s.back();
    errno = 0;
    long long n = u.size() > 1 && u[0] == 'u' ? std::strtoll(u.c_str() + 1, &end, 10) : 0;
    if (u.size() < 2 || u[0] != 'u' || *end || errno) return bad;
    c.bound = int64_t(n);
  }
  return c;
}

// A search whose first sort key is _lastUpdated ascending (how sync clients download:
// `_sort=_lastUpdated`) is bounded to the resources last updated at or before the newest
// lastUpdated of its types when its first page was read; the bound travels in the cursor.
// Without it, writers that keep updating resources move them behind the cursor again and
// again, and a client that pages until no `next` link may never finish.  Nothing is lost:
// what was written after the first page is stamped later than the bound (service::Repository
// ::stamp) and comes with the client's next `_lastUpdated=gt` download.
Result<std::optional<int64_t>> sync_bound(Conn& c, const fhir::SearchQuery& q) {
  if (q.sort.empty() || q.sort[0].code != "_lastUpdated" || q.sort[0].desc || q.types.empty())
    return std::optional<int64_t>();
  int64_t bound = 0;
  for (const std::string& t : q.types) {
    Stmt& s = c.prepare("SELECT max(last_updated) FROM resource WHERE type=?");
    s.bind(1, t);
    if (s.step() && !s.is_null(0)) bound = std::max(bound, s.int64(0));
    Status st = s.status();
    s.reset();
    if (!st) return st;
  }
  return std::optional<int64_t>(bound);
}

// The search's Patient compartment and the caller's view (when B.view is set), ANDed onto the
// candidates aliased r: the general statement and the collected path's check share them.
void and_scope(Builder& B, const fhir::SearchQuery& q) {
  if (!q.compartment_patient.empty()) {
    B.sql += " AND ";
    B.compartment("r", q.types, q.compartment_patient);
  }
  if (B.view) {
    B.sql += " AND ";
    B.view_pred("r", q.types);
  }
}

struct Matcher {
  Conn& c;
  const fhir::SearchQuery& q;
  std::map<std::pair<std::string, std::string>, int64_t> pids;

  // A plain parameter criterion (one idx_* table, no composite, chain or :missing).
  static bool plain(const Criterion& cr) {
    return cr.kind == Criterion::Kind::param && cr.param && cr.param->type != ParamType::composite &&
           cr.modifier != Modifier::missing && table_for(cr.param->type);
  }

  // How well a criterion can drive the query, i.e. how few index rows its `rid IN (...)` list
  // is likely to have: 0 = not at all (ranges, negations, substring matches), then higher is
  // better: exact reference > token > string prefix / exact uri.  Non-plain criteria (_id,
  // chains, _has, composites) are selective but keep their own form: 1.
  static int drive_rank(const Criterion& cr) {
    if (!plain(cr)) return cr.kind == Criterion::Kind::last_updated ? 0 : 1;
    Modifier m = cr.modifier;
    switch (cr.param->type) {
      case ParamType::reference:
        return m == Modifier::none || m == Modifier::type || m == Modifier::identifier ? 4 : 0;
      case ParamType::token:
        if (m == Modifier::in || m == Modifier::above || m == Modifier::below) return 2;  // a code set: maybe large
        return m == Modifier::none || m == Modifier::of_type ? 3 : 0;
      case ParamType::string:
        return m == Modifier::none || m == Modifier::exact ? 2 : 0;
      case ParamType::uri:
        return m == Modifier::none ? 2 : 0;
      default:
        return 0;  // date, number, quantity: ranges
    }
  }

  // The criterion whose `rid IN (...)` list drives the query; every other plain criterion is
  // then checked per candidate by rid (correlated EXISTS), so the cost is bounded by the
  // driver's rows instead of materialising, e.g., every Observation date row in a range
  // (Observation?patient=X&date=ge2016&date=lt2017: 4.3 -> 0.1 ms on 98 patients).  Null when
  // nothing is selective enough (then each criterion keeps its IN list and SQLite chooses).
  const Criterion* driver() const {
    const Criterion* best = nullptr;
    int best_rank = 0;
    for (const Criterion& cr : q.criteria) {
      int r = drive_rank(cr);
      if (r > best_rank) best = &cr, best_rank = r;
    }
    return best;
  }

  // WHERE clause (without "WHERE") of the candidate resources, on alias r.
  void where(Builder& B) {
    const Criterion* drive = q.criteria.size() > 1 ? driver() : nullptr;
    // A plain criterion's `r.rid IN (...)` list, when it is selective enough to drive, reaches
    // the resource rows by rowid: '+' keeps SQLite from seeking each rid in the (type, deleted,
    // rid) index instead (string compares per match: Observation?code:below= with 6,427
    // matches counted 7.9 -> 3.7 ms in SQLite, issue 21).  Without one, the type index drives.
    const Criterion* lead = drive ? drive : q.criteria.size() == 1 ? &q.criteria[0] : nullptr;
    const bool by_rid = lead && plain(*lead) && drive_rank(*lead) >= 2;
    B.sql += by_rid ? "+" : "";
    B.type_pred("r", q.types);
    B.sql += by_rid ? " AND +r.deleted=0" : " AND r.deleted=0";
    for (const Criterion& cr : q.criteria) {
      B.sql += " AND ";
      B.correlated = drive && &cr != drive && plain(cr);
      B.criterion("r", cr);
      B.correlated = false;
    }
    and_scope(B, q);
  }
};

// ---- matches collected from the index (issue 21) ----
//
// A search with no _sort and one positive, selective plain criterion (a token, reference,
// string or uri value list: Matcher::drive_rank >= 2; not :not, :not-in or :missing) has as its
// matches exactly the current, non-deleted resources inside the view whose rid one of the
// criterion's index rows names.  The general statements visit those rows twice, each time
// through a temporary b-tree of SQLite's (once for the keyset page sorted by rid, once for the
// total), which for Observation?code:below=<20 LOINC codes> (6,427 matches) was most of the
// 8.9 ms.  Here the rids are read once from the covering index, sorted and de-duplicated in
// memory, then checked against the resource table in one statement (rid order, by rowid:
// deleted=0, the type, the compartment and the caller's view, the same predicates the general
// statement writes; many candidates with no view or compartment walk the type's index
// instead: matches_by_walk), so the total is the number of survivors and a page is a slice of them.
// Without a total (_total=none) only the candidates next to the cursor are checked, in chunks,
// until the page is full.  Nothing is assumed of the index: a row left behind for a deleted
// resource (an older binary, a manual edit) is dropped by the check, as the general path drops
// it.
// Budget: at most kMaxCollected index rows (8 bytes each, plus their JSON for the check);
// past that, the general path (SQLite's temporary b-trees) runs instead.
constexpr size_t kMaxCollected = 200000;

bool collectable(const fhir::SearchQuery& q) {
  if (!q.sort.empty() || q.criteria.size() != 1) return false;
  const Criterion& cr = q.criteria[0];
  return Matcher::plain(cr) && cr.modifier != Modifier::not_ && cr.modifier != Modifier::not_in &&
         Matcher::drive_rank(cr) >= 2;
}

// The distinct rids a collectable(q) search's criterion names in its index rows, ascending
// (candidates: not yet checked against the resource table); nullopt when there are more than
// kMaxCollected index rows.
Result<std::optional<std::vector<int64_t>>> index_candidates(Conn& c, const fhir::SearchQuery& q,
                                                             std::map<std::pair<std::string, std::string>, int64_t>* pids) {
  using Out = std::optional<std::vector<int64_t>>;
  Builder I{c, {}, {}, 0, pids};
  I.index_rids(q.criteria[0]);
  std::vector<int64_t> rids;
  bool over = false;
  Stmt& s = c.prepare(I.sql);
  bind_all(s, I.binds);
  while (s.step()) {
    if (rids.size() >= kMaxCollected) {
      over = true;
      break;
    }
    rids.push_back(s.int64(0));
  }
  Status st = s.status();
  s.reset();
  if (!st) return st;
  if (over) return Out();
  std::sort(rids.begin(), rids.end());
  rids.erase(std::unique(rids.begin(), rids.end()), rids.end());
  return Out(std::move(rids));
}

// Many candidates of one type and nothing else to check (no view, no compartment): the type's
// current rids in the candidates' range are walked in the (type, deleted, rid) index, which
// covers them, and intersected in memory, instead of reaching each candidate's row by rowid
// (Observation?code:below=<20 LOINC codes>, 6,427 candidates among 7,454 Observations: the
// check 2-3 -> ~0.5 ms).  The walk stops (nullopt: the caller probes instead) once it has read
// kWalkPerCandidate rows per candidate, so a sparse match set in a large type costs no more
// than probing would.
constexpr size_t kWalkMin = 256, kWalkPerCandidate = 4;

Result<std::optional<std::vector<int64_t>>> matches_by_walk(Conn& c, const std::string& type,
                                                            std::vector<int64_t>::const_iterator first,
                                                            std::vector<int64_t>::const_iterator last) {
  using Out = std::optional<std::vector<int64_t>>;
  const size_t n = size_t(last - first), budget = n * kWalkPerCandidate;
  Stmt& s = c.prepare("SELECT rid FROM resource WHERE type=? AND deleted=0 AND rid BETWEEN ? AND ?");
  s.bind(1, type).bind(2, *first).bind(3, *(last - 1));
  std::vector<int64_t> live;
  live.reserve(n);
  auto it = first;
  size_t seen = 0;
  bool over = false;
  while (it != last && s.step()) {
    if (++seen > budget) {
      over = true;
      break;
    }
    int64_t rid = s.int64(0);
    while (it != last && *it < rid) ++it;
    if (it != last && *it == rid) live.push_back(rid), ++it;
  }
  Status st = s.status();
  s.reset();
  if (!st) return st;
  if (over) return Out();
  return Out(std::move(live));
}

// The candidates [first, last) (ascending) that are matches: current, non-deleted resources
// of q's types inside the compartment and `view`, ascending.  One statement: json_each first
// (CROSS JOIN: the outer loop), each rid then reached by rowid, with the predicates
// Matcher::where writes besides the criterion itself.  With `rows`, their rows 0..5
// (read_row; `seqs` their version seqs) are read too, in the same order.
Result<std::vector<int64_t>> matches_among(Conn& c, const fhir::SearchQuery& q, const View* view,
                                           std::map<std::pair<std::string, std::string>, int64_t>* pids,
                                           std::vector<int64_t>::const_iterator first,
                                           std::vector<int64_t>::const_iterator last,
                                           std::vector<SearchRow>* rows = nullptr, std::vector<int64_t>* seqs = nullptr) {
  std::vector<int64_t> live;
  if (first == last) return live;
  if (!rows && !view && q.compartment_patient.empty() && q.types.size() == 1 && size_t(last - first) >= kWalkMin) {
    auto walked = matches_by_walk(c, q.types[0], first, last);
    if (!walked) return walked.status();
    if (*walked) return std::move(**walked);
  }
  Builder B{c, rows ? "SELECT r.rid, r.type, r.id, r.version, r.last_updated, r.seq" : "SELECT r.rid", {}, 0, pids};
  B.sql += " FROM json_each(?) j CROSS JOIN resource r ON r.rid=j.value WHERE +";
  B.view = view;
  B.b(json_ints(std::vector<int64_t>(first, last)));
  B.type_pred("r", q.types);
  B.sql += " AND +r.deleted=0";
  and_scope(B, q);
  live.reserve(size_t(last - first));
  Stmt& s = c.prepare(B.sql);
  bind_all(s, B.binds);
  while (s.step()) {
    live.push_back(s.int64(0));
    if (rows) {
      int64_t seq;
      rows->push_back(read_row(s, &seq));
      seqs->push_back(seq);
    }
  }
  Status st = s.status();
  s.reset();
  if (!st) return st;
  if (!std::is_sorted(live.begin(), live.end())) {
    if (rows) return Status(Err::internal, "search: matches read out of order");  // json_each drives: never
    std::sort(live.begin(), live.end());
  }
  return live;
}

// Up to `want` matches of a collectable search next to the cursor rid (after it, ascending;
// `back`: before it, descending; no cursor: from the start) among `cand` (ascending), which
// are matches already when `checked`; otherwise they are checked (matches_among) in chunks
// that double from `want`, so a page without a total checks about a page of candidates.
Result<std::vector<int64_t>> page_matches(Conn& c, const fhir::SearchQuery& q, const View* view,
                                          std::map<std::pair<std::string, std::string>, int64_t>* pids,
                                          const std::vector<int64_t>& cand, bool checked, bool has_cursor, bool back,
                                          int64_t cursor_rid, size_t want) {
  using It = std::vector<int64_t>::const_iterator;
  auto matches = [&](It first, It last) -> Result<std::vector<int64_t>> {
    if (checked) return std::vector<int64_t>(first, last);
    return matches_among(c, q, view, pids, first, last);
  };
  std::vector<int64_t> out;
  size_t chunk = std::max<size_t>(want, 16);
  if (!back) {
    auto pos = has_cursor ? std::upper_bound(cand.begin(), cand.end(), cursor_rid) : cand.begin();
    while (out.size() < want && pos != cand.end()) {
      auto end = size_t(cand.end() - pos) > chunk ? pos + chunk : cand.end();
      auto live = matches(pos, end);
      if (!live) return live.status();
      for (size_t i = 0; i < live->size() && out.size() < want; ++i) out.push_back((*live)[i]);
      pos = end;
      chunk *= 2;
    }
  } else {
    auto end = std::lower_bound(cand.begin(), cand.end(), cursor_rid);
    while (out.size() < want && end != cand.begin()) {
      auto pos = size_t(end - cand.begin()) > chunk ? end - chunk : cand.begin();
      auto live = matches(pos, end);
      if (!live) return live.status();
      for (size_t i = live->size(); i > 0 && out.size() < want; --i) out.push_back((*live)[i - 1]);
      end = pos;
      chunk *= 2;
    }
  }
  return out;
}

// Rows 0..5 (read_row) of the resources `rids`, in that order.
Status fetch_rows(Conn& c, const std::vector<int64_t>& rids, std::vector<SearchRow>* rows, std::vector<int64_t>* seqs) {
  Stmt& s = c.prepare("SELECT r.rid, r.type, r.id, r.version, r.last_updated, r.seq FROM resource r WHERE r.rid=?");
  for (int64_t rid : rids) {
    s.reset();
    s.bind(1, rid);
    if (!s.step()) {
      Status st = s.status();
      s.reset();
      // checked in this same read snapshot a moment ago
      return st ? Status(Err::internal, "search: a matched resource vanished while its page was read") : st;
    }
    int64_t seq;
    rows->push_back(read_row(s, &seq));
    seqs->push_back(seq);
  }
  s.reset();
  return Status();
}

}  // namespace

Result<int64_t> count_search(Conn& c, const fhir::SearchQuery& q, const View* view) {
  Matcher M{c, q, {}};
  if (collectable(q)) {
    auto cand = index_candidates(c, q, &M.pids);
    if (!cand) return cand.status();
    if (*cand) {
      auto live = matches_among(c, q, view, &M.pids, (*cand)->begin(), (*cand)->end());
      if (!live) return live.status();
      return int64_t(live->size());
    }
  }
  Builder B{c, "SELECT COUNT(*) FROM resource r WHERE ", {}, 0, &M.pids};
  B.view = view;
  M.where(B);
  Stmt& s = c.prepare(B.sql);
  bind_all(s, B.binds);
  int64_t n = s.step() ? s.int64(0) : 0;
  Status st = s.status();
  s.reset();
  if (!st) return st;
  return n;
}

Result<SearchPage> run_search(Conn& c, const fhir::SearchQuery& q, const SearchRunOptions& opt) {
  SearchPage page;
  Cursor cur;
  bool has_cursor = !q.cursor.empty();
  if (has_cursor) {
    auto d = decode_cursor(q.cursor, q.sort);
    if (!d) return d.status();
    cur = *d;
  }
  if (!has_cursor) {
    auto b = sync_bound(c, q);
    if (!b) return b.status();
    cur.bound = *b;
  } else if (cur.bound && (q.sort.empty() || q.sort[0].code != "_lastUpdated" || q.sort[0].desc)) {
    return Status(Err::invalid, "_cursor: the paging token is not valid for this search (start again from the first page)",
                  "_cursor");
  }
  Matcher M{c, q, {}};
  std::vector<KeyKind> kinds;
  for (const auto& k : q.sort) kinds.push_back(key_kind(k));
  const bool back = has_cursor && cur.before;
  int count = std::max(q.count, 0);
  std::vector<int64_t> seqs;
  std::vector<std::vector<Bind>> keys;
  std::optional<std::vector<int64_t>> cand;  // set: the collected path (index_candidates)
  if (collectable(q)) {
    auto l = index_candidates(c, q, &M.pids);
    if (!l) return l.status();
    cand = std::move(*l);
  }
  int64_t collected_total = -1;
  Builder B{c, {}, {}, 0, &M.pids};
  B.view = opt.view;
  if (cand && cand->size() <= size_t(count) + 1) {
    // few candidates (Patient?identifier=...): checked and read in one statement, then the
    // general statement's rows taken from them (after, or before, the cursor)
    std::vector<SearchRow> rows;
    std::vector<int64_t> row_seqs;
    auto live = matches_among(c, q, opt.view, &M.pids, cand->begin(), cand->end(), &rows, &row_seqs);
    if (!live) return live.status();
    if (q.total == fhir::Total::accurate) collected_total = int64_t(live->size());
    auto sl = page_matches(c, q, opt.view, &M.pids, *live, true, has_cursor, back, cur.rid, size_t(count) + 1);
    if (!sl) return sl.status();
    if (count == 0) sl->clear();
    for (int64_t rid : *sl) {
      size_t i = size_t(std::lower_bound(live->begin(), live->end(), rid) - live->begin());
      page.matches.push_back(std::move(rows[i]));
      seqs.push_back(row_seqs[i]);
    }
    keys.resize(page.matches.size());  // no sort keys
  } else if (cand) {
    // the general statement's rows: after (before) the cursor by rid, at most count + 1
    std::vector<int64_t> slice;
    if (q.total == fhir::Total::accurate) {
      // every candidate is checked for the total; the page is a slice of the matches
      auto live = matches_among(c, q, opt.view, &M.pids, cand->begin(), cand->end());
      if (!live) return live.status();
      collected_total = int64_t(live->size());
      if (count > 0) {
        auto sl = page_matches(c, q, opt.view, &M.pids, *live, true, has_cursor, back, cur.rid, size_t(count) + 1);
        if (!sl) return sl.status();
        slice = std::move(*sl);
      }
    } else if (count > 0) {
      auto sl = page_matches(c, q, opt.view, &M.pids, *cand, false, has_cursor, back, cur.rid, size_t(count) + 1);
      if (!sl) return sl.status();
      slice = std::move(*sl);
    }
    Status st = fetch_rows(c, slice, &page.matches, &seqs);
    if (!st) return st;
    keys.resize(page.matches.size());  // no sort keys
  } else if (q.sort.empty()) {
    B.sql = "SELECT r.rid, r.type, r.id, r.version, r.last_updated, r.seq FROM resource r WHERE ";
    M.where(B);
    if (has_cursor) {
      B.sql += back ? " AND r.rid<?" : " AND r.rid>?";
      B.b(cur.rid);
    }
    B.sql += back ? " ORDER BY r.rid DESC LIMIT ?" : " ORDER BY r.rid LIMIT ?";
  } else {
    B.sql = "SELECT rid, type, id, version, last_updated, seq";
    for (size_t i = 0; i < q.sort.size(); ++i) B.sql += ", k" + std::to_string(i);
    B.sql += " FROM (SELECT r.rid AS rid, r.type AS type, r.id AS id, r.version AS version, r.last_updated AS "
             "last_updated, r.seq AS seq";
    for (size_t i = 0; i < q.sort.size(); ++i) {
      B.sql += ", ";
      sort_expr(B, "r", q.types, q.sort[i]);
      B.sql += " AS k" + std::to_string(i);
    }
    B.sql += " FROM resource r WHERE ";
    M.where(B);
    if (cur.bound) {
      B.sql += " AND r.last_updated<=?";
      B.b(*cur.bound);
    }
    B.sql += ")";
    if (has_cursor) {
      // strictly after (before) the cursor row in (k0 dir0, k1 dir1, ..., rid asc) order
      B.sql += " WHERE (";
      for (size_t i = 0; i <= q.sort.size(); ++i) {
        if (i) B.sql += " OR ";
        B.sql += "(";
        for (size_t j = 0; j < i; ++j) {
          B.sql += "k" + std::to_string(j) + "=? AND ";
          B.b(cur.keys[j]);
        }
        if (i < q.sort.size()) {
          bool gt = q.sort[i].desc == back;
          B.sql += "k" + std::to_string(i) + (gt ? ">?" : "<?");
          B.b(cur.keys[i]);
        } else {
          B.sql += back ? "rid<?" : "rid>?";
          B.b(cur.rid);
        }
        B.sql += ")";
      }
      B.sql += ")";
    }
    B.sql += " ORDER BY ";
    for (size_t i = 0; i < q.sort.size(); ++i) B.sql += "k" + std::to_string(i) + (q.sort[i].desc != back ? " DESC, " : ", ");
    B.sql += back ? "rid DESC LIMIT ?" : "rid LIMIT ?";
  }
  if (!cand && count > 0) {
    B.b(int64_t(count) + 1);
    Status st = run_rows(c, B, &page.matches, &seqs, &keys, &kinds);
    if (!st) return st;
  }
  bool more = page.matches.size() > size_t(count);
  if (more) {
    page.matches.resize(size_t(count));
    seqs.resize(size_t(count));
    keys.resize(size_t(count));
  }
  if (back) {
    std::reverse(page.matches.begin(), page.matches.end());
    std::reverse(seqs.begin(), seqs.end());
    std::reverse(keys.begin(), keys.end());
  }
  if (!page.matches.empty()) {
    const bool has_after = back ? true : more;     // a backward page came from a later row
    const bool has_before = back ? more : has_cursor;
    if (has_after) page.next_cursor = encode_cursor(false, page.matches.back().rid, keys.back(), cur.bound);
    if (has_before) page.prev_cursor = encode_cursor(true, page.matches.front().rid, keys.front(), cur.bound);
  } else if (has_cursor && back) {
    // nothing before: offer the first page again through `next` from the cursor row
  }
  if (q.total == fhir::Total::accurate) {
    if (cand) {
      page.total = collected_total;
    } else if (!has_cursor && !more && count > 0) {
      page.total = int64_t(page.matches.size());
    } else {
      auto n = count_search(c, q, opt.view);
      if (!n) return n.status();
      page.total = *n;
    }
  }
  std::vector<int64_t> inc_seqs;
  Status st = run_includes(c, q, opt, M.pids, page.matches, &page, &inc_seqs);
  if (!st) return st;
  if (opt.bodies) {
    st = load_bodies(c, page.matches, seqs);
    if (!st) return st;
    st = load_bodies(c, page.included, inc_seqs);
    if (!st) return st;
  }
  return page;
}

Result<bool> visible(Conn& c, const std::string& type, const std::string& id, const View* view) {
  std::map<std::pair<std::string, std::string>, int64_t> pids;
  Builder B{c, "SELECT 1 FROM resource r WHERE r.type=? AND r.id=? AND r.deleted=0 AND ", {}, 0, &pids};
  B.b(type);
  B.b(id);
  B.view = view;
  B.view_pred("r", {type});
  Stmt& s = c.prepare(B.sql);
  bind_all(s, B.binds);
  bool found = s.step();
  Status st = s.status();
  s.reset();
  if (!st) return st;
  return found;
}

Result<MetaCodes> meta_codes(Conn& c, const std::string& type, const View* view, size_t limit) {
  MetaCodes out;
  // Tokens (_tag, _security) then uris (_profile): each the distinct values over the
  // resources of the view, one statement each, at most limit + 1 rows to tell truncation.
  for (int kind = 0; kind < 3; ++kind) {
    const char* code = kind == 0 ? "_tag" : kind == 1 ? "_security" : "_profile";
    std::map<std::pair<std::string, std::string>, int64_t> pids;
    std::string sql = kind < 2 ? "SELECT DISTINCT t.system, t.code FROM resource r JOIN idx_token t ON t.rid=r.rid "
                                 "JOIN search_param sp ON sp.pid=t.pid WHERE sp.code=? AND t.code IS NOT NULL AND "
                               : "SELECT DISTINCT NULL, t.exact FROM resource r JOIN idx_uri t ON t.rid=r.rid "
                                 "JOIN search_param sp ON sp.pid=t.pid WHERE sp.code=? AND ";
    Builder B{c, sql, {}, 0, &pids};
    B.b(std::string(code));
    B.sql += "r.deleted=0 AND ";
    if (!type.empty()) {
      B.sql += "r.type=? AND sp.type=? AND ";
      B.b(type);
      B.b(type);
    }
    B.view = view;
    B.view_pred("r", type.empty() ? std::vector<std::string>{} : std::vector<std::string>{type});
    B.sql += " ORDER BY 1, 2 LIMIT ?";
    B.b(int64_t(limit + 1));
    Stmt& s = c.prepare(B.sql);
    bind_all(s, B.binds);
    size_t n = 0;
    while (s.step()) {
      if (++n > limit) {
        out.truncated = true;
        break;
      }
      std::string sys = s.is_null(0) ? std::string() : std::string(s.text(0));
      std::string val(s.text(1));
      if (kind == 0) out.tags.emplace_back(std::move(sys), std::move(val));
      else if (kind == 1) out.security.emplace_back(std::move(sys), std::move(val));
      else out.profiles.push_back(std::move(val));
    }
    Status st = s.status();
    s.reset();
    if (!st) return st;
  }
  return out;
}

}  // namespace ef::store
