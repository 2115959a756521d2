// store/search.cpp — see search.h.  SQL is built as text plus a list of bind values; the
// text depends only on the query's shape (types, parameters, modifiers, prefixes, number of
// OR values), never on the values themselves.
#include "store/search.h"

#include <algorithm>
#include <cerrno>
#include <cfloat>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <unordered_set>
#include <variant>

#include "fhir/search_params.h"
#include "util/base64url.h"
#include "util/json.h"

namespace ef::store {

using fhir::Criterion;
using fhir::Modifier;
using fhir::ParamType;
using fhir::Prefix;
using fhir::SearchValue;

namespace {

using Bind = std::variant<int64_t, double, std::string>;

const char* table_for(ParamType t) {
  switch (t) {
    case ParamType::string: return "idx_string";
    case ParamType::token: return "idx_token";
    case ParamType::date: return "idx_date";
    case ParamType::number:
    case ParamType::quantity: return "idx_number";
    case ParamType::reference: return "idx_reference";
    case ParamType::uri: return "idx_uri";
    default: return nullptr;
  }
}

// Upper bound for "starts with s" over UTF-8 text compared bytewise (0xFF never occurs in UTF-8).
std::string prefix_end(const std::string& s) { return s + "\xFF"; }

std::string like_escape(const std::string& s) {
  std::string out;
  for (char ch : s) {
    if (ch == '%' || ch == '_' || ch == '\\') out += '\\';
    out += ch;
  }
  return out;
}

void bind_all(Stmt& s, const std::vector<Bind>& b) {
  for (size_t i = 0; i < b.size(); ++i) {
    int k = int(i + 1);
    if (auto* v = std::get_if<int64_t>(&b[i])) s.bind(k, *v);
    else if (auto* d = std::get_if<double>(&b[i])) s.bind(k, *d);
    else s.bind(k, std::get<std::string>(b[i]));
  }
}

std::string json_ints(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(v[i]);
  }
  return s + "]";
}

std::string json_strings(const std::vector<std::string>& v) {
  json::Array a;
  for (const auto& s : v) a.push_back(json::Value(s));
  return json::write(json::Value(a));
}

// Builds one SQL statement.
struct Builder {
  Conn& c;
  std::string sql;
  std::vector<Bind> binds;
  int alias_n = 0;
  std::map<std::pair<std::string, std::string>, int64_t>* pid_cache;
  // Set by Matcher::where for a plain parameter criterion that does not drive the query: it is
  // then written as a correlated [NOT] EXISTS reached by rid (see Matcher::driver).
  bool correlated = false;
  // The caller's view (search.h): ANDed into every resource the statement looks at.  Null:
  // unrestricted.  Cleared while the view's own criteria are written (they are the policy's,
  // not the caller's, and must not recurse into the view).
  const View* view = nullptr;

  std::string alias(const char* base) { return std::string(base) + std::to_string(++alias_n); }
  void b(Bind v) { binds.push_back(std::move(v)); }

  int64_t pid(const std::string& type, const std::string& code) {
    auto key = std::make_pair(type, code);
    auto it = pid_cache->find(key);
    if (it != pid_cache->end()) return it->second;
    Stmt& s = c.prepare("SELECT pid FROM search_param WHERE type=? AND code=?");
    s.bind(1, type).bind(2, code);
    int64_t p = s.step() ? s.int64(0) : 0;
    s.reset();
    (*pid_cache)[key] = p;
    return p;
  }

  // "<col>=?" for one type; a json_each list for several; by code for all types.
  void pid_pred(const std::string& col, const std::vector<std::string>& types, const std::string& code) {
    if (types.size() == 1) {
      sql += col + "=?";
      b(pid(types[0], code));
    } else if (!types.empty()) {
      std::vector<int64_t> ps;
      for (const auto& t : types) ps.push_back(pid(t, code));
      sql += col + " IN (SELECT value FROM json_each(?))";
      b(json_ints(ps));
    } else {
      sql += col + " IN (SELECT pid FROM search_param WHERE code=?)";
      b(code);
    }
  }

