// http/conventions.cpp — see conventions.h.
#include "http/conventions.h"

#include "store/audit.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <vector>

#include "fhir/search_query.h"
#include "util/log.h"

namespace ef::http {

namespace {

std::string trim_lower(std::string s) {
  size_t a = s.find_first_not_of(" \t");
  size_t b = s.find_last_not_of(" \t");
  s = a == std::string::npos ? "" : s.substr(a, b - a + 1);
  for (auto& ch : s) ch = char(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t i = 0;
  while (true) {
    size_t j = s.find(sep, i);
    out.push_back(s.substr(i, j == std::string::npos ? std::string::npos : j - i));
    if (j == std::string::npos) break;
    i = j + 1;
  }
  return out;
}

// R4 is FHIR 4.0.x; fhirVersion names a major.minor (or a full 4.0.1).
bool r4_version(const std::string& v) { return v == "4.0" || v.rfind("4.0.", 0) == 0; }

bool xml_media(const std::string& m) {
  return m == "application/fhir+xml" || m == "application/xml" || m == "text/xml" || m == "application/xml+fhir";
}

// One format's best media range in Accept: its q, whether it named the format (not a
// wildcard) and its position (earlier wins a tie between the two formats).
struct Best {
  double q = -1;
  bool specific = false;
  size_t index = 0;
  bool better_than(const Best& o) const {
    if (q != o.q) return q > o.q;
    if (specific != o.specific) return specific;
    return index < o.index;
  }
};

}  // namespace

bool is_xml_media(const std::string& media_type) { return xml_media(media_type); }

Status check_format(const std::string& format_param, const std::string& accept, Format* chosen) {
  Format dummy;
  Format& out = chosen ? *chosen : dummy;
  out = Format::any;
  if (!format_param.empty()) {
    std::string f = format_param;
    for (auto& ch : f)
      if (ch == ' ') ch = '+';  // "application/fhir+json" typed without URL-encoding
    std::string m = trim_lower(f.substr(0, f.find(';')));
    if (m == "json" || m == "application/json" || m == "application/fhir+json" || m == "application/json+fhir") {
      out = Format::json;
      return Status();
    }
    if (m == "xml" || xml_media(m)) {
      out = Format::xml;
      return Status();
    }
    return Status(Err::not_acceptable, "_format '" + format_param + "' is not supported; this server speaks FHIR JSON and XML");
  }
  if (trim_lower(accept).empty()) return Status();
  Best json, xml;
  bool other_version = false;
  std::vector<std::string> ranges = split(accept, ',');
  for (size_t idx = 0; idx < ranges.size(); ++idx) {
    std::vector<std::string> parts = split(ranges[idx], ';');
    std::string m = trim_lower(parts[0]);
    bool wild = m == "*/*" || m == "application/*";
    bool is_json = m.find("json") != std::string::npos;
    bool is_xml = xml_media(m) || m == "text/*";
    if (!wild && !is_json && !is_xml) continue;
    std::string version;
    double q = 1;
    for (size_t i = 1; i < parts.size(); ++i) {
      std::string p = trim_lower(parts[i]);
      size_t eq = p.find('=');
      if (eq == std::string::npos) continue;
      std::string k = trim_lower(p.substr(0, eq)), v = trim_lower(p.substr(eq + 1));
      if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
      if (k == "fhirversion") version = v;
      if (k == "q") {
        char* end = nullptr;
        q = std::strtod(v.c_str(), &end);
        if (end == v.c_str() || !(q >= 0) || q > 1) q = 1;  // a malformed q counts as 1
      }
    }
    if (q <= 0) continue;
    if (!version.empty() && !r4_version(version)) {
      other_version = true;
      continue;
    }
    Best b{q, !wild && m != "text/*", idx};
    if ((wild || is_json) && b.better_than(json)) json = b;
    if ((wild || is_xml) && b.better_than(xml)) xml = b;
  }
  if (json.q > 0 || xml.q > 0) {
    if (!json.specific && !xml.specific && json.q >= xml.q) out = Format::any;  // wildcards only
    else out = xml.better_than(json) ? Format::xml : Format::json;
    return Status();
  }
  if (other_version)
    return Status(Err::not_acceptable, "Accept '" + accept + "' asks for a FHIR version other than R4; this server speaks "
                                       "FHIR R4 (fhirVersion=4.0) only");
  return Status(Err::not_acceptable, "Accept '" + accept + "' cannot be satisfied; this server speaks FHIR JSON and XML");
}

bool strip_utf8_bom(std::string& body) {
  if (body.size() >= 3 && static_cast<unsigned char>(body[0]) == 0xEF && static_cast<unsigned char>(body[1]) == 0xBB &&
      static_cast<unsigned char>(body[2]) == 0xBF) {
    body.erase(0, 3);
    return true;
  }
  return false;
}

void set_preference_applied(Ctx& c) {
  std::string prefer = c.header("Prefer");
  if (prefer.empty()) return;
  const std::string& i = c.interaction;
  int st = c.res.status;
  bool ok = st >= 200 && st < 300;
  bool writes = i == "create" || i == "update" || i == "patch" || i == "transaction" || i == "batch";
  bool handles = i == "search-type" || i == "search-system" || i == "search-compartment" || i == "everything" ||
                 i == "export";
  std::string applied;
  for (const std::string& part : split(prefer, ',')) {
    for (const std::string& raw : split(part, ';')) {
      std::string p = trim_lower(raw);
      bool use = false;
      if (p == "return=minimal" || p == "return=representation" || p == "return=operationoutcome")
        use = writes && ok && c.req.method != "GET";
      else if (p == "handling=strict" || p == "handling=lenient")
        use = handles && st < 500;
      else if (p == "respond-async")
        use = st == 202;
      if (!use) continue;
      if (p == "return=operationoutcome") p = "return=OperationOutcome";
      if (applied.find(p) != std::string::npos) continue;
      applied += (applied.empty() ? "" : ", ") + p;
    }
  }
  if (!applied.empty()) c.res.set_header("Preference-Applied", applied);
}

void log_request(const Ctx& c, int64_t duration_us) {
  if (!c.app.cfg.log_requests) return;
  std::string params;
  for (const auto& kv : c.req.params) {
    std::string k = kv.first.substr(0, 64);
    for (auto& ch : k)
      if (static_cast<unsigned char>(ch) < 0x20) ch = '?';
    if ((',' + params + ',').find(',' + k + ',') == std::string::npos) params += (params.empty() ? "" : ",") + k;
    if (params.size() > 512) break;
  }
  std::string caller = "anonymous";
  if (c.principal && c.principal->authenticated)
    caller = !c.principal->object_id.empty() ? c.principal->object_id : c.principal->subject;
  std::string path = store::redact_text(c.req.path).substr(0, 512);  // a token in the path is never logged
  log::info("request", {{"request_id", c.request_id},
                        {"method", c.req.method},
                        {"path", path},
                        {"params", params},
                        {"status", c.res.status},
                        {"duration_us", duration_us},
                        {"interaction", c.interaction},
                        {"caller", caller}});
}

Result<Subset> parse_subset(const Ctx& c) {
  Subset s;
  if (c.has_param("_summary")) {
    std::string v = c.param("_summary");
    if (v == "true") s.summary = fhir::Summary::true_;
    else if (v == "text") s.summary = fhir::Summary::text;
    else if (v == "data") s.summary = fhir::Summary::data;
    else if (v != "false")
      return Status(Err::invalid, "_summary: '" + v + "' is not one of true, false, text, data (count applies to searches)",
                    "_summary");
    s.link_params.emplace_back("_summary", v);
  }
  if (c.has_param("_elements")) {
    for (const std::string& raw : split(c.param("_elements"), ',')) {
      std::string el = raw;
      while (!el.empty() && el.front() == ' ') el.erase(0, 1);
      while (!el.empty() && el.back() == ' ') el.pop_back();
      size_t dot = el.find('.');
      if (dot != std::string::npos) el = el.substr(dot + 1);  // "Patient.name" -> "name"
      if (el.empty() ||
          el.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_[]") != std::string::npos)
        return Status(Err::invalid, "_elements: '" + raw + "' is not an element name", "_elements");
      s.elements.push_back(el);
    }
    s.link_params.emplace_back("_elements", c.param("_elements"));
  }
  return s;
}

void Subset::apply(std::string& body) const {
  if (any() && !body.empty()) body = fhir::subset_resource(body, summary, elements);
}

void send_read(Ctx& c, const std::string& type, const std::string& id, int64_t version, int64_t last_updated,
               const std::string& body) {
  auto s = parse_subset(c);
  if (!s) return send_error(c, s.status());
  if (!s->any()) return send_resource(c, 200, type, id, version, last_updated, body, false);
  send_resource(c, 200, type, id, version, last_updated, fhir::subset_resource(body, s->summary, s->elements), false);
}

Status probe_listen(const std::string& host, int port) {
  if (port <= 0) return Status();
  std::string where = host + ":" + std::to_string(port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* res = nullptr;
  int g = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res);
  if (g != 0) return Status(Err::invalid, "cannot listen on " + where + ": " + gai_strerror(g));
  int err = 0;
  bool bound = false;
  for (addrinfo* a = res; a && !bound; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      err = errno;
      continue;
    }
    int yes = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);  // TIME_WAIT is fine; a listener is not
    if (::bind(fd, a->ai_addr, a->ai_addrlen) == 0) bound = true;
    else err = errno;
    ::close(fd);
  }
  freeaddrinfo(res);
  if (bound) return Status();
  if (err == EADDRINUSE)
    return Status(Err::unavailable, "cannot listen on " + where +
                                        ": address already in use (another process, perhaps another edgefhir, listens there)");
  return Status(Err::unavailable, "cannot listen on " + where + ": " + std::strerror(err));
}

}  // namespace ef::http
