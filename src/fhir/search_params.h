// fhir/search_params.h — the search-parameter model: every R4 SearchParameter (and the Patient
// compartment definition) loaded once from the tables embedded in the binary (data/*.tsv, see
// data/README.md), with each FHIRPath expression compiled once.
//
// registry() builds the model on first use (thread-safe function-local static) and never
// changes it afterwards, so any thread may read it without locking.  Parameters whose
// expression is outside our FHIRPath subset, that have no expression (_text, _content, _query)
// or whose type is `special` (Location near) are present with supported == false and a reason
// safe to show a client (GET /metadata lists them as not supported).
#pragma once
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fhir/fhirpath.h"
#include "fhir/index_row.h"
#include "util/status.h"

namespace ef::fhir {

const char* param_type_name(ParamType t);  // "token", "reference" ...
std::optional<ParamType> parse_param_type(std::string_view s);

struct SearchParamComponent {
  std::string code;        // the component parameter's code, e.g. "code", "value-quantity"
  ParamType type = ParamType::token;
  std::string expression;  // relative to each result of the composite's own expression
  FhirPath path;
};

struct SearchParam {
  std::string base;        // resource type, or "Resource" / "DomainResource" (apply to every type)
  std::string code;        // e.g. "birthdate", "_lastUpdated"
  ParamType type = ParamType::token;
  std::string expression;  // the part of the R4 expression for this base ("" when none)
  FhirPath path;           // compiled expression (valid() only when supported)
  std::vector<std::string> targets;  // reference targets (empty when any_target)
  bool any_target = false;           // reference to any resource type
  std::vector<SearchParamComponent> components;  // composite only, in definition order
  std::string url;                   // canonical URL of the SearchParameter
  bool supported = true;
  std::string reason;                // why not supported (empty when supported)

  bool common() const { return base == "Resource" || base == "DomainResource"; }
  // _id and _lastUpdated are searched and sorted on the resource table's own columns
  // (store/search.cpp), so the indexer writes no rows for them.
  bool from_columns() const { return code == "_id" || code == "_lastUpdated"; }
  bool may_target(std::string_view type) const;  // reference parameters
};

struct SearchCoverage {
  size_t definitions = 0;      // SearchParameter resources (distinct urls): 1,375 for R4
  size_t with_expression = 0;  // of those, with a FHIRPath expression
  size_t compiled = 0;         // of those, whose expression(s) (and components) all compile
};

class SearchParamRegistry {
 public:
  // Builds a registry from the two tables' text (format in data/README.md).
  static Result<std::unique_ptr<SearchParamRegistry>> load(std::string_view params_tsv,
                                                           std::string_view compartment_tsv);

  // The parameter `code` of `type` (type-specific first, then the common Resource ones);
  // nullptr when unknown.  Includes unsupported parameters (check ->supported).
  const SearchParam* find(std::string_view type, std::string_view code) const;
  // All parameters that apply to `type`, sorted by code, common ones included; empty for an
  // unknown type.
  const std::vector<const SearchParam*>& params_for(std::string_view type) const;
  // The 145 R4 resource types, sorted.
  const std::vector<std::string>& all_resource_types() const { return types_; }
  bool is_resource_type(std::string_view name) const;
  // Codes of the parameters that put a resource of `type` in a Patient's compartment (empty
  // when the type is not in the compartment; for Patient itself: "link").
  const std::vector<std::string>& compartment_params(std::string_view type) const;
  // Every parameter (per base) that is not supported, ordered by base then code.
  const std::vector<const SearchParam*>& unsupported() const { return unsupported_; }
  SearchCoverage coverage() const { return coverage_; }
  size_t size() const { return params_.size(); }  // rows: one per (base, code)

 private:
  struct TypeEntry {
    std::vector<const SearchParam*> params;  // sorted by code, common included
    std::vector<std::string> compartment;
  };
  std::vector<std::unique_ptr<SearchParam>> params_;
  std::map<std::string, TypeEntry, std::less<>> by_type_;
  std::vector<std::string> types_;
  std::vector<const SearchParam*> unsupported_;
  SearchCoverage coverage_;
};

// The registry built from the embedded tables.  If those were ever malformed (a build bug),
// it is empty and registry_status() says why.
const SearchParamRegistry& registry();
const Status& registry_status();

}  // namespace ef::fhir