  void type_pred(const std::string& a, const std::vector<std::string>& types) {
    if (types.size() == 1) {
      sql += a + ".type=?";
      b(types[0]);
    } else if (!types.empty()) {
      sql += a + ".type IN (SELECT value FROM json_each(?))";
      b(json_strings(types));
    } else {
      sql += "1";
    }
  }

  // Date comparison of the range [lo, hi) given by SQL expressions against search value v.
  void date_match(const std::string& lo, const std::string& hi, const SearchValue& v) {
    switch (v.prefix) {
      case Prefix::eq: sql += "(" + lo + ">=? AND " + hi + "<=?)"; b(v.lo_ms); b(v.hi_ms); break;
      case Prefix::ne: sql += "NOT (" + lo + ">=? AND " + hi + "<=?)"; b(v.lo_ms); b(v.hi_ms); break;
      case Prefix::gt: sql += hi + ">?"; b(v.hi_ms); break;
      case Prefix::lt: sql += lo + "<?"; b(v.lo_ms); break;
      case Prefix::ge: sql += "(" + hi + ">? OR (" + lo + ">=? AND " + hi + "<=?))"; b(v.hi_ms); b(v.lo_ms); b(v.hi_ms); break;
      case Prefix::le: sql += "(" + lo + "<? OR (" + lo + ">=? AND " + hi + "<=?))"; b(v.lo_ms); b(v.lo_ms); b(v.hi_ms); break;
      case Prefix::sa: sql += lo + ">=?"; b(v.hi_ms); break;
      case Prefix::eb: sql += hi + "<=?"; b(v.lo_ms); break;
      case Prefix::ap: sql += "(" + lo + "<? AND " + hi + ">?)"; b(v.hi_ms); b(v.lo_ms); break;
    }
  }

  void number_match(const std::string& x, const SearchValue& v, bool quantity) {
    std::string n = x + ".num";
    if (quantity && (v.has_system || !v.code.empty())) sql += "(";
    switch (v.prefix) {
      case Prefix::eq: sql += "(" + n + ">=? AND " + n + "<?)"; b(v.num_lo); b(v.num_hi); break;
      case Prefix::ne: sql += "NOT (" + n + ">=? AND " + n + "<?)"; b(v.num_lo); b(v.num_hi); break;
      case Prefix::gt: case Prefix::sa: sql += n + ">?"; b(v.num); break;
      case Prefix::lt: case Prefix::eb: sql += n + "<?"; b(v.num); break;
      case Prefix::ge: sql += n + ">=?"; b(v.num); break;
      case Prefix::le: sql += n + "<=?"; b(v.num); break;
      case Prefix::ap: {
        double d = std::fabs(v.num) * 0.1;
        sql += "(" + n + ">=? AND " + n + "<=?)";
        b(std::min(v.num_lo, v.num - d));
        b(std::max(v.num_hi, v.num + d));
        break;
      }
    }
    if (quantity && (v.has_system || !v.code.empty())) {
      if (v.has_system && !v.code.empty()) {
        sql += " AND " + x + ".system=? AND " + x + ".code=?)";
        b(v.system);
        b(v.code);
      } else if (v.has_system) {
        sql += " AND " + x + ".system=?)";
        b(v.system);
      } else {
        sql += " AND (" + x + ".code=? OR " + x + ".unit=?))";
        b(v.code);
        b(v.code);
      }
    }
  }

