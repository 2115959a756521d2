// fhir/fhirpath_eval.cpp — evaluation of the general FHIRPath engine (see fhirpath_eval.h):
// navigation over json::Value with the R4 type model (element types, choice elements found
// under their typed JSON names, primitives with their "_name" companions, resources typed by
// resourceType), the operators with empty-collection propagation and three-valued logic, and
// the function library (the navigation helpers are fhirpath_navigate.cpp, the function table
// fhirpath_functions.cpp).  Every step is charged to a budget (kMaxSteps) and every collection
// is capped (kMaxItems); recursion follows the AST, whose depth the parser bounds.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <ctime>
#include <regex>
#include <unordered_map>
#include <unordered_set>

#include "fhir/fhirpath.h"
#include "fhir/fhirpath_internal.h"

namespace ef::fhir::fp {

namespace {

using namespace eval_detail;  // navigation and collection helpers (fhirpath_navigate.cpp)

class Evaluator {
 public:
  explicit Evaluator(Ctx& c) : c_(c) {}

  Coll eval(const Ast& n, const Coll& focus) {
    c_.charge();
    switch (n.k) {
      case K::literal: {
        Coll r;
        if (n.has_lit) r.push_back(n.lit);
        return r;
      }
      case K::member: {
        Coll tmp;
        const Coll& in = n.a[0] ? (tmp = eval(*n.a[0], focus)) : focus;
        Coll out;
        for (const Item& it : in) member(it, n.name, out, c_, true);
        return out;
      }
      case K::call: return call(n, focus);
      case K::var: return var(n.name);
      case K::this_: return c_.this_coll ? *c_.this_coll : focus;
      case K::index_: {
        Coll r;
        if (c_.index >= 0) r.push_back(Item::integer(c_.index));
        return r;
      }
      case K::total_: return c_.total ? *c_.total : Coll{};
      case K::neg: {
        Coll in = eval(*n.a[0], focus);
        const Item* it = single_item(in, "unary -");
        if (!it) return {};
        auto s = to_system(*it);
        if (!s) fail("unary - on a complex value");
        Item r = *s;
        if (r.t == T::integer) r.i = -r.i;
        else if (r.t == T::decimal || r.t == T::quantity) { r.d = -r.d; if (r.t == T::decimal) r.s.clear(); }
        else fail("unary - on " + type_name(r));
        return {r};
      }
      case K::pos: return eval(*n.a[0], focus);
      case K::indexer: {
        Coll in = eval(*n.a[0], focus);
        Coll ix = eval(*n.a[1], focus);
        const Item* i = single_item(ix, "[]");
        if (!i) return {};
        auto s = to_system(*i);
        if (!s || s->t != T::integer) fail("an index must be an integer");
        if (s->i < 0 || static_cast<size_t>(s->i) >= in.size()) return {};
        return {in[static_cast<size_t>(s->i)]};
      }
      case K::is_: {
        Coll in = eval(*n.a[0], focus);
        const Item* it = single_item(in, "is");
        if (!it) return {};
        return {Item::boolean(type_matches(*it, n.type_ns, n.type_name))};
      }
      case K::as_: {
        Coll in = eval(*n.a[0], focus);
        if (in.size() > 1) fail("as needs a single value");
        Coll out;
        for (const Item& it : in) if (type_matches(it, n.type_ns, n.type_name)) out.push_back(it);
        return out;
      }
      case K::binop: return binop(n, focus);
    }
    return {};
  }

 private:
  Coll var(const std::string& name) {
    if (name == "resource") return c_.resource ? Coll{make_node(c_.resource, nullptr, nullptr, "Resource")} : Coll{};
    if (name == "rootResource") return c_.root ? Coll{make_node(c_.root, nullptr, nullptr, "Resource")} : Coll{};
    if (name == "context") return c_.context ? *c_.context : Coll{};
    if (name == "ucum") return {Item::string("http://unitsofmeasure.org")};
    if (name == "sct") return {Item::string("http://snomed.info/sct")};
    if (name == "loinc") return {Item::string("http://loinc.org")};
    auto it = c_.env.vars.find(name);
    if (it != c_.env.vars.end()) return it->second;
    if (name.rfind("vs-", 0) == 0) return {Item::string("http://hl7.org/fhir/ValueSet/" + name.substr(3))};
    if (name.rfind("ext-", 0) == 0) return {Item::string("http://hl7.org/fhir/StructureDefinition/" + name.substr(4))};
    fail("unknown variable %" + name);
  }

