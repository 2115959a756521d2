// fhir/search_query.cpp — see search_query.h: parse_search.  Parameter names are resolved
// against the registry per searched type; values are parsed by parameter type; every problem
// becomes an Err::invalid naming the parameter (and value).  The query-string splitting is
// query_string.cpp; _summary/_elements subsetting is subset.cpp.
#include "fhir/search_query.h"

#include "fhir/element_order.h"
#include "fhir/type_model.h"

#include <algorithm>
#include <cstdlib>
#include <set>

#include "fhir/indexer.h"
#include "fhir/resource.h"
#include "util/time.h"

namespace ef::fhir {

// ---------------------------------------------------------------------------------------------
// Escapes: "\," "\|" "\$" "\\" (https://hl7.org/fhir/R4/search.html#escaping)
// ---------------------------------------------------------------------------------------------

// Splits on unescaped `sep`, keeping escapes in the pieces.
static std::vector<std::string> split_esc(const std::string& s, char sep) {
  std::vector<std::string> out(1);
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      out.back() += s[i];
      out.back() += s[++i];
    } else if (s[i] == sep) {
      out.emplace_back();
    } else {
      out.back() += s[i];
    }
  }
  return out;
}

static std::string unescape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size() &&
        (s[i + 1] == ',' || s[i + 1] == '|' || s[i + 1] == '$' || s[i + 1] == '\\'))
      ++i;
    out += s[i];
  }
  return out;
}

const char* prefix_name(Prefix p) {
  switch (p) {
    case Prefix::eq: return "eq";
    case Prefix::ne: return "ne";
    case Prefix::gt: return "gt";
    case Prefix::lt: return "lt";
    case Prefix::ge: return "ge";
    case Prefix::le: return "le";
    case Prefix::sa: return "sa";
    case Prefix::eb: return "eb";
    case Prefix::ap: return "ap";
  }
  return "eq";
}

// ---------------------------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------------------------

namespace {

struct Parser {
  const SearchParamRegistry& reg;
  const SearchParseOptions& opt;
  mutable size_t total_values = 0;  // values of the whole search, chains expanded
  mutable int depth_now = 0;        // chain / _has level of the criterion being parsed
  // Inside a chain or _has every value nests in more subqueries: SQLite's expression depth
  // (1000) was reached at ~250 values one level down and ~130 three levels down, so chained
  // OR lists are limited to this whatever max_or_values says.
  static constexpr size_t kMaxChainedOrValues = 100;

  // The OR-list budget of one parameter (before its values are parsed) and the search's
  // total (every chain target type's copy counts).
  Status take_values(const std::string& name, size_t n) const {
    size_t limit = opt.budget.max_or_values;
    if (depth_now > 0 && limit > kMaxChainedOrValues) limit = kMaxChainedOrValues;
    if (n > limit)
      return Status(Err::invalid, "search parameter '" + name + "': " + std::to_string(n) +
                                      " values; the limit is " + std::to_string(limit) +
                                      (depth_now > 0 ? " per chained parameter" : " per parameter") +
                                      " (limits.max_or_values)", name);
    total_values += n;
    if (total_values > opt.budget.max_search_values)
      return Status(Err::invalid, "search parameter '" + name + "': the search has more than " +
                                      std::to_string(opt.budget.max_search_values) +
                                      " values in all (limits.max_search_values)", name);
    return Status();
  }

  Status bad(const std::string& name, const std::string& value, const std::string& why) const {
    return Status(Err::invalid, "search parameter '" + name + "': value '" + value + "' " + why, name);
  }

  // Strips a two-letter prefix from s (only when followed by something that is not a letter).
  static Prefix take_prefix(std::string& s) {
    static const std::pair<const char*, Prefix> k[] = {{"eq", Prefix::eq}, {"ne", Prefix::ne}, {"gt", Prefix::gt},
                                                       {"lt", Prefix::lt}, {"ge", Prefix::ge}, {"le", Prefix::le},
                                                       {"sa", Prefix::sa}, {"eb", Prefix::eb}, {"ap", Prefix::ap}};
    if (s.size() >= 2) {
      for (const auto& p : k)
        if (s.compare(0, 2, p.first) == 0) {
          s = s.substr(2);
          return p.second;
        }
    }
    return Prefix::eq;
  }

