// tests/unit/http/conventions_test.cpp — http/conventions: _format / Accept negotiation
// (JSON or XML by quality values, fhirVersion, an unencoded '+', q=0), the UTF-8 BOM, the listen probe.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/conventions.h"

using namespace ef;
using namespace ef::http;

TEST_CASE("conventions: _format accepts FHIR JSON spellings, a '+' that arrived as a space included", "[http]") {
  for (const char* f : {"json", "application/json", "application/fhir+json", "application/fhir json",
                        "application/json+fhir", "application/json fhir", "Application/FHIR+JSON"}) {
    INFO(f);
    CHECK(check_format(f, "").ok());
  }
  for (const char* f : {"xml", "application/fhir+xml", "application/fhir xml", "text/xml", "application/xml"}) {
    INFO(f);
    Format chosen = Format::json;
    CHECK(check_format(f, "", &chosen).ok());
    CHECK(chosen == Format::xml);
  }
  for (const char* f : {"text/html", "turtle", "application/xhtml+xml"}) {
    INFO(f);
    Status st = check_format(f, "");
    CHECK(st.code == Err::not_acceptable);
    CHECK(st.message.find(f) != std::string::npos);
  }
  // _format wins over Accept
  Format chosen = Format::any;
  CHECK(check_format("json", "application/fhir+xml", &chosen).ok());
  CHECK(chosen == Format::json);
}

TEST_CASE("conventions: Accept chooses JSON or XML by quality, then specificity, then order", "[http]") {
  auto pick = [](const char* accept) {
    Format f = Format::any;
    Status st = check_format("", accept, &f);
    REQUIRE(st.ok());
    return f;
  };
  CHECK(pick("") == Format::any);
  CHECK(pick("*/*") == Format::any);
  CHECK(pick("application/*") == Format::any);
  CHECK(pick("application/fhir+json") == Format::json);
  CHECK(pick("application/fhir+xml") == Format::xml);
  CHECK(pick("application/xml") == Format::xml);
  CHECK(pick("text/xml") == Format::xml);
  CHECK(pick("text/*") == Format::xml);
  CHECK(pick("application/fhir+xml, application/fhir+json") == Format::xml);  // equal q: the first
  CHECK(pick("application/fhir+json, application/fhir+xml") == Format::json);
  CHECK(pick("application/fhir+json;q=0.5, application/fhir+xml") == Format::xml);
  CHECK(pick("application/fhir+xml;q=0.4, application/fhir+json;q=0.9") == Format::json);
  CHECK(pick("application/fhir+xml, */*") == Format::xml);  // named beats wildcard at equal q
  CHECK(pick("*/*;q=0.9, application/fhir+xml;q=0.8") == Format::any);  // the wildcard wins: no preference
  CHECK(pick("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8") == Format::xml);
  CHECK(pick("application/fhir+xml;q=0, application/json") == Format::json);
  CHECK(pick("application/fhir+xml;fhirVersion=3.0, application/fhir+json") == Format::json);
  CHECK(check_format("", "application/fhir+xml;q=0").code == Err::not_acceptable);
  CHECK(check_format("", "application/fhir+xml;fhirVersion=3.0").code == Err::not_acceptable);
  CHECK(check_format("", "application/xhtml+xml").code == Err::not_acceptable);
}

TEST_CASE("conventions: Accept and its fhirVersion parameter", "[http]") {
  CHECK(check_format("", "").ok());
  CHECK(check_format("", "application/fhir+json").ok());
  CHECK(check_format("", "application/fhir+json; fhirVersion=4.0").ok());
  CHECK(check_format("", "application/fhir+json; fhirversion=\"4.0.1\"").ok());
  CHECK(check_format("", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8").ok());
  CHECK(check_format("", "application/*").ok());
  CHECK(check_format("", "application/fhir+json; fhirVersion=3.0, application/fhir+json; fhirVersion=4.0").ok());
  Status st = check_format("", "application/fhir+json; fhirVersion=3.0");
  CHECK(st.code == Err::not_acceptable);
  CHECK(st.message.find("R4") != std::string::npos);
  CHECK(check_format("", "application/fhir+json;fhirVersion=5.0, */*;fhirVersion=1.0").code == Err::not_acceptable);
  CHECK(check_format("", "application/fhir+xml").ok());
  CHECK(check_format("", "application/fhir+json;q=0").code == Err::not_acceptable);
  CHECK(check_format("", "application/fhir+json;q=0, application/json").ok());
}

TEST_CASE("conventions: a UTF-8 BOM is dropped only at the start", "[http]") {
  std::string b = "\xEF\xBB\xBF{\"resourceType\":\"Patient\"}";
  CHECK(strip_utf8_bom(b));
  CHECK(b == "{\"resourceType\":\"Patient\"}");
  CHECK_FALSE(strip_utf8_bom(b));
  std::string mid = " \xEF\xBB\xBF{}";
  CHECK_FALSE(strip_utf8_bom(mid));
  CHECK(mid.size() == 6);
  std::string shortb = "\xEF\xBB";
  CHECK_FALSE(strip_utf8_bom(shortb));
  std::string empty;
  CHECK_FALSE(strip_utf8_bom(empty));
}

TEST_CASE("conventions: the listen probe names a port in use", "[http]") {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(::listen(fd, 1) == 0);
  socklen_t len = sizeof a;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  int port = ntohs(a.sin_port);
  Status st = probe_listen("127.0.0.1", port);
  CHECK(st.code == Err::unavailable);
  CHECK(st.message.find("127.0.0.1:" + std::to_string(port) + ": address already in use") != std::string::npos);
  ::close(fd);
  CHECK(probe_listen("127.0.0.1", port).ok());  // free again (nothing in TIME_WAIT: never connected)
  CHECK(probe_listen("127.0.0.1", 0).ok());     // port 0: nothing to probe
}
