// fhir/xml.cpp — see xml.h; the lexical layer both directions share (xml_internal.h):
// positions (where/bad), the security prescan() run before pugixml and before a narrative div
// is written, escape(), and well_formed_fragment(): a tree-free check of a narrative div
// before it is written verbatim.  XML -> JSON (parse) is xml_read.cpp; JSON -> XML
// (write_text, write) is xml_write.cpp.
#include "fhir/xml.h"

#include <array>
#include <cstdint>
#include <cstring>
#include <vector>

#include "fhir/xml_internal.h"

namespace ef::fhir::xml {
namespace detail {

namespace {

bool starts(std::string_view s, size_t i, const char* lit) {
  size_t n = std::strlen(lit);
  return s.size() - i >= n && s.compare(i, n, lit) == 0;
}

bool xml_char(unsigned long cp) {
  return cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) || (cp >= 0xE000 && cp <= 0xFFFD) ||
         (cp >= 0x10000 && cp <= 0x10FFFF);
}

// A reference at s[i] == '&': one of the five predefined entities or a character reference
// to a character XML allows.  Returns its length, 0 when refused (*why says why).
size_t reference(std::string_view s, size_t i, std::string* why) {
  size_t semi = s.find(';', i);
  if (semi == std::string_view::npos || semi - i > 12) {
    *why = "'&' that does not start a reference (write &amp;)";
    return 0;
  }
  std::string_view name = s.substr(i + 1, semi - i - 1);
  if (name == "amp" || name == "lt" || name == "gt" || name == "quot" || name == "apos") return semi - i + 1;
  if (name.size() >= 2 && name[0] == '#') {
    bool hex = name[1] == 'x';
    std::string_view digits = name.substr(hex ? 2 : 1);
    if (!digits.empty() &&
        digits.find_first_not_of(hex ? "0123456789abcdefABCDEF" : "0123456789") == std::string_view::npos) {
      unsigned long cp = std::strtoul(std::string(digits).c_str(), nullptr, hex ? 16 : 10);
      if (xml_char(cp)) return semi - i + 1;
      *why = "character reference &" + std::string(name) + "; names a character XML does not allow";
      return 0;
    }
  }
  *why = "undefined entity &" + std::string(name).substr(0, 40) + "; (only &amp; &lt; &gt; &quot; &apos; and "
         "character references are allowed; no DOCTYPE can define others)";
  return 0;
}


}  // namespace

// ---------------------------------------------------------------- positions

// 1-based line and column (in characters) of a byte offset.
std::string where(std::string_view s, size_t off) {
  if (off > s.size()) off = s.size();
  size_t line = 1, col = 1;
  for (size_t i = 0; i < off; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '\n') {
      ++line;
      col = 1;
    } else if ((c & 0xC0) != 0x80) {
      ++col;
    }
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(col);
}

Status bad(std::string_view s, size_t off, const std::string& what) {
  return Status(Err::invalid, "XML: " + what + " (" + where(s, off) + ")");
}

// The security pass (see xml.h).  *nodes = '<' + '=' count (a bound on pugixml's nodes).
Status prescan(std::string_view s, size_t max_nodes) {
  if (!json::valid_utf8(s)) {
    // find the first bad byte for the position
    size_t lo = 0, hi = s.size();
    while (hi - lo > 1) {
      size_t mid = (lo + hi) / 2;
      size_t cut = mid;
      while (cut > lo && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
      if (json::valid_utf8(s.substr(0, cut))) lo = cut == lo ? mid : cut;
      else hi = cut;
      if (cut == lo && mid == lo) break;
    }
    return bad(s, lo, "the document is not valid UTF-8");
  }
  size_t nodes = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
      return bad(s, i, "control character U+00" + std::string(1, "0123456789ABCDEF"[c >> 4]) +
                           std::string(1, "0123456789ABCDEF"[c & 15]) + " is not allowed in XML");
    if (c == 0xEF && i + 2 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0xBF &&
        static_cast<unsigned char>(s[i + 2]) >= 0xBE)
      return bad(s, i, "U+FFFE / U+FFFF are not allowed in XML");
    if (c == '=') ++nodes;
    if (c == '&') {
      std::string why;
      size_t n = reference(s, i, &why);
      if (!n) return bad(s, i, why);
      i += n - 1;
      continue;
    }
    if (c != '<') continue;
    ++nodes;
    // A comment or CDATA section: up to its end marker, no control characters inside.
    auto skip = [&](size_t open_len, const char* close, const char* what) -> Status {
      size_t e = s.find(close, i + open_len);
      if (e == std::string_view::npos) return bad(s, i, std::string("unterminated ") + what);
      for (size_t k = i; k < e; ++k) {
        unsigned char d = static_cast<unsigned char>(s[k]);
        if (d < 0x20 && d != '\t' && d != '\n' && d != '\r') return bad(s, k, std::string("control character in a ") + what);
      }
      i = e + 2;
      return Status();
    };
    if (starts(s, i, "<!--")) {
      if (Status st = skip(4, "-->", "comment"); !st) return st;
    } else if (starts(s, i, "<![CDATA[")) {
      if (Status st = skip(9, "]]>", "CDATA section"); !st) return st;
    } else if (starts(s, i, "<!")) {
      return bad(s, i, "DOCTYPE and other declarations are not allowed (no DTDs, no entity definitions)");
    } else if (starts(s, i, "<?")) {
      size_t e = s.find("?>", i + 2);
      if (e == std::string_view::npos) return bad(s, i, "unterminated processing instruction");
      std::string_view pi = s.substr(i, e - i);
      if (starts(s, i, "<?xml") && (pi.size() == 5 || pi[5] == ' ' || pi[5] == '\t' || pi[5] == '\r' || pi[5] == '\n')) {
        size_t enc = pi.find("encoding");
        if (enc != std::string_view::npos) {
          size_t q = pi.find_first_of("\"'", enc);
          size_t q2 = q == std::string_view::npos ? q : pi.find(pi[q], q + 1);
          std::string name(q2 == std::string_view::npos ? std::string_view() : pi.substr(q + 1, q2 - q - 1));
          for (auto& ch : name) ch = char(std::tolower(static_cast<unsigned char>(ch)));
          if (name != "utf-8" && name != "utf8")
            return bad(s, i + enc, "encoding '" + name.substr(0, 40) + "' is not supported; send UTF-8");
        }
      }
      i = e + 1;
    }
    if (nodes > max_nodes) break;
  }
  if (nodes > max_nodes)
    return Status(Err::invalid, "XML: the document has more than " + std::to_string(max_nodes) +
                                    " elements and attributes (limits.max_json_values)");
  return Status();
}
void escape(std::string& out, std::string_view s, bool attr) {
  // bytes that may need a replacement: 1 = in text and attributes, 2 = in attributes only
  static const auto kSpecial = [] {
    std::array<uint8_t, 256> t{};
    for (int c = 0; c < 0x20; ++c) t[size_t(c)] = 1;
    t['\n'] = t['\t'] = 2;
    t['&'] = t['<'] = t['>'] = 1;
    t['"'] = 2;
    return t;
  }();
  size_t start = 0;
  const uint8_t mask = attr ? 3 : 1;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (!(kSpecial[c] & mask)) continue;
    const char* rep = nullptr;
    switch (c) {
      case '&': rep = "&amp;"; break;
      case '<': rep = "&lt;"; break;
      case '>': rep = "&gt;"; break;
      case '"': rep = attr ? "&quot;" : nullptr; break;
      case '\n': rep = attr ? "&#10;" : nullptr; break;
      case '\r': rep = "&#13;"; break;
      case '\t': rep = attr ? "&#9;" : nullptr; break;
      default:
        if (c < 0x20) rep = "\xEF\xBF\xBD";  // not representable in XML 1.0: U+FFFD
    }
    if (!rep) continue;
    out.append(s.data() + start, i - start);
    out += rep;
    start = i + 1;
  }
  out.append(s.data() + start, s.size() - start);
}

}  // namespace detail

