// http/url.h — percent-encoding, query building and the paging links (Bundle.link) we emit.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "fhir/outcome.h"

namespace ef::http {

std::string url_encode(const std::string& s);
std::string with_query(const std::string& path, const std::vector<std::pair<std::string, std::string>>& params);

// The links of one page of a paged result (search, history, $everything): "self" (params plus
// the current _cursor when there is one), "first" (params alone, when on a later page and
// with_first), "previous" and "next" (params plus that page's _cursor, when given).
std::vector<fhir::BundleLink> paging_links(const std::string& path,
                                           const std::vector<std::pair<std::string, std::string>>& params,
                                           const std::string& cursor, const std::string& prev_cursor,
                                           const std::string& next_cursor, bool with_first = true);

}  // namespace ef::http
