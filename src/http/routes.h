// http/routes.h — the route table: what a request is, decided from its method and URL path
// segments before anything runs (the policy needs the interaction, type and id up front):
// the interaction, whether it is public (no token: metadata, discovery, health, the console's
// files), whether it is audited, and the handler to run.  Unknown types and paths are a 404
// plan, wrong methods a 405 plan; nothing here reads data or decides who may do what.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "auth/policy.h"
#include "http/context.h"
#include "util/status.h"

namespace ef::http {

struct Plan {
  auth::Interaction interaction = auth::Interaction::read;
  const char* label = nullptr;    // metrics/log name when not the interaction's ("health", "invalid")
  bool public_ = false;           // no token needed (metadata, health, discovery)
  bool audited = false;           // audited although public_ (console whoami authenticates itself)
  std::function<void(Ctx&)> run;  // the handler
  // Run after authentication and before the authorization decision, only for an authenticated
  // caller under a policy: may set c.type from the body (POST /$validate), so that an
  // anonymous request never has its body parsed.
  std::function<void(Ctx&)> resolve;
};

// The URL-decoded segments of a path ("/Patient/a%2Fb" -> Patient, a/b; empty segments
// dropped); false when a percent escape is broken.
bool split_path(const std::string& path, std::vector<std::string>* seg);

// A plan that answers `st` (label "invalid", public: the request is refused anyway).
Plan error_plan(Status st);

// The plan for c.req.method and c.seg (the URL-decoded path segments); sets c.type and c.id
// when the path names them.
Plan plan_route(Ctx& c);

}  // namespace ef::http
