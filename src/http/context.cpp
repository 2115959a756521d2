// http/context.cpp — see context.h.  Also the Err → HTTP status table.
#include "http/context.h"

#include "http/errors.h"
#include "http/xml_body.h"

#include <zlib.h>

#include "fhir/outcome.h"
#include "util/json.h"
#include "util/time.h"

namespace ef::http {

std::string Ctx::param(const std::string& name) const {
  return req.has_param(name.c_str()) ? req.get_param_value(name.c_str()) : std::string();
}


static bool accepts_gzip(const Ctx& c) {
  std::string ae = c.header("Accept-Encoding");
  size_t p = ae.find("gzip");
  if (p == std::string::npos) return false;
  // "gzip;q=0" disables it
  size_t q = ae.find("q=0", p);
  size_t comma = ae.find(',', p);
  if (q != std::string::npos && (comma == std::string::npos || q < comma)) {
    std::string rest = ae.substr(q + 3, 4);
    if (rest.empty() || rest[0] != '.' || rest.find_first_not_of(".0") == std::string::npos) return false;
  }
  return true;
}

static bool gzip_compress(const std::string& in, std::string* out) {
  z_stream zs{};
  if (deflateInit2(&zs, 4, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK) return false;
  out->resize(deflateBound(&zs, uLong(in.size())) + 32);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = uInt(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(&(*out)[0]);
  zs.avail_out = uInt(out->size());
  int rc = deflate(&zs, Z_FINISH);
  out->resize(zs.total_out);
  deflateEnd(&zs);
  return rc == Z_STREAM_END;
}

// cache_xml: body is a stored resource version being read (GET/HEAD); its XML rendering may
// come from / go to the read cache (fhir/xml_cache.h).  Other bodies (Bundles with their own
// ids and timestamps, outcomes) are rendered each time.
static void send_body(Ctx& c, int status, const std::string& body, bool cache_xml) {
  c.res.status = status;
  const std::string* out = &body;
  std::string pretty;
  if (c.pretty && !c.xml && !body.empty()) {
    json::ParseOptions o;
    o.preserve_numbers = true;
    o.max_depth = 1000;
    auto v = json::parse(body, o);
    if (v) {
      pretty = json::write(*v, true);
      out = &pretty;
    }
  }
  const char* ctype = "application/fhir+json; charset=utf-8";
  std::string xml;
  if (c.xml && !body.empty() && json_to_xml(body, c.pretty, &xml, cache_xml)) {  // http/xml_body.h
    out = &xml;
    ctype = "application/fhir+xml; charset=utf-8";
  }
  if (out->empty()) {
    c.res.body.clear();
    return;
  }
  if (out->size() > 1024 && accepts_gzip(c)) {
    std::string z;
    if (gzip_compress(*out, &z)) {
      c.res.set_header("Content-Encoding", "gzip");
      c.res.set_header("Vary", "Accept-Encoding");
      c.res.set_content(std::move(z), ctype);
      return;
    }
  }
  c.res.set_content(*out, ctype);
}

void send_json(Ctx& c, int status, const std::string& body) { send_body(c, status, body, false); }

void send_error(Ctx& c, const Status& st) {
  if (st.code == Err::method_not_allowed) c.res.set_header("Allow", "GET, POST, PUT, PATCH, DELETE");
  send_json(c, http_status(st), outcome_json(st, c.request_id));
}

std::string etag(int64_t version) { return "W/\"" + std::to_string(version) + "\""; }

void send_resource(Ctx& c, int status, const std::string& type, const std::string& id, int64_t version,
                   int64_t last_updated, const std::string& body, bool location) {
  c.res.set_header("ETag", etag(version));
  c.res.set_header("Last-Modified", timefmt::format_http_date(last_updated));
  if (location)
    c.res.set_header("Location", c.app.base_url + "/" + type + "/" + id + "/_history/" + std::to_string(version));
  // Prefer: return=minimal | representation | OperationOutcome (write interactions).
  std::string prefer = c.header("Prefer");
  if (c.req.method != "GET" && c.req.method != "HEAD") {
    if (prefer.find("return=minimal") != std::string::npos) {
      c.res.status = status;
      return;
    }
    if (prefer.find("return=OperationOutcome") != std::string::npos) {
      fhir::Issue i;
      i.severity = "information";
      i.code = "informational";
      i.diagnostics = type + "/" + id + " version " + std::to_string(version) + (status == 201 ? " created" : " stored");
      send_json(c, status, json::write(fhir::operation_outcome(i)));
      return;
    }
  }
  send_body(c, status, body, c.req.method == "GET" || c.req.method == "HEAD");
}

std::string media_type(const std::string& v) {
  std::string m = v.substr(0, v.find(';'));
  while (!m.empty() && m.back() == ' ') m.pop_back();
  for (auto& ch : m) ch = char(std::tolower(static_cast<unsigned char>(ch)));
  return m;
}

Status check_json_body(const Ctx& c, bool allow_json_patch) {
  if (c.req.body.size() > c.app.cfg.limits.max_body_bytes)
    return Status(Err::too_large, "the request body is larger than the limit of " +
                                      std::to_string(c.app.cfg.limits.max_body_bytes) + " bytes");
  std::string ct = c.header("Content-Type");
  std::string m = media_type(ct);
  if (m == "application/fhir+json" || m == "application/json" || m == "application/json+fhir") return Status();
  if (allow_json_patch && m == "application/json-patch+json") return Status();
  if (m.empty()) return Status(Err::unsupported_media, "the request has no Content-Type; send application/fhir+json or application/fhir+xml");
  return Status(Err::unsupported_media, "Content-Type '" + m + "' is not supported; send application/fhir+json or application/fhir+xml" +
                                            std::string(allow_json_patch ? " or application/json-patch+json" : ""));
}

Result<std::optional<int64_t>> parse_etag(const std::string& v) {
  if (v.empty()) return std::optional<int64_t>();
  std::string s = v;
  if (s.rfind("W/", 0) == 0) s = s.substr(2);
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
  if (s.empty() || s.size() > 18 || s.find_first_not_of("0123456789") != std::string::npos)
    return Status(Err::invalid, "ETag '" + v + "' is not a version (expected W/\"n\")");
  return std::optional<int64_t>(std::stoll(s));
}

}  // namespace ef::http
