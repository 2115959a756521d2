// http/capability.cpp — GET /metadata: https://hl7.org/fhir/R4/http.html#capabilities
// The statement is built once at start (it only changes with the binary and the config).
#include "fhir/capability.h"
#include "http/handlers.h"
#include "http/server.h"

namespace ef::http {

void handle_metadata(Ctx& c) {
  c.interaction = "capabilities";
  send_json(c, 200, metadata_json(c.app));
}

}  // namespace ef::http
