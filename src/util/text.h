// util/text.h — splitting text held in memory (the embedded tables of data/*.tsv) into
// string_views, without copying: the fields of a line and the lines of a table.
//
// Owns: split() and each_line(), which the loaders of the search parameters
// (fhir/search_params), the type model (fhir/type_model) and the bundled terminology
// (fhir/terminology) share.  The views point into the caller's text.
#pragma once
#include <string_view>
#include <vector>

namespace ef::text {

// Every field of s between separators, empty ones included ("a\t\tb" -> "a", "", "b").
std::vector<std::string_view> split(std::string_view s, char sep);

// Calls f(line) for each line of text, without its '\n' (a last line without one counts; a
// text ending in '\n' has no empty line after it).  f returns false to stop; each_line then
// returns false.
template <class F>
bool each_line(std::string_view text, F f) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    if (!f(text.substr(pos, nl - pos))) return false;
    pos = nl + 1;
  }
  return true;
}

}  // namespace ef::text
