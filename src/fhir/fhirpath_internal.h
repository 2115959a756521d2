// fhir/fhirpath_internal.h — internals shared by the three files of the FHIRPath engine
// (fhirpath_parse.cpp, fhirpath_eval.cpp, fhirpath_values.cpp, fhirpath_functions.cpp); not for
// other code.
//
// Owns: the AST node layout and operator codes, the evaluation error type (thrown inside the
// engine and turned into a Status at its boundary), and the declarations of the value
// operations and self-contained functions shared between the files.
#pragma once
#include <memory>
#include <cstdint>
#include <optional>
#include <regex>
#include <stdexcept>
#include <string>
#include <vector>

#include "fhir/fhirpath_eval.h"

namespace ef::fhir::fp {

// Thrown inside the engine only; evaluate() and compile() turn it into a Status.
struct FpError : std::runtime_error {
  Err code;
  FpError(Err c, const std::string& m) : std::runtime_error(m), code(c) {}
};
[[noreturn]] inline void fail(const std::string& m) { throw FpError(Err::invalid, m); }

enum class K : uint8_t {
  literal,   // lit (empty for {})
  member,    // name, a[0] = target or null (focus)
  call,      // name + fn, a[0] = target or null, args
  var,       // %name
  this_, index_, total_,
  binop,     // name = operator, a[0], a[1]
  neg,       // unary minus, a[0]
  pos,       // unary plus
  indexer,   // a[0][a[1]]
  is_, as_,  // a[0] is/as type (type_ns, type_name)
};

struct Ast {
  K k = K::literal;
  int fn = -1;             // call: function id (fhirpath_eval.cpp)
  int depth = 1;           // height of this subtree (bounded by kMaxDepth)
  std::string name;        // member, function, variable, operator
  std::string type_ns, type_name;  // is/as, and a type-specifier argument of ofType/is/as
  std::vector<std::unique_ptr<Ast>> a;     // target / operands
  std::vector<std::unique_ptr<Ast>> args;  // call arguments
  bool has_lit = false;
  Item lit;
};

// Binary operators (Ast::fn of a binop), resolved once by the parser.
enum Op : int {
  op_implies, op_or, op_xor, op_and, op_in, op_contains, op_eq, op_equiv, op_ne, op_nequiv, op_lt, op_gt,
  op_le, op_ge, op_union, op_plus, op_minus, op_concat, op_mul, op_div, op_idiv, op_mod
};
int op_code(const std::string& op);

// Function table (fhirpath_eval.cpp): id by name, and the allowed argument counts.
int function_id(const std::string& name, size_t nargs, std::string* why);

// ---- value operations (fhirpath_values.cpp) ----
// A node of a primitive type as its System value (none for complex nodes and value-less
// primitives); System values are returned unchanged.  Quantity nodes become quantities.
std::optional<Item> to_system(const Item& it);
// Equality (=): nullopt = empty (unknown, e.g. dates of different precision).
std::optional<bool> equal(const Item& a, const Item& b);
bool equivalent(const Item& a, const Item& b);
// Ordering (<): -1, 0, 1, or nullopt (not comparable / unknown precision); FpError for types
// that cannot be ordered against each other.
std::optional<int> compare(const Item& a, const Item& b);
// Arithmetic; empty optional = empty result.
std::optional<Item> arith(char op, const Item& a, const Item& b);  // + - * / d(iv) m(od)
// Date/DateTime/Time literal text checks; text without '@'.
bool valid_date_text(const std::string& s, T* kind);
// Conversions (nullopt when not convertible).
std::optional<Item> to_integer(const Item& it);
std::optional<Item> to_decimal(const Item& it);
std::optional<Item> to_boolean(const Item& it);
std::optional<Item> to_quantity(const Item& it, const std::string* unit);
std::optional<Item> to_string_item(const Item& it);
std::optional<Item> to_date(const Item& it, T kind);
std::string format_decimal(double d);
// Calendar-duration keyword ("year", "weeks", ...) -> UCUM-ish canonical unit ("year" ...) or "".
std::string calendar_unit(const std::string& word);

// ---- self-contained functions (fhirpath_functions.cpp) ----
std::string dot_all(const std::string& pattern);
// The compiled regex of a pattern, cached per thread; FpError when too long or malformed.
const std::regex& make_regex(const std::string& pattern);
// fn: "encode", "decode", "escape" or "unescape"; nullopt for an unknown scheme or bad input.
std::optional<std::string> codec(const std::string& fn, const std::string& how, const std::string& s);
constexpr int64_t kDefaultPrecision = INT64_MIN;
// precision() (dir 0), lowBoundary() (-1), highBoundary() (1) with output precision p
// (kDefaultPrecision: 8 digits for decimals, the finest for dates and times).
std::optional<Item> boundary(const Item& it, int dir, int64_t p);

}  // namespace ef::fhir::fp
