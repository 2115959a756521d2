// fhir/query_string.cpp — the query-string half of search_query.h: percent-decoding and
// splitting "a=1&b=2" into QueryParams under the search budget (SearchBudget: query length and
// parameter count, set once at start-up), shared by search, conditional interactions and the
// operations' parameters.
#include "fhir/search_query.h"

namespace ef::fhir {

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static bool pct_decode(std::string_view s, bool form, std::string* out) {
  out->clear();
  out->reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size()) return false;
      int a = hexval(s[i + 1]), b = hexval(s[i + 2]);
      if (a < 0 || b < 0) return false;
      out->push_back(char(a * 16 + b));
      i += 2;
    } else if (c == '+' && form) {
      out->push_back(' ');
    } else {
      out->push_back(c);
    }
  }
  return true;
}

namespace {
SearchBudget g_budget;
}
const SearchBudget& search_budget() { return g_budget; }
void set_search_budget(const SearchBudget& b) { g_budget = b; }

Result<QueryParams> parse_query_string(std::string_view qs, bool form) {
  const SearchBudget& budget = g_budget;
  if (qs.size() > budget.max_query_bytes)
    return Status(Err::invalid, "the query string is " + std::to_string(qs.size()) + " bytes long; the limit is " +
                                    std::to_string(budget.max_query_bytes) + " (limits.max_url_bytes)");
  if (size_t(std::count(qs.begin(), qs.end(), '&')) >= budget.max_query_params * 2 + 16)
    return Status(Err::invalid, "the query string has more than " + std::to_string(budget.max_query_params) +
                                    " parameters (limits.max_query_params)");
  QueryParams out;
  size_t i = 0;
  while (i <= qs.size()) {
    size_t j = qs.find('&', i);
    if (j == std::string_view::npos) j = qs.size();
    std::string_view part = qs.substr(i, j - i);
    if (!part.empty()) {
      size_t eq = part.find('=');
      std::string name, value;
      if (!pct_decode(part.substr(0, eq), form, &name) ||
          (eq != std::string_view::npos && !pct_decode(part.substr(eq + 1), form, &value)))
        return Status(Err::invalid, "the query string is not validly percent-encoded near '" +
                                        std::string(part.substr(0, 60)) + "'");
      if (!name.empty()) {
        if (out.size() >= budget.max_query_params)
          return Status(Err::invalid, "the query string has more than " + std::to_string(budget.max_query_params) +
                                          " parameters (limits.max_query_params)", name);
        out.emplace_back(std::move(name), std::move(value));
      }
    }
    i = j + 1;
  }
  return out;
}

}  // namespace ef::fhir