  Coll binop(const Ast& n, const Coll& focus) {
    const int op = n.fn;
    const char* opname = n.name.c_str();
    if (op == op_and || op == op_or || op == op_xor || op == op_implies) {
      int a = truth(eval(*n.a[0], focus), opname);
      if (op == op_and && a == 0) return bool_coll(0);
      if (op == op_or && a == 1) return bool_coll(1);
      if (op == op_implies && a == 0) return bool_coll(1);
      int b = truth(eval(*n.a[1], focus), opname);
      if (op == op_and) return bool_coll(b == 0 ? 0 : (a == 1 && b == 1) ? 1 : -1);
      if (op == op_or) return bool_coll(b == 1 ? 1 : (a == 0 && b == 0) ? 0 : -1);
      if (op == op_xor) return bool_coll(a < 0 || b < 0 ? -1 : (a != b ? 1 : 0));
      // implies: a is true or empty here
      if (b == 1) return bool_coll(1);
      if (a == 1) return bool_coll(b);
      return bool_coll(-1);
    }
    Coll l = eval(*n.a[0], focus);
    Coll r = eval(*n.a[1], focus);
    if (op == op_union) {
      Coll out = distinct(l, c_);
      for (const Item& x : r) if (!contains_item(out, x, c_)) push(out, x);
      return out;
    }
    if (op == op_eq || op == op_ne) {
      if (l.empty() || r.empty()) return {};
      if (l.size() != r.size()) return bool_coll(op == op_eq ? 0 : 1);
      c_.charge(l.size());
      bool unknown = false;
      for (size_t i = 0; i < l.size(); i++) {
        auto e = equal(l[i], r[i]);
        if (!e) unknown = true;
        else if (!*e) return bool_coll(op == op_eq ? 0 : 1);
      }
      if (unknown) return {};
      return bool_coll(op == op_eq ? 1 : 0);
    }
    if (op == op_equiv || op == op_nequiv) {
      bool eq;
      if (l.empty() && r.empty()) eq = true;
      else if (l.size() != r.size()) eq = false;
      else {
        eq = true;
        c_.charge(l.size() * r.size());
        for (const Item& x : l) {
          bool found = false;
          for (const Item& y : r) if (equivalent(x, y)) { found = true; break; }
          if (!found) { eq = false; break; }
        }
      }
      return bool_coll((op == op_equiv) == eq ? 1 : 0);
    }
    if (op == op_lt || op == op_gt || op == op_le || op == op_ge) {
      const Item* a = single_item(l, opname);
      const Item* b = single_item(r, opname);
      if (!a || !b) return {};
      auto cmp = compare(*a, *b);
      if (!cmp) return {};
      bool v = op == op_lt ? *cmp < 0 : op == op_gt ? *cmp > 0 : op == op_le ? *cmp <= 0 : *cmp >= 0;
      return bool_coll(v ? 1 : 0);
    }
    if (op == op_in || op == op_contains) {
      const Coll& one = op == op_in ? l : r;
      const Coll& many = op == op_in ? r : l;
      const Item* x = single_item(one, opname);
      if (!x) return {};
      return bool_coll(contains_item(many, *x, c_) ? 1 : 0);
    }
    if (op == op_concat) {
      std::string a, b;
      if (const Item* x = single_item(l, "&")) a = to_text(*x);
      if (const Item* y = single_item(r, "&")) b = to_text(*y);
      return {Item::string(a + b)};
    }
    // arithmetic
    const Item* a = single_item(l, opname);
    const Item* b = single_item(r, opname);
    if (!a || !b) return {};
    char o = op == op_idiv ? 'd' : op == op_mod ? 'm' : op == op_plus ? '+' : op == op_minus ? '-' : op == op_mul ? '*' : '/';
    auto v = arith(o, *a, *b);
    if (!v) return {};
    return {*v};
  }

  // Evaluates `arg` once per item of `in` with $this / $index set.
  template <typename Fn>
  void each(const Ast& arg, const Coll& in, Fn fn) {
    const Coll* save_this = c_.this_coll;
    int64_t save_index = c_.index;
    for (size_t i = 0; i < in.size(); i++) {
      Coll one{in[i]};
      c_.this_coll = &one;
      c_.index = static_cast<int64_t>(i);
      Coll r = eval(arg, one);
      c_.this_coll = save_this;
      c_.index = save_index;
      if (!fn(i, r)) break;
    }
  }

