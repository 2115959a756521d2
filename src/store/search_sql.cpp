// store/search_sql.cpp — see search_sql.h: the SQL builder and the row helpers of the search
// engine.
#include "store/search_sql.h"

#include <algorithm>
#include <cerrno>
#include <cfloat>
#include <cmath>
#include <cstdio>
#include <limits>
#include <unordered_set>

#include "fhir/search_params.h"
#include "util/base64url.h"
#include "util/json.h"

namespace ef::store::detail {

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

// True when the code set (a JSON array of [system, code] string pairs) is not empty and every
// pair has the same system: *system is it and *codes the codes.  False for anything else
// (then the general pair form is written).
static bool one_system(const std::string& set, std::string* system, std::vector<std::string>* codes) {
  auto v = json::parse(set);
  if (!v) return false;
  const json::Array* a = json::as_array(*v);
  if (!a || a->empty()) return false;
  codes->clear();
  for (size_t i = 0; i < a->size(); ++i) {
    const json::Array* p = json::as_array((*a)[i]);
    if (!p || p->size() != 2) return false;
    const std::string* s = json::as_string((*p)[0]);
    const std::string* c = json::as_string((*p)[1]);
    if (!s || !c) return false;
    if (i == 0) *system = *s;
    else if (*s != *system) return false;
    codes->push_back(*c);
  }
  return true;
}

int64_t Builder::pid(const std::string& type, const std::string& code) {
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

void Builder::pid_pred(const std::string& col, const std::vector<std::string>& types, const std::string& code) {
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

void Builder::type_pred(const std::string& a, const std::vector<std::string>& types) {
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

void Builder::date_match(const std::string& lo, const std::string& hi, const SearchValue& v) {
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

void Builder::number_match(const std::string& x, const SearchValue& v, bool quantity) {
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

void Builder::token_match(const std::string& x, const SearchValue& v, Modifier m, const char* sys_col, const char* code_col) {
  std::string sc = x + "." + sys_col, cc = x + "." + code_col;
  if (m == Modifier::text) {
    sql += "((" + x + ".text>=? AND " + x + ".text<?) OR " + x + ".text LIKE ? ESCAPE '\\')";
    b(v.text);
    b(prefix_end(v.text));
    b("% " + like_escape(v.text) + "%");
    return;
  }
  if (m == Modifier::in || m == Modifier::not_in || m == Modifier::above || m == Modifier::below) {
    // the code set resolved by the interaction layer, bound as ONE parameter (a JSON array of
    // [system, code]); :not-in negates the whole criterion (see param())
    // The code drives the (pid, code, system) index; a row without a system (a `code` element
    // such as Patient.gender, whose system the binding implies) matches on its code.
    const std::string set = v.code_set.empty() ? std::string("[]") : v.code_set;
    // One system for every pair (always so for :above/:below): (system, code) IN set is then
    // system = S, given code IN codes, which costs one comparison per index row instead of a
    // probe of the pair list (issue 21: 6,427 matches, 1.1 -> 0.5 ms in SQLite).
    std::string system;
    std::vector<std::string> codes;
    if (one_system(set, &system, &codes)) {
      sql += "(" + cc + " IN (SELECT value FROM json_each(?)) AND (" + sc + " IS NULL OR " + sc + "=?))";
      b(json_strings(codes));
      b(system);
      return;
    }
    sql += "(" + cc + " IN (SELECT json_extract(value,'$[1]') FROM json_each(?)) AND (" + sc + " IS NULL OR (" + sc +
           ", " + cc + ") IN (SELECT json_extract(value,'$[0]'), json_extract(value,'$[1]') FROM json_each(?))))";
    b(set);
    b(set);
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

void Builder::value_match(const std::string& x, ParamType t, Modifier m, const SearchValue& v) {
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

void Builder::criterion(const std::string& a, const Criterion& cr) {
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
  bool negate = cr.modifier == Modifier::not_ || cr.modifier == Modifier::not_in;
  if (!correlated) {
    sql += a + ".rid" + (negate ? " NOT" : "") + " IN (";
    index_rids(cr);
    sql += ")";
    return;
  }
  // by rid ('+' on pid keeps SQLite off the (pid, value) index, which would scan every
  // row of the parameter for each candidate)
  std::string x = alias("x");
  sql += std::string(negate ? "NOT " : "") + "EXISTS (SELECT 1 FROM " + tab + " " + x + " WHERE " + x + ".rid=" + a +
         ".rid AND ";
  pid_pred("+" + x + ".pid", cr.types, p.code);
  value_list(x, cr);
  sql += ")";
}

void Builder::value_list(const std::string& x, const Criterion& cr) {
  // A token OR list whose values all name a code and either all the same system
  // (`code=S|a,S|b,...`) or none (`code=a,b,...`) is one `code IN (list)` (and `system = S`):
  // SQLite then seeks each code in the (pid, code, system, rid) index, where an OR of
  // `(code=? AND system=?)` terms made it read every row of the parameter (issue 21: 20 LOINC
  // codes, 1.85 -> 0.5 ms).  The same rows match.
  if (cr.param->type == ParamType::token && (cr.modifier == Modifier::none || cr.modifier == Modifier::not_) &&
      cr.values.size() > 1) {
    const SearchValue& v0 = cr.values[0];
    bool no_system = true, one_system = true;
    std::vector<std::string> codes;
    for (const SearchValue& v : cr.values) {
      if (v.code.empty()) no_system = one_system = false;
      if (v.has_system) no_system = false;
      if (!v.has_system || v.system.empty() || v.system != v0.system) one_system = false;
      codes.push_back(v.code);
    }
    if (no_system || one_system) {
      sql += " AND (" + x + ".code IN (SELECT value FROM json_each(?))";
      b(json_strings(codes));
      if (one_system) {
        sql += " AND " + x + ".system=?";
        b(v0.system);
      }
      sql += ")";
      return;
    }
  }
  sql += " AND (";
  for (size_t i = 0; i < cr.values.size(); ++i) {
    if (i) sql += " OR ";
    value_match(x, cr.param->type, cr.modifier, cr.values[i]);
  }
  sql += ")";
}

void Builder::index_rids(const Criterion& cr) {
  const fhir::SearchParam& p = *cr.param;
  std::string x = alias("x");
  sql += "SELECT " + x + ".rid FROM " + table_for(p.type) + " " + x + " WHERE ";
  pid_pred(x + ".pid", cr.types, p.code);
  value_list(x, cr);
}

void Builder::compartment(const std::string& a, const std::vector<std::string>& types, const std::string& patient) {
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

void Builder::view_pred(const std::string& a, const std::vector<std::string>& types) {
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

Bind read_key(Stmt& s, int col, KeyKind kind) {
  switch (kind) {
    case KeyKind::i: return s.int64(col);
    case KeyKind::r: return s.dbl(col);
    case KeyKind::s: return std::string(s.text(col));
  }
  return int64_t(0);
}

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
                std::vector<std::vector<Bind>>* keys, const std::vector<KeyKind>* kinds) {
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

}  // namespace ef::store::detail
