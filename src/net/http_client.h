// net/http_client.h — the one outbound HTTP client of edgefhir, used by key discovery/JWKS
// (auth/refresher) and by sync (sync/http, sync/token_client).  Owns:
//  * URL parsing (parse_url): absolute http(s) URLs only, no user information, a valid
//    port, no spaces or control characters; the host is lower-cased, IPv6 without brackets.
//  * The ONE loopback rule (is_loopback_host): "localhost", "::1" or a dotted quad in
//    127.0.0.0/8.  Plain http is allowed only to such a host (check_transport); the same
//    rule decides whether http/server's listener counts as loopback.
//  * The transport (Client): https with certificate and host-name verification (the
//    configured ca_file, else the system CAs, via cpp-httplib's TLS), connect/read/write
//    timeouts, redirects never followed, an optional body-size cap and overall deadline
//    enforced while streaming, cancellation from another thread (abort / a cancel check).
// Errors are operator-readable sentences and never contain request headers or bodies.
// Sits below auth and sync in the layering (tools/check_layers.py): it knows nothing of
// FHIR, tokens or the configuration file.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "util/status.h"

namespace httplib {
class Client;
}

namespace ef::net {

struct Url {
  std::string scheme;  // "http" | "https" (lower case)
  std::string host;    // lower case, IPv6 without brackets
  int port = 0;        // explicit or the scheme's default (443 / 80)
  bool ipv6 = false;
  std::string path;    // "" or "/a/b?q" as written (the fragment removed)
  std::string origin() const;  // scheme://host:port
};

// Parses an absolute http(s) URL.  The message is the reason only ("URL has no host"); the
// caller names the URL and the configuration key.
Result<Url> parse_url(const std::string& url);
// "localhost", "::1" or a dotted quad of decimal octets in 127.0.0.0/8.
bool is_loopback_host(const std::string& host);
// ok when the URL is https, or http to a loopback host.
bool plain_http_allowed(const Url& u);

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method = "GET";
  std::string path = "/";  // path and query on the client's origin
  Headers headers;
  std::string body;
  std::string content_type;  // sent when body is non-empty or method is POST/PUT
  size_t max_bytes = 0;      // 0 = no cap; a larger body is an error (Content-Length checked first)
  bool deadline = false;     // true: the whole body must arrive within timeout_seconds
};

struct Response {
  int status = 0;     // 0 = no response, see error
  std::string error;  // transport failure, operator-readable ("" = got a response)
  bool too_large = false;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string header(const std::string& lower_name) const;
};

struct ClientOptions {
  std::string ca_file;        // "" = the system CAs
  int timeout_seconds = 10;   // read/write timeout (and the overall deadline when asked)
  int max_connect_seconds = 10;
  bool keep_alive = false;
  std::string user_agent = "edgefhir";
};

class Client {
 public:
  // `origin` is a parsed URL; only its scheme, host and port are used.
  Client(Url origin, ClientOptions opt);
  ~Client();
  // `cancelled`, when given, is polled while the body streams; true aborts the request.
  Response send(const Request& r, const std::function<bool()>& cancelled = {});
  // Aborts an in-flight request from another thread; later sends fail at once.
  void abort();
  const Url& origin() const { return origin_; }
  const ClientOptions& options() const { return opt_; }

 private:
  Url origin_;
  ClientOptions opt_;
  std::mutex mu_;  // guards cli_ creation/reset/abort
  std::unique_ptr<httplib::Client> cli_;
  std::atomic<bool> aborted_{false};
};

}  // namespace ef::net