  void token_match(const std::string& x, const SearchValue& v, Modifier m, const char* sys_col = "system",
                   const char* code_col = "code") {
    std::string sc = x + "." + sys_col, cc = x + "." + code_col;
    if (m == Modifier::text) {
      sql += "((" + x + ".text>=? AND " + x + ".text<?) OR " + x + ".text LIKE ? ESCAPE '\\')";
      b(v.text);
      b(prefix_end(v.text));
      b("% " + like_escape(v.text) + "%");
      return;
    }
    if (m == Modifier::of_type) {
      sql += "(" + cc + "=?";
      b(v.code);
      if (!v.type_system.empty()) { sql += " AND " + x + ".type_system=?"; b(v.type_system); }
      if (!v.type_code.empty()) { sql += " AND " + x + ".type_code=?"; b(v.type_code); }
      sql += ")";
      return;
    }
    if (!v.has_system) {
      sql += cc + "=?";
      b(v.code);
    } else if (v.code.empty()) {
      sql += sc + "=?";
      b(v.system);
    } else if (v.system.empty()) {
      sql += "(" + cc + "=? AND " + sc + " IS NULL)";
      b(v.code);
    } else {
      sql += "(" + cc + "=? AND " + sc + "=?)";
      b(v.code);
      b(v.system);
    }
  }

  // The match of one value against index row alias x of the given type.
  void value_match(const std::string& x, ParamType t, Modifier m, const SearchValue& v) {
    switch (t) {
      case ParamType::string:
        if (m == Modifier::exact) { sql += x + ".exact=?"; b(v.text); }
        else if (m == Modifier::contains) { sql += x + ".norm LIKE ? ESCAPE '\\'"; b("%" + like_escape(v.text) + "%"); }
        else { sql += "(" + x + ".norm>=? AND " + x + ".norm<?)"; b(v.text); b(prefix_end(v.text)); }
        return;
      case ParamType::token:
        token_match(x, v, m);
        return;
      case ParamType::date:
        date_match(x + ".lo", x + ".hi", v);
        return;
      case ParamType::number:
        number_match(x, v, false);
        return;
      case ParamType::quantity:
        number_match(x, v, true);
        return;
      case ParamType::reference:
        if (m == Modifier::identifier) token_match(x, v, Modifier::none);
        else if (!v.url.empty()) { sql += x + ".exact=?"; b(v.url); }
        else if (!v.ref_type.empty()) { sql += "(" + x + ".ref_id=? AND " + x + ".ref_type=?)"; b(v.ref_id); b(v.ref_type); }
        else { sql += x + ".ref_id=?"; b(v.ref_id); }
        return;
      case ParamType::uri:
        if (m == Modifier::below) { sql += "(" + x + ".exact>=? AND " + x + ".exact<?)"; b(v.text); b(prefix_end(v.text)); }
        else if (m == Modifier::above) { sql += "(?>=" + x + ".exact AND substr(?,1,length(" + x + ".exact))=" + x + ".exact)"; b(v.text); b(v.text); }
        else { sql += x + ".exact=?"; b(v.text); }
        return;
      default:
        sql += "0";
    }
  }