  Coll call(const Ast& n, const Coll& focus) {
    Coll tmp;
    const Coll& in = n.a[0] ? (tmp = eval(*n.a[0], focus)) : focus;
    auto arg = [&](size_t k) { return eval(*n.args[k], focus); };
    Coll out;
    switch (n.fn) {
      case f_empty: return bool_coll(in.empty() ? 1 : 0);
      case f_exists: {
        if (n.args.empty()) return bool_coll(in.empty() ? 0 : 1);
        bool any = false;
        each(*n.args[0], in, [&](size_t, const Coll& r) { any = truth(r, "exists()") == 1; return !any; });
        return bool_coll(any ? 1 : 0);
      }
      case f_all: {
        bool all = true;
        each(*n.args[0], in, [&](size_t, const Coll& r) { all = truth(r, "all()") == 1; return all; });
        return bool_coll(all ? 1 : 0);
      }
      case f_allTrue: case f_anyTrue: case f_allFalse: case f_anyFalse: {
        bool want = n.fn == f_allTrue || n.fn == f_anyTrue;
        bool all = n.fn == f_allTrue || n.fn == f_allFalse;
        bool res = all;
        for (const Item& x : in) {
          auto s = to_system(x);
          if (!s || s->t != T::boolean) fail(n.name + "() needs booleans");
          if (all && s->b != want) res = false;
          if (!all && s->b == want) res = true;
        }
        return bool_coll(res ? 1 : 0);
      }
      case f_subsetOf: case f_supersetOf: {
        Coll other = arg(0);
        const Coll& small = n.fn == f_subsetOf ? in : other;
        const Coll& big = n.fn == f_subsetOf ? other : in;
        for (const Item& x : small) if (!contains_item(big, x, c_)) return bool_coll(0);
        return bool_coll(1);
      }
      case f_count: return {Item::integer(static_cast<int64_t>(in.size()))};
      case f_distinct: return distinct(in, c_);
      case f_isDistinct: return bool_coll(distinct(in, c_).size() == in.size() ? 1 : 0);
      case f_where:
        each(*n.args[0], in, [&](size_t i, const Coll& r) { if (truth(r, "where()") == 1) push(out, in[i]); return true; });
        return out;
      case f_select:
        each(*n.args[0], in, [&](size_t, const Coll& r) { for (const Item& x : r) push(out, x); return true; });
        return out;
      case f_repeat: {
        Coll frontier = in;
        while (!frontier.empty()) {
          Coll next;
          each(*n.args[0], frontier, [&](size_t, const Coll& r) {
            for (const Item& x : r) if (!contains_item(out, x, c_)) { push(out, x); push(next, x); }
            return true;
          });
          frontier = std::move(next);
        }
        return out;
      }
      case f_ofType:
        for (const Item& x : in) if (type_matches(x, n.type_ns, n.type_name)) push(out, x);
        return out;
      case f_is: {
        const Item* it = single_item(in, "is()");
        if (!it) return {};
        return bool_coll(type_matches(*it, n.type_ns, n.type_name) ? 1 : 0);
      }
      case f_as:
        if (in.size() > 1) fail("as() needs a single value");
        for (const Item& x : in) if (type_matches(x, n.type_ns, n.type_name)) push(out, x);
        return out;
      case f_first: return in.empty() ? Coll{} : Coll{in.front()};
      case f_last: return in.empty() ? Coll{} : Coll{in.back()};
      case f_tail: return in.size() <= 1 ? Coll{} : Coll(in.begin() + 1, in.end());
      case f_skip: case f_take: {
        Coll a = arg(0);
        const Item* k = single_item(a, n.name.c_str());
        if (!k) return n.fn == f_skip ? in : Coll{};
        auto s = to_system(*k);
        if (!s || s->t != T::integer) fail(n.name + "() needs an integer");
        int64_t m = std::max<int64_t>(0, s->i);
        size_t cut = static_cast<size_t>(std::min<int64_t>(m, static_cast<int64_t>(in.size())));
        if (n.fn == f_skip) return Coll(in.begin() + static_cast<long>(cut), in.end());
        return Coll(in.begin(), in.begin() + static_cast<long>(cut));
      }
      case f_single:
        if (in.size() > 1) fail("single() on " + std::to_string(in.size()) + " items");
        return in;
      case f_intersect: {
        Coll other = arg(0);
        for (const Item& x : in) if (contains_item(other, x, c_) && !contains_item(out, x, c_)) push(out, x);
        return out;
      }
      case f_exclude: {
        Coll other = arg(0);
        for (const Item& x : in) if (!contains_item(other, x, c_)) push(out, x);
        return out;
      }
      case f_union: {
        Coll other = arg(0);
        out = distinct(in, c_);
        for (const Item& x : other) if (!contains_item(out, x, c_)) push(out, x);
        return out;
      }
      case f_combine: {
        Coll other = arg(0);
        out = in;
        for (const Item& x : other) push(out, x);
        return out;
      }
      case f_iif: {
        if (n.a[0] && in.size() > 1) fail("iif() on several items");
        const Coll& base = n.a[0] ? in : focus;
        const Coll* save = c_.this_coll;
        if (n.a[0]) c_.this_coll = &in;
        Coll cond = eval(*n.args[0], base);
        int t;
        if (cond.size() > 1) fail("iif() criterion is not a single boolean");
        if (cond.empty()) t = -1;
        else {
          auto s = to_system(cond[0]);
          if (!s || s->t != T::boolean) fail("iif() criterion is not a boolean");
          t = s->b ? 1 : 0;
        }
        Coll r;
        if (t == 1) r = eval(*n.args[1], base);
        else if (n.args.size() > 2) r = eval(*n.args[2], base);
        c_.this_coll = save;
        return r;
      }
      case f_toBoolean: case f_toInteger: case f_toDecimal: case f_toString: case f_toDate:
      case f_toDateTime: case f_toTime: case f_toQuantity:
      case f_convertsToBoolean: case f_convertsToInteger: case f_convertsToDecimal: case f_convertsToString:
      case f_convertsToDate: case f_convertsToDateTime: case f_convertsToTime: case f_convertsToQuantity: {
        const Item* it = single_item(in, n.name.c_str());
        if (!it) return {};
        std::optional<Item> v;
        std::string unit;
        bool has_unit = false;
        if (!n.args.empty()) { unit = str_arg(arg(0), n.name.c_str()); has_unit = true; }
        switch (n.fn) {
          case f_toBoolean: case f_convertsToBoolean: v = to_boolean(*it); break;
          case f_toInteger: case f_convertsToInteger: v = to_integer(*it); break;
          case f_toDecimal: case f_convertsToDecimal: v = to_decimal(*it); break;
          case f_toString: case f_convertsToString: v = to_string_item(*it); break;
          case f_toDate: case f_convertsToDate: v = to_date(*it, T::date); break;
          case f_toDateTime: case f_convertsToDateTime: v = to_date(*it, T::datetime); break;
          case f_toTime: case f_convertsToTime: v = to_date(*it, T::time); break;
          default: v = to_quantity(*it, has_unit ? &unit : nullptr); break;
        }
        if (n.name.rfind("convertsTo", 0) == 0) return bool_coll(v ? 1 : 0);
        if (!v) return {};
        return {*v};
      }
      case f_indexOf: {
        auto s = input_string(in, "indexOf");
        if (!s) return {};
        Coll a = arg(0);
        if (a.empty()) return {};
        std::string sub = str_arg(a, "indexOf");
        size_t p = s->find(sub);
        return {Item::integer(p == std::string::npos ? -1 : static_cast<int64_t>(p))};
      }
      case f_substring: {
        auto s = input_string(in, "substring");
        if (!s) return {};
        Coll a = arg(0);
        const Item* st = single_item(a, "substring");
        if (!st) return {};
        auto sv = to_integer(*st);
        if (!sv) fail("substring() needs an integer start");
        if (sv->i < 0 || sv->i >= static_cast<int64_t>(s->size())) return {};
        size_t len = std::string::npos;
        if (n.args.size() > 1) {
          Coll b = arg(1);
          if (const Item* l = single_item(b, "substring")) {
            auto lv = to_integer(*l);
            if (!lv) fail("substring() needs an integer length");
            len = lv->i < 0 ? 0 : static_cast<size_t>(lv->i);
          }
        }
        return {Item::string(s->substr(static_cast<size_t>(sv->i), len))};
      }
      case f_startsWith: case f_endsWith: case f_contains: {
        auto s = input_string(in, n.name.c_str());
        if (!s) return {};
        Coll a = arg(0);
        if (a.empty()) return {};
        std::string sub = str_arg(a, n.name.c_str());
        bool r = n.fn == f_startsWith ? s->compare(0, sub.size(), sub) == 0 && s->size() >= sub.size()
               : n.fn == f_endsWith ? s->size() >= sub.size() && s->compare(s->size() - sub.size(), sub.size(), sub) == 0
                                    : s->find(sub) != std::string::npos;
        return bool_coll(r ? 1 : 0);
      }
      case f_upper: case f_lower: {
        auto s = input_string(in, n.name.c_str());
        if (!s) return {};
        std::string r = *s;
        for (char& ch : r) ch = static_cast<char>(n.fn == f_upper ? std::toupper(static_cast<unsigned char>(ch)) : std::tolower(static_cast<unsigned char>(ch)));
        return {Item::string(r)};
      }
      case f_trim: {
        auto s = input_string(in, "trim");
        if (!s) return {};
        size_t b = s->find_first_not_of(" \t\r\n"), e = s->find_last_not_of(" \t\r\n");
        return {Item::string(b == std::string::npos ? "" : s->substr(b, e - b + 1))};
      }
      case f_replace: {
        auto s = input_string(in, "replace");
        if (!s) return {};
        Coll a = arg(0), b = arg(1);
        if (a.empty() || b.empty()) return {};
        std::string pat = str_arg(a, "replace"), rep = str_arg(b, "replace"), r;
        if (pat.empty()) {
          r = rep;
          for (char ch : *s) { r += ch; r += rep; }
        } else {
          size_t p = 0;
          for (;;) {
            size_t q = s->find(pat, p);
            if (q == std::string::npos) { r += s->substr(p); break; }
            r += s->substr(p, q - p) + rep;
            p = q + pat.size();
          }
        }
        if (r.size() > 1000000) throw FpError(Err::too_large, "replace() result too long");
        return {Item::string(r)};
      }
      case f_matches: case f_replaceMatches: {
        auto s = input_string(in, n.name.c_str());
        if (!s) return {};
        Coll a = arg(0);
        if (a.empty()) return {};
        std::string pat = str_arg(a, n.name.c_str());
        if (s->size() > kMaxRegexInput) throw FpError(Err::too_large, n.name + "() on a string longer than " + std::to_string(kMaxRegexInput));
        if (pat.empty() && n.fn == f_replaceMatches) return {Item::string(*s)};
        const std::regex& re = make_regex(pat);
        c_.charge(s->size());
        try {
          if (n.fn == f_matches) return bool_coll(std::regex_search(*s, re) ? 1 : 0);
          Coll b = arg(1);
          if (b.empty()) return {};
          std::string rep = str_arg(b, "replaceMatches");
          return {Item::string(std::regex_replace(*s, re, rep))};
        } catch (const std::regex_error&) {
          throw FpError(Err::too_large, "regular expression too costly");
        }
      }
      case f_length: {
        auto s = input_string(in, "length");
        if (!s) return {};
        return {Item::integer(static_cast<int64_t>(s->size()))};
      }
      case f_toChars: {
        auto s = input_string(in, "toChars");
        if (!s) return {};
        for (char ch : *s) push(out, Item::string(std::string(1, ch)));
        return out;
      }
      case f_split: {
        auto s = input_string(in, "split");
        if (!s) return {};
        std::string sep = str_arg(arg(0), "split");
        if (sep.empty()) return {Item::string(*s)};
        size_t p = 0;
        for (;;) {
          size_t q = s->find(sep, p);
          push(out, Item::string(s->substr(p, q == std::string::npos ? std::string::npos : q - p)));
          if (q == std::string::npos) break;
          p = q + sep.size();
        }
        return out;
      }
      case f_join: {
        std::string sep = n.args.empty() ? "" : str_arg(arg(0), "join"), r;
        for (size_t i = 0; i < in.size(); i++) {
          if (i) r += sep;
          r += to_text(in[i]);
        }
        return {Item::string(r)};
      }
      case f_abs: case f_ceiling: case f_floor: case f_exp: case f_ln: case f_log: case f_power:
      case f_round: case f_sqrt: case f_truncate: return math(n, in, focus);
      case f_children:
        for (const Item& x : in) children_of(x, out, c_);
        return out;
      case f_descendants: {
        Coll frontier = in;
        while (!frontier.empty()) {
          Coll next;
          for (const Item& x : frontier) children_of(x, next, c_);
          for (const Item& x : next) push(out, x);
          frontier = std::move(next);
        }
        return out;
      }
      case f_trace: return in;
      case f_now: return {Item::temporal(T::datetime, now_text(c_.env))};
      case f_today: return {Item::temporal(T::date, now_text(c_.env).substr(0, 10))};
      case f_timeOfDay: return {Item::temporal(T::time, now_text(c_.env).substr(11, 8))};
      case f_not: {
        int t = truth(in, "not()");
        return bool_coll(t < 0 ? -1 : (t == 1 ? 0 : 1));
      }
      case f_hasValue: {
        if (in.size() != 1) return bool_coll(0);
        const Item& x = in[0];
        if (x.t != T::node) return bool_coll(1);
        return bool_coll(x.v && !x.v->is<json::Object>() && !x.v->is<json::Array>() ? 1 : 0);
      }
      case f_getValue: {
        if (in.size() != 1) return {};
        auto s = to_system(in[0]);
        if (!s || s->t == T::quantity) return {};
        return {*s};
      }
      case f_extension: {
        std::string url = str_arg(arg(0), "extension");
        for (const Item& x : in) {
          Coll ext;
          member(x, "extension", ext, c_, false);
          for (const Item& e : ext)
            if (e.v && json::string_or(*e.v, "url") == url) push(out, e);
        }
        return out;
      }
      case f_memberOf: return {};
      case f_conformsTo: {
        // Only the core StructureDefinitions (no profiles are loaded): the type itself.
        std::string url = str_arg(arg(0), "conformsTo");
        const std::string base = "http://hl7.org/fhir/StructureDefinition/";
        if (url.rfind(base, 0) != 0) {
          if (url.find("://") == std::string::npos || url.find('/', url.find("://") + 3) == std::string::npos)
            fail("conformsTo() needs a StructureDefinition URL, not '" + url + "'");
          return {};
        }
        std::string tn = url.substr(base.size());
        if (!type_by_name(tn)) return {};
        const Item* it = single_item(in, "conformsTo()");
        if (!it) return {};
        return bool_coll(type_matches(*it, "", tn) ? 1 : 0);
      }
      case f_htmlChecks: return bool_coll(1);
      case f_resolve:
        for (const Item& x : in) resolve(x, out);
        return out;
      case f_aggregate: {
        Coll total = n.args.size() > 1 ? arg(1) : Coll{};
        const Coll* save = c_.total;
        for (size_t i = 0; i < in.size(); i++) {
          c_.total = &total;
          Coll one{in[i]};
          const Coll* st = c_.this_coll;
          int64_t si = c_.index;
          c_.this_coll = &one;
          c_.index = static_cast<int64_t>(i);
          Coll r = eval(*n.args[0], one);
          c_.this_coll = st;
          c_.index = si;
          total = std::move(r);
        }
        c_.total = save;
        return total;
      }
      case f_encode: case f_decode: case f_escape: case f_unescape: {
        auto s = input_string(in, n.name.c_str());
        if (!s) return {};
        std::string how = str_arg(arg(0), n.name.c_str());
        std::optional<std::string> r = codec(n.name, how, *s);
        if (!r) return {};
        return {Item::string(*r)};
      }
      case f_matchesFull: {
        auto s = input_string(in, "matchesFull");
        if (!s) return {};
        Coll a = arg(0);
        if (a.empty()) return {};
        if (s->size() > kMaxRegexInput) throw FpError(Err::too_large, "matchesFull() on a string longer than " + std::to_string(kMaxRegexInput));
        const std::regex& re = make_regex(str_arg(a, "matchesFull"));
        c_.charge(s->size());
        try {
          return bool_coll(std::regex_match(*s, re) ? 1 : 0);
        } catch (const std::regex_error&) {
          throw FpError(Err::too_large, "regular expression too costly");
        }
      }
      case f_sort: return sort(n, in);
      case f_type: {
        const Item* it = single_item(in, "type()");
        if (!it) return {};
        Item ti;
        ti.tname = "TypeInfo";
        if (it->t == T::node) ti.s = "FHIR|" + std::string(it->tname);
        else ti.s = "System|" + upper_first(type_name(*it));
        return {ti};
      }
      case f_precision: case f_lowBoundary: case f_highBoundary: {
        const Item* it = single_item(in, n.name.c_str());
        if (!it) return {};
        int64_t p = kDefaultPrecision;
        if (!n.args.empty()) {
          Coll a = arg(0);
          const Item* pi = single_item(a, n.name.c_str());
          if (!pi) return {};
          auto pv = to_integer(*pi);
          if (!pv) fail(n.name + "() needs an integer precision");
          p = pv->i;
        }
        auto r = boundary(*it, n.fn == f_precision ? 0 : n.fn == f_lowBoundary ? -1 : 1, p);
        if (!r) return {};
        return {*r};
      }
      case f_comparable: {
        const Item* it = single_item(in, "comparable()");
        Coll a = arg(0);
        const Item* o = single_item(a, "comparable()");
        if (!it || !o) return {};
        auto x = to_system(*it), y = to_system(*o);
        if (!x || !y || x->t != T::quantity || y->t != T::quantity) fail("comparable() needs quantities");
        return bool_coll(compare(*x, *y).has_value() ? 1 : 0);
      }
    }
    fail("function " + n.name + "() is not implemented");
  }

