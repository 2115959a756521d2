// http/server.cpp — see server.h.  Routing is a split of the path into segments and a
// switch on their count: cheaper and clearer than a list of regexes.
#include "http/server.h"

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "fhir/capability.h"
#include "fhir/outcome.h"
#include "fhir/resource_types.h"
#include "http/context.h"
#include "http/handlers.h"
#include "util/log.h"

namespace ef::http {

#ifndef EDGEFHIR_VERSION
#define EDGEFHIR_VERSION "0.1.0"
#endif

struct Server::Impl {
  App& app;
  std::unique_ptr<httplib::Server> owned;
  httplib::Server& srv;
  std::atomic<int> port{0};
  bool insecure_bearer_refused = false;  // plain http on a non-loopback listener
  explicit Impl(App& a) : app(a), owned(make(a)), srv(*owned) {}
  static std::unique_ptr<httplib::Server> make(App& a) {
    if (!a.cfg.tls_cert.empty())
      return std::make_unique<httplib::SSLServer>(a.cfg.tls_cert.c_str(), a.cfg.tls_key.c_str());
    return std::make_unique<httplib::Server>();
  }
  void dispatch(const httplib::Request& req, httplib::Response& res);
  void route(Ctx& c);
};

const std::string& metadata_json(App& app) {
  static std::once_flag once;
  static std::string cached;
  std::call_once(once, [&] {
    fhir::Features f;
    f.base_url = app.base_url;
    f.software_version = EDGEFHIR_VERSION;
    f.started_ms = app.clock->now_ms();
    f.auth_required = app.cfg.auth_required();
    cached = json::write(fhir::capability_statement(f));
  });
  return cached;
}

namespace {

std::string url_decode(const std::string& s, bool* ok) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      if (i + 2 >= s.size() || !isxdigit(static_cast<unsigned char>(s[i + 1])) ||
          !isxdigit(static_cast<unsigned char>(s[i + 2]))) {
        *ok = false;
        return {};
      }
      out.push_back(char(std::stoi(s.substr(i + 1, 2), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

bool split_path(const std::string& path, std::vector<std::string>* seg) {
  size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') ++i;
    if (i >= path.size()) break;
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    bool ok = true;
    seg->push_back(url_decode(path.substr(i, j - i), &ok));
    if (!ok) return false;
    i = j;
  }
  return true;
}

std::string make_request_id(const std::string& given) {
  if (!given.empty() && given.size() <= 64 &&
      given.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.") == std::string::npos)
    return given;
  static std::atomic<uint64_t> counter{0};
  thread_local uint64_t salt = std::hash<std::thread::id>()(std::this_thread::get_id());
  char buf[40];
  snprintf(buf, sizeof buf, "%08llx-%06llx", (unsigned long long)(salt & 0xffffffff),
           (unsigned long long)(counter.fetch_add(1) & 0xffffff));
  return buf;
}

bool is_public(const std::vector<std::string>& seg, const std::string& method) {
  if (method != "GET" && method != "HEAD") return false;
  if (seg.size() == 1 && (seg[0] == "metadata" || seg[0] == "health")) return true;
  if (seg.size() == 2 && seg[0] == ".well-known") return true;
  return false;
}

Status negotiate(Ctx& c) {
  std::string fmt = c.param("_format");
  if (!fmt.empty()) {
    if (fmt != "json" && fmt != "application/json" && fmt != "application/fhir+json" && fmt != "application/json+fhir")
      return Status(Err::not_acceptable, "_format '" + fmt + "' is not supported; this server speaks FHIR JSON only");
  } else {
    std::string accept = c.header("Accept");
    if (!accept.empty() && accept.find("json") == std::string::npos && accept.find("*/*") == std::string::npos &&
        accept.find("application/*") == std::string::npos)
      return Status(Err::not_acceptable, "Accept '" + accept + "' cannot be satisfied; this server speaks FHIR JSON only");
  }
  std::string pretty = c.param("_pretty");
  c.pretty = pretty == "true";
  return Status();
}

void www_authenticate(Ctx& c, const AuthCheck& a) {
  std::string v = "Bearer realm=\"" + c.app.realm + "\"";
  if (!a.missing) {
    std::string d = a.reason;
    for (auto& ch : d)
      if (ch == '"' || ch == '\\' || static_cast<unsigned char>(ch) < 0x20 || static_cast<unsigned char>(ch) > 0x7e) ch = '\'';
    v += ", error=\"invalid_token\", error_description=\"" + d + "\"";
  }
  c.res.set_header("WWW-Authenticate", v);
}

}  // namespace

void Server::Impl::route(Ctx& c) {
  const std::string& m = c.req.method;
  const auto& s = c.seg;
  auto bad_method = [&] {
    send_error(c, Status(Err::method_not_allowed, "method " + m + " is not allowed on " + c.req.path));
  };
  auto check_type = [&](const std::string& t) {
    if (fhir::is_resource_type(t)) return true;
    send_error(c, Status(Err::not_found, "'" + t + "' is not a FHIR R4 resource type"));
    return false;
  };
  if (s.empty()) {
    return send_error(c, Status(Err::not_supported, m == "POST" ? "transaction and batch Bundles are not supported yet"
                                                                 : "system-level search is not supported yet"));
  }
  if (s.size() == 1 && s[0] == "metadata") return m == "GET" ? handle_metadata(c) : bad_method();
  if (s.size() == 1 && s[0] == "_history") return m == "GET" ? handle_history(c, "", "") : bad_method();
  if (s.size() == 1 && s[0] == "health") {
    c.interaction = "health";
    if (m != "GET") return bad_method();
    Status st = c.app.db->read([](store::Conn& conn) { return conn.exec("SELECT 1"); });
    json::Object o;
    o["status"] = json::Value(std::string(st.ok() ? "pass" : "fail"));
    c.res.status = st.ok() ? 200 : 503;
    c.res.set_content(json::write(json::Value(o)), "application/health+json");
    return;
  }
  const std::string& type = s[0];
  if (!check_type(type)) return;
  c.type = type;
  if (s.size() == 1) {
    if (m == "POST") return handle_create(c, type);
    if (m == "GET") return send_error(c, Status(Err::not_supported, "search is not supported yet"));
    return bad_method();
  }
  if (s.size() == 2 && s[1] == "_history") return m == "GET" ? handle_history(c, type, "") : bad_method();
  if (s.size() == 2 && s[1] == "_search")
    return m == "POST" ? send_error(c, Status(Err::not_supported, "search is not supported yet")) : bad_method();
  if (s.size() == 2 && !s[1].empty() && s[1][0] == '$')
    return send_error(c, Status(Err::not_supported, "operation '" + s[1] + "' is not supported"));
  const std::string& id = s[1];
  c.id = id;
  if (s.size() == 2) {
    if (m == "GET" || m == "HEAD") return handle_read(c, type, id);
    if (m == "PUT") return handle_update(c, type, id);
    if (m == "PATCH") return handle_patch(c, type, id);
    if (m == "DELETE") return handle_delete(c, type, id);
    return bad_method();
  }
  if (s.size() == 3 && s[2] == "_history") return m == "GET" ? handle_history(c, type, id) : bad_method();
  if (s.size() == 4 && s[2] == "_history") return m == "GET" ? handle_vread(c, type, id, s[3]) : bad_method();
  send_error(c, Status(Err::not_found, "no FHIR interaction at " + c.req.path));
}

void Server::Impl::dispatch(const httplib::Request& req, httplib::Response& res) {
  auto t0 = std::chrono::steady_clock::now();
  Ctx c(req, res, app);
  c.request_id = make_request_id(req.get_header_value("X-Request-Id"));
  res.set_header("X-Request-Id", c.request_id);
  if (!split_path(req.path, &c.seg)) {
    send_error(c, Status(Err::invalid, "the URL path is not validly percent-encoded"));
  } else if (Status st = negotiate(c); !st) {
    send_error(c, st);
  } else {
    bool pass = true;
    if (insecure_bearer_refused && req.has_header("Authorization")) {
      pass = false;
      send_error(c, Status(Err::forbidden, "bearer tokens are refused over plain http on a non-loopback listener: "
                                           "configure \"tls\" (or set allow_insecure_bearer for a trusted network)"));
    } else if (app.authenticate && !is_public(c.seg, req.method)) {
      AuthCheck a = app.authenticate(req.get_header_value("Authorization"));
      if (!a.ok) {
        pass = false;
        c.auth_failure = a.reason;
        www_authenticate(c, a);
        fhir::Issue i;
        i.code = "login";
        i.diagnostics = a.missing ? "authentication required: send Authorization: Bearer <access token>"
                                  : "invalid access token: " + a.reason;
        send_json(c, 401, json::write(fhir::operation_outcome(i)));
        log::warn("auth.reject", {{"request_id", c.request_id}, {"reason", a.missing ? "missing token" : a.reason}});
      } else {
        c.principal = a.principal;
      }
    }
    if (pass) route(c);
  }
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0).count();
  log::debug("request", {{"request_id", c.request_id}, {"method", req.method}, {"path", req.path},
                         {"status", std::to_string(res.status)}, {"interaction", c.interaction},
                         {"us", std::to_string(us)}});
}

static bool is_loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

Server::Server(App& app) : impl_(std::make_unique<Impl>(app)) {
  auto& srv = impl_->srv;
  impl_->insecure_bearer_refused =
      app.cfg.tls_cert.empty() && !is_loopback(app.cfg.listen_host) && !app.cfg.allow_insecure_bearer;
  Impl* self = impl_.get();
  const Limits& L = app.cfg.limits;
  srv.set_tcp_nodelay(true);
  srv.set_read_timeout(L.read_timeout_seconds, 0);
  srv.set_write_timeout(L.read_timeout_seconds, 0);
  srv.set_keep_alive_timeout(L.keep_alive_seconds);
  srv.set_keep_alive_max_count(size_t(L.keep_alive_max_requests));
  srv.set_payload_max_length(L.max_body_bytes);
  int threads = L.threads > 0 ? L.threads : std::max(16, int(std::thread::hardware_concurrency()) * 8);
  srv.new_task_queue = [threads] { return new httplib::ThreadPool(size_t(threads)); };
  auto h = [self](const httplib::Request& req, httplib::Response& res) { self->dispatch(req, res); };
  const char* any = "/.*";
  srv.Get(any, h);
  srv.Post(any, h);
  srv.Put(any, h);
  srv.Patch(any, h);
  srv.Delete(any, h);
  srv.Options(any, h);
  srv.set_error_handler([self](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    Ctx c(req, res, self->app);
    int status = res.status;
    Status st(status == 413 ? Err::too_large : status == 414 ? Err::invalid : status == 404 ? Err::not_found : Err::invalid,
              status == 413 ? "the request body is larger than the limit of " + std::to_string(self->app.cfg.limits.max_body_bytes) + " bytes"
              : status == 414 ? "the request URL is too long"
              : status == 404 ? "no FHIR interaction at " + req.path
                              : "the request could not be processed (HTTP " + std::to_string(status) + ")");
    send_error(c, st);
    res.status = status;
  });
  srv.set_exception_handler([self](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    log::error("request.exception", {{"path", req.path}, {"error", what}});
    Ctx c(req, res, self->app);
    send_error(c, Status(Err::internal, "internal error"));
  });
}

Server::~Server() = default;

Status Server::run() {
  const auto& cfg = impl_->app.cfg;
  if (!impl_->srv.is_valid())
    return Status(Err::invalid, "TLS: cannot load certificate '" + cfg.tls_cert + "' / key '" + cfg.tls_key + "'");
  int port = cfg.listen_port;
  if (port == 0) {
    port = impl_->srv.bind_to_any_port(cfg.listen_host);
    if (port <= 0) return Status(Err::unavailable, "cannot bind " + cfg.listen_host + ":0");
  } else if (!impl_->srv.bind_to_port(cfg.listen_host, port)) {
    return Status(Err::unavailable, "cannot listen on " + cfg.listen_host + ":" + std::to_string(port) +
                                        " (address in use or not allowed)");
  }
  impl_->port = port;
  log::info("server.listening", {{"listen", cfg.listen_host + ":" + std::to_string(port)}, {"base_url", impl_->app.base_url}});
  if (!impl_->srv.listen_after_bind()) return Status(Err::unavailable, "server stopped with an error");
  return Status();
}

void Server::stop() { impl_->srv.stop(); }
int Server::bound_port() const { return impl_->port; }

}  // namespace ef::http