  // A boolean predicate on resource alias `a` (columns rid, type, id, last_updated).
  void criterion(const std::string& a, const Criterion& cr) {
    switch (cr.kind) {
      case Criterion::Kind::id: {
        sql += a + ".id" + (cr.modifier == Modifier::not_ ? " NOT" : "") + " IN (";
        for (size_t i = 0; i < cr.values.size(); ++i) {
          sql += i ? ",?" : "?";
          b(cr.values[i].code);
        }
        sql += ")";
        return;
      }
      case Criterion::Kind::last_updated: {
        sql += "(";
        for (size_t i = 0; i < cr.values.size(); ++i) {
          if (i) sql += " OR ";
          date_match(a + ".last_updated", "(" + a + ".last_updated+1)", cr.values[i]);
        }
        sql += ")";
        return;
      }
      case Criterion::Kind::chain: {
        std::string x = alias("x"), t = alias("t");
        sql += a + ".rid IN (SELECT " + x + ".rid FROM idx_reference " + x + " WHERE ";
        pid_pred(x + ".pid", cr.types, cr.param->code);
        sql += " AND (" + x + ".ref_type," + x + ".ref_id) IN (SELECT " + t + ".type," + t + ".id FROM resource " + t +
               " WHERE " + t + ".deleted=0 AND (";
        for (size_t i = 0; i < cr.chain.size(); ++i) {
          if (i) sql += " OR ";
          sql += "(" + t + ".type=? AND ";
          b(cr.chain[i].first);
          if (view) {  // a chain may only look at resources the caller can see
            view_pred(t, {cr.chain[i].first});
            sql += " AND ";
          }
          criterion(t, *cr.chain[i].second);
          sql += ")";
        }
        sql += ")))";
        return;
      }
      case Criterion::Kind::has: {
        std::string x = alias("x"), o = alias("o");
        sql += a + ".id IN (SELECT " + x + ".ref_id FROM idx_reference " + x + " JOIN resource " + o + " ON " + o +
               ".rid=" + x + ".rid WHERE ";
        // driven by the referring resources' criterion, then their references by rid
        pid_pred("+" + x + ".pid", {cr.has_type}, cr.param->code);
        if (cr.types.size() == 1) {
          sql += " AND +" + x + ".ref_type=?";
          b(cr.types[0]);
        } else {
          sql += " AND " + x + ".ref_type=" + a + ".type";
        }
        sql += " AND " + o + ".deleted=0 AND ";
        if (view) {  // _has may only count referring resources the caller can see
          view_pred(o, {cr.has_type});
          sql += " AND ";
        }
        criterion(o, *cr.next);
        sql += ")";
        return;
      }
      case Criterion::Kind::param:
        break;
    }
    const fhir::SearchParam& p = *cr.param;
    if (cr.modifier == Modifier::missing) {
      bool missing = !cr.values.empty() && cr.values[0].missing;
      ParamType t = p.type == ParamType::composite && !p.components.empty() ? p.components[0].type : p.type;
      std::string code = p.type == ParamType::composite ? p.code + "$0" : p.code;
      std::string x = alias("x");
      sql += a + ".rid" + (missing ? " NOT" : "") + " IN (SELECT " + x + ".rid FROM " + table_for(t) + " " + x + " WHERE ";
      pid_pred(x + ".pid", cr.types, code);
      sql += ")";
      return;
    }
    if (p.type == ParamType::composite) {
      std::vector<std::string> xs;
      for (size_t k = 0; k < p.components.size(); ++k) xs.push_back(alias("c"));
      sql += a + ".rid IN (SELECT " + xs[0] + ".rid FROM ";
      for (size_t k = 0; k < p.components.size(); ++k) {
        const char* tab = table_for(p.components[k].type);
        if (!tab) tab = "idx_token";
        if (k) sql += " JOIN ";
        sql += std::string(tab) + " " + xs[k];
        if (k) sql += " ON " + xs[k] + ".rid=" + xs[0] + ".rid AND " + xs[k] + ".grp=" + xs[0] + ".grp";
      }
      sql += " WHERE " + xs[0] + ".grp>0";
      // components after the first are reached by rid ('+' keeps SQLite from driving the
      // join from their (pid, value) index, which would scan every row of the parameter)
      for (size_t k = 0; k < p.components.size(); ++k) {
        sql += " AND ";
        pid_pred((k ? "+" : "") + xs[k] + ".pid", cr.types, p.code + "$" + std::to_string(k));
      }
      sql += " AND (";
      for (size_t i = 0; i < cr.values.size(); ++i) {
        if (i) sql += " OR ";
        sql += "(";
        for (size_t k = 0; k < p.components.size() && k < cr.values[i].parts.size(); ++k) {
          if (k) sql += " AND ";
          value_match(xs[k], p.components[k].type, Modifier::none, cr.values[i].parts[k]);
        }
        sql += ")";
      }
      sql += "))";
      return;
    }
    const char* tab = table_for(p.type);
    if (!tab) {
      sql += "0";
      return;
    }
    std::string x = alias("x");
    bool negate = cr.modifier == Modifier::not_;
    if (correlated) {
      // by rid ('+' on pid keeps SQLite off the (pid, value) index, which would scan every
      // row of the parameter for each candidate)
      sql += std::string(negate ? "NOT " : "") + "EXISTS (SELECT 1 FROM " + tab + " " + x + " WHERE " + x + ".rid=" + a +
             ".rid AND ";
      pid_pred("+" + x + ".pid", cr.types, p.code);
    } else {
      sql += a + ".rid" + (negate ? " NOT" : "") + " IN (SELECT " + x + ".rid FROM " + tab + " " + x + " WHERE ";
      pid_pred(x + ".pid", cr.types, p.code);
    }
    sql += " AND (";
    for (size_t i = 0; i < cr.values.size(); ++i) {
      if (i) sql += " OR ";
      value_match(x, p.type, cr.modifier, cr.values[i]);
    }
    sql += "))";
  }

