// net/http_client.cpp — see http_client.h.
#include "net/http_client.h"

#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <chrono>

namespace ef::net {

std::string Url::origin() const {
  return scheme + "://" + (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

static std::string lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
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

bool plain_http_allowed(const Url& u) {
  if (u.scheme == "https") return true;
  return u.ipv6 ? u.host == "::1" : is_loopback_host(u.host);
}

Result<Url> parse_url(const std::string& url) {
  Url u;
  size_t p = url.find("://");
  if (p == std::string::npos) return Status(Err::invalid, "not an absolute URL (https://host/path)");
  u.scheme = lower(url.substr(0, p));
  if (u.scheme != "https" && u.scheme != "http") return Status(Err::invalid, "the scheme must be https");
  size_t start = p + 3;
  size_t end = url.find_first_of("/?#", start);
  std::string auth = url.substr(start, end == std::string::npos ? std::string::npos : end - start);
  u.path = end == std::string::npos ? "" : url.substr(end);
  if (size_t h = u.path.find('#'); h != std::string::npos) u.path.erase(h);
  if (!u.path.empty() && u.path[0] == '?') u.path = "/" + u.path;
  for (char c : u.path)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return Status(Err::invalid, "URL contains a space or control character");
  if (auth.empty()) return Status(Err::invalid, "URL has no host");
  if (auth.find('@') != std::string::npos) return Status(Err::invalid, "URL must not contain user information");
  std::string port;
  if (auth[0] == '[') {
    size_t rb = auth.find(']');
    if (rb == std::string::npos) return Status(Err::invalid, "malformed IPv6 host");
    u.host = auth.substr(1, rb - 1);
    u.ipv6 = true;
    std::string rest = auth.substr(rb + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') return Status(Err::invalid, "malformed host:port");
      port = rest.substr(1);
    }
  } else {
    size_t c = auth.rfind(':');
    u.host = auth.substr(0, c);
    if (c != std::string::npos) port = auth.substr(c + 1);
  }
  if (u.host.empty()) return Status(Err::invalid, "URL has no host");
  u.host = lower(u.host);
  if (port.empty()) {
    u.port = u.scheme == "https" ? 443 : 80;
  } else {
    if (port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
        std::stoi(port) < 1 || std::stoi(port) > 65535)
      return Status(Err::invalid, "invalid port");
    u.port = std::stoi(port);
  }
  return u;
}

std::string Response::header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? std::string() : it->second;
}

Client::Client(Url origin, ClientOptions opt) : origin_(std::move(origin)), opt_(std::move(opt)) {
  opt_.timeout_seconds = std::max(1, opt_.timeout_seconds);
  opt_.max_connect_seconds = std::max(1, opt_.max_connect_seconds);
}

Client::~Client() = default;

void Client::abort() {
  aborted_ = true;
  std::lock_guard<std::mutex> lk(mu_);
  if (cli_) cli_->stop();
}

static std::string describe(httplib::Error e, const std::string& ca_file, int timeout) {
  switch (e) {
    case httplib::Error::Connection: return "connection failed (host unreachable)";
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

Response Client::send(const Request& r, const std::function<bool()>& cancelled) {
  Response out;
  if (aborted_ || (cancelled && cancelled())) {
    out.error = "cancelled (shutting down)";
    return out;
  }
  if (!plain_http_allowed(origin_)) {
    out.error = "refused: plain http is allowed only to a loopback address";
    return out;
  }
  httplib::Client* cli = nullptr;
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (!cli_) {
      cli_ = std::make_unique<httplib::Client>(origin_.origin());
      if (origin_.scheme == "https") {
        cli_->enable_server_certificate_verification(true);
        if (!opt_.ca_file.empty()) cli_->set_ca_cert_path(opt_.ca_file.c_str());
      }
      cli_->set_connection_timeout(time_t(std::min(opt_.timeout_seconds, opt_.max_connect_seconds)), 0);
      cli_->set_read_timeout(time_t(opt_.timeout_seconds), 0);
      cli_->set_write_timeout(time_t(opt_.timeout_seconds), 0);
      cli_->set_follow_location(false);
      cli_->set_keep_alive(opt_.keep_alive);
      cli_->set_tcp_nodelay(true);  // headers and body go in separate writes: no Nagle + delayed-ACK stall
    }
    cli = cli_.get();
  }
  if (!cli->is_valid()) {
    out.error = "cannot create an HTTP client for " + origin_.origin();
    return out;
  }
  httplib::Request req;
  req.method = r.method;
  req.path = r.path.empty() ? "/" : r.path;
  for (const auto& h : r.headers) req.headers.emplace(h.first, h.second);
  if (!req.has_header("User-Agent")) req.headers.emplace("User-Agent", opt_.user_agent);
  if (!r.body.empty() || r.method == "POST" || r.method == "PUT") {
    req.body = r.body;
    req.headers.emplace("Content-Type", r.content_type.empty() ? "application/fhir+json" : r.content_type);
  }
  // Streaming: the size cap and the overall deadline are enforced while the body arrives, so
  // a server dripping bytes or sending a huge body cannot hold or flood us.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(opt_.timeout_seconds);
  bool timed_out = false, was_cancelled = false;
  std::string body;
  req.response_handler = [&](const httplib::Response& res) {
    out.status = res.status;
    if (r.max_bytes) {
      std::string cl = res.get_header_value("Content-Length");
      if (!cl.empty() && cl.size() < 19 && std::all_of(cl.begin(), cl.end(), ::isdigit) && std::stoull(cl) > r.max_bytes) {
        out.too_large = true;
        return false;
      }
    }
    return true;
  };
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    if (r.max_bytes && body.size() + n > r.max_bytes) {
      out.too_large = true;
      return false;
    }
    if (r.deadline && std::chrono::steady_clock::now() > deadline) {
      timed_out = true;
      return false;
    }
    if (cancelled && cancelled()) {
      was_cancelled = true;
      return false;
    }
    body.append(data, n);
    return true;
  };
  auto res = cli->send(req);
  if (out.too_large) {
    out.error = "response exceeds the limit of " + std::to_string(r.max_bytes) + " bytes";
  } else if (timed_out) {
    out.error = "response not complete within " + std::to_string(opt_.timeout_seconds) + " s";
  } else if (was_cancelled || aborted_ || (cancelled && cancelled())) {
    out.error = "cancelled (shutting down)";
  } else if (!res) {
    out.error = describe(res.error(), opt_.ca_file, opt_.timeout_seconds);
  } else {
    out.status = res->status;
    out.body = std::move(body);
    for (const auto& h : res->headers) out.headers.emplace(lower(h.first), h.second);
    return out;
  }
  out.status = 0;
  // A broken keep-alive connection must not poison the next attempt.
  std::lock_guard<std::mutex> lk(mu_);
  if (!aborted_) cli_.reset();
  return out;
}

}  // namespace ef::net
