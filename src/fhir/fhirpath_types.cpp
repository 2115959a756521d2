// fhir/fhirpath_types.cpp — the FHIR type names of fhirpath.h: shape_type() (a structural
// guess when the model does not say), type_is() (specialisations: Age is a Quantity, code a
// string, ...), canonical_type_name(), choice_suffix_type(), and the primitive tests the
// evaluator (fhirpath.cpp) uses through fhirpath_ast.h.
#include "fhir/fhirpath.h"

#include <algorithm>
#include <cstring>

#include "fhir/fhirpath_ast.h"

namespace ef::fhir {

// ---------------------------------------------------------------------------------------------
// Type names
// ---------------------------------------------------------------------------------------------
namespace {

// R4 primitive types, canonical spelling.
constexpr std::string_view kPrimitives[] = {
    "base64Binary", "boolean", "canonical", "code", "date", "dateTime", "decimal", "id", "instant", "integer",
    "markdown", "oid", "positiveInt", "string", "time", "unsignedInt", "uri", "url", "uuid", "xhtml"};

// R4 complex data types that may appear as a choice-element suffix (plus a few used by
// specialised resources' [x] elements).  Sorted for binary search.
constexpr std::string_view kComplex[] = {
    "Address", "Age", "Annotation", "Attachment", "CodeableConcept", "Coding", "ContactDetail", "ContactPoint",
    "Contributor", "Count", "DataRequirement", "Distance", "Dosage", "Duration", "Expression", "HumanName",
    "Identifier", "Meta", "Money", "ParameterDefinition", "Period", "Quantity", "Range", "Ratio", "Reference",
    "RelatedArtifact", "SampledData", "Signature", "Timing", "TriggerDefinition", "UsageContext"};

bool eq_first_insensitive(std::string_view a, std::string_view b) {
  if (a.size() != b.size() || a.empty()) return false;
  auto low = [](char c) { return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c; };
  return low(a[0]) == low(b[0]) && a.substr(1) == b.substr(1);
}

std::string_view find_primitive(std::string_view name) {
  for (std::string_view p : kPrimitives)
    if (eq_first_insensitive(p, name)) return p;
  return {};
}

bool is_primitive(std::string_view t) {
  for (std::string_view p : kPrimitives)
    if (p == t) return true;
  return false;
}
}  // namespace

namespace fhirpath_detail {

bool is_string_like(std::string_view t) {
  return is_primitive(t) && t != "boolean" && t != "integer" && t != "decimal" && t != "positiveInt" &&
         t != "unsignedInt";
}
bool is_numeric(std::string_view t) {
  return t == "integer" || t == "decimal" || t == "positiveInt" || t == "unsignedInt";
}

}  // namespace fhirpath_detail

std::string_view choice_suffix_type(std::string_view suffix) {
  if (suffix.empty() || !(suffix[0] >= 'A' && suffix[0] <= 'Z')) return {};
  if (std::string_view p = find_primitive(suffix); !p.empty()) return p;
  auto it = std::lower_bound(std::begin(kComplex), std::end(kComplex), suffix);
  if (it != std::end(kComplex) && *it == suffix) return *it;
  return {};
}

std::string canonical_type_name(std::string_view name) {
  if (name.substr(0, 7) == "System.") name.remove_prefix(7);
  else if (name.substr(0, 5) == "FHIR.") name.remove_prefix(5);
  if (std::string_view p = find_primitive(name); !p.empty()) return std::string(p);
  return std::string(name);
}

bool type_is(std::string_view actual, std::string_view wanted) {
  if (actual.empty() || wanted.empty()) return false;
  if (actual == wanted) return true;
  if (wanted == "Quantity")
    return actual == "Age" || actual == "Count" || actual == "Distance" || actual == "Duration" ||
           actual == "SimpleQuantity" || actual == "MoneyQuantity";
  if (wanted == "string") return actual == "code" || actual == "id" || actual == "markdown";
  if (wanted == "uri") return actual == "url" || actual == "canonical" || actual == "oid" || actual == "uuid";
  if (wanted == "integer") return actual == "positiveInt" || actual == "unsignedInt";
  if (wanted == "Resource" || wanted == "DomainResource") {
    if (!(actual[0] >= 'A' && actual[0] <= 'Z') || is_primitive(actual)) return false;
    return !std::binary_search(std::begin(kComplex), std::end(kComplex), actual);
  }
  return false;
}

std::string_view shape_type(const json::Value& v) {
  if (json::is_bool(v)) return "boolean";
  if (json::is_number(v)) return "decimal";
  if (json::is_string(v)) return "string";
  const json::Object* o = json::as_object(v);
  if (!o) return {};
  auto has = [o](const char* k) { return o->find(k) != o->end(); };
  if (const std::string* rt = json::get_string(v, "resourceType")) return *rt;
  if (has("coding")) return "CodeableConcept";
  if (has("reference")) return "Reference";
  if (has("family") || has("given")) return "HumanName";
  if (has("line") || has("city") || has("postalCode") || has("district") || has("state") || has("country"))
    return "Address";
  if (has("low") || has("high")) return "Range";
  if (has("numerator") || has("denominator")) return "Ratio";
  if (has("event") || has("repeat")) return "Timing";
  if (has("origin") && has("dimensions")) return "SampledData";
  if (has("currency")) return "Money";
  const json::Value* value = json::get(v, "value");
  if (value && json::is_number(*value)) return "Quantity";
  if (value && json::is_string(*value)) {
    if (has("type") || has("assigner")) return "Identifier";
    const std::string* sys = json::get_string(v, "system");
    if (sys) {
      static constexpr std::string_view kContact[] = {"phone", "fax", "email", "pager", "url", "sms", "other"};
      for (std::string_view c : kContact)
        if (*sys == c) return "ContactPoint";
      return "Identifier";
    }
    if (has("rank")) return "ContactPoint";
    const std::string* use = json::get_string(v, "use");
    if (use && (*use == "home" || *use == "work" || *use == "mobile")) return "ContactPoint";
    return "Identifier";
  }
  if (has("start") || has("end")) return "Period";
  if (has("identifier") && (o->size() <= 3) && (has("display") || has("type") || o->size() == 1)) return "Reference";
  if (has("system") || has("code")) return "Coding";
  if (has("contentType") || has("data") || (has("url") && has("title"))) return "Attachment";
  if (has("text") || has("display")) return "CodeableConcept";
  return {};
}

}  // namespace ef::fhir