  // Resource alias `a` is in Patient/{patient}'s compartment (types: a's possible types).
  void compartment(const std::string& a, const std::vector<std::string>& types, const std::string& patient) {
    const auto& reg = fhir::registry();
    const std::vector<std::string>& all = types.empty() ? reg.all_resource_types() : types;
    std::vector<int64_t> pids;
    bool patient_type = false;
    for (const auto& t : all) {
      if (t == "Patient") patient_type = true;
      for (const auto& code : reg.compartment_params(t)) pids.push_back(pid(t, code));
    }
    sql += "(";
    bool any = false;
    if (patient_type) {
      sql += "(" + a + ".type='Patient' AND " + a + ".id=?)";
      b(patient);
      any = true;
    }
    if (!pids.empty()) {
      std::string x = alias("x");
      if (any) sql += " OR ";
      sql += a + ".rid IN (SELECT " + x + ".rid FROM idx_reference " + x + " WHERE " + x + ".ref_id=? AND " + x +
             ".ref_type='Patient' AND " + x + ".pid IN (SELECT value FROM json_each(?)))";
      b(patient);
      b(json_ints(pids));
      any = true;
    }
    if (!any) sql += "0";
    sql += ")";
  }

  // Resource alias `a` (of one of `types`; empty = any type) is inside the caller's view.
  // Types fully visible become one type list; types limited to one patient's compartment are
  // grouped by patient; types with ?param constraints get a clause of their own.
  void view_pred(const std::string& a, const std::vector<std::string>& types) {
    if (!view) {
      sql += "1";
      return;
    }
    const View* v = view;
    view = nullptr;  // the view's criteria are written without the view
    const auto& reg = fhir::registry();
    const std::vector<std::string>& all = types.empty() ? reg.all_resource_types() : types;
    std::vector<std::string> open;
    std::vector<std::pair<std::string, std::vector<std::string>>> by_patient;
    std::vector<std::pair<std::string, const TypeView*>> complex;
    for (const std::string& t : all) {
      const TypeView& tv = v->type_view(t);
      if (!tv.visible) continue;
      if (tv.alts.empty()) {
        open.push_back(t);
      } else if (tv.alts.size() == 1 && tv.alts[0].criteria.empty() && !tv.alts[0].patient.empty()) {
        auto it = std::find_if(by_patient.begin(), by_patient.end(),
                               [&](const auto& g) { return g.first == tv.alts[0].patient; });
        if (it == by_patient.end()) by_patient.push_back({tv.alts[0].patient, {t}});
        else it->second.push_back(t);
      } else {
        complex.emplace_back(t, &tv);
      }
    }
    if (open.size() == all.size()) {
      sql += "1";
      view = v;
      return;
    }
    sql += "(";
    bool any = false;
    auto sep = [&] {
      if (any) sql += " OR ";
      any = true;
    };
    if (!open.empty()) {
      sep();
      type_pred(a, open);
    }
    for (const auto& g : by_patient) {
      sep();
      sql += "(";
      type_pred(a, g.second);
      sql += " AND ";
      compartment(a, g.second, g.first);
      sql += ")";
    }
    for (const auto& [t, tv] : complex) {
      sep();
      sql += "(" + a + ".type=? AND (";
      b(t);
      for (size_t i = 0; i < tv->alts.size(); ++i) {
        const ViewAlt& alt = tv->alts[i];
        if (i) sql += " OR ";
        sql += "(1";
        if (!alt.patient.empty()) {
          sql += " AND ";
          compartment(a, {t}, alt.patient);
        }
        for (const Criterion& cr : alt.criteria) {
          sql += " AND ";
          criterion(a, cr);
        }
        sql += ")";
      }
      sql += "))";
    }
    if (!any) sql += "0";
    sql += ")";
    view = v;
  }
};

// ---- sort keys and cursors ----

enum class KeyKind { i, r, s };

KeyKind key_kind(const fhir::SortKey& k) {
  if (k.code == "_lastUpdated") return KeyKind::i;
  if (k.code == "_id" || !k.param) return KeyKind::s;
  switch (k.param->type) {
    case ParamType::date: return KeyKind::i;
    case ParamType::number:
    case ParamType::quantity: return KeyKind::r;
    default: return KeyKind::s;
  }
}

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
};

