// util/status.h — the error value every inner module returns instead of throwing.
//
// A Status carries a category (what kind of failure, never an HTTP number) and a
// human-readable message that is safe to show a client.  Only src/http/ turns a
// category into an HTTP status code and an OperationOutcome (see send_error in http/context.cpp).
// Result<T> is "a T or a Status".  Nothing here depends on any other module.
#pragma once
#include <string>
#include <utility>
#include <variant>

namespace ef {

enum class Err {
  ok = 0,
  invalid,             // malformed request or resource (400)
  not_found,           // no such resource / type / route (404)
  gone,                // resource deleted (410)
  conflict,            // version conflict or duplicate (409)
  precondition,        // If-Match / conditional with several matches (412)
  unprocessable,       // well-formed but violates FHIR rules (422)
  too_large,           // body or other size limit exceeded (413)
  uri_too_long,        // request target over the limit (414)
  unsupported_media,   // Content-Type not accepted (415)
  not_acceptable,      // _format / Accept not producible (406)
  not_supported,       // valid FHIR we do not implement (501 or 400 depending on context)
  method_not_allowed,  // (405)
  unauthorized,        // authentication failed (401)
  forbidden,           // authenticated but not allowed (403)
  too_many,            // rate limit (429)
  unavailable,         // temporarily unable (503)
  internal,            // bug or I/O failure (500)
};

struct Status {
  Err code = Err::ok;
  std::string message;     // safe for clients: never secrets or tokens
  std::string expression;  // optional FHIRPath-ish location, e.g. "Patient.id"
  std::string issue_code;  // optional OperationOutcome issue.code override (e.g. "not-found")

  Status() = default;
  Status(Err c, std::string m, std::string expr = {}) : code(c), message(std::move(m)), expression(std::move(expr)) {}
  bool ok() const { return code == Err::ok; }
  explicit operator bool() const { return ok(); }
  static Status Ok() { return Status(); }
};

template <class T>
class Result {
 public:
  Result(T v) : v_(std::move(v)) {}                       // NOLINT: implicit by design
  Result(Status s) : v_(std::move(s)) {}                  // NOLINT
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Status& status() const {
    static const Status okst;
    return ok() ? okst : std::get<1>(v_);
  }

 private:
  std::variant<T, Status> v_;
};

}  // namespace ef
