// http/url.h — percent-encoding and query building for links we emit.
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace ef::http {

std::string url_encode(const std::string& s);
std::string with_query(const std::string& path, const std::vector<std::pair<std::string, std::string>>& params);

}  // namespace ef::http
