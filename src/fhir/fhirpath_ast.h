// fhir/fhirpath_ast.h — internal to the fhir/fhirpath*.cpp files (not an API): the
// immutable AST that fhirpath_compile.cpp builds (FhirPath::compile) and fhirpath.cpp walks
// (FhirPath::evaluate), the identifier characters both use, and the two type tests of
// fhirpath_types.cpp that the evaluator needs beyond fhirpath.h.
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fhir/fhirpath.h"
#include "util/json.h"

namespace ef::fhir {

// ---------------------------------------------------------------------------------------------
// AST
// ---------------------------------------------------------------------------------------------
enum class Op {
  member,     // name; kids[0] = input (nullptr = focus); first = leading path element
  call,       // name; kids[0] = input (nullptr = focus); kids[1..] = args; type_arg for as/is/ofType
  index,      // kids[0][kids[1]]
  literal,    // lit
  empty_set,  // {}
  var_resource,
  var_this,
  union_,
  eq,
  ne,
  lt,
  le,
  gt,
  ge,
  and_,
  or_,
  xor_,
  implies,
  is,  // kids[0] is type_arg
  as,  // kids[0] as type_arg
};

struct PathExpr {
  Op op = Op::literal;
  std::string name;      // member / function name
  std::string type_arg;  // canonical type name for is/as/ofType
  bool first = false;    // member: leading identifier (may name the resource type)
  json::Value lit;
  std::vector<std::unique_ptr<PathExpr>> kids;  // kids[0] may be nullptr (focus)
};

namespace fhirpath_detail {

// Identifier characters (the tokenizer; the evaluator checks a reference's type with them).
inline bool ident_start(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }
inline bool ident_char(char c) { return ident_start(c) || (c >= '0' && c <= '9'); }

// A primitive type whose JSON form is a string (not boolean, integer, decimal, ...Int).
bool is_string_like(std::string_view t);
// integer, decimal, positiveInt, unsignedInt.
bool is_numeric(std::string_view t);

}  // namespace fhirpath_detail

}  // namespace ef::fhir
