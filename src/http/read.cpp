// http/read.cpp — read and vread: https://hl7.org/fhir/R4/http.html#read
// Conditional read: If-None-Match (ETag) and If-Modified-Since give 304.
#include "http/conventions.h"
#include "http/handlers.h"
#include "util/time.h"

namespace ef::http {

static bool not_modified(Ctx& c, int64_t version, int64_t last_updated) {
  std::string inm = c.header("If-None-Match");
  if (!inm.empty()) {
    auto e = parse_etag(inm);
    return e.ok() && *e && **e == version;
  }
  std::string ims = c.header("If-Modified-Since");
  if (!ims.empty()) {
    auto t = timefmt::parse_http_date(ims);
    if (t && last_updated / 1000 * 1000 <= *t) return true;
  }
  return false;
}

static void send_version(Ctx& c, const store::Version& v) {
  if (not_modified(c, v.version, v.last_updated)) {
    c.res.set_header("ETag", etag(v.version));
    c.res.set_header("Last-Modified", timefmt::format_http_date(v.last_updated));
    c.res.status = 304;
    return;
  }
  send_read(c, v.type, v.id, v.version, v.last_updated, v.body);  // + _summary/_elements (http/conventions.h)
}

void handle_read(Ctx& c, const std::string& type, const std::string& id) {
  c.interaction = "read";
  auto v = c.app.service->read(*c.access, type, id);
  if (!v) return send_error(c, v.status());
  send_version(c, *v);
}

void handle_vread(Ctx& c, const std::string& type, const std::string& id, const std::string& vid) {
  c.interaction = "vread";
  auto e = parse_etag(vid);
  if (!e || !*e) return send_error(c, Status(Err::invalid, "'" + vid + "' is not a version id"));
  auto v = c.app.service->vread(*c.access, type, id, **e);
  if (!v) return send_error(c, v.status());
  send_version(c, *v);
}

}  // namespace ef::http
