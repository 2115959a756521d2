// http/errors.h — the ONE table that turns a Status category (util/status.h) into what a
// client sees: the HTTP status code, its reason phrase, and the OperationOutcome issue code.
// Direct responses (send_error in http/context.cpp), Bundle entry responses (http/bundle.cpp),
// the 401 of authentication and cpp-httplib's own error pages all use it, so one category
// never means two different things on two routes.
//
// Internal errors (Err::internal: a bug, an I/O or SQLite failure) are logged with their
// detail and the request id; the client gets a generic text naming the request id, never
// the detail (which may hold SQL or file paths).
#pragma once
#include <string>

#include "util/status.h"

namespace ef::http {

int http_status(const Status& st);
// "404 Not Found" (Bundle.entry.response.status); the number alone for unknown codes.
std::string status_line(int http_code);
// The category a bare HTTP status code stands for (cpp-httplib's error pages).
Err err_for_http(int http_code);
// The OperationOutcome of `st` (severity from the category unless given).  For Err::internal
// the diagnostics are replaced by a generic text naming `request_id`, and the detail is logged.
std::string outcome_json(const Status& st, const std::string& request_id, const char* severity = nullptr);

}  // namespace ef::http
