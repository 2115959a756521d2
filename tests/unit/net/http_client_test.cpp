// tests/unit/net/http_client_test.cpp — net/http_client: URL parsing, the one loopback rule
// (shared by key discovery, sync and the listener's insecure-bearer check) and the client
// against a local cpp-httplib server (size cap, headers, refused plain http).
#include <catch2/catch.hpp>
#include <httplib.h>

#include <chrono>
#include <thread>

#include "net/http_client.h"

using namespace ef;

TEST_CASE("net::parse_url splits scheme, host, port and path", "[net]") {
  auto u = net::parse_url("HTTPS://Login.Example.ORG/tenant/keys?x=1#frag");
  REQUIRE(u.ok());
  CHECK(u->scheme == "https");
  CHECK(u->host == "login.example.org");
  CHECK(u->port == 443);
  CHECK(u->path == "/tenant/keys?x=1");
  CHECK(u->origin() == "https://login.example.org:443");

  auto v6 = net::parse_url("http://[::1]:8080");
  REQUIRE(v6.ok());
  CHECK(v6->ipv6);
  CHECK(v6->host == "::1");
  CHECK(v6->port == 8080);
  CHECK(v6->path.empty());
  CHECK(v6->origin() == "http://[::1]:8080");

  auto q = net::parse_url("http://h?a=b");
  REQUIRE(q.ok());
  CHECK(q->path == "/?a=b");
  CHECK(q->port == 80);

  CHECK_FALSE(net::parse_url("/relative").ok());
  CHECK_FALSE(net::parse_url("ftp://host/").ok());
  CHECK_FALSE(net::parse_url("https:///path").ok());
  CHECK_FALSE(net::parse_url("https://user:pw@host/").ok());
  CHECK_FALSE(net::parse_url("https://[::1/").ok());
  CHECK_FALSE(net::parse_url("https://[::1]x/").ok());
  CHECK_FALSE(net::parse_url("https://host:0/").ok());
  CHECK_FALSE(net::parse_url("https://host:65536/").ok());
  CHECK_FALSE(net::parse_url("https://host:8a/").ok());
  CHECK_FALSE(net::parse_url("https://host/a b").ok());
  CHECK_FALSE(net::parse_url("https://host/a\x7f").ok());
  CHECK(net::parse_url("https://host:65535/").ok());
}

TEST_CASE("net::is_loopback_host is the one loopback rule", "[net]") {
  CHECK(net::is_loopback_host("localhost"));
  CHECK(net::is_loopback_host("::1"));
  CHECK(net::is_loopback_host("127.0.0.1"));
  CHECK(net::is_loopback_host("127.255.3.9"));
  CHECK_FALSE(net::is_loopback_host("127.0.0.1.evil.example"));
  CHECK_FALSE(net::is_loopback_host("127.0.0"));
  CHECK_FALSE(net::is_loopback_host("127.0.0.256"));
  CHECK_FALSE(net::is_loopback_host("127..0.1"));
  CHECK_FALSE(net::is_loopback_host("128.0.0.1"));
  CHECK_FALSE(net::is_loopback_host("0.0.0.0"));
  CHECK_FALSE(net::is_loopback_host("::"));
  CHECK_FALSE(net::is_loopback_host("::2"));
  CHECK_FALSE(net::is_loopback_host("localhost.example"));
  CHECK_FALSE(net::is_loopback_host(""));

  auto allowed = [](const char* url) { return net::plain_http_allowed(*net::parse_url(url)); };
  CHECK(allowed("https://example.org/"));
  CHECK(allowed("http://127.0.0.1:9/"));
  CHECK(allowed("http://[::1]/"));
  CHECK(allowed("http://LOCALHOST/"));
  CHECK_FALSE(allowed("http://example.org/"));
  CHECK_FALSE(allowed("http://10.0.0.1/"));
  CHECK_FALSE(allowed("http://[::2]/"));
}

TEST_CASE("net::Client sends, caps the body and refuses plain http off loopback", "[net]") {
  httplib::Server srv;
  srv.Get("/small", [](const httplib::Request& req, httplib::Response& res) {
    res.set_header("ETag", "W/\"3\"");
    res.set_content("ua=" + req.get_header_value("User-Agent"), "text/plain");
  });
  srv.Get("/big", [](const httplib::Request&, httplib::Response& res) { res.set_content(std::string(5000, 'x'), "text/plain"); });
  int port = srv.bind_to_any_port("127.0.0.1");
  REQUIRE(port > 0);
  std::thread t([&] { srv.listen_after_bind(); });
  while (!srv.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(5));

  net::ClientOptions opt;
  opt.timeout_seconds = 5;
  opt.user_agent = "edgefhir-test";
  net::Client c(*net::parse_url("http://127.0.0.1:" + std::to_string(port)), opt);
  net::Request r;
  r.path = "/small";
  auto res = c.send(r);
  CHECK(res.error.empty());
  CHECK(res.status == 200);
  CHECK(res.body == "ua=edgefhir-test");
  CHECK(res.header("etag") == "W/\"3\"");

  r.path = "/big";
  r.max_bytes = 1000;
  res = c.send(r);
  CHECK(res.too_large);
  CHECK(res.status == 0);
  CHECK(res.error.find("exceeds the limit of 1000 bytes") != std::string::npos);
  r.max_bytes = 0;
  res = c.send(r);
  CHECK(res.body.size() == 5000);

  c.abort();
  res = c.send(r);
  CHECK(res.error.find("cancelled") != std::string::npos);

  srv.stop();
  t.join();

  net::Client off(*net::parse_url("http://10.0.0.1:9"), opt);
  res = off.send(r);
  CHECK(res.status == 0);
  CHECK(res.error.find("plain http is allowed only to a loopback") != std::string::npos);
}