std::string encode_cursor(bool before, int64_t rid, const std::vector<Bind>& keys) {
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
  if (!a || a->size() != sort.size() + 2) return bad;
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
  return c;
}

Bind read_key(Stmt& s, int col, KeyKind kind) {
  switch (kind) {
    case KeyKind::i: return s.int64(col);
    case KeyKind::r: return s.dbl(col);
    case KeyKind::s: return std::string(s.text(col));
  }
  return int64_t(0);
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
    B.type_pred("r", q.types);
    B.sql += " AND r.deleted=0";
    const Criterion* drive = q.criteria.size() > 1 ? driver() : nullptr;
    for (const Criterion& cr : q.criteria) {
      B.sql += " AND ";
      B.correlated = drive && &cr != drive && plain(cr);
      B.criterion("r", cr);
      B.correlated = false;
    }
    if (!q.compartment_patient.empty()) {
      B.sql += " AND ";
      B.compartment("r", q.types, q.compartment_patient);
    }
    if (B.view) {
      B.sql += " AND ";
      B.view_pred("r", q.types);
    }
  }
};


SearchRow read_row(Stmt& s, int64_t* seq) {
  SearchRow r;
  r.rid = s.int64(0);
  r.type = std::string(s.text(1));
  r.id = std::string(s.text(2));
  r.version = s.int64(3);
  r.last_updated = s.int64(4);
  *seq = s.int64(5);
  return r;
}

Status load_bodies(Conn& c, std::vector<SearchRow>& rows, const std::vector<int64_t>& seqs) {
  Stmt& s = c.prepare("SELECT body FROM resource_version WHERE seq=?");
  for (size_t i = 0; i < rows.size(); ++i) {
    s.reset();
    s.bind(1, seqs[i]);
    if (s.step()) rows[i].body = std::string(s.text(0));
    Status st = s.status();
    if (!st) {
      s.reset();
      return st;
    }
  }
  s.reset();
  return Status();
}

Status run_rows(Conn& c, Builder& B, std::vector<SearchRow>* rows, std::vector<int64_t>* seqs,
                std::vector<std::vector<Bind>>* keys = nullptr, const std::vector<KeyKind>* kinds = nullptr) {
  Stmt& s = c.prepare(B.sql);
  bind_all(s, B.binds);
  while (s.step()) {
    int64_t seq;
    rows->push_back(read_row(s, &seq));
    seqs->push_back(seq);
    if (keys) {
      std::vector<Bind> k;
      for (size_t i = 0; i < kinds->size(); ++i) k.push_back(read_key(s, int(6 + i), (*kinds)[i]));
      keys->push_back(std::move(k));
    }
  }
  Status st = s.status();
  s.reset();
  return st;
}

