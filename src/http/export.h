// http/export.h — the HTTP side of Bulk Data export (https://hl7.org/fhir/uv/bulkdata/export.html,
// the async request pattern of the Bulk Data Access IG v1/v2): kick-off, status, manifest,
// file and cancel requests (handle_export / handle_export_job, declared in http/operations.h).
// The job engine (config, worker, files) is service/export_engine.h, reached as app.exports.
#pragma once
#include <string>

#include "http/context.h"

namespace ef::http {

// The caller identity an export job is bound to: "issuer|subject|client_id", "" when the
// request is unauthenticated (auth off).
std::string export_owner(const Ctx& c);

}  // namespace ef::http
