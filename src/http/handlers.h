// http/handlers.h — one function per FHIR interaction (one file per group, each opening with
// the link to its section of the R4 spec).  server.cpp routes to these.
#pragma once
#include <string>

#include "http/context.h"

namespace ef::http {

// read.cpp — https://hl7.org/fhir/R4/http.html#read , #vread
void handle_read(Ctx& c, const std::string& type, const std::string& id);
void handle_vread(Ctx& c, const std::string& type, const std::string& id, const std::string& vid);
// write.cpp — #create #update #patch #delete
void handle_create(Ctx& c, const std::string& type);
void handle_update(Ctx& c, const std::string& type, const std::string& id);
void handle_patch(Ctx& c, const std::string& type, const std::string& id);
void handle_delete(Ctx& c, const std::string& type, const std::string& id);
// history.cpp — #history
void handle_history(Ctx& c, const std::string& type, const std::string& id);
// capability.cpp — #capabilities
void handle_metadata(Ctx& c);
// GET /.well-known/smart-configuration — https://hl7.org/fhir/smart-app-launch/conformance.html
void handle_smart_configuration(Ctx& c);
// health.cpp — GET /health: liveness and readiness (database readable and writable)
void handle_health(Ctx& c);
// GET /metrics — Prometheus text format (http/metrics.h)
void handle_metrics(Ctx& c);

}  // namespace ef::http
