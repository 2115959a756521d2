// http/server.cpp — see server.h.  The request path: framing and size checks, the route
// (http/routes.h: a split of the path into segments and a switch on their count), then
// authentication and authorization (admit), the handler, audit, CORS headers, metrics and
// the log line; plus the listener set-up (TLS, pool, body reading, timeouts).
#include "http/server.h"

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "auth/smart_config.h"
#include "fhir/capability.h"
#include "fhir/outcome.h"
#include "fhir/validate.h"
#include "http/context.h"
#include "http/errors.h"
#include "http/conventions.h"
#include "http/console.h"
#include "http/cors.h"
#include "http/handlers.h"
#include "http/metrics.h"
#include "http/pool.h"
#include "http/routes.h"
#include "http/operations.h"
#include "http/sockbudget.h"
#include "http/xml_body.h"
#include "fhir/xml_cache.h"
#include "net/http_client.h"
#include "store/audit.h"
#include "util/log.h"
#include "version.h"

namespace ef::http {


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
  bool admit(Ctx& c, const Plan& plan);
  void audit(Ctx& c, const Plan& plan, int64_t start_ms);
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
    f.search = true;
    f.transaction = f.batch = true;
    f.conditional_create = f.conditional_update = f.conditional_delete = f.conditional_patch = true;
    f.search_params = [](const std::string& type) { return fhir::search_param_statements(type); };
    f.system_operations = {"export", "meta", "validate"};
    f.type_operations = {{"Patient", "everything"}, {"Patient", "export"}, {"Group", "export"},
                         {"ValueSet", "expand"}, {"ValueSet", "validate-code"}, {"CodeSystem", "lookup"},
                         {"CodeSystem", "subsumes"}, {"CodeSystem", "validate-code"}, {"ConceptMap", "translate"}};
    for (const auto& t : fhir::registry().all_resource_types())
      for (const char* op : {"validate", "meta", "meta-add", "meta-delete"}) f.type_operations.emplace_back(t, op);
    if (f.auth_required) f.security = auth::capability_security(app.cfg.auth);
    f.security = with_cors_flag(f.security, app.cors && app.cors->enabled);  // rest.security.cors
    cached = json::write(fhir::capability_statement(f));
  });
  return cached;
}

namespace {

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

// For an answer given before (or instead of) negotiation succeeded — 406, 413, a refused
// request line: XML when the request asked for XML in a way that can be recognised (a valid
// _format or Accept; or, when they cannot be satisfied, an XML media type named in them and
// no JSON one), JSON otherwise.
void negotiate_for_error(Ctx& c) {
  Format f = Format::any;
  std::string fp = c.param("_format"), accept = c.header("Accept");
  if (check_format(fp, accept, &f).ok() || (!fp.empty() && check_format("", accept, &f).ok())) {
    c.xml = f == Format::xml;
    return;
  }
  std::string named = fp.empty() ? accept : fp;
  for (auto& ch : named) ch = char(std::tolower(static_cast<unsigned char>(ch)));
  c.xml = named.find("xml") != std::string::npos && named.find("json") == std::string::npos;
}

Status negotiate(Ctx& c) {
  Format f = Format::any;
  if (Status st = check_format(c.param("_format"), c.header("Accept"), &f); !st) return st;  // http/conventions.h
  c.xml = f == Format::xml;
  c.format_open = f == Format::any;
  std::string pretty = c.param("_pretty");
  c.pretty = pretty == "true";
  return Status();
}

// RFC 9112 6.3: a Content-Length that is not a decimal number, several that differ, or one
// beside Transfer-Encoding make the message framing unreliable (request smuggling behind a
// proxy).  cpp-httplib 0.11 serves such requests; we refuse them and close the connection.
Status check_framing(const httplib::Request& req) {
  size_t n = req.get_header_value_count("Content-Length");
  if (n == 0) return Status();
  std::string first = req.get_header_value("Content-Length", 0);
  for (size_t i = 0; i < n; ++i) {
    std::string v = req.get_header_value("Content-Length", i);
    if (v.empty() || v.size() > 18 || v.find_first_not_of("0123456789") != std::string::npos)
      return Status(Err::invalid, "invalid Content-Length header (must be a decimal number of bytes)");
    if (v != first) return Status(Err::invalid, "several Content-Length headers that differ");
  }
  if (req.has_header("Transfer-Encoding"))
    return Status(Err::invalid, "both Content-Length and Transfer-Encoding are present");
  return Status();
}

std::string header_safe(std::string d) {
  for (auto& ch : d)
    if (ch == '"' || ch == '\\' || static_cast<unsigned char>(ch) < 0x20 || static_cast<unsigned char>(ch) > 0x7e) ch = '\'';
  return d;
}

void www_authenticate(Ctx& c, const AuthCheck& a) {
  std::string v = "Bearer realm=\"" + c.app.realm + "\"";
  if (!a.missing) v += ", error=\"invalid_token\", error_description=\"" + header_safe(a.reason) + "\"";
  c.res.set_header("WWW-Authenticate", v);
}

}  // namespace

