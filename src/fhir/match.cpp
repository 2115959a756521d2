// fhir/match.cpp — see match.h.
#include "fhir/match.h"

#include <algorithm>

#include "fhir/search_params.h"

namespace ef::fhir {

namespace {

bool token_value(const SearchValue& v, const IndexRow& r) {
  if (!v.has_system) return r.code == v.code;
  if (v.code.empty()) return r.system == v.system;
  return r.code == v.code && r.system == v.system;
}

bool value_matches(const Criterion& cr, const SearchValue& v, const IndexRow& r) {
  switch (cr.param->type) {
    case ParamType::token:
      // :in / :not-in / :above / :below need terminology: never matched here (fail closed)
      if (needs_code_set(ParamType::token, cr.modifier)) return false;
      return token_value(v, r);
    case ParamType::string:
      if (cr.modifier == Modifier::exact) return r.exact == v.text;
      if (cr.modifier != Modifier::none) return false;
      return r.text.compare(0, v.text.size(), v.text) == 0;
    case ParamType::reference:
      if (cr.modifier != Modifier::none) return false;
      if (!v.url.empty()) return r.exact == v.url;
      return r.ref_id == v.ref_id && (v.ref_type.empty() || r.ref_type == v.ref_type);
    case ParamType::uri:
      return cr.modifier == Modifier::none && r.exact == v.text;
    default:
      return false;
  }
}

}  // namespace

bool matches(const Criterion& cr, const std::string& type, const std::string& id, const IndexRows& rows) {
  if (cr.kind == Criterion::Kind::id) {
    bool any = std::any_of(cr.values.begin(), cr.values.end(), [&](const SearchValue& v) { return v.code == id; });
    return cr.modifier == Modifier::not_ ? !any : any;
  }
  if (cr.kind != Criterion::Kind::param || !cr.param) return false;
  if (std::find(cr.types.begin(), cr.types.end(), type) == cr.types.end() && !cr.types.empty()) return false;
  bool negate = cr.modifier == Modifier::not_;
  if (negate && cr.param->type != ParamType::token) return false;
  Criterion plain = cr;
  if (negate) plain.modifier = Modifier::none;
  bool any = false;
  for (const IndexRow& r : rows) {
    if (r.param != cr.param->code || r.type != cr.param->type) continue;
    for (const SearchValue& v : cr.values)
      if (value_matches(plain, v, r)) any = true;
  }
  return negate ? !any : any;
}

bool in_patient_compartment(const std::string& type, const std::string& id, const IndexRows& rows,
                            const std::string& patient) {
  if (type == "Patient") return id == patient;
  for (const std::string& p : compartment_patients(type, rows))
    if (p == patient) return true;
  return false;
}

std::vector<std::string> compartment_patients(const std::string& type, const IndexRows& rows) {
  const auto& params = registry().compartment_params(type);
  std::vector<std::string> out;
  for (const IndexRow& r : rows) {
    if (r.type != ParamType::reference || r.ref_type != "Patient" || r.ref_id.empty()) continue;
    if (std::find(params.begin(), params.end(), r.param) == params.end()) continue;
    if (std::find(out.begin(), out.end(), r.ref_id) == out.end()) out.push_back(r.ref_id);
  }
  return out;
}

}  // namespace ef::fhir
