// fhir/fhirpath_eval.h — the general FHIRPath engine (http://hl7.org/fhirpath/, N1 as used by
// FHIR R4) for the invariants of the type model and anything else that needs computed values.
// (fhir/fhirpath.h is the separate pointer-only subset used by search-parameter extraction.)
//
// Owns: the value model (Item: a node of the resource with its FHIR type from the R4 type model,
// or a computed System value: Boolean, String, Integer, Decimal, Date, DateTime, Time with their
// precision, Quantity with its unit), compilation of an expression into an immutable AST
// (fhirpath_parse.cpp), and its evaluation over json::Value (fhirpath_eval.cpp; the value
// operations: comparison, equality, date/time and quantity arithmetic, conversions, in
// fhirpath_values.cpp; regex cache, encode/decode/escape and boundaries in fhirpath_functions.cpp).
//
// Budgets (hostile expressions and hostile resources): an expression is at most kMaxExprChars
// long, and both its grammar nesting and its tree are at most kMaxDepth deep; a collection holds at most kMaxItems items; one evaluation does at
// most kMaxSteps item operations (descendants(), repeat() and lambdas included); regular
// expressions are at most kMaxRegexChars long and run on strings of at most kMaxRegexInput
// characters (std::regex recurses per character).  Exceeding any budget is an evaluation error
// (Err::too_large / Err::invalid), never a crash.
//
// Not supported: resolve() across resources (a Reference is followed only to a contained
// resource or a Bundle entry of %rootResource), terminology (memberOf() is empty), profiles
// (conformsTo() is empty); htmlChecks() is true (the validator checks the narrative natively).
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fhir/type_model.h"
#include "util/json.h"
#include "util/status.h"

namespace ef::fhir::fp {

constexpr size_t kMaxExprChars = 16 * 1024;
constexpr int kMaxDepth = 200;
constexpr size_t kMaxItems = 100000;
constexpr uint64_t kMaxSteps = 5000000;
constexpr size_t kMaxRegexChars = 1000;
// libstdc++'s std::regex recurses per character matched (~500 bytes of stack each, more under
// ASan): 2,000 characters stay within 1 MB of stack.
constexpr size_t kMaxRegexInput = 2000;

enum class T : uint8_t { node, boolean, integer, decimal, string, date, datetime, time, quantity };

// One item of a collection.  A node points into the evaluated resource (keep it alive).
struct Item {
  T t = T::node;
  // node: the JSON value (nullptr for a primitive with only an extension), its "_name"
  // companion for primitives, its type (nullptr when unknown) and the type's name.
  const json::Value* v = nullptr;
  const json::Value* ext = nullptr;
  const model::TypeDef* type = nullptr;
  std::string_view tname;  // points into the type model, the resource, or a literal
  bool loose = false;  // node reached by children()/descendants(): no unknown-element errors below it
  bool b = false;
  int64_t i = 0;
  double d = 0;
  // string: the text; date/datetime/time: the ISO text without '@' / 'T' prefix; quantity:
  // the unit; decimal: the exact text when known (from the resource or a literal), else "".
  std::string s;

  static Item boolean(bool x) { Item r; r.t = T::boolean; r.b = x; return r; }
  static Item integer(int64_t x) { Item r; r.t = T::integer; r.i = x; return r; }
  static Item decimal(double x, std::string text = {}) { Item r; r.t = T::decimal; r.d = x; r.s = std::move(text); return r; }
  static Item string(std::string x) { Item r; r.t = T::string; r.s = std::move(x); return r; }
  static Item quantity(double x, std::string unit) { Item r; r.t = T::quantity; r.d = x; r.s = std::move(unit); return r; }
  static Item temporal(T t, std::string text) { Item r; r.t = t; r.s = std::move(text); return r; }
};
using Coll = std::vector<Item>;

// Type name of an item for output: the FHIR type of a node ("code", "HumanName", "Patient"),
// or "boolean", "integer", "decimal", "string", "date", "dateTime", "time", "Quantity".
std::string type_name(const Item& it);
// Text of a value item (toString() semantics), "" for complex nodes.
std::string to_text(const Item& it);

struct Ast;  // fhirpath_parse.cpp

// A compiled expression; copies share the immutable AST.
class Expression {
 public:
  // Syntax errors and unknown functions / wrong argument counts: Err::invalid with the position.
  static Result<Expression> compile(std::string_view text);
  const std::string& text() const { return text_; }
  const Ast* ast() const { return ast_.get(); }

 private:
  std::shared_ptr<const Ast> ast_;
  std::string text_;
};

struct Env {
  const json::Value* resource = nullptr;       // %resource
  const json::Value* root_resource = nullptr;  // %rootResource (the outermost resource)
  std::map<std::string, Coll> vars;            // other %variables ("ucum", "sct", ... are built in)
  std::string now;                             // now() / today(), "" = the clock (ISO dateTime)
  // A step budget shared by several evaluations (the invariants of one resource), decremented
  // as they run; when it reaches 0 an evaluation fails with Err::too_large.  nullptr = none.
  uint64_t* shared_steps = nullptr;
};

// A node item for a JSON value of FHIR type `type_name` (a resource: its resourceType).
Item node(const json::Value& v, std::string_view type_name);
// The same with the type already looked up (nullptr: by resourceType or the JSON shape).
Item node(const json::Value& v, const model::TypeDef* type);

// Evaluates `e` with `focus` as the input collection.  Errors: Err::invalid (a type error,
// e.g. single() on several items, or a string where a number belongs), Err::too_large (a
// budget above).
Result<Coll> evaluate(const Expression& e, const Coll& focus, const Env& env);
// Convenience: the resource itself as focus, %resource and %rootResource.
Result<Coll> evaluate(const Expression& e, const json::Value& resource);

// The singleton boolean of a result: true/false, or -1 when the collection is empty; an
// invariant holds when this is not 0.  Err::invalid when the result is not one boolean-ish item.
Result<int> as_boolean(const Coll& c);

}  // namespace ef::fhir::fp
