// fhir/fhirpath.h — the FHIRPath subset that the official R4 SearchParameter expressions use,
// compiled once into an immutable AST and evaluated on parsed resources (json::Value) without
// copying them: results are pointers into the resource.
//
// Supported (see http://hl7.org/fhirpath/ for the language):
//   paths              Patient.name.given  (arrays flatten; a leading type name such as
//                      `Patient`, `Resource` or `DomainResource` selects the resource itself)
//   choice types       Observation.value matches valueQuantity, valueString ... and the result
//                      is annotated with the type named by the suffix (Quantity, string ...)
//   operators          |  =  !=  <  <=  >  >=  and  or  xor  implies  is  as  ( )  [n]
//   literals           'string' (with \' \\ \n \t \uXXXX escapes), true, false, integers, decimals, {}
//   variables          %resource  %context  %rootResource  $this
//   functions          where(c) exists([c]) empty() not() first() last() tail()
//                      hasValue() as(T) is(T) ofType(T) extension('url') resolve()
//                      single() distinct() — nothing else (compile() rejects the rest)
// resolve() does not fetch anything: it keeps the Reference and annotates it with the type of the
// resource it points at (from "Type/id", an absolute ".../Type/id" URL, Reference.type, or a
// "#id" contained resource), which is all `resolve() is Patient` needs.
//
// Type annotations: choice elements and resolve() give exact types; other nodes carry an empty
// type, and `is`/`as`/ofType fall back to shape_type() (a structural guess) for them.
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "util/json.h"
#include "util/status.h"

namespace ef::fhir {

struct PathNode {
  const json::Value* value = nullptr;
  std::string_view type;  // FHIR type name when known ("Quantity", "dateTime", "Patient"), else empty
};
using PathNodes = std::vector<PathNode>;

struct PathExpr;  // AST node (fhirpath_ast.h)

class FhirPath {
 public:
  FhirPath() = default;
  // Parses `expr`.  Errors are Err::not_supported (construct outside the subset) or
  // Err::invalid (syntax), with the offending position in the message.
  static Result<FhirPath> compile(std::string_view expr);

  // Evaluates on `resource` (the focus, %resource and %context); appends results to *out.
  // Results point into `resource`, or into this FhirPath's AST for literals (copies of a
  // FhirPath share it): keep both alive while using the results.
  void evaluate(const json::Value& resource, PathNodes* out) const;
  // As evaluate(), for expressions from a request (FHIRPath Patch): spends at most *budget
  // units of work (1 + focus size + results per evaluation step), subtracting what it used;
  // returns false when the budget ran out (then *out is incomplete and *budget 0).  Nested
  // where() over a large resource would otherwise cost size^depth.
  bool evaluate_bounded(const json::Value& resource, PathNodes* out, size_t* budget) const;
  // Evaluates with another focus (composite components); %resource stays `resource`.
  void evaluate(const json::Value& resource, const PathNode& focus, PathNodes* out) const;

  const std::string& text() const { return text_; }
  bool valid() const { return root_ != nullptr; }

 private:
  std::shared_ptr<const PathExpr> root_;
  std::string text_;
};

// FHIR type name for a JSON value by its shape when the model does not say: "string",
// "boolean", "decimal", a resourceType, or a complex type such as "CodeableConcept",
// "Coding", "Quantity", "Money", "Period", "Range", "Ratio", "Timing", "HumanName", "Address",
// "Identifier", "ContactPoint", "Reference", "Attachment", "SampledData"; "" when unclear.
std::string_view shape_type(const json::Value& v);
// True when a node of type `actual` is a `wanted` (same type, or a FHIR specialisation:
// Age/Count/Distance/Duration are Quantity; code/id/markdown are string; url/canonical/oid/
// uuid are uri; positiveInt/unsignedInt are integer; any resource is Resource/DomainResource).
bool type_is(std::string_view actual, std::string_view wanted);
// Canonical FHIR spelling of a type name ("DateTime" / "System.String" -> "dateTime" / "string").
std::string canonical_type_name(std::string_view name);
// The data type named by a choice-element suffix ("Quantity", "DateTime" -> "dateTime"), or ""
// when the suffix is not an R4 data type (so `statusReason` is not a choice of `status`).
std::string_view choice_suffix_type(std::string_view suffix);

}  // namespace ef::fhir
