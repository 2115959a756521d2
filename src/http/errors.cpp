// http/errors.cpp — see errors.h.
#include "http/errors.h"

#include "fhir/outcome.h"
#include "util/json.h"
#include "util/log.h"

namespace ef::http {

namespace {

struct Row {
  Err err;
  int http;
  const char* phrase;
  const char* issue;  // OperationOutcome.issue.code
};

// The table.  (429/503/405 have their own categories; 501 is "valid FHIR we do not implement".)
constexpr Row kRows[] = {
    {Err::ok, 200, "OK", "informational"},
    {Err::invalid, 400, "Bad Request", "invalid"},
    {Err::unauthorized, 401, "Unauthorized", "login"},
    {Err::forbidden, 403, "Forbidden", "forbidden"},
    {Err::not_found, 404, "Not Found", "not-found"},
    {Err::method_not_allowed, 405, "Method Not Allowed", "not-supported"},
    {Err::not_acceptable, 406, "Not Acceptable", "not-supported"},
    {Err::conflict, 409, "Conflict", "conflict"},
    {Err::gone, 410, "Gone", "deleted"},
    {Err::precondition, 412, "Precondition Failed", "conflict"},
    {Err::too_large, 413, "Payload Too Large", "too-costly"},
    {Err::uri_too_long, 414, "URI Too Long", "too-costly"},
    {Err::unsupported_media, 415, "Unsupported Media Type", "not-supported"},
    {Err::unprocessable, 422, "Unprocessable Entity", "processing"},
    {Err::too_many, 429, "Too Many Requests", "throttled"},
    {Err::internal, 500, "Internal Server Error", "exception"},
    {Err::not_supported, 501, "Not Implemented", "not-supported"},
    {Err::unavailable, 503, "Service Unavailable", "transient"},
};

// Codes that are not a category's but appear in responses (success codes of interactions).
struct Extra {
  int http;
  const char* phrase;
};
constexpr Extra kExtra[] = {{201, "Created"}, {202, "Accepted"}, {204, "No Content"}, {304, "Not Modified"}};

const Row& row(Err e) {
  for (const Row& r : kRows)
    if (r.err == e) return r;
  return kRows[15];  // internal
}

}  // namespace

int http_status(const Status& st) { return row(st.code).http; }

std::string status_line(int code) {
  for (const Row& r : kRows)
    if (r.http == code) return std::to_string(code) + " " + r.phrase;
  for (const Extra& x : kExtra)
    if (x.http == code) return std::to_string(code) + " " + x.phrase;
  return std::to_string(code);
}

Err err_for_http(int code) {
  for (const Row& r : kRows)
    if (r.http == code) return r.err;
  return code >= 500 ? Err::internal : Err::invalid;
}

std::string outcome_json(const Status& st, const std::string& request_id, const char* severity) {
  fhir::Issue i;
  i.severity = severity ? severity : st.code == Err::internal ? "fatal" : st.ok() ? "information" : "error";
  i.code = !st.issue_code.empty() ? st.issue_code : row(st.code).issue;
  i.diagnostics = st.message;
  i.expression = st.expression;
  if (st.code == Err::internal) {
    log::error("request.internal_error", {{"request_id", request_id}, {"detail", st.message}});
    i.diagnostics = "internal error: the server could not complete the request (request id " + request_id +
                    "; the details are in the server log)";
    i.expression.clear();
  }
  return json::write(fhir::operation_outcome(i));
}

}  // namespace ef::http