  Status date_value(const std::string& name, const std::string& raw, SearchValue* v) const {
    std::string s = raw;
    v->prefix = take_prefix(s);
    for (char& ch : s)
      if (ch == ' ') ch = '+';  // a '+' of a time zone that arrived form-decoded
    auto t = timefmt::parse_fhir_time(s);
    if (!t) return bad(name, raw, "is not a valid date/time (expected [prefix]YYYY[-MM[-DD[Thh:mm[:ss[.fff]][Z|(+|-)hh:mm]]]])");
    v->lo_ms = t->lo_ms;
    v->hi_ms = t->hi_ms;
    if (v->prefix == Prefix::ap && opt.now_ms != 0) {
      // "approximately": the value's range widened by 10% of its distance from now
      // (at least one day), then any overlap matches.
      int64_t mid = v->lo_ms / 2 + v->hi_ms / 2;
      int64_t gap = std::max<int64_t>(std::llabs(opt.now_ms - mid) / 10, 86400000);
      v->lo_ms -= gap;
      v->hi_ms += gap;
    }
    return Status();
  }

  Status number_value(const std::string& name, const std::string& raw, const std::string& text, SearchValue* v) const {
    std::string s = text;
    v->prefix = take_prefix(s);
    double val, lo, hi;
    if (s.empty() || !number_range(s, &val, &lo, &hi))
      return bad(name, raw, "is not a valid number (expected [prefix]number, e.g. gt5.4)");
    v->num = val;
    v->num_lo = lo;
    v->num_hi = hi;
    return Status();
  }

  Status quantity_value(const std::string& name, const std::string& raw, const std::string& esc, SearchValue* v) const {
    auto parts = split_esc(esc, '|');
    if (parts.size() != 1 && parts.size() != 3)
      return bad(name, raw, "is not a valid quantity (expected [prefix]number[|system|code])");
    Status st = number_value(name, raw, unescape(parts[0]), v);
    if (!st) return st;
    if (parts.size() == 3) {
      v->system = unescape(parts[1]);
      v->code = unescape(parts[2]);
      v->has_system = !v->system.empty();
    }
    return Status();
  }

  Status token_value(const std::string& name, Modifier m, const std::string& raw, const std::string& esc,
                     SearchValue* v) const {
    if (m == Modifier::in || m == Modifier::not_in) {
      v->url = unescape(esc);
      if (v->url.empty()) return bad(name, raw, "is empty (expected a ValueSet canonical URL or ValueSet/id)");
      return Status();
    }
    if (m == Modifier::text) {
      v->text = normalize_string(unescape(esc));
      if (v->text.empty()) return bad(name, raw, "is empty");
      return Status();
    }
    auto parts = split_esc(esc, '|');
    if (m == Modifier::of_type) {
      if (parts.size() != 3 || parts[2].empty())
        return bad(name, raw, "is not valid for :of-type (expected type-system|type-code|value)");
      v->type_system = unescape(parts[0]);
      v->type_code = unescape(parts[1]);
      v->code = unescape(parts[2]);
      return Status();
    }
    if (parts.size() == 1) {
      v->code = unescape(parts[0]);
    } else if (parts.size() == 2) {
      v->has_system = true;
      v->system = unescape(parts[0]);
      v->code = unescape(parts[1]);
      if (v->system.empty() && v->code.empty()) return bad(name, raw, "has neither a system nor a code");
    } else {
      return bad(name, raw, "is not a valid token (expected [system|]code)");
    }
    if (!v->has_system && v->code.empty()) return bad(name, raw, "is empty");
    if ((m == Modifier::above || m == Modifier::below) && (v->system.empty() || v->code.empty()))
      return bad(name, raw, "needs a system and a code for :above / :below (system|code)");
    return Status();
  }