// ---- includes ----

Status run_includes(Conn& c, const fhir::SearchQuery& q, const SearchRunOptions& opt,
                    std::map<std::pair<std::string, std::string>, int64_t>& pids, const std::vector<SearchRow>& matches,
                    SearchPage* page, std::vector<int64_t>* inc_seqs) {
  if (q.includes.empty()) return Status();
  const auto& reg = fhir::registry();
  std::unordered_set<int64_t> seen;
  for (const auto& m : matches) seen.insert(m.rid);
  // Copies, not pointers into `found`: its push_backs below reallocate it (heap-use-after-free
  // found by make test-asan).
  std::vector<SearchRow> frontier(matches.begin(), matches.end());
  std::vector<SearchRow> found;
  std::vector<int64_t> found_seqs;
  for (int round = 0; round < 4 && !frontier.empty(); ++round) {
    size_t before = found.size();
    for (const fhir::IncludeSpec& inc : q.includes) {
      if (round > 0 && !inc.iterate) continue;
      Builder B{c, {}, {}, 0, &pids};
      B.view = opt.view;
      if (!inc.reverse) {
        std::vector<int64_t> rids;
        for (const SearchRow* r = frontier.data(); r != frontier.data() + frontier.size(); ++r)
          if (inc.source_type == "*" || r->type == inc.source_type) rids.push_back(r->rid);
        if (rids.empty()) continue;
        B.sql = "SELECT DISTINCT t.rid, t.type, t.id, t.version, t.last_updated, t.seq FROM idx_reference x JOIN resource t "
                "ON t.type=x.ref_type AND t.id=x.ref_id WHERE x.rid IN (SELECT value FROM json_each(?))";
        B.b(json_ints(rids));
        if (inc.code != "*") {
          // '+': reach the page's rows by rid, not every row of the parameter (3.6 -> 0.1 ms)
          B.sql += " AND ";
          B.pid_pred("+x.pid", {inc.source_type}, inc.code);
        }
        if (!inc.target_type.empty()) {
          B.sql += " AND t.type=?";
          B.b(inc.target_type);
        }
        B.sql += " AND t.deleted=0";
        if (B.view) {
          B.sql += " AND ";
          B.view_pred("t", inc.target_type.empty() ? std::vector<std::string>{} : std::vector<std::string>{inc.target_type});
        }
        std::vector<SearchRow> rows;
        std::vector<int64_t> seqs;
        Status st = run_rows(c, B, &rows, &seqs);
        if (!st) return st;
        for (size_t i = 0; i < rows.size(); ++i) {
          if (!seen.insert(rows[i].rid).second) continue;
          found.push_back(std::move(rows[i]));
          found_seqs.push_back(seqs[i]);
        }
      } else {
        const fhir::SearchParam* p = inc.code == "*" ? nullptr : reg.find(inc.source_type, inc.code);
        std::map<std::string, std::vector<std::string>> ids_by_type;
        for (const SearchRow* r = frontier.data(); r != frontier.data() + frontier.size(); ++r) {
          if (!inc.target_type.empty() && r->type != inc.target_type) continue;
          if (p && !p->may_target(r->type)) continue;
          ids_by_type[r->type].push_back(r->id);
        }
        for (const auto& kv : ids_by_type) {
          Builder B2{c, {}, {}, 0, &pids};
          B2.view = opt.view;
          B2.sql = "SELECT DISTINCT s.rid, s.type, s.id, s.version, s.last_updated, s.seq FROM idx_reference x JOIN resource s "
                   "ON s.rid=x.rid WHERE x.ref_type=? AND x.ref_id IN (SELECT value FROM json_each(?))";
          B2.b(kv.first);
          B2.b(json_strings(kv.second));
          if (p) {
            B2.sql += " AND ";
            B2.pid_pred("x.pid", {inc.source_type}, inc.code);
          }
          if (inc.source_type != "*") {
            B2.sql += " AND s.type=?";
            B2.b(inc.source_type);
          }
          B2.sql += " AND s.deleted=0";
          if (B2.view) {
            B2.sql += " AND ";
            B2.view_pred("s", inc.source_type == "*" ? std::vector<std::string>{} : std::vector<std::string>{inc.source_type});
          }
          std::vector<SearchRow> rows;
          std::vector<int64_t> seqs;
          Status st = run_rows(c, B2, &rows, &seqs);
          if (!st) return st;
          for (size_t i = 0; i < rows.size(); ++i) {
            if (!seen.insert(rows[i].rid).second) continue;
            found.push_back(std::move(rows[i]));
            found_seqs.push_back(seqs[i]);
          }
        }
      }
      if (found.size() > kMaxIncludes) break;
    }
    if (found.size() > kMaxIncludes) {
      found.resize(kMaxIncludes);
      found_seqs.resize(kMaxIncludes);
      page->includes_truncated = true;
      break;
    }
    frontier.clear();
    for (size_t i = before; i < found.size(); ++i) frontier.push_back(found[i]);
  }
  for (size_t i = 0; i < found.size(); ++i) {
    if (opt.include_type_allowed && !opt.include_type_allowed(found[i].type)) continue;
    page->included.push_back(std::move(found[i]));
    inc_seqs->push_back(found_seqs[i]);
  }
  return Status();
}

}  // namespace

