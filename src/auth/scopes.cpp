// auth/scopes.cpp — see scopes.h.  Pure string handling: no JSON, no policy.
#include "auth/scopes.h"

namespace ef::auth {

namespace {

constexpr char kLetters[] = "cruds";

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

bool level_from(std::string_view s, ScopeLevel* out) {
  if (s == "patient") *out = ScopeLevel::patient;
  else if (s == "user") *out = ScopeLevel::user;
  else if (s == "system") *out = ScopeLevel::system;
  else return false;
  return true;
}

// A FHIR resource type name: an upper-case letter then letters/digits.
bool valid_type(std::string_view t) {
  if (t.empty() || t.size() > 64 || !(t[0] >= 'A' && t[0] <= 'Z')) return false;
  for (char c : t)
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
  return true;
}

// v2 letters must be a non-empty subsequence of "cruds"; 0 when not.
unsigned v2_perms(std::string_view p) {
  if (p.empty() || p.size() > 5) return 0;
  unsigned bits = 0;
  size_t next = 0;  // letters must appear in canonical order, each once
  for (char c : p) {
    size_t at = std::string_view(kLetters).find(c, next);
    if (at == std::string_view::npos) return 0;
    bits |= 1u << at;
    next = at + 1;
  }
  return bits;
}

// Position of the query separator ('?' or an encoded "%3F") and its length, or npos.
std::pair<size_t, size_t> query_start(std::string_view s) {
  size_t q = s.find('?');
  size_t e = std::string_view::npos;
  for (size_t i = 0; i + 2 < s.size(); ++i)
    if (s[i] == '%' && s[i + 1] == '3' && (s[i + 2] == 'f' || s[i + 2] == 'F')) { e = i; break; }
  if (q != std::string_view::npos && (e == std::string_view::npos || q < e)) return {q, 1};
  if (e != std::string_view::npos) return {e, 3};
  return {std::string_view::npos, 0};
}

}  // namespace

const char* scope_level_name(ScopeLevel l) {
  switch (l) {
    case ScopeLevel::patient: return "patient";
    case ScopeLevel::user: return "user";
    case ScopeLevel::system: return "system";
  }
  return "?";
}

std::string scope_perm_letters(unsigned perms) {
  std::string out;
  for (int i = 0; i < 5; ++i)
    if (perms & (1u << i)) out += kLetters[i];
  return out;
}

std::string scope_perm_v1(unsigned perms) {
  if (perms == (kScopeRead | kScopeSearch)) return "read";
  if (perms == (kScopeCreate | kScopeUpdate | kScopeDelete)) return "write";
  if (perms == kScopeAll) return "*";
  return "";
}

std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int h = hex_digit(s[i + 1]), l = hex_digit(s[i + 2]);
      if (h >= 0 && l >= 0) {
        out += char(h * 16 + l);
        i += 2;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

std::string normalize_scope(std::string_view raw) {
  auto [qpos, qlen] = query_start(raw);
  std::string_view head = raw.substr(0, qpos);
  std::string out;
  out.reserve(raw.size());
  for (size_t i = 0; i < head.size(); ++i) {
    if (head[i] == '%' && i + 2 < head.size() && head[i + 1] == '2' &&
        (head[i + 2] == 'f' || head[i + 2] == 'F')) {
      out += '/';
      i += 2;
    } else {
      out += head[i];
    }
  }
  // Entra form: "patient.Observation.read" — the first '.' stands for '/'.
  if (out.find('/') == std::string::npos) {
    for (const char* lvl : {"patient.", "user.", "system."}) {
      if (starts_with(out, lvl)) {
        out[std::string_view(lvl).size() - 1] = '/';
        break;
      }
    }
  }
  if (qpos != std::string_view::npos) {
    std::string_view query = raw.substr(qpos + qlen);
    out += '?';
    // An encoded '?' means the whole query was encoded once more: undo that layer.
    out += qlen == 3 ? percent_decode(query) : std::string(query);
  }
  return out;
}

int parse_clinical_scope(std::string_view raw, ClinicalScope* out, std::string* why) {
  auto fail = [&](const std::string& w) {
    if (why) *why = w;
    return -1;
  };
  std::string s = normalize_scope(raw);
  size_t slash = s.find('/');
  ScopeLevel level;
  if (slash == std::string::npos || !level_from(std::string_view(s).substr(0, slash), &level)) return 0;

  size_t q = s.find('?', slash);
  std::string_view body = std::string_view(s).substr(slash + 1, q == std::string::npos ? std::string::npos : q - slash - 1);
  size_t dot = body.find('.');
  if (dot == std::string_view::npos) return fail("no '.' between resource type and permissions");
  std::string_view type = body.substr(0, dot), perm = body.substr(dot + 1);
  ClinicalScope c;
  c.level = level;
  if (type == "*" || type == "all") c.type = "*";
  else if (valid_type(type)) c.type = std::string(type);
  else return fail("'" + std::string(type) + "' is not a resource type or '*'");

  if (perm == "read") c.perms = kScopeRead | kScopeSearch;
  else if (perm == "write") c.perms = kScopeCreate | kScopeUpdate | kScopeDelete;
  else if (perm == "*") c.perms = kScopeAll;
  else if ((c.perms = v2_perms(perm)) != 0) c.v2 = true;
  else return fail("permissions '" + std::string(perm) + "' are neither read/write/* nor letters of 'cruds' in that order");

  if (q != std::string::npos) {
    std::string_view query = std::string_view(s).substr(q + 1);
    if (query.empty()) return fail("empty constraint after '?'");
    while (!query.empty()) {
      size_t amp = query.find('&');
      std::string_view part = query.substr(0, amp);
      size_t eq = part.find('=');
      if (eq == 0 || eq == std::string_view::npos || eq + 1 == part.size())
        return fail("constraint '" + std::string(part) + "' is not name=value");
      c.params.emplace_back(percent_decode(part.substr(0, eq)), percent_decode(part.substr(eq + 1)));
      if (amp == std::string_view::npos) break;
      query = query.substr(amp + 1);
      if (query.empty()) return fail("constraint ends with '&'");
    }
  }
  c.text = std::move(s);
  if (out) *out = std::move(c);
  return 1;
}

ScopeSet parse_scopes(const std::vector<std::string>& scopes) {
  ScopeSet set;
  for (const std::string& raw : scopes) {
    if (raw.empty()) continue;
    ClinicalScope c;
    std::string why;
    int r = parse_clinical_scope(raw, &c, &why);
    if (r > 0) set.clinical.push_back(std::move(c));
    else if (r < 0) {
      set.invalid.push_back(normalize_scope(raw));
      set.invalid_why.push_back(why);
    }
    else set.other.push_back(normalize_scope(raw));
  }
  return set;
}

}  // namespace ef::auth
