// http/xml_body.cpp — see xml_body.h.
#include "http/xml_body.h"

#include "fhir/xml.h"
#include "fhir/xml_cache.h"
#include "http/conventions.h"
#include "util/json.h"

namespace ef::http {

Status xml_request_body(Ctx& c) {
  if (c.req.body.empty()) return Status();
  std::string m = media_type(c.header("Content-Type"));
  if (!is_xml_media(m)) return Status();
  if (c.req.body.size() > c.app.cfg.limits.max_body_bytes)
    return Status(Err::too_large, "the request body is larger than the limit of " +
                                      std::to_string(c.app.cfg.limits.max_body_bytes) + " bytes");
  if (c.format_open) c.xml = true;  // errors, too, in the body's format
  fhir::xml::ParseLimits lim;
  lim.max_depth = c.app.cfg.limits.max_json_depth > 0 ? size_t(c.app.cfg.limits.max_json_depth) : 64;
  lim.max_values = c.app.cfg.limits.max_json_values;
  auto v = fhir::xml::parse(c.req.body, lim);
  if (!v) return v.status();
  // cpp-httplib hands handlers the request as const; it owns a mutable one (as for the BOM).
  auto& req = const_cast<httplib::Request&>(c.req);
  req.body = json::write(*v);
  req.headers.erase("Content-Type");
  req.headers.emplace("Content-Type", "application/fhir+json");
  return Status();
}

bool json_to_xml(const std::string& text, bool pretty, std::string* out, bool cache) {
  if (cache) return fhir::xml::read_cache().render(text, pretty, out);
  return fhir::xml::write_text(text, pretty, out);
}

}  // namespace ef::http