  Status reference_value(const std::string& name, const Criterion& c, const std::string& raw, const std::string& esc,
                         SearchValue* v) const {
    if (c.modifier == Modifier::identifier) return token_value(name, Modifier::none, raw, esc, v);
    std::string s = unescape(esc);
    if (s.empty()) return bad(name, raw, "is empty");
    if (!opt.base_url.empty() && s.size() > opt.base_url.size() + 1 && s.compare(0, opt.base_url.size(), opt.base_url) == 0 &&
        s[opt.base_url.size()] == '/')
      s = s.substr(opt.base_url.size() + 1);
    bool absolute = s.find("://") != std::string::npos || s.compare(0, 4, "urn:") == 0;
    if (absolute) {
      v->url = s;
      return Status();
    }
    size_t h = s.find("/_history/");
    if (h != std::string::npos) s = s.substr(0, h);
    size_t slash = s.find('/');
    if (slash != std::string::npos) {
      std::string t = s.substr(0, slash), id = s.substr(slash + 1);
      if (!reg.is_resource_type(t) || !valid_id(id))
        return bad(name, raw, "is not a reference (expected Type/id, id or an absolute URL)");
      if (!c.modifier_type.empty() && t != c.modifier_type)
        return bad(name, raw, "names a " + t + " but the modifier asks for " + c.modifier_type);
      v->ref_type = t;
      v->ref_id = id;
      return Status();
    }
    if (!valid_id(s)) return bad(name, raw, "is not a reference (expected Type/id, id or an absolute URL)");
    v->ref_id = s;
    if (!c.modifier_type.empty()) v->ref_type = c.modifier_type;
    else if (c.param && !c.param->any_target && c.param->targets.size() == 1) v->ref_type = c.param->targets[0];
    return Status();
  }

  Status one_value(const std::string& name, const Criterion& c, ParamType t, const std::string& esc,
                   SearchValue* v) const {
    std::string raw = unescape(esc);
    v->raw = raw;
    switch (t) {
      case ParamType::string:
        v->text = c.modifier == Modifier::exact ? raw : normalize_string(raw);
        if (v->text.empty()) return bad(name, raw, "is empty");
        return Status();
      case ParamType::token:
        return token_value(name, c.modifier, raw, esc, v);
      case ParamType::date:
        return date_value(name, raw, v);
      case ParamType::number:
        return number_value(name, raw, raw, v);
      case ParamType::quantity:
        return quantity_value(name, raw, esc, v);
      case ParamType::reference:
        return reference_value(name, c, raw, esc, v);
      case ParamType::uri:
        if (raw.empty()) return bad(name, raw, "is empty");
        v->text = raw;
        return Status();
      case ParamType::composite: {
        auto parts = split_esc(esc, '$');
        const auto& comps = c.param->components;
        if (parts.size() != comps.size())
          return bad(name, raw, "must have " + std::to_string(comps.size()) + " components separated by '$'");
        Criterion sub;
        sub.param = nullptr;
        for (size_t k = 0; k < comps.size(); ++k) {
          SearchValue pv;
          if (comps[k].type == ParamType::composite) return bad(name, raw, "nests a composite");
          Status st = one_value(name, sub, comps[k].type, parts[k], &pv);
          if (!st) return st;
          v->parts.push_back(std::move(pv));
        }
        return Status();
      }
      case ParamType::special:
        break;
    }
    return bad(name, raw, "cannot be searched");
  }

  Status values(const std::string& name, Criterion* c, const std::string& value) const {
    if (c->modifier == Modifier::missing) {
      if (value != "true" && value != "false") return bad(name, value, "must be true or false for :missing");
      SearchValue v;
      v.raw = value;
      v.missing = value == "true";
      c->values.push_back(v);
      return Status();
    }
    std::vector<std::string> pieces = split_esc(value, ',');
    if (Status st = take_values(name, pieces.size()); !st) return st;
    for (const std::string& piece : pieces) {
      SearchValue v;
      Status st = one_value(name, *c, c->type, piece, &v);
      if (!st) return st;
      c->values.push_back(std::move(v));
    }
    if (c->values.empty()) return bad(name, value, "is empty");
    return Status();
  }

  // ---- parameters ----