  Coll sort(const Ast& n, const Coll& in) {
    struct Keyed { Item it; std::vector<Coll> keys; };
    std::vector<Keyed> rows;
    std::vector<bool> desc;
    for (const auto& a : n.args) desc.push_back(a->k == K::neg);
    for (size_t i = 0; i < in.size(); i++) {
      Keyed k{in[i], {}};
      for (size_t j = 0; j < n.args.size(); j++) {
        const Ast& e = desc[j] ? *n.args[j]->a[0] : *n.args[j];
        Coll one{in[i]};
        const Coll* st = c_.this_coll;
        c_.this_coll = &one;
        k.keys.push_back(eval(e, one));
        c_.this_coll = st;
      }
      rows.push_back(std::move(k));
    }
    c_.charge(rows.size() * 20);
    auto cmp1 = [](const Coll& a, const Coll& b) -> int {
      if (a.empty() || b.empty()) return a.empty() == b.empty() ? 0 : (a.empty() ? -1 : 1);
      auto c = compare(a[0], b[0]);
      return c ? *c : 0;
    };
    std::stable_sort(rows.begin(), rows.end(), [&](const Keyed& x, const Keyed& y) {
      if (n.args.empty()) return cmp1(Coll{x.it}, Coll{y.it}) < 0;
      for (size_t j = 0; j < n.args.size(); j++) {
        int c = cmp1(x.keys[j], y.keys[j]);
        if (c != 0) return desc[j] ? c > 0 : c < 0;
      }
      return false;
    });
    Coll out;
    for (auto& r : rows) out.push_back(std::move(r.it));
    return out;
  }

