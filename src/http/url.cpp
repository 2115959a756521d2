// http/url.cpp — see url.h.
#include "http/url.h"

namespace ef::http {

std::string url_encode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char ch : s) {
    if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
        ch == '.' || ch == '~' || ch == ':' || ch == '|' || ch == ',' || ch == '$') {
      out.push_back(char(ch));
    } else {
      out.push_back('%');
      out.push_back(hex[ch >> 4]);
      out.push_back(hex[ch & 15]);
    }
  }
  return out;
}

std::string with_query(const std::string& path, const std::vector<std::pair<std::string, std::string>>& params) {
  std::string out = path;
  char sep = '?';
  for (const auto& p : params) {
    out.push_back(sep);
    sep = '&';
    out += url_encode(p.first);
    out.push_back('=');
    out += url_encode(p.second);
  }
  return out;
}

std::vector<fhir::BundleLink> paging_links(const std::string& path,
                                           const std::vector<std::pair<std::string, std::string>>& params,
                                           const std::string& cursor, const std::string& prev_cursor,
                                           const std::string& next_cursor, bool with_first) {
  auto at = [&](const std::string& cur) {
    auto p = params;
    if (!cur.empty()) p.emplace_back("_cursor", cur);
    return with_query(path, p);
  };
  std::vector<fhir::BundleLink> links;
  links.push_back({"self", at(cursor)});
  if (with_first && !cursor.empty()) links.push_back({"first", at("")});
  if (!prev_cursor.empty()) links.push_back({"previous", at(prev_cursor)});
  if (!next_cursor.empty()) links.push_back({"next", at(next_cursor)});
  return links;
}

}  // namespace ef::http
