// http/read.cpp — read and vread: https://hl7.org/fhir/R4/http.html#read
// Conditional read: If-None-Match (ETag) and If-Modified-Since give 304.  _summary and
// _elements reduce the answer (fhir::subset_resource: the isSummary flags, SUBSETTED tag).
#include "fhir/search_query.h"
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
  // _summary / _elements on read and vread (the isSummary flags, fhir::subset_resource).
  std::string sm = c.req.get_param_value("_summary"), el = c.req.get_param_value("_elements");
  if (sm.empty() && el.empty()) return send_resource(c, 200, v.type, v.id, v.version, v.last_updated, v.body, false);
  fhir::Summary summary = fhir::Summary::none;
  if (sm == "true") summary = fhir::Summary::true_;
  else if (sm == "text") summary = fhir::Summary::text;
  else if (sm == "data") summary = fhir::Summary::data;
  else if (!sm.empty() && sm != "false")
    return send_error(c, Status(Err::invalid, "_summary: '" + sm + "' is not one of true, false, text, data", "_summary"));
  std::vector<std::string> elements;
  for (size_t a = 0; !el.empty() && a <= el.size();) {
    size_t b = el.find(',', a);
    if (b == std::string::npos) b = el.size();
    if (b > a) elements.push_back(el.substr(a, b - a));
    a = b + 1;
  }
  send_resource(c, 200, v.type, v.id, v.version, v.last_updated, fhir::subset_resource(v.body, summary, elements), false);
}

void handle_read(Ctx& c, const std::string& type, const std::string& id) {
  c.interaction = "read";
  auto v = c.app.resources->read(c.app.db->reader(), type, id);
  if (!v) return send_error(c, v.status());
  send_version(c, *v);
}

void handle_vread(Ctx& c, const std::string& type, const std::string& id, const std::string& vid) {
  c.interaction = "vread";
  auto e = parse_etag(vid);
  if (!e || !*e) return send_error(c, Status(Err::invalid, "'" + vid + "' is not a version id"));
  auto v = c.app.resources->vread(c.app.db->reader(), type, id, **e);
  if (!v) return send_error(c, v.status());
  send_version(c, *v);
}

}  // namespace ef::http
