// fhir/search_query.h — turns the parameters of a FHIR search (https://hl7.org/fhir/R4/search.html)
// into a validated, structured SearchQuery, using the search-parameter registry
// (fhir/search_params.h).  Pure: no I/O, no HTTP.  store/search.h executes a SearchQuery.
//
// What parsing decides:
//   - each criterion's parameter (type-specific or common), modifier, and OR-ed values with
//     their prefixes and precision ranges: dates become [lo, hi) ms, numbers [lo, hi) from the
//     digits written ("100" -> [99.5, 100.5)), strings are normalised like the index
//     (fhir/indexer.h normalize_string), references are reduced to Type/id (our base URL
//     stripped, /_history/n dropped), bare ids or absolute URLs;
//   - chains (subject:Patient.name=x, several levels; the target types come from the modifier
//     or from the reference parameter's targets) and reverse chains (_has:Type:ref:param=x);
//   - result parameters: _sort, _count, _include/_revinclude (:iterate, *), _total, _summary,
//     _elements, and the paging cursor;
//   - unknown or unsupported parameters: listed in SearchQuery::ignored (lenient) or an error
//     naming them (strict, Prefer: handling=strict).  Unsupported modifiers (:in, :not-in,
//     token :above/:below: they need a terminology server) and invalid values are always
//     errors: silently ignoring them would return more than the client asked for.
// Errors are Err::invalid with a message naming the parameter and value.
//
// Budgets (SearchBudget, the same for every route: type and system search, Bundle entries,
// If-None-Exist, conditional update/delete/patch, conditional references in transactions,
// since they all come through parse_query_string and parse_search): query string length and
// parameter count, OR values per parameter, values in the whole search after chains are
// expanded to their target types.  Their ranges keep every accepted search inside SQLite's
// limits (expression depth 1000: an OR list is a left-deep tree one level per value, the
// AND of criteria one level per criterion; 32766 bound variables: at most ~8 per value).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fhir/search_params.h"
#include "util/status.h"

