// http/console.h — the built-in web console at /console/ (issue 17): a single-page app
// (console/* in the source tree, embedded at build time: http/console_assets.h) that uses
// the FHIR API with the bearer token the person pastes.  It has no privileges of its own.
//
// Owns: the `console` config section ({"enabled": true}); the routes under /console/:
//   GET /console                 301 to /console/
//   GET /console/, /console/F    the embedded files (public: they hold no data)
//   GET /console/api/whoami      what the caller's token is and may do: the validator's
//                                verdict per check, roles, scopes, patient context, and the
//                                policy's decision for a set of interactions; 401 with the
//                                failed check when the token is refused.  Authenticates the
//                                caller itself (to report the checks), and is audited.
//   GET /console/api/status      key cache per issuer, sync queue and last push, recent
//                                audit events, a few metrics; interaction "admin" through
//                                the normal authentication and policy (403 otherwise).
// Every console response carries a strict Content-Security-Policy (no inline script or
// style, connect-src 'self', frame-ancestors 'none'), X-Content-Type-Options: nosniff,
// Referrer-Policy: no-referrer and Cache-Control: no-store (API) / no-cache (files).
// The token never appears in an answer, a log line or an audit row.
#pragma once
#include <functional>
#include <string>

#include "auth/policy.h"
#include "http/context.h"

namespace ef::http {

// Parses the `console` section ({"enabled": true}; null/missing: enabled).  Errors name the key.
Result<bool> parse_console_config(const json::Value* section);

// A route under /console, as server.cpp's planner needs it.
struct ConsoleRoute {
  auth::Interaction interaction = auth::Interaction::capabilities;
  const char* label = "console";
  bool public_ = true;           // no token needed (files), or the handler authenticates (whoami)
  bool audited = false;          // audit even though public_ (whoami)
  std::function<void(Ctx&)> run;
};

// Fills *out when c.seg names a console route (c.seg[0] == "console" and the console is
// enabled); false otherwise (the request is planned as usual, i.e. 404).
bool console_route(Ctx& c, ConsoleRoute* out);

}  // namespace ef::http
