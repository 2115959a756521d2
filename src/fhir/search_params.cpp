// fhir/search_params.cpp — see search_params.h.  Parses the two embedded TSV tables, compiles
// each expression once, and builds per-type lookup tables.  Runs once per process.
#include "fhir/search_params.h"


#include <algorithm>
#include <cstdint>
#include <set>

#include "fhir/embedded_data.h"
#include "util/pages.h"
#include "util/text.h"

namespace ef::fhir {

namespace {

using ef::text::split;

// Calls f(line_no, fields) for each non-empty, non-comment line.
template <class F>
Status each_line(std::string_view text, const char* what, F f) {
  size_t line_no = 0;
  Status out;
  ef::text::each_line(text, [&](std::string_view line) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line[0] == '#') return true;
    Status st = f(split(line, '\t'));
    if (!st) out = Status(Err::internal, std::string(what) + " line " + std::to_string(line_no) + ": " + st.message);
    return bool(st);
  });
  return out;
}

const std::vector<const SearchParam*> kNoParams;
const std::vector<std::string> kNoCodes;

}  // namespace

const char* param_type_name(ParamType t) {
  switch (t) {
    case ParamType::string: return "string";
    case ParamType::token: return "token";
    case ParamType::date: return "date";
    case ParamType::number: return "number";
    case ParamType::quantity: return "quantity";
    case ParamType::reference: return "reference";
    case ParamType::uri: return "uri";
    case ParamType::composite: return "composite";
    case ParamType::special: return "special";
  }
  return "special";
}

std::optional<ParamType> parse_param_type(std::string_view s) {
  static constexpr ParamType kAll[] = {ParamType::string,   ParamType::token,     ParamType::date,
                                       ParamType::number,   ParamType::quantity,  ParamType::reference,
                                       ParamType::uri,      ParamType::composite, ParamType::special};
  for (ParamType t : kAll)
    if (s == param_type_name(t)) return t;
  return std::nullopt;
}

bool SearchParam::may_target(std::string_view type) const {
  if (any_target) return true;
  return std::find(targets.begin(), targets.end(), type) != targets.end();
}