namespace ef::fhir {

using QueryParams = std::vector<std::pair<std::string, std::string>>;

struct SearchBudget {
  size_t max_query_bytes = 8192;  // limits.max_url_bytes: a query string (Bundle entry URL, If-None-Exist)
  size_t max_query_params = 100;  // limits.max_query_params: name=value pairs in one query string
  size_t max_search_params = 100; // limits.max_search_params (1-200): parameters of one search
  size_t max_or_values = 100;     // limits.max_or_values (1-400): comma-separated values of one parameter
  size_t max_search_values = 1000;  // limits.max_search_values (1-2000): values of one search after chain expansion
};
// The process-wide budget (set once at start-up from the configuration, before serving).
const SearchBudget& search_budget();
void set_search_budget(const SearchBudget& b);

// Splits "a=1&b=2" into decoded (name, value) pairs in order.  Percent-escapes are decoded;
// `form` (application/x-www-form-urlencoded bodies) also turns '+' into a space.  In query
// strings '+' is kept as '+' so "date=ge2020-01-01T00:00:00+01:00" works unencoded.
// Malformed percent-escapes are an error, so are a string longer than max_query_bytes and
// more than max_query_params pairs (search_budget()).
Result<QueryParams> parse_query_string(std::string_view qs, bool form);

enum class Prefix { eq, ne, gt, lt, ge, le, sa, eb, ap };
enum class Modifier { none, missing, exact, contains, text, not_, above, below, of_type, identifier, type, in, not_in };
// Token :in / :not-in (value: a ValueSet canonical URL or ValueSet/id, in SearchValue::url) and
// :above / :below (system|code of a hierarchical code system) need terminology: the
// interaction layer (service/terminology.h) fills SearchValue::code_set before the store runs.
inline bool needs_code_set(ParamType t, Modifier m) {
  return t == ParamType::token && (m == Modifier::in || m == Modifier::not_in || m == Modifier::above || m == Modifier::below);
}

const char* prefix_name(Prefix p);

// One OR-ed value of a criterion (the fields used depend on the parameter type).
struct SearchValue {
  std::string raw;              // the value as written (unescaped), for messages
  Prefix prefix = Prefix::eq;   // date, number, quantity
  bool missing = false;         // :missing=true
  // string, token :text, uri: text (string: normalised; uri: as written)
  std::string text;
  // token (also quantity units, reference :identifier):
  //   "code" -> code, any system; "|code" -> code, no system; "sys|code"; "sys|" -> any code
  bool has_system = false;      // a '|' was written
  std::string system, code;
  std::string type_system, type_code;  // token :of-type  (type_system|type_code|value)
  // date: [lo_ms, hi_ms)
  int64_t lo_ms = 0, hi_ms = 0;
  // number / quantity: the value and the half-open range its precision implies
  double num = 0, num_lo = 0, num_hi = 0;
  // reference: ref_type may be empty (any type); url = exact (absolute / canonical) match
  std::string ref_type, ref_id, url;
  // composite: one value per component, in definition order
  std::vector<SearchValue> parts;
  // token :in / :not-in / :above / :below: the (system, code) pairs the value stands for, as a
  // JSON array of [system, code] arrays (one SQL parameter); set by the interaction layer.
  std::string code_set;
  bool code_set_resolved = false;
};

struct Criterion {
  enum class Kind { param, id, last_updated, chain, has };
  Kind kind = Kind::param;
  std::string name;                 // the parameter as written (with modifier/chain), for messages
  std::vector<std::string> types;   // resource types the criterion is evaluated on
  const SearchParam* param = nullptr;  // the parameter (chain/has: the reference parameter)
  ParamType type = ParamType::token;
  Modifier modifier = Modifier::none;
  std::string modifier_type;        // reference :Type
  std::vector<SearchValue> values;  // OR
  // chain: the criterion on each possible target type (OR)
  std::vector<std::pair<std::string, std::shared_ptr<Criterion>>> chain;
  // has: the referring type (param is its reference parameter) and the criterion on it
  std::string has_type;
  std::shared_ptr<Criterion> next;
};

struct SortKey {
  std::string code;                  // "_id", "_lastUpdated" or a parameter code
  const SearchParam* param = nullptr;  // null for _id / _lastUpdated
  bool desc = false;
};

struct IncludeSpec {
  bool reverse = false;   // _revinclude
  bool iterate = false;
  std::string source_type;  // the type holding the reference ("*" = any, _include=* only)
  std::string code;         // the reference parameter code; "*" = all reference parameters
  std::string target_type;  // optional target restriction
};

enum class Summary { none, true_, text, data, count };
enum class Total { none, accurate };

struct SearchQuery {
  std::vector<std::string> types;   // one for type search; several for system search (empty = all)
  std::vector<Criterion> criteria;  // AND
  std::vector<SortKey> sort;        // empty: insertion order
  int count = 50;
  std::string cursor;               // opaque paging token (store/search.h)
  std::vector<IncludeSpec> includes;
  Total total = Total::accurate;
  Summary summary = Summary::none;
  std::vector<std::string> elements;  // _elements (top-level names)
  // Compartment search (GET Patient/123/Observation): matches must be in Patient/{id}'s
  // compartment.  Included resources are not limited by it.
  std::string compartment_patient;
  // The recognised parameters, as (name, value) in request order, for the self link.
  QueryParams canonical;
  // Unknown / unsupported parameters that were ignored (lenient handling), with why.
  std::vector<std::pair<std::string, std::string>> ignored;
};

struct SearchParseOptions {
  bool strict = false;       // Prefer: handling=strict
  std::string base_url;      // our base (no trailing slash): stripped from absolute references
  int default_count = 50;
  int max_count = 1000;
  int64_t now_ms = 0;        // for the ap prefix on dates (0: ap is a plain overlap)
  SearchBudget budget = search_budget();
};

// `type`: the searched type; "" = system search (types from _type, else all types; only
// parameters every searched type has may be used).
Result<SearchQuery> parse_search(const std::string& type, const QueryParams& params,
                                 const SearchParseOptions& opt = {});
Result<SearchQuery> parse_search(const SearchParamRegistry& reg, const std::string& type, const QueryParams& params,
                                 const SearchParseOptions& opt = {});

// Applies _summary / _elements to one stored resource (JSON text): returns the reduced
// resource with the SUBSETTED tag in meta.tag, or `body` unchanged when nothing applies.
// _summary=true keeps the elements marked isSummary in the R4 definitions (fhir/type_model.h)
// and the mandatory ones (min >= 1), backbone elements reduced the same way, data types whole;
// text keeps text + id/meta/mandatory elements; data removes text; _elements keeps the listed
// top-level elements + id, meta, modifierExtension and the mandatory ones.  Written in
// definition order.
std::string subset_resource(const std::string& body, Summary summary, const std::vector<std::string>& elements);

}  // namespace ef::fhir