// Authentication then authorization.  Returns false when the request was refused (the
// response is already written).
bool Server::Impl::admit(Ctx& c, const Plan& plan) {
  if (insecure_bearer_refused && c.req.has_header("Authorization")) {
    send_error(c, Status(Err::forbidden, "bearer tokens are refused over plain http on a non-loopback listener: "
                                         "configure \"tls\" (or set allow_insecure_bearer for a trusted network)"));
    return false;
  }
  // No authentication or policy configured: unrestricted (an allowed decision with no constraints).
  c.decision.allowed = true;
  if (plan.public_ || !app.authenticate) return true;
  AuthCheck a = app.authenticate(c.req.get_header_value("Authorization"));
  if (!a.ok) {
    c.auth_failure = a.missing ? "missing token" : a.reason;
    metrics().auth_failure(a.missing ? "missing_token" : a.status_code);
    www_authenticate(c, a);
    send_error(c, Status(Err::unauthorized, a.missing ? "authentication required: send Authorization: Bearer <access token>"
                                                      : "invalid access token: " + a.reason));
    log::warn("auth.reject", {{"request_id", c.request_id}, {"reason", c.auth_failure}, {"code", a.status_code}});
    return false;
  }
  c.principal = a.principal;
  if (!app.policy) return true;
  c.own_access = std::make_unique<service::Access>(app.policy.get(), c.principal);
  c.access = c.own_access.get();
  if (plan.resolve) plan.resolve(c);
  // The request's own interaction, decided up front for the 403 and its WWW-Authenticate
  // header.  What the caller may see or write is applied by the interaction layer (c.access),
  // on this route and on every other one (Bundle entries, conditions, includes, ...).
  c.decision = c.access->decide(plan.interaction, c.type, c.id);
  // A system search is decided by the interaction layer on the types it names (_type may be
  // in a POST body): a token with type scopes may search ?_type=Observation.
  if (!c.decision.allowed && plan.interaction != auth::Interaction::search_system) {
    c.auth_failure = c.decision.reason;
    metrics().auth_failure("insufficient_scope");
    std::string v = "Bearer realm=\"" + app.realm + "\", error=\"insufficient_scope\", error_description=\"" +
                    header_safe(c.decision.reason) + "\"";
    if (!c.decision.required_scope.empty()) v += ", scope=\"" + header_safe(c.decision.required_scope) + "\"";
    c.res.set_header("WWW-Authenticate", v);
    send_error(c, Status(Err::forbidden, "forbidden: " + c.decision.reason));
    log::warn("authz.deny", {{"request_id", c.request_id}, {"reason", c.decision.reason}});
    return false;
  }
  return true;
}

