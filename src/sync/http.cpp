// sync/http.cpp — see http.h.
#include "sync/http.h"

#include <httplib.h>

#include <algorithm>
#include <cctype>

namespace ef::sync {

std::string Endpoint::origin() const {
  return scheme + "://" + (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

bool is_loopback_host(const std::string& host) {
  if (host == "localhost" || host == "::1") return true;
  int parts = 0, val = -1;
  bool first127 = false;
  for (size_t i = 0; i <= host.size(); ++i) {
    if (i == host.size() || host[i] == '.') {
      if (val < 0 || val > 255) return false;
      if (parts == 0) first127 = val == 127;
      ++parts;
      val = -1;
    } else if (host[i] >= '0' && host[i] <= '9') {
      val = (val < 0 ? 0 : val * 10) + (host[i] - '0');
      if (val > 255) return false;
    } else {
      return false;
    }
  }
  return parts == 4 && first127;
}

Result<Endpoint> parse_endpoint(const std::string& url) {
  Endpoint e;
  size_t p = url.find("://");
  if (p == std::string::npos) return Status(Err::invalid, "'" + url + "' is not an absolute URL (https://host/path)");
  e.scheme = url.substr(0, p);
  for (char& ch : e.scheme) ch = char(std::tolower(static_cast<unsigned char>(ch)));
  if (e.scheme != "https" && e.scheme != "http") return Status(Err::invalid, "'" + url + "': the scheme must be https");
  size_t start = p + 3;
  size_t end = url.find_first_of("/?#", start);
  std::string auth = url.substr(start, end == std::string::npos ? std::string::npos : end - start);
  std::string path = end == std::string::npos ? "" : url.substr(end);
  if (path.find_first_of("?#") != std::string::npos)
    return Status(Err::invalid, "'" + url + "' must not contain a query or fragment");
  for (char ch : path)
    if (static_cast<unsigned char>(ch) <= 0x20 || ch == 0x7f)
      return Status(Err::invalid, "'" + url + "' contains a space or control character");
  if (auth.empty()) return Status(Err::invalid, "'" + url + "' has no host");
  if (auth.find('@') != std::string::npos) return Status(Err::invalid, "'" + url + "' must not contain user information");
  std::string port;
  if (auth[0] == '[') {
    size_t rb = auth.find(']');
    if (rb == std::string::npos) return Status(Err::invalid, "'" + url + "': malformed IPv6 host");
    e.host = auth.substr(1, rb - 1);
    e.ipv6 = true;
    std::string rest = auth.substr(rb + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') return Status(Err::invalid, "'" + url + "': malformed host:port");
      port = rest.substr(1);
    }
  } else {
    size_t c = auth.rfind(':');
    e.host = auth.substr(0, c);
    if (c != std::string::npos) port = auth.substr(c + 1);
  }
  if (e.host.empty()) return Status(Err::invalid, "'" + url + "' has no host");
  for (char& ch : e.host) ch = char(std::tolower(static_cast<unsigned char>(ch)));
  if (port.empty()) {
    e.port = e.scheme == "https" ? 443 : 80;
  } else {
    if (port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char ch) { return ch >= '0' && ch <= '9'; }) ||
        std::stoi(port) < 1 || std::stoi(port) > 65535)
      return Status(Err::invalid, "'" + url + "': invalid port");
    e.port = std::stoi(port);
  }
  while (!path.empty() && path.back() == '/') path.pop_back();
  e.base_path = path;
  if (e.scheme == "http" && !is_loopback_host(e.host))
    return Status(Err::invalid, "'" + url + "': plain http is allowed only to a loopback address; use https");
  return e;
}

HttpClient::HttpClient(Endpoint ep, std::string ca_file, int timeout_seconds)
    : ep_(std::move(ep)), ca_file_(std::move(ca_file)), timeout_(std::max(1, timeout_seconds)) {}

HttpClient::~HttpClient() = default;

void HttpClient::abort() {
  aborted_ = true;
  std::lock_guard<std::mutex> lk(mu_);
  if (cli_) cli_->stop();
}

static std::string describe(httplib::Error e, const std::string& ca_file, int timeout) {
  switch (e) {
    case httplib::Error::Connection: return "connection failed (upstream unreachable)";
    case httplib::Error::ConnectionTimeout: return "connection timed out";
    case httplib::Error::Read: return "no complete response within " + std::to_string(timeout) + " s";
    case httplib::Error::Write: return "sending the request failed";
    case httplib::Error::SSLConnection: return "TLS handshake failed";
    case httplib::Error::SSLLoadingCerts:
      return "cannot load CA certificates" + (ca_file.empty() ? std::string() : " from '" + ca_file + "'");
    case httplib::Error::SSLServerVerification: return "server certificate verification failed";
    case httplib::Error::Canceled: return "cancelled";
    default: return "request failed (" + httplib::to_string(e) + ")";
  }
}

HttpResponse HttpClient::send(const std::string& method, const std::string& path, const Headers& headers,
                              const std::string& body, const std::string& content_type) {
  HttpResponse out;
  if (aborted_) {
    out.error = "cancelled (shutting down)";
    return out;
  }
  httplib::Client* cli = nullptr;
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (!cli_) {
      cli_ = std::make_unique<httplib::Client>(ep_.origin());
      if (ep_.scheme == "https") {
        cli_->enable_server_certificate_verification(true);
        if (!ca_file_.empty()) cli_->set_ca_cert_path(ca_file_.c_str());
      }
      cli_->set_connection_timeout(time_t(std::min(timeout_, 10)), 0);
      cli_->set_read_timeout(time_t(timeout_), 0);
      cli_->set_write_timeout(time_t(timeout_), 0);
      cli_->set_follow_location(false);
      cli_->set_keep_alive(true);
      cli_->set_tcp_nodelay(true);  // headers and body go in separate writes: no Nagle + delayed-ACK stall
    }
    cli = cli_.get();
  }
  if (!cli->is_valid()) {
    out.error = "cannot create an HTTP client for " + ep_.origin();
    return out;
  }
  httplib::Request req;
  req.method = method;
  req.path = path.empty() ? (ep_.base_path.empty() ? "/" : ep_.base_path) : ep_.base_path + path;
  for (const auto& h : headers) req.headers.emplace(h.first, h.second);
  req.headers.emplace("User-Agent", "edgefhir-sync");
  if (!body.empty() || method == "POST" || method == "PUT") {
    req.body = body;
    req.headers.emplace("Content-Type", content_type.empty() ? "application/fhir+json" : content_type);
  }
  auto res = cli->send(req);
  if (!res) {
    out.error = describe(res.error(), ca_file_, timeout_);
    // A broken keep-alive connection must not poison the next attempt.
    std::lock_guard<std::mutex> lk(mu_);
    cli_.reset();
    return out;
  }
  out.status = res->status;
  out.body = std::move(res->body);
  out.etag = res->get_header_value("ETag");
  out.location = res->get_header_value("Location");
  if (out.location.empty()) out.location = res->get_header_value("Content-Location");
  out.content_type = res->get_header_value("Content-Type");
  out.www_authenticate = res->get_header_value("WWW-Authenticate");
  out.retry_after = res->get_header_value("Retry-After");
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