using detail::prescan;

// A well-formedness check without building a tree (it runs for every narrative div written):
// prescan() for declarations, references and characters, then tags balanced, attributes
// quoted, exactly one root element.
bool well_formed_fragment(std::string_view text) {
  if (!prescan(text, SIZE_MAX).ok()) return false;
  std::vector<std::string_view> open;
  int roots = 0;
  const char* p = text.data();
  const char* e = p + text.size();
  auto name_char = [](char c) {
    return c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '/' && c != '>' && c != '<' && c != '=' &&
           c != '"' && c != '\'' && c != '&';
  };
  auto spaces = [&](const char* q) {
    while (q < e && (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r')) ++q;
    return q;
  };
  while (p < e) {
    if (*p != '<') {
      if (open.empty() && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') return false;  // text outside the root
      ++p;
      continue;
    }
    std::string_view rest(p, size_t(e - p));
    if (rest.rfind("<!--", 0) == 0 || rest.rfind("<![CDATA[", 0) == 0 || rest.rfind("<?", 0) == 0) {
      const char* term = rest[1] == '!' ? (rest[2] == '-' ? "-->" : "]]>") : "?>";
      if (rest.rfind("<![CDATA[", 0) == 0 && open.empty()) return false;
      size_t end = rest.find(term);
      if (end == std::string_view::npos) return false;
      p += end + std::strlen(term);
      continue;
    }
    if (rest.size() > 1 && rest[1] == '/') {
      const char* n = p + 2;
      const char* q = n;
      while (q < e && name_char(*q)) ++q;
      std::string_view name(n, size_t(q - n));
      q = spaces(q);
      if (q >= e || *q != '>' || open.empty() || open.back() != name) return false;
      open.pop_back();
      p = q + 1;
      continue;
    }
    const char* n = p + 1;
    const char* q = n;
    while (q < e && name_char(*q)) ++q;
    if (q == n) return false;
    std::string_view name(n, size_t(q - n));
    if (open.empty() && ++roots > 1) return false;
    while (true) {
      const char* a = spaces(q);
      if (a >= e) return false;
      if (*a == '>') {
        open.push_back(name);
        p = a + 1;
        break;
      }
      if (*a == '/') {
        if (a + 1 >= e || a[1] != '>') return false;
        p = a + 2;
        break;
      }
      if (a == q) return false;  // attributes are separated by white space
      const char* an = a;
      while (a < e && name_char(*a)) ++a;
      if (a == an) return false;
      a = spaces(a);
      if (a >= e || *a != '=') return false;
      a = spaces(a + 1);
      if (a >= e || (*a != '"' && *a != '\'')) return false;
      const char* close = static_cast<const char*>(std::memchr(a + 1, *a, size_t(e - a - 1)));
      if (!close || std::memchr(a + 1, '<', size_t(close - a - 1))) return false;
      q = close + 1;
    }
  }
  return open.empty() && roots == 1;
}

}  // namespace ef::fhir::xml