void Server::Impl::audit(Ctx& c, const Plan& plan, int64_t start_ms) {
  if (!app.audit) return;
  store::AuditEvent ev;
  ev.ts_ms = start_ms;
  ev.request_id = c.request_id;
  if (c.principal) {
    auth::CallerNames who = auth::caller_names(*c.principal);
    ev.subject = who.subject;
    ev.client_id = who.client_id;
    ev.tenant = who.tenant;
    ev.issuer = who.issuer;
  }
  ev.interaction = auth::interaction_name(plan.interaction);
  ev.type = c.type;
  ev.id = c.id;
  ev.query = c.req.target.size() > c.req.path.size() ? c.req.target.substr(c.req.target.find('?') + 1) : "";
  ev.status = c.res.status;
  ev.outcome = c.auth_failure;
  // Each Bundle entry is an interaction of its own (issue 14): same caller and request id.
  for (const Ctx::EntryAudit& e : c.entry_audits) {
    store::AuditEvent x = ev;
    x.interaction = e.interaction;
    x.type = e.type;
    x.id = e.id;
    x.query = e.query;
    x.status = e.status;
    x.outcome = e.outcome;
    app.audit->append(std::move(x));
  }
  app.audit->append(std::move(ev));
}

void Server::Impl::dispatch(const httplib::Request& req, httplib::Response& res) {
  Metrics::InFlight in_flight(metrics());
  auto t0 = std::chrono::steady_clock::now();
  int64_t start_ms = app.clock->now_ms();
  Ctx c(req, res, app);
  c.request_id = make_request_id(req.get_header_value("X-Request-Id"));
  res.set_header("X-Request-Id", c.request_id);
  const CorsConfig* cors = app.cors && app.cors->enabled ? app.cors.get() : nullptr;
  if (cors && is_preflight(req) && check_framing(req).ok()) {  // before authentication: a preflight never carries the token
    answer_preflight(*cors, req, res);
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0).count();
    metrics().observe_request("preflight", res.status, us);
    return;
  }
  // A UTF-8 byte-order mark before a JSON body is accepted and ignored.  (The request object
  // is cpp-httplib's own, non-const one, handed to handlers as const.)
  strip_utf8_bom(const_cast<httplib::Request&>(req).body);
  Plan plan;
  if (Status st = check_framing(req); !st) {
    res.set_header("Connection", "close");
    plan = error_plan(st);
  } else if (req.target.size() > app.cfg.limits.max_url_bytes) {
    plan = error_plan(Status(Err::uri_too_long, "the request URL is " + std::to_string(req.target.size()) +
                                                    " bytes; the limit is " + std::to_string(app.cfg.limits.max_url_bytes)));
  } else if (req.params.size() > app.cfg.limits.max_query_params) {
    plan = error_plan(Status(Err::invalid, "the request has " + std::to_string(req.params.size()) +
                                               " query parameters; the limit is " +
                                               std::to_string(app.cfg.limits.max_query_params)));
  } else if (req.get_header_value_count("Authorization") > 1) {
    // which one a proxy checked and which one we would use is ambiguous: refuse
    plan = error_plan(Status(Err::invalid, "more than one Authorization header"));
  } else if (!split_path(req.path, &c.seg)) {
    plan = error_plan(Status(Err::invalid, "the URL path is not validly percent-encoded"));
  } else if (Status st = negotiate(c); !st) {
    negotiate_for_error(c);  // a 406 in the format the client named, when it named one
    plan = error_plan(st);
  } else {
    plan = plan_route(c);
  }
  c.interaction = plan.label ? plan.label : auth::interaction_name(plan.interaction);
  if (admit(c, plan)) {
    // An XML body becomes JSON here, once, for every route (http/xml_body.h).
    Status body = plan.label && std::string(plan.label) == "invalid" ? Status() : xml_request_body(c);
    if (body.ok()) plan.run(c);
    else send_error(c, body);
  }
  set_preference_applied(c);
  if (!plan.public_ || plan.audited) audit(c, plan, start_ms);
  if (cors) add_cors_headers(*cors, req, res);
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0).count();
  metrics().observe_request(c.interaction, res.status, us);
  log_request(c, us);
}

