// http/capability.cpp — GET /metadata: https://hl7.org/fhir/R4/http.html#capabilities
// The statement is built once at start (it only changes with the binary and the config).
#include "auth/smart_config.h"
#include "fhir/capability.h"
#include "http/handlers.h"
#include "http/server.h"

namespace ef::http {

void handle_metadata(Ctx& c) {
  c.interaction = "capabilities";
  send_json(c, 200, metadata_json(c.app));
}

}  // namespace ef::http

namespace ef::http {

void handle_smart_configuration(Ctx& c) {
  auto doc = auth::smart_configuration(c.app.cfg.auth);
  if (!doc) return send_error(c, doc.status());
  c.res.status = 200;
  c.res.set_content(json::write(*doc, c.pretty), "application/json");
}

}  // namespace ef::http