  void resolve(const Item& x, Coll& out) {
    if (x.t != T::node || !x.v) return;
    std::string ref;
    if (const std::string* s = json::as_string(*x.v)) ref = *s;
    else ref = json::string_or(*x.v, "reference");
    if (ref.empty()) return;
    if (ref[0] == '#' && c_.resource) {
      if (const json::Array* cs = json::get_array(*c_.resource, "contained"))
        for (const json::Value& r : *cs)
          if (json::string_or(r, "id") == ref.substr(1)) push(out, make_node(&r, nullptr, nullptr, "Resource"));
      return;
    }
    if (c_.root && json::string_or(*c_.root, "resourceType") == "Bundle") {
      if (const json::Array* es = json::get_array(*c_.root, "entry"))
        for (const json::Value& e : *es) {
          std::string fu = json::string_or(e, "fullUrl");
          const json::Value* r = json::get(e, "resource");
          if (!r) continue;
          std::string tail = json::string_or(*r, "resourceType") + "/" + json::string_or(*r, "id");
          if (fu == ref || (ref.size() >= tail.size() && ref.compare(ref.size() - tail.size(), tail.size(), tail) == 0))
            push(out, make_node(r, nullptr, nullptr, "Resource"));
        }
    }
  }

  Coll math(const Ast& n, const Coll& in, const Coll& focus) {
    const Item* it = single_item(in, n.name.c_str());
    if (!it) return {};
    auto s = to_system(*it);
    if (!s || (s->t != T::integer && s->t != T::decimal && !(s->t == T::quantity && n.fn == f_abs)))
      fail(n.name + "() needs a number");
    double x = s->t == T::integer ? static_cast<double>(s->i) : s->d;
    switch (n.fn) {
      case f_abs:
        if (s->t == T::integer) return {Item::integer(s->i < 0 ? -s->i : s->i)};
        if (s->t == T::quantity) return {Item::quantity(std::fabs(x), s->s)};
        return {Item::decimal(std::fabs(x))};
      case f_ceiling: return {Item::integer(static_cast<int64_t>(std::ceil(x)))};
      case f_floor: return {Item::integer(static_cast<int64_t>(std::floor(x)))};
      case f_truncate: return {Item::integer(static_cast<int64_t>(std::trunc(x)))};
      case f_exp: return {Item::decimal(std::exp(x))};
      case f_ln: if (x <= 0) return {}; return {Item::decimal(std::log(x))};
      case f_sqrt: if (x < 0) return {}; return {Item::decimal(std::sqrt(x))};
      case f_log: case f_power: case f_round: {
        double y = 0;
        if (!n.args.empty()) {
          Coll a = eval(*n.args[0], focus);
          const Item* ai = single_item(a, n.name.c_str());
          if (!ai) return {};
          auto as = to_system(*ai);
          if (!as || (as->t != T::integer && as->t != T::decimal)) fail(n.name + "() needs a number argument");
          y = as->t == T::integer ? static_cast<double>(as->i) : as->d;
          if (n.fn == f_power && s->t == T::integer && as->t == T::integer && as->i >= 0) {
            double r = std::pow(x, y);
            if (std::fabs(r) > 2147483647.0) return {};
            return {Item::integer(static_cast<int64_t>(r))};
          }
        }
        if (n.fn == f_log) { if (x <= 0 || y <= 0 || y == 1) return {}; return {Item::decimal(std::log(x) / std::log(y))}; }
        if (n.fn == f_power) {
          double r = std::pow(x, y);
          if (std::isnan(r) || std::isinf(r)) return {};
          return {Item::decimal(r)};
        }
        if (y < 0 || y > 15) fail("round() precision out of range");
        double sc = std::pow(10.0, y);
        double r = std::round(x * sc) / sc;
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.*f", static_cast<int>(y), r);
        return {Item::decimal(r, buf)};
      }
    }
    return {};
  }