Result<std::unique_ptr<SearchParamRegistry>> SearchParamRegistry::load(std::string_view params_tsv,
                                                                       std::string_view compartment_tsv) {
  auto reg = std::make_unique<SearchParamRegistry>();
  SearchParamRegistry& r = *reg;

  // Resource types and the Patient compartment.
  Status st = each_line(compartment_tsv, "compartment-patient.tsv", [&](const std::vector<std::string_view>& f) {
    if (f.size() != 2 || f[0].empty()) return Status(Err::invalid, "expected 2 columns");
    r.types_.emplace_back(f[0]);
    TypeEntry& e = r.by_type_[std::string(f[0])];
    if (!f[1].empty())
      for (std::string_view c : split(f[1], ',')) e.compartment.emplace_back(c);
    return Status();
  });
  if (!st) return st;
  std::sort(r.types_.begin(), r.types_.end());
  if (r.types_.empty()) return Status(Err::internal, "compartment-patient.tsv lists no resource types");

  // Parameters.
  std::map<std::string, bool> url_ok;  // url -> every row of it compiled
  std::set<std::string> url_has_expr;
  st = each_line(params_tsv, "search-parameters.tsv", [&](const std::vector<std::string_view>& f) {
    if (f.size() != 7) return Status(Err::invalid, "expected 7 columns");
    auto p = std::make_unique<SearchParam>();
    p->base = std::string(f[0]);
    p->code = std::string(f[1]);
    std::optional<ParamType> t = parse_param_type(f[2]);
    if (!t) return Status(Err::invalid, "unknown type " + std::string(f[2]));
    p->type = *t;
    p->expression = std::string(f[3]);
    if (f[4] == "*") p->any_target = true;
    else if (!f[4].empty())
      for (std::string_view x : split(f[4], ',')) p->targets.emplace_back(x);
    p->url = std::string(f[6]);
    bool compiled = !p->expression.empty();
    if (!p->expression.empty()) {
      url_has_expr.insert(p->url);
      Result<FhirPath> c = FhirPath::compile(p->expression);
      if (c) p->path = std::move(c.value());
      else {
        compiled = false;
        p->supported = false;
        p->reason = "expression not supported: " + c.status().message;
      }
    }
    if (!f[5].empty()) {
      for (std::string_view comp : split(f[5], ';')) {
        size_t colon = comp.find(':'), eq = comp.find('=');
        if (colon == std::string_view::npos || eq == std::string_view::npos || eq < colon)
          return Status(Err::invalid, "bad component " + std::string(comp));
        SearchParamComponent c;
        c.code = std::string(comp.substr(0, colon));
        std::optional<ParamType> ct = parse_param_type(comp.substr(colon + 1, eq - colon - 1));
        if (!ct) return Status(Err::invalid, "bad component type in " + std::string(comp));
        c.type = *ct;
        c.expression = std::string(comp.substr(eq + 1));
        Result<FhirPath> cp = FhirPath::compile(c.expression);
        if (cp) c.path = std::move(cp.value());
        else if (p->supported) {
          compiled = false;
          p->supported = false;
          p->reason = "component expression not supported: " + cp.status().message;
        }
        p->components.push_back(std::move(c));
      }
    }
    if (p->supported) {
      if (p->expression.empty()) {
        p->supported = false;
        if (p->code == "_text" || p->code == "_content") p->reason = "full-text search is not supported";
        else if (p->code == "_query") p->reason = "named queries (_query) are not supported";
        else p->reason = "the definition has no expression";
      } else if (p->type == ParamType::special) {
        p->supported = false;
        p->reason = "special search parameter (" + p->code + ") is not supported";
      } else if (p->type == ParamType::composite && p->components.empty()) {
        p->supported = false;
        p->reason = "composite without components";
      }
    }
    auto it = url_ok.find(p->url);
    if (it == url_ok.end()) url_ok[p->url] = compiled;
    else it->second = it->second && compiled;
    r.params_.push_back(std::move(p));
    return Status();
  });
  if (!st) return st;

  r.coverage_.definitions = url_ok.size();
  r.coverage_.with_expression = url_has_expr.size();
  for (const auto& [url, ok] : url_ok)
    if (ok && url_has_expr.count(url)) ++r.coverage_.compiled;

  // Per-type tables: the type's own parameters, then common ones it does not override.
  std::vector<const SearchParam*> common;
  for (const auto& p : r.params_) {
    if (p->common()) {
      common.push_back(p.get());
      continue;
    }
    auto it = r.by_type_.find(p->base);
    if (it == r.by_type_.end()) return Status(Err::internal, "search parameter base " + p->base + " is not an R4 type");
    it->second.params.push_back(p.get());
  }
  for (auto& [type, e] : r.by_type_) {
    for (const SearchParam* c : common) {
      bool overridden = std::any_of(e.params.begin(), e.params.end(),
                                    [c](const SearchParam* p) { return p->code == c->code; });
      if (!overridden) e.params.push_back(c);
    }
    std::sort(e.params.begin(), e.params.end(),
              [](const SearchParam* a, const SearchParam* b) { return a->code < b->code; });
  }
  for (const auto& p : r.params_)
    if (!p->supported) r.unsupported_.push_back(p.get());
  std::sort(r.unsupported_.begin(), r.unsupported_.end(), [](const SearchParam* a, const SearchParam* b) {
    return a->base != b->base ? a->base < b->base : a->code < b->code;
  });
  return reg;
}

const SearchParam* SearchParamRegistry::find(std::string_view type, std::string_view code) const {
  const std::vector<const SearchParam*>& v = params_for(type);
  auto it = std::lower_bound(v.begin(), v.end(), code,
                             [](const SearchParam* p, std::string_view c) { return p->code < c; });
  return (it != v.end() && (*it)->code == code) ? *it : nullptr;
}

const std::vector<const SearchParam*>& SearchParamRegistry::params_for(std::string_view type) const {
  auto it = by_type_.find(type);
  return it == by_type_.end() ? kNoParams : it->second.params;
}

bool SearchParamRegistry::is_resource_type(std::string_view name) const {
  return std::binary_search(types_.begin(), types_.end(), name,
                            [](std::string_view a, std::string_view b) { return a < b; });
}

const std::vector<std::string>& SearchParamRegistry::compartment_params(std::string_view type) const {
  auto it = by_type_.find(type);
  return it == by_type_.end() ? kNoCodes : it->second.compartment;
}

namespace {

struct Loaded {
  std::unique_ptr<SearchParamRegistry> reg;
  Status status;
};
const Loaded& loaded() {
  static const Loaded l = [] {
    Loaded x;
    Result<std::unique_ptr<SearchParamRegistry>> r =
        SearchParamRegistry::load(embedded_search_parameters(), embedded_compartment_patient());
    if (r) {
      x.reg = std::move(r.value());
      pages::release(embedded_search_parameters());
      // The type model's table sits next to it: pages read around the parse are handed back too
      // (fhir/type_model.cpp parses it on first use and faults them in again).
      pages::release(embedded_types());
    } else {
      x.status = r.status();
      x.reg = std::make_unique<SearchParamRegistry>();
    }
    return x;
  }();
  return l;
}
}  // namespace

const SearchParamRegistry& registry() { return *loaded().reg; }
const Status& registry_status() { return loaded().status; }

}  // namespace ef::fhir
