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

// ---- shared by the evaluator (fhirpath_eval.cpp), its navigation helpers
// (fhirpath_navigate.cpp) and the function table (fhirpath_functions.cpp) ----
namespace eval_detail {

// The functions the engine knows (function_id maps a name to one of these).
enum F : int {
  f_empty, f_exists, f_all, f_allTrue, f_anyTrue, f_allFalse, f_anyFalse, f_subsetOf, f_supersetOf,
  f_count, f_distinct, f_isDistinct, f_where, f_select, f_repeat, f_ofType, f_first, f_last, f_tail,
  f_skip, f_take, f_single, f_intersect, f_exclude, f_union, f_combine, f_iif, f_toBoolean,
  f_convertsToBoolean, f_toInteger, f_convertsToInteger, f_toDecimal, f_convertsToDecimal, f_toString,
  f_convertsToString, f_toDate, f_convertsToDate, f_toDateTime, f_convertsToDateTime, f_toTime,
  f_convertsToTime, f_toQuantity, f_convertsToQuantity, f_indexOf, f_substring, f_startsWith,
  f_endsWith, f_contains, f_upper, f_lower, f_replace, f_matches, f_replaceMatches, f_length,
  f_toChars, f_split, f_join, f_trim, f_abs, f_ceiling, f_floor, f_exp, f_ln, f_log, f_power, f_round,
  f_sqrt, f_truncate, f_children, f_descendants, f_trace, f_now, f_today, f_timeOfDay, f_not, f_is,
  f_as, f_hasValue, f_extension, f_memberOf, f_conformsTo, f_htmlChecks, f_resolve, f_getValue,
  f_aggregate, f_encode, f_decode, f_escape, f_unescape, f_matchesFull, f_sort, f_type, f_precision,
  f_lowBoundary, f_highBoundary, f_comparable
};


// The evaluation context: the environment, $this/$index/$total, %context, the step budget.
struct Ctx {
  const Env& env;
  const Coll* this_coll = nullptr;  // $this as a collection
  int64_t index = -1;
  const Coll* total = nullptr;
  const Coll* context = nullptr;  // %context
  uint64_t steps = 0;
  const json::Value* resource = nullptr;  // %resource, %rootResource (items made when used)
  const json::Value* root = nullptr;

  void charge(uint64_t n = 1) {
    steps += n;
    if (steps > kMaxSteps) throw FpError(Err::too_large, "FHIRPath evaluation exceeded its budget of " + std::to_string(kMaxSteps) + " steps");
    if (env.shared_steps) {
      if (*env.shared_steps < n) {
        *env.shared_steps = 0;
        throw FpError(Err::too_large, "FHIRPath: the shared step budget is spent");
      }
      *env.shared_steps -= n;
    }
  }
};

const model::TypeDef* type_by_name(std::string_view n);
void push(Coll& out, Item it);
std::string upper_first(const std::string& s);
Item make_node(const json::Value* v, const json::Value* ext, const model::TypeDef* t, std::string_view tname);
void add_json_member(const json::Value& obj, const std::string& jname, const model::TypeDef* t, std::string_view tname, Coll& out, Ctx& c);
bool is_resource_node(const Item& it);
void member(const Item& it, const std::string& name, Coll& out, Ctx& c, bool strict);
void children_of(const Item& it, Coll& out, Ctx& c);
bool is_system_type(const std::string& n);
bool is_quantity_kind(std::string_view n);
bool type_matches(const Item& it, const std::string& ns, const std::string& name);
int truth(const Coll& c, const char* what);
Coll bool_coll(int v);
const Item* single_item(const Coll& c, const char* what);
bool same(const Item& a, const Item& b);
bool contains_item(const Coll& c, const Item& x, Ctx& ctx);
bool hash_key(const Item& x, std::string* key);
Coll distinct(const Coll& in, Ctx& c);
std::string str_arg(const Coll& a, const char* fn);
std::optional<std::string> input_string(const Coll& in, const char* fn);
std::string now_text(const Env& env);

}  // namespace eval_detail

}  // namespace ef::fhir::fp