  Ctx& c_;
};

}  // namespace


Item node(const json::Value& v, std::string_view tname) {
  const model::TypeDef* t = tname.empty() ? nullptr : type_by_name(tname);
  // keep only names that live as long as the model (the caller's text may not)
  return make_node(&v, nullptr, t, t ? std::string_view(t->name) : std::string_view());
}

Item node(const json::Value& v, const model::TypeDef* t) {
  return make_node(&v, nullptr, t, t ? std::string_view(t->name) : std::string_view());
}

Result<Coll> evaluate(const Expression& e, const Coll& focus, const Env& env) {
  if (!e.ast()) return Status(Err::invalid, "FHIRPath: empty expression");
  Ctx c{env, nullptr, -1, nullptr, &focus, 0, env.resource, env.root_resource};
  try {
    Evaluator ev(c);
    return ev.eval(*e.ast(), focus);
  } catch (const FpError& x) {
    return Status(x.code, std::string("FHIRPath: ") + x.what());
  } catch (const std::exception& x) {
    return Status(Err::invalid, std::string("FHIRPath: ") + x.what());
  }
}

Result<Coll> evaluate(const Expression& e, const json::Value& resource) {
  Env env;
  env.resource = &resource;
  env.root_resource = &resource;
  return evaluate(e, Coll{node(resource, "Resource")}, env);
}

Result<int> as_boolean(const Coll& c) {
  if (c.empty()) return -1;
  if (c.size() > 1) return Status(Err::invalid, "FHIRPath: the result has " + std::to_string(c.size()) + " items, not one boolean");
  auto s = to_system(c[0]);
  if (s && s->t == T::boolean) return s->b ? 1 : 0;
  return 1;
}

}  // namespace ef::fhir::fp