Result<int64_t> count_search(Conn& c, const fhir::SearchQuery& q, const View* view) {
  Matcher M{c, q, {}};
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
  Matcher M{c, q, {}};
  std::vector<KeyKind> kinds;
  for (const auto& k : q.sort) kinds.push_back(key_kind(k));
  const bool back = has_cursor && cur.before;
  Builder B{c, {}, {}, 0, &M.pids};
  B.view = opt.view;
  if (q.sort.empty()) {
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
  int count = std::max(q.count, 0);
  B.b(int64_t(count) + 1);
  std::vector<int64_t> seqs;
  std::vector<std::vector<Bind>> keys;
  if (count > 0) {
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
    if (has_after) page.next_cursor = encode_cursor(false, page.matches.back().rid, keys.back());
    if (has_before) page.prev_cursor = encode_cursor(true, page.matches.front().rid, keys.front());
  } else if (has_cursor && back) {
    // nothing before: offer the first page again through `next` from the cursor row
  }
  if (q.total == fhir::Total::accurate) {
    if (!has_cursor && !more) {
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

Result<std::vector<std::pair<std::string, std::string>>> resolve_matches(Conn& c, const std::string& type,
                                                                         const std::string& query_string, size_t limit,
                                                                         const std::string& base_url, const View* view) {
  std::string qs = query_string;
  if (!qs.empty() && qs[0] == '?') qs.erase(0, 1);
  auto params = fhir::parse_query_string(qs, false);
  if (!params) return params.status();
  fhir::SearchParseOptions po;
  po.strict = true;
  po.base_url = base_url;
  po.max_count = int(std::min<size_t>(limit, 100000));
  auto q = fhir::parse_search(type, *params, po);
  if (!q) return q.status();
  q->count = int(std::min<size_t>(limit, 100000));
  q->sort.clear();
  q->includes.clear();
  q->cursor.clear();
  q->total = fhir::Total::none;
  SearchRunOptions ro;
  ro.bodies = false;
  ro.view = view;
  auto page = run_search(c, *q, ro);
  if (!page) return page.status();
  std::vector<std::pair<std::string, std::string>> out;
  for (auto& r : page->matches) out.emplace_back(r.type, r.id);
  return out;
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
