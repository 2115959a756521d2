// tests/unit/auth/token_cli_test.cpp — `token keygen`, `token mint`, `token inspect`
// (offline and with --config) end to end through cli::token_main().
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "cli/commands.h"
#include "test_util.h"
#include "../testing.h"

using namespace ef;
using namespace ef::auth;
using namespace ef::auth::testutil;

namespace {

using Run = testing::CliRun;

Run run(std::vector<std::string> args) { return testing::run_command(cli::token_main, std::move(args)); }

bool has(const std::string& s, const std::string& p) { return s.find(p) != std::string::npos; }

}  // namespace

TEST_CASE("token CLI help and usage errors", "[auth][token_cli]") {
  for (const char* cmd : {"inspect", "mint", "keygen"}) {
    Run r = run({"token", cmd, "--help"});
    CHECK(r.rc == 0);
    CHECK(has(r.out, std::string("usage: edgefhir token ") + cmd));
  }
  CHECK(run({"token"}).rc == 2);
  CHECK(has(run({"bogus"}).err, "unknown token command 'bogus'"));
  CHECK(has(run({"mint"}).err, "give exactly one of --key or --secret-file"));
  CHECK(has(run({"keygen", "--out"}).err, "needs a value"));
}

TEST_CASE("token keygen, mint and inspect --config", "[auth][token_cli]") {
  std::string d = testing::temp_path("token-cli");
  std::string priv = d + "-priv.pem", pub = d + "-pub.pem", cfg = d + "-config.json";
  Run k = run({"token", "keygen", "--out", priv, "--pub", pub});
  REQUIRE(k.rc == 0);
  CHECK(has(k.out, "EC P-256"));
  CHECK(has(run({"keygen", "--out", priv, "--pub", pub}).err, "refusing to overwrite"));
  std::ofstream(cfg) << R"({"server":{},"auth":{"audiences":["https://fhir.example.org"],"issuers":[
      {"issuer":"https://idp.example.org","algorithms":["ES256"],"pinned_keys":[")" + pub + R"("]}]}})";

  std::string now = std::to_string(kNow);
  Run m = run({"mint", "--key", priv, "--iss", "https://idp.example.org", "--aud", "https://fhir.example.org", "--sub",
               "alice", "--roles", "Reader, Writer", "--scope", "patient/*.read", "--ttl", "600", "--kid", "k1", "--claim",
               "tid=\"t-1\"", "--claim", "n=5", "--header", "x-test=yes", "--now", now});
  REQUIRE(m.rc == 0);
  std::string tok = m.out.substr(0, m.out.find('\n'));
  CHECK(std::count(tok.begin(), tok.end(), '.') == 2);

  SECTION("offline inspect shows header, payload and human times") {
    Run i = run({"inspect", "--now", std::to_string(kNow + 60), tok});
    CHECK(i.rc == 0);
    CHECK(has(i.out, "\"alg\": \"ES256\""));
    CHECK(has(i.out, "\"x-test\": \"yes\""));
    CHECK(has(i.out, "\"sub\": \"alice\""));
    CHECK(has(i.out, "exp     " + std::to_string(kNow + 600) + "  2026-11-28T10:10:00Z (in 9 minutes)"));
    CHECK(has(i.out, "iat     " + std::to_string(kNow) + "  2026-11-28T10:00:00Z (60 seconds ago)"));
    CHECK(has(i.out, "roles   [\"Reader\",\"Writer\"]"));
    CHECK(has(i.out, "tid     t-1"));
    CHECK(has(i.out, "scope   patient/*.read"));
  }
  SECTION("inspect --config validates and prints every check") {
    Run i = run({"inspect", "--config", cfg, "--now", now, "Bearer " + tok});
    CHECK(i.rc == 0);
    for (const char* c : {"PASS token present", "PASS parse", "PASS issuer", "PASS algorithm", "PASS key",
                          "PASS signature", "PASS typ", "PASS lifetime", "PASS audience"})
      CHECK(has(i.out, c));
    CHECK(has(i.out, "Verdict: VALID"));
    Run late = run({"inspect", "--config", cfg, "--now", std::to_string(kNow + 3600), tok});
    CHECK(late.rc == 1);
    CHECK(has(late.out, "FAIL lifetime: token expired at 2026-11-28T10:10:00Z, 50 minutes ago"));
    CHECK(has(late.out, "Verdict: INVALID (expired)"));
    Run wrongaud = run({"inspect", "--config", cfg, "--now", now,
                        run({"mint", "--key", priv, "--iss", "https://idp.example.org", "--aud", "api://x", "--now", now})
                            .out.substr(0, tok.size() + 200)});
    CHECK(wrongaud.rc == 1);
    CHECK(has(wrongaud.out, "audience 'api://x' is not one of ['https://fhir.example.org']"));
    CHECK(run({"inspect", "--config", d + "-missing.json", tok}).rc == 2);
  }
  SECTION("HS256 with a secret file") {
    std::string sec = d + "-secret";
    std::ofstream(sec) << std::string(32, 'S');
    Run h = run({"mint", "--secret-file", sec, "--iss", "i", "--now", now});
    CHECK(h.rc == 0);
    CHECK(has(run({"inspect", h.out.substr(0, h.out.find('\n'))}).out, "\"alg\": \"HS256\""));
    CHECK(has(run({"mint", "--secret-file", sec, "--alg", "ES256"}).err, "does not fit"));
    std::remove(sec.c_str());
  }
  std::remove(priv.c_str());
  std::remove(pub.c_str());
  std::remove(cfg.c_str());
}

TEST_CASE("token inspect never crashes on garbage", "[auth][token_cli]") {
  const char* junk[] = {"x", "a.b", "a.b.c", "....", "%%%.***.###", "eyJ.eyJ.eyJ",
                        "W10.W10.AA", "a.b.c.d.e"};
  for (const char* j : junk) {
    INFO(j);
    Run r = run({"inspect", j});
    CHECK(r.rc == 1);
    CHECK((has(r.out, "Problem") || has(r.out, "not valid base64url") || has(r.out, "not a JSON object")));
  }
  Run unsigned_tok = run({"inspect", "eyJhbGciOiJub25lIn0.e30."});
  CHECK(unsigned_tok.rc == 0);
  CHECK(has(unsigned_tok.out, "unsigned token"));
  Run none = run({"inspect", "eyJhbGciOiJub25lIn0.e30.AA"});
  CHECK(none.rc == 0);
  CHECK(has(none.out, "no exp"));
  CHECK(has(run({"inspect", std::string(20000, 'a')}).out, "refuses tokens over 16384"));
}