  // The parameter `code` on every one of `types`; null when some type lacks it.
  const SearchParam* lookup(const std::vector<std::string>& types, const std::string& code) const {
    if (types.empty()) {
      const SearchParam* p = reg.find("Resource", code);
      if (!p) p = reg.find("Patient", code);  // any type: common parameters only
      return p && p->common() ? p : nullptr;
    }
    const SearchParam* first = nullptr;
    for (const std::string& t : types) {
      const SearchParam* p = reg.find(t, code);
      if (!p) return nullptr;
      if (!first) first = p;
      else if (p->type != first->type) return nullptr;
    }
    return first;
  }

  static bool parse_modifier(const std::string& m, Modifier* out) {
    static const std::pair<const char*, Modifier> k[] = {
        {"missing", Modifier::missing}, {"exact", Modifier::exact}, {"contains", Modifier::contains},
        {"text", Modifier::text},       {"not", Modifier::not_},    {"above", Modifier::above},
        {"below", Modifier::below},     {"of-type", Modifier::of_type}, {"identifier", Modifier::identifier},
        {"in", Modifier::in},           {"not-in", Modifier::not_in}};
    for (const auto& p : k)
      if (m == p.first) {
        *out = p.second;
        return true;
      }
    return false;
  }

  // Outcome of resolving one parameter name: an error is always fatal; `unknown` means the
  // name is not a parameter we can evaluate (lenient: ignore it).
  struct Resolved {
    Status error;
    std::string unknown;  // reason
  };