// cpp-httplib gives every open connection (idle keep-alive ones included) a pool thread
// until its read timeout, so the pool's ceiling is the number of clients served at once:
// large enough that hundreds of idle or slow connections cannot starve new clients.  The
// pool grows to it on demand (http/pool.h), so an idle server keeps only a few threads.
constexpr int kDefaultThreads = 512;
constexpr int kMinThreads = 8;

// Reads the body into req.body (httplib passes the request const; it owns a mutable one and
// has not filled the body: content-reader handlers read it themselves).  False: answered
// (413 past max_body_bytes, 400 for a broken or unsupported encoding), connection closed.
static bool read_body(App& app, httplib::Request& req, httplib::Response& res, const httplib::ContentReader& read) {
  const size_t limit = app.cfg.limits.max_body_bytes;
  bool too_large = false;
  res.status = -1;
  bool ok = read([&](const char* data, size_t n) {
    if (req.body.size() + n > limit) {
      too_large = true;
      return false;
    }
    req.body.append(data, n);
    return true;
  });
  if (ok) {
    res.status = -1;
    return true;
  }
  if (res.status == 413) too_large = true;
  Ctx c(req, res, app);
  negotiate_for_error(c);
  if (too_large) {
    send_error(c, Status(Err::too_large, "the request body is larger than the limit of " + std::to_string(limit) +
                                             " bytes (limits.max_body_bytes, after decoding)"));
    metrics().observe_request("invalid", 413, 0);
  } else {
    int st = res.status == 415 ? 415 : 400;
    send_error(c, Status(st == 415 ? Err::unsupported_media : Err::invalid,
                         st == 415 ? "unsupported Content-Encoding" : "the request body could not be read or decoded"));
    res.status = st;
    metrics().observe_request("invalid", st, 0);
  }
  req.body.clear();
  req.body.shrink_to_fit();
  res.set_header("Connection", "close");
  sockbudget::close_after_response();
  return false;
}

