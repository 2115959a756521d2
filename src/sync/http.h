// sync/http.h — the outgoing HTTP of sync, as sync sees it: an upstream endpoint (base URL
// without query or fragment, under net/'s transport policy: https with certificate
// verification, optional CA file; plain http only to a loopback address, for tests and
// same-host upstreams), and a client that sends a request relative to the endpoint's base
// path and returns status, the few headers sync reads, and the body.  URL parsing, the
// loopback rule and the transport itself are net/http_client's; errors are operator-readable
// sentences, never containing the Authorization header or a request body.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "net/http_client.h"
#include "util/status.h"

namespace ef::sync {

struct Endpoint {
  std::string scheme;  // http | https
  std::string host;    // lower case, IPv6 without brackets
  int port = 0;
  std::string base_path;  // "" or "/fhir/r4" (no trailing slash)
  bool ipv6 = false;
  std::string origin() const;  // scheme://host:port
  std::string url() const { return origin() + base_path; }
};

// Checks the transport policy; errors say what is wrong ("plain http is allowed only to a
// loopback address; use https").
Result<Endpoint> parse_endpoint(const std::string& url);
using net::is_loopback_host;

struct HttpResponse {
  int status = 0;     // 0: no response (see error)
  std::string error;  // transport failure, operator-readable
  std::string body;
  std::string etag, location, content_type, www_authenticate, retry_after;
  bool too_large = false;
};

using Headers = net::Headers;

class HttpClient {
 public:
  HttpClient(Endpoint ep, std::string ca_file, int timeout_seconds);
  ~HttpClient();
  // `path` is appended to the endpoint's base_path ("/Patient/1"; "" = the base itself).
  // `max_bytes` > 0 caps the response body (a larger one is an error, status 0, too_large).
  HttpResponse send(const std::string& method, const std::string& path, const Headers& headers,
                    const std::string& body = {}, const std::string& content_type = {}, size_t max_bytes = 0);
  // Aborts an in-flight request from another thread (shutdown).
  void abort();
  const Endpoint& endpoint() const { return ep_; }

 private:
  Endpoint ep_;
  net::Client client_;
};

// W/"3" or "3" -> 3's text; "" when not an entity tag.
std::string etag_version(const std::string& etag);
// "Patient/1/_history/3" (possibly absolute) -> "3"; "" when absent.
std::string location_version(const std::string& location);

}  // namespace ef::sync
