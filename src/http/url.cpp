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

}  // namespace ef::http