Server::Server(App& app) : impl_(std::make_unique<Impl>(app)) {
  auto& srv = impl_->srv;
  impl_->insecure_bearer_refused =
      app.cfg.tls_cert.empty() && !net::is_loopback_host(app.cfg.listen_host) && !app.cfg.allow_insecure_bearer;
  Impl* self = impl_.get();
  const Limits& L = app.cfg.limits;
  srv.set_tcp_nodelay(true);
  // cpp-httplib's default socket options add SO_REUSEPORT, which lets a second server bind the
  // same port and the kernel split connections between the two.  SO_REUSEADDR only: a second
  // `serve` on a port in use fails with "address already in use".
  srv.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, reinterpret_cast<const void*>(&yes), sizeof(yes));
  });
  srv.set_read_timeout(L.read_timeout_seconds, 0);
  srv.set_write_timeout(L.read_timeout_seconds, 0);
  srv.set_keep_alive_timeout(L.keep_alive_seconds);
  srv.set_keep_alive_max_count(size_t(L.keep_alive_max_requests));
  srv.set_payload_max_length(L.max_body_bytes);
  fhir::xml::read_cache().set_budget(L.xml_cache_bytes);
  sockbudget::configure(L.max_header_bytes, 2 * L.max_body_bytes + 65536);
  int threads = L.threads > 0 ? L.threads : kDefaultThreads;
  srv.new_task_queue = [threads] { return new ElasticPool(size_t(std::min(kMinThreads, threads)), size_t(threads)); };
  auto h = [self](const httplib::Request& req, httplib::Response& res) {
    sockbudget::enter_body();
    trim_if_large(true);  // a large response before this one on the connection is freed now
    self->dispatch(req, res);
    note_request_bytes(res.body.size());
    trim_if_large();
    sockbudget::next_request();
  };
  // Requests that may carry a body read it here, before routing and authentication, through
  // httplib's content reader: decoded (gzip/deflate/br are inflated 16 KiB at a time) and
  // chunked bodies stop at max_body_bytes instead of being read whole first.
  auto hb = [self](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& read) {
    sockbudget::enter_body();
    trim_if_large(true);
    if (read_body(self->app, const_cast<httplib::Request&>(req), res, read)) self->dispatch(req, res);
    note_request_bytes(req.body.size() + res.body.size());
    const_cast<httplib::Request&>(req).body = std::string();  // not needed any more
    trim_if_large();
    sockbudget::next_request();
  };
  const char* any = "/.*";
  srv.Get(any, h);
  srv.Post(any, hb);
  srv.Put(any, hb);
  srv.Patch(any, hb);
  srv.Delete(any, hb);
  srv.Options(any, h);
  srv.set_error_handler([self](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    Ctx c(req, res, self->app);
    negotiate_for_error(c);
    int status = res.status;
    Status st(err_for_http(status),
              status == 413 ? "the request body is larger than the limit of " + std::to_string(self->app.cfg.limits.max_body_bytes) + " bytes"
              : status == 414 ? "the request URL is too long"
              : status == 404 ? "no FHIR interaction at " + req.path
                              : "the request could not be processed (HTTP " + std::to_string(status) + ")");
    send_error(c, st);
    res.status = status;  // e.g. 400 for a malformed request line, whatever the category's usual code
    if (self->app.cors) add_cors_headers(*self->app.cors, req, res);
    metrics().observe_request("invalid", status, 0);
  });
  srv.set_exception_handler([self](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    Ctx c(req, res, self->app);
    c.request_id = make_request_id(req.get_header_value("X-Request-Id"));
    res.set_header("X-Request-Id", c.request_id);
    send_error(c, Status(Err::internal, "exception on " + req.path + ": " + what));  // logged, not sent
    if (self->app.cors) add_cors_headers(*self->app.cors, req, res);
  });
}

Server::~Server() = default;

Status Server::bind() {
  if (impl_->port > 0) return Status();
  auto& app = impl_->app;
  const auto& cfg = app.cfg;
  if (!impl_->srv.is_valid())
    return Status(Err::invalid, "TLS: cannot load certificate '" + cfg.tls_cert + "' / key '" + cfg.tls_key + "'");
  int port = cfg.listen_port;
  if (port == 0) {
    port = impl_->srv.bind_to_any_port(cfg.listen_host);
    if (port <= 0) return Status(Err::unavailable, "cannot bind " + cfg.listen_host + ":0");
    // Links, Location and fullUrl carry the port actually bound, not ":0".
    if (cfg.base_url.empty()) {
      ServerConfig bound = cfg;
      bound.listen_port = port;
      app.base_url = bound.effective_base_url();
    }
  } else if (!impl_->srv.bind_to_port(cfg.listen_host, port)) {
    Status why = probe_listen(cfg.listen_host, port);
    return why.ok() ? Status(Err::unavailable, "cannot listen on " + cfg.listen_host + ":" + std::to_string(port)) : why;
  }
  impl_->port = port;
  return Status();
}

Status Server::run() {
  if (Status st = bind(); !st) return st;
  const auto& cfg = impl_->app.cfg;
  log::info("server.listening", {{"listen", cfg.listen_host + ":" + std::to_string(impl_->port)},
                                 {"port", int(impl_->port)}, {"base_url", impl_->app.base_url}});
  if (!impl_->srv.listen_after_bind()) return Status(Err::unavailable, "server stopped with an error");
  return Status();
}

void Server::stop() { impl_->srv.stop(); }
int Server::bound_port() const { return impl_->port; }

}  // namespace ef::http
