// http/server.h — the HTTP front: cpp-httplib server set-up (thread pool, TCP_NODELAY,
// timeouts, limits), routing of FHIR URLs to handlers, and the middleware every request
// passes: request id, content negotiation, authentication, logging.
#pragma once
#include <memory>
#include <string>

#include "http/app.h"

namespace ef::http {

class Server {
 public:
  explicit Server(App& app);
  ~Server();
  // Binds the listen address (once; port 0: a free port, and App::base_url then names it
  // when base_url is not configured).  "address already in use" when another process holds it.
  Status bind();
  // Binds (when bind() was not called) and serves until stop().
  Status run();
  void stop();
  int bound_port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The CapabilityStatement JSON (built once, cached).
const std::string& metadata_json(App& app);

}  // namespace ef::http
