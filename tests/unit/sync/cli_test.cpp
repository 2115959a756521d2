// `edgefhir sync status|now|conflicts` driven directly (cli::sync_main), against the fake upstream.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include "cli/commands.h"
#include "sync_test_util.h"
#include "../testing.h"

using namespace ef;
using ef::testing::Edge;
using ef::testing::FakeUpstream;

namespace {
using Run = testing::CliRun;
Run run(std::vector<std::string> args) { return testing::run_command(cli::sync_main, std::move(args)); }
std::string write_config(const std::string& name, const std::string& db, const std::string& sync) {
  return testing::write_temp_file(name + ".json", "{\"database\":\"" + db + "\",\"auth\":{\"required\":false}" +
                                                     (sync.empty() ? "" : ",\"sync\":" + sync) + "}");
}
}  // namespace

TEST_CASE("sync CLI: now pushes, status and conflicts report", "[sync]") {
  FakeUpstream up;
  Edge edge("cli");
  std::string cfg = write_config("cli", edge.path, "{\"upstream\":\"" + up.url() + "\",\"conflict_policy\":\"skip-and-report\"}");

  Run s0 = run({"status", "--config", cfg});
  CHECK(s0.rc == 0);
  CHECK(s0.out.find("has not run against this upstream yet") != std::string::npos);

  Run n0 = run({"now", "--config", cfg});  // enables sync: nothing to push yet
  REQUIRE(n0.rc == 0);
  CHECK(n0.out.find("pushed 0 changes") != std::string::npos);
  edge.put("Patient", "a", "A1");
  edge.put("Patient", "b", "B1");
  Run st = run({"status", "--json", "--config", cfg});
  REQUIRE(st.rc == 0);
  auto j = json::parse(st.out);
  REQUIRE(j.ok());
  int64_t q = 0;
  REQUIRE(json::int_value(*json::get(*j, "queue_length"), &q));
  CHECK(q == 2);
  CHECK(json::get(*j, "oldest_unsent")->is<std::string>());

  Run n1 = run({"now", "--config", cfg});
  CHECK(n1.rc == 0);
  CHECK(n1.out.find("pushed 2 changes as 2 requests (transaction): 2 acknowledged") != std::string::npos);
  CHECK(n1.out.find("queue:          0 changes") != std::string::npos);
  CHECK(up.get("Patient/b").version == 1);

  up.modify("Patient/a", R"({"resourceType":"Patient","id":"a","active":false})");
  edge.put("Patient", "a", "A2");
  CHECK(run({"now", "--config", cfg}).rc == 0);
  Run c = run({"conflicts", "--config", cfg});
  CHECK(c.rc == 0);
  CHECK(c.out.find("Patient/a v2") != std::string::npos);
  CHECK(c.out.find("conflict, skipped") != std::string::npos);
  Run cj = run({"conflicts", "--json", "--limit", "5", "--config", cfg});
  auto arr = json::parse(cj.out);
  REQUIRE(arr.ok());
  REQUIRE(json::as_array(*arr)->size() == 1);
  Run s1 = run({"status", "--config", cfg});
  CHECK(s1.out.find("1 conflict,") != std::string::npos);
}

TEST_CASE("sync CLI: usage and configuration errors", "[sync]") {
  Edge edge("cli-err");
  CHECK(run({}).rc == 2);
  Run h = run({"--help"});
  CHECK(h.rc == 0);
  CHECK(h.out.find("sync <status|now|conflicts|resolve ID --keep local|upstream>") != std::string::npos);
  CHECK(run({"frobnicate"}).err.find("unknown subcommand 'frobnicate'") != std::string::npos);
  std::string none = write_config("none", edge.path, "");
  Run r = run({"status", "--config", none});
  CHECK(r.rc == 2);
  CHECK(r.err.find("no \"sync\" section") != std::string::npos);
  std::string bad = write_config("bad", edge.path, "{\"upstream\":\"https://a\",\"batch_size\":-1}");
  Run b = run({"now", "--config", bad});
  CHECK(b.rc == 2);
  CHECK(b.err.find("'sync.batch_size'") != std::string::npos);
  // Unreachable upstream: `now` fails with the reason and exit 1.
  int port;
  {
    FakeUpstream gone;
    port = gone.port();
  }
  std::string down = write_config("down", edge.path, "{\"upstream\":\"http://127.0.0.1:" + std::to_string(port) + "\"}");
  CHECK(run({"now", "--config", down}).rc == 0);  // enables; empty queue
  edge.put("Patient", "x", "X");
  Run d = run({"now", "--config", down});
  CHECK(d.rc == 1);
  CHECK(d.err.find("connection failed") != std::string::npos);
}
