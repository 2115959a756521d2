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
  // Binds and serves until stop(). Returns an error when the address cannot be bound.
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
