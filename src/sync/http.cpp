// sync/http.cpp — see http.h.
#include "sync/http.h"

namespace ef::sync {

std::string Endpoint::origin() const {
  return scheme + "://" + (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Result<Endpoint> parse_endpoint(const std::string& url) {
  auto u = net::parse_url(url);
  if (!u) return Status(Err::invalid, "'" + url + "': " + u.status().message);
  if (url.find_first_of("?#", url.find("://") + 3) != std::string::npos)
    return Status(Err::invalid, "'" + url + "' must not contain a query or fragment");
  if (!net::plain_http_allowed(*u))
    return Status(Err::invalid, "'" + url + "': plain http is allowed only to a loopback address; use https");
  Endpoint e;
  e.scheme = u->scheme;
  e.host = u->host;
  e.port = u->port;
  e.ipv6 = u->ipv6;
  e.base_path = u->path;
  while (!e.base_path.empty() && e.base_path.back() == '/') e.base_path.pop_back();
  return e;
}

static net::Url origin_of(const Endpoint& ep) {
  net::Url u;
  u.scheme = ep.scheme;
  u.host = ep.host;
  u.port = ep.port;
  u.ipv6 = ep.ipv6;
  return u;
}

static net::ClientOptions options(std::string ca_file, int timeout_seconds) {
  net::ClientOptions o;
  o.ca_file = std::move(ca_file);
  o.timeout_seconds = timeout_seconds;
  o.keep_alive = true;
  o.user_agent = "edgefhir-sync";
  return o;
}

HttpClient::HttpClient(Endpoint ep, std::string ca_file, int timeout_seconds)
    : ep_(std::move(ep)), client_(origin_of(ep_), options(std::move(ca_file), timeout_seconds)) {}

HttpClient::~HttpClient() = default;

void HttpClient::abort() { client_.abort(); }

HttpResponse HttpClient::send(const std::string& method, const std::string& path, const Headers& headers,
                              const std::string& body, const std::string& content_type, size_t max_bytes) {
  net::Request req;
  req.method = method;
  req.path = path.empty() ? (ep_.base_path.empty() ? "/" : ep_.base_path) : ep_.base_path + path;
  req.headers = headers;
  req.body = body;
  req.content_type = content_type;
  req.max_bytes = max_bytes;
  if (max_bytes) req.deadline = true;
  net::Response r = client_.send(req);
  HttpResponse out;
  out.status = r.status;
  out.error = std::move(r.error);
  out.too_large = r.too_large;
  out.body = std::move(r.body);
  out.etag = r.header("etag");
  out.location = r.header("location");
  if (out.location.empty()) out.location = r.header("content-location");
  out.content_type = r.header("content-type");
  out.www_authenticate = r.header("www-authenticate");
  out.retry_after = r.header("retry-after");
  return out;
}

std::string etag_version(const std::string& etag) {
  std::string s = etag;
  if (s.rfind("W/", 0) == 0) s = s.substr(2);
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
  else return {};
  if (s.empty() || s.find('"') != std::string::npos) return {};
  return s;
}

std::string location_version(const std::string& location) {
  size_t p = location.rfind("/_history/");
  if (p == std::string::npos) return {};
  std::string v = location.substr(p + 10);
  if (size_t q = v.find_first_of("/?#"); q != std::string::npos) v.erase(q);
  return v;
}

}  // namespace ef::sync
