// store/search_sql.h — internal to the search engine (store/search*.cpp; nothing else includes
// it): the SQL builder (Builder: criteria, compartments and the caller's view as SQL text plus
// a list of bind values; the text depends only on the query's shape, never on the values, but
// for whether a token list's or code set's codes share one system),
// the statement helpers that read result rows, and the pieces the three search files share.
//   search_sql.cpp      SQL building (Builder) and the row helpers
//   search.cpp          execution: count_search, run_search (driver choice, the collected
//                       path, sort keys, cursors, paging), visible
//   search_include.cpp  _include / _revinclude rounds, and resolve_matches
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "store/search.h"

namespace ef::store::detail {

using fhir::Criterion;
using fhir::Modifier;
using fhir::ParamType;
using fhir::Prefix;
using fhir::SearchValue;

using Bind = std::variant<int64_t, double, std::string>;

// The idx_* table of a parameter type; null for composite/special.
const char* table_for(ParamType t);
// Upper bound for "starts with s" over UTF-8 text compared bytewise (0xFF never occurs in UTF-8).
std::string prefix_end(const std::string& s);
std::string like_escape(const std::string& s);
void bind_all(Stmt& s, const std::vector<Bind>& b);
std::string json_ints(const std::vector<int64_t>& v);
std::string json_strings(const std::vector<std::string>& v);


// Builds one SQL statement.
struct Builder {
  Conn& c;
  std::string sql;
  std::vector<Bind> binds;
  int alias_n = 0;
  std::map<std::pair<std::string, std::string>, int64_t>* pid_cache;
  // Set by Matcher::where for a plain parameter criterion that does not drive the query: it is
  // then written as a correlated [NOT] EXISTS reached by rid (see Matcher::driver).
  bool correlated = false;
  // The caller's view (search.h): ANDed into every resource the statement looks at.  Null:
  // unrestricted.  Cleared while the view's own criteria are written (they are the policy's,
  // not the caller's, and must not recurse into the view).
  const View* view = nullptr;

  std::string alias(const char* base) { return std::string(base) + std::to_string(++alias_n); }
  void b(Bind v) { binds.push_back(std::move(v)); }

  int64_t pid(const std::string& type, const std::string& code);

  // "<col>=?" for one type; a json_each list for several; by code for all types.
  void pid_pred(const std::string& col, const std::vector<std::string>& types, const std::string& code);

  void type_pred(const std::string& a, const std::vector<std::string>& types);

  // Date comparison of the range [lo, hi) given by SQL expressions against search value v.
  void date_match(const std::string& lo, const std::string& hi, const SearchValue& v);

  void number_match(const std::string& x, const SearchValue& v, bool quantity);

  void token_match(const std::string& x, const SearchValue& v, Modifier m, const char* sys_col = "system",
                   const char* code_col = "code");

  // The match of one value against index row alias x of the given type.
  void value_match(const std::string& x, ParamType t, Modifier m, const SearchValue& v);

  // A boolean predicate on resource alias `a` (columns rid, type, id, last_updated).
  void criterion(const std::string& a, const Criterion& cr);

  // "SELECT x.rid FROM idx_<type> x WHERE x.pid=.. AND (<values>)": the rids of the index rows
  // a plain parameter criterion (cr.param of a type with an idx_* table; no composite, no
  // :missing) matches, its negation (:not, :not-in) left out; a rid may repeat.
  void index_rids(const Criterion& cr);
  // " AND (<value 1> OR <value 2> ...)" of a plain criterion over index row alias x.
  void value_list(const std::string& x, const Criterion& cr);

  // Resource alias `a` is in Patient/{patient}'s compartment (types: a's possible types).
  void compartment(const std::string& a, const std::vector<std::string>& types, const std::string& patient);

  // Resource alias `a` (of one of `types`; empty = any type) is inside the caller's view.
  // Types fully visible become one type list; types limited to one patient's compartment are
  // grouped by patient; types with ?param constraints get a clause of their own.
  void view_pred(const std::string& a, const std::vector<std::string>& types);
};

// ---- sort keys and cursors (search.cpp) ----

enum class KeyKind { i, r, s };
KeyKind key_kind(const fhir::SortKey& k);
Bind read_key(Stmt& s, int col, KeyKind kind);

// ---- rows ----

// Columns 0..5 of a search statement: rid, type, id, version, last_updated, seq.
SearchRow read_row(Stmt& s, int64_t* seq);
// The bodies of `rows` (by their version seqs), in one prepared statement.
Status load_bodies(Conn& c, std::vector<SearchRow>& rows, const std::vector<int64_t>& seqs);
// Runs B's statement, appending rows (and their sort keys when kinds is given: columns 6..).
Status run_rows(Conn& c, Builder& B, std::vector<SearchRow>* rows, std::vector<int64_t>* seqs,
                std::vector<std::vector<Bind>>* keys = nullptr, const std::vector<KeyKind>* kinds = nullptr);

// ---- includes (search_include.cpp) ----

Status run_includes(Conn& c, const fhir::SearchQuery& q, const SearchRunOptions& opt,
                    std::map<std::pair<std::string, std::string>, int64_t>& pids, const std::vector<SearchRow>& matches,
                    SearchPage* page, std::vector<int64_t>* inc_seqs);

}  // namespace ef::store::detail