  Resolved criterion(const std::vector<std::string>& types, const std::string& full, const std::string& name,
                     const std::string& value, Criterion* c, int depth) const {
    Resolved r;
    c->name = full;
    c->types = types;
    // Two levels: each level nests the SQL two subqueries deeper, and four levels always
    // overflowed SQLite's parser stack (100 entries), three with a :not or a sort beside them
    // (found by the searchsql fuzz target).
    if (depth > 2) {
      r.error = Status(Err::invalid, "search parameter '" + full + "' chains more than 2 levels", full);
      return r;
    }
    depth_now = depth;
    // reverse chain: _has:Type:ref:rest
    if (name.compare(0, 5, "_has:") == 0) {
      size_t a = name.find(':', 5);
      size_t b = a == std::string::npos ? a : name.find(':', a + 1);
      if (b == std::string::npos) {
        r.error = Status(Err::invalid, "search parameter '" + full + "': expected _has:Type:reference:parameter");
        return r;
      }
      std::string htype = name.substr(5, a - 5), ref = name.substr(a + 1, b - a - 1), rest = name.substr(b + 1);
      if (!reg.is_resource_type(htype)) {
        r.error = Status(Err::invalid, "search parameter '" + full + "': '" + htype + "' is not a resource type");
        return r;
      }
      const SearchParam* p = reg.find(htype, ref);
      if (!p || p->type != ParamType::reference || !p->supported) {
        r.error = Status(Err::invalid, "search parameter '" + full + "': '" + ref + "' is not a reference parameter of " + htype);
        return r;
      }
      bool targets_us = types.empty();
      for (const auto& t : types) targets_us = targets_us || p->may_target(t);
      if (!targets_us) {
        r.error = Status(Err::invalid, "search parameter '" + full + "': " + htype + "." + ref + " cannot refer to " +
                                           (types.empty() ? std::string("this type") : types[0]));
        return r;
      }
      c->kind = Criterion::Kind::has;
      c->param = p;
      c->has_type = htype;
      c->next = std::make_shared<Criterion>();
      return criterion({htype}, full, rest, value, c->next.get(), depth + 1);
    }
    // forward chain: ref[:Type].rest
    size_t dot = name.find('.');
    if (dot != std::string::npos) {
      std::string head = name.substr(0, dot), rest = name.substr(dot + 1);
      size_t colon = head.find(':');
      std::string code = head.substr(0, colon), ttype = colon == std::string::npos ? "" : head.substr(colon + 1);
      const SearchParam* p = lookup(types, code);
      if (!p || !p->supported) {
        r.unknown = "unknown search parameter '" + code + "'";
        return r;
      }
      if (p->type != ParamType::reference) {
        r.error = Status(Err::invalid, "search parameter '" + full + "': '" + code + "' is not a reference and cannot be chained");
        return r;
      }
      std::vector<std::string> targets;
      if (!ttype.empty()) {
        if (!reg.is_resource_type(ttype) || !p->may_target(ttype)) {
          r.error = Status(Err::invalid, "search parameter '" + full + "': '" + code + "' cannot refer to '" + ttype + "'");
          return r;
        }
        targets.push_back(ttype);
      } else if (p->any_target) {
        r.error = Status(Err::invalid, "search parameter '" + full + "': '" + code +
                                           "' may refer to any type; name the type (e.g. " + code + ":Patient." + rest + ")");
        return r;
      } else {
        targets = p->targets;
      }
      c->kind = Criterion::Kind::chain;
      c->param = p;
      c->type = ParamType::reference;
      for (const std::string& t : targets) {
        auto sub = std::make_shared<Criterion>();
        Resolved rr = criterion({t}, full, rest, value, sub.get(), depth + 1);
        if (!rr.error.ok()) return rr;
        if (!rr.unknown.empty()) continue;  // this target type lacks the parameter
        c->chain.emplace_back(t, sub);
      }
      if (c->chain.empty()) {
        r.unknown = "chained parameter '" + rest + "' is not known on the target type(s) of '" + code + "'";
      }
      return r;
    }
    // plain: code[:modifier]
    size_t colon = name.find(':');
    std::string code = name.substr(0, colon), mod = colon == std::string::npos ? "" : name.substr(colon + 1);
    if (code == "_id" || code == "_lastUpdated") {
      c->kind = code == "_id" ? Criterion::Kind::id : Criterion::Kind::last_updated;
      c->param = lookup(types, code);
      c->type = code == "_id" ? ParamType::token : ParamType::date;
      if (!mod.empty()) {
        if (!parse_modifier(mod, &c->modifier) || !(c->modifier == Modifier::not_ && code == "_id")) {
          r.error = Status(Err::invalid, "search parameter '" + full + "': modifier ':" + mod + "' is not supported on " + code);
          return r;
        }
      }
      if (code == "_id") {
        std::vector<std::string> pieces = split_esc(value, ',');
        if (Status st = take_values(full, pieces.size()); !st) {
          r.error = st;
          return r;
        }
        for (const std::string& piece : pieces) {
          SearchValue v;
          v.raw = unescape(piece);
          v.code = v.raw;
          if (!valid_id(v.code)) {
            r.error = bad(full, v.raw, "is not a valid id");
            return r;
          }
          c->values.push_back(v);
        }
        return r;
      }
      r.error = values(full, c, value);
      return r;
    }
    const SearchParam* p = lookup(types, code);
    if (!p) {
      r.unknown = "unknown search parameter '" + code + "'";
      return r;
    }
    if (!p->supported) {
      r.unknown = "search parameter '" + code + "' is not supported: " + p->reason;
      return r;
    }
    c->param = p;
    c->type = p->type;
    if (!mod.empty()) {
      Modifier m;
      bool ok = parse_modifier(mod, &m);
      if (!ok && p->type == ParamType::reference && reg.is_resource_type(mod)) {
        if (!p->may_target(mod)) {
          r.error = Status(Err::invalid, "search parameter '" + full + "': '" + code + "' cannot refer to '" + mod + "'");
          return r;
        }
        m = Modifier::type;
        c->modifier_type = mod;
        ok = true;
      }
      if (ok) {
        using T = ParamType;
        bool allowed = m == Modifier::missing;
        switch (p->type) {
          case T::string: allowed = allowed || m == Modifier::exact || m == Modifier::contains; break;
          case T::token:
            allowed = allowed || m == Modifier::not_ || m == Modifier::text || m == Modifier::of_type ||
                      m == Modifier::in || m == Modifier::not_in || m == Modifier::above || m == Modifier::below;
            break;
          case T::reference: allowed = allowed || m == Modifier::type || m == Modifier::identifier; break;
          case T::uri: allowed = allowed || m == Modifier::above || m == Modifier::below; break;
          default: break;
        }
        ok = allowed;
      }
      if (!ok) {
        r.error = Status(Err::invalid, "search parameter '" + full + "': modifier ':" + mod + "' is not supported for " +
                                           param_type_name(p->type) + " parameters");
        return r;
      }
      c->modifier = m;
    }
    r.error = values(full, c, value);
    return r;
  }
};

bool is_result_param(const std::string& n) {
  return n == "_sort" || n == "_count" || n == "_include" || n == "_revinclude" || n == "_total" || n == "_summary" ||
         n == "_elements" || n == "_cursor" || n == "_contained" || n == "_containedType" ||
         n.compare(0, 9, "_include:") == 0 || n.compare(0, 12, "_revinclude:") == 0;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// parse_search
// ---------------------------------------------------------------------------------------------

Result<SearchQuery> parse_search(const std::string& type, const QueryParams& params, const SearchParseOptions& opt) {
  return parse_search(registry(), type, params, opt);
}

Result<SearchQuery> parse_search(const SearchParamRegistry& reg, const std::string& type, const QueryParams& params,
                                 const SearchParseOptions& opt) {
  Parser P{reg, opt};
  SearchQuery q;
  q.count = opt.default_count;
  auto invalid = [](const std::string& m, const std::string& expr = {}) { return Status(Err::invalid, m, expr); };
  if (params.size() > opt.budget.max_search_params) {
    const std::string& first_over = params[opt.budget.max_search_params].first;
    return invalid("the search has " + std::to_string(params.size()) + " parameters; the limit is " +
                       std::to_string(opt.budget.max_search_params) + " (limits.max_search_params); '" + first_over +
                       "' is over it",
                   first_over);
  }

  // _type first: it decides which parameters exist.
  if (!type.empty()) {
    q.types.push_back(type);
  } else {
    std::set<std::string> seen;
    for (const auto& kv : params) {
      if (kv.first != "_type") continue;
      for (const std::string& t : split_esc(kv.second, ',')) {
        std::string tt = unescape(t);
        if (!reg.is_resource_type(tt)) return invalid("_type: '" + tt + "' is not a resource type", "_type");
        if (seen.insert(tt).second) q.types.push_back(tt);
      }
      q.canonical.emplace_back(kv.first, kv.second);
    }
  }

  auto ignore = [&](const std::string& name, const std::string& why) -> Status {
    if (opt.strict) return invalid(why + " (Prefer: handling=strict)", name);
    q.ignored.emplace_back(name, why);
    return Status();
  };

  for (const auto& kv : params) {
    const std::string& name = kv.first;
    const std::string& value = kv.second;
    if (name == "_type" && type.empty()) continue;
    if (name == "_format" || name == "_pretty") continue;  // handled by the HTTP layer
    if (is_result_param(name)) {
      if (name == "_count") {
        if (value.empty() || value.size() > 6 || value.find_first_not_of("0123456789") != std::string::npos)
          return invalid("_count: '" + value + "' is not a whole number", "_count");
        q.count = std::min(std::atoi(value.c_str()), opt.max_count);
      } else if (name == "_cursor") {
        q.cursor = value;
        continue;  // not part of the canonical query (links add their own)
      } else if (name == "_total") {
        if (value == "none") q.total = Total::none;
        else if (value == "accurate" || value == "estimate") q.total = Total::accurate;
        else return invalid("_total: '" + value + "' is not one of none, estimate, accurate", "_total");
      } else if (name == "_summary") {
        if (value == "true") q.summary = Summary::true_;
        else if (value == "false") q.summary = Summary::none;
        else if (value == "text") q.summary = Summary::text;
        else if (value == "data") q.summary = Summary::data;
        else if (value == "count") q.summary = Summary::count;
        else return invalid("_summary: '" + value + "' is not one of true, false, text, data, count", "_summary");
      } else if (name == "_elements") {
        for (const std::string& e : split_esc(value, ',')) {
          std::string el = unescape(e);
          while (!el.empty() && el.front() == ' ') el.erase(0, 1);
          while (!el.empty() && el.back() == ' ') el.pop_back();
          size_t dot = el.find('.');
          if (dot != std::string::npos) el = el.substr(dot + 1);  // "Patient.name" -> "name"
          if (el.empty() || el.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_[]") != std::string::npos)
            return invalid("_elements: '" + e + "' is not an element name", "_elements");
          q.elements.push_back(el);
        }
      } else if (name == "_sort") {
        std::vector<std::string> keys = split_esc(value, ',');
        if (keys.size() + q.sort.size() > 8)
          return invalid("_sort: more than 8 sort keys", "_sort");
        for (const std::string& s : keys) {
          SortKey k;
          std::string code = unescape(s);
          if (!code.empty() && code[0] == '-') {
            k.desc = true;
            code = code.substr(1);
          }
          k.code = code;
          if (code != "_id" && code != "_lastUpdated") {
            k.param = P.lookup(q.types, code);
            if (!k.param || !k.param->supported || k.param->type == ParamType::composite ||
                k.param->type == ParamType::special) {
              Status st = ignore("_sort", "_sort: '" + code + "' is not a parameter that can be sorted on");
              if (!st) return st;
              continue;
            }
          }
          q.sort.push_back(k);
        }
        if (q.sort.empty()) continue;
      } else if (name == "_contained" || name == "_containedType") {
        if (!(name == "_contained" && value == "false") && !(name == "_containedType" && value == "container")) {
          Status st = ignore(name, name + "=" + value + " is not supported");
          if (!st) return st;
          continue;
        }
      } else {  // _include / _revinclude
        IncludeSpec inc;
        inc.reverse = name.compare(0, 11, "_revinclude") == 0;
        std::string mod = name.substr(inc.reverse ? 11 : 8);
        if (mod == ":iterate" || mod == ":recurse") inc.iterate = true;
        else if (!mod.empty()) return invalid(name + ": modifier '" + mod.substr(1) + "' is not supported", name);
        auto parts = split_esc(value, ':');
        if (value == "*") {
          inc.source_type = "*";
          inc.code = "*";
        } else if (parts.size() < 2 || parts.size() > 3) {
          return invalid(name + ": '" + value + "' is not Type:parameter[:targetType]", name);
        } else {
          inc.source_type = parts[0];
          inc.code = parts[1];
          if (parts.size() == 3) inc.target_type = parts[2];
          if (!reg.is_resource_type(inc.source_type))
            return invalid(name + ": '" + inc.source_type + "' is not a resource type", name);
          if (!inc.target_type.empty() && !reg.is_resource_type(inc.target_type))
            return invalid(name + ": '" + inc.target_type + "' is not a resource type", name);
          if (inc.code != "*") {
            const SearchParam* p = reg.find(inc.source_type, inc.code);
            if (!p || p->type != ParamType::reference || !p->supported)
              return invalid(name + ": '" + inc.code + "' is not a reference parameter of " + inc.source_type, name);
            if (!inc.target_type.empty() && !p->may_target(inc.target_type))
              return invalid(name + ": " + inc.source_type + "." + inc.code + " cannot refer to " + inc.target_type, name);
          }
          if (!inc.reverse && !inc.iterate && !q.types.empty() &&
              std::find(q.types.begin(), q.types.end(), inc.source_type) == q.types.end()) {
            Status st = ignore(name, name + "=" + value + " does not apply to the searched type (use :iterate)");
            if (!st) return st;
            continue;
          }
        }
        q.includes.push_back(inc);
      }
      q.canonical.emplace_back(name, value);
      continue;
    }
    if (name == "_type") {
      Status st = ignore(name, "_type is only used by system-level search");
      if (!st) return st;
      continue;
    }
    Criterion c;
    Parser::Resolved r = P.criterion(q.types, name, name, value, &c, 0);
    if (!r.error.ok()) return r.error;
    if (!r.unknown.empty()) {
      Status st = ignore(name, r.unknown);
      if (!st) return st;
      continue;
    }
    q.criteria.push_back(std::move(c));
    q.canonical.emplace_back(name, value);
  }
  return q;
}

}  // namespace ef::fhir
