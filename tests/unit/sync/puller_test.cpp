// The Puller against hostile or odd upstream pages (in-process httplib servers on loopback):
// a `next` link to another origin is never followed (that server sees no request at all),
// an oversized page fails the run without storing anything, and a page is applied with the
// cursor in the same transaction (the next run asks from cursor - overlap and de-duplicates).
#include <catch2/catch.hpp>

#include <httplib.h>

#include <atomic>
#include <thread>

#include "sync/puller.h"
#include "sync_test_util.h"

using namespace ef;
using ef::testing::Edge;

namespace {

struct Srv {
  httplib::Server srv;
  int port = 0;
  std::thread th;
  std::mutex mu;
  std::vector<std::string> requests;  // "path?query"
  void start() {
    srv.set_logger([this](const httplib::Request& req, const httplib::Response&) {
      std::lock_guard<std::mutex> lk(mu);
      std::string q;
      for (const auto& p : req.params) q += (q.empty() ? "?" : "&") + p.first + "=" + p.second;
      requests.push_back(req.path + q);
    });
    port = srv.bind_to_any_port("127.0.0.1");
    th = std::thread([this] { srv.listen_after_bind(); });
    while (!srv.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~Srv() {
    srv.stop();
    if (th.joinable()) th.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }
  size_t count() {
    std::lock_guard<std::mutex> lk(mu);
    return requests.size();
  }
};

std::string patient_entry(const std::string& id, const std::string& version, const std::string& when,
                          const std::string& gender = "female") {
  return R"({"resource":{"resourceType":"Patient","id":")" + id + R"(","meta":{"versionId":")" + version +
         R"(","lastUpdated":")" + when + R"("},"active":true,"gender":")" + gender + R"("},"search":{"mode":"match"}})";
}

sync::SyncConfig config(const std::string& upstream) {
  auto v = json::parse(R"({"upstream":")" + upstream + R"(","pull":[{"search":"Patient?active=true"}],
                          "pull_max_page_bytes":8192,"pull_overlap_seconds":5})");
  REQUIRE(v.ok());
  auto c = sync::parse_sync_config(&*v, "test");
  REQUIRE(c.ok());
  return *c;
}

// The local version of Type/id (0: none, -1: deleted).
int64_t local_version(Edge& e, const std::string& type, const std::string& id) {
  int64_t v = 0;
  REQUIRE(e.db->read([&](store::Conn& c) -> Status {
    auto cur = e.res->current(c, type, id);
    if (!cur) return cur.status();
    if (*cur) v = (*cur)->deleted ? -1 : (*cur)->version;
    return Status();
  }).ok());
  return v;
}

}  // namespace

TEST_CASE("sync pull: a next link to another origin is refused, nothing is sent there", "[sync][pull]") {
  Srv attacker;
  attacker.srv.Get(R"(.*)", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"resourceType":"Bundle","type":"searchset"})", "application/fhir+json");
  });
  attacker.start();
  Srv up;
  up.srv.Get("/metadata", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"resourceType":"CapabilityStatement","rest":[{"resource":[{"type":"Patient"}]}]})",
                    "application/fhir+json");
  });
  std::string next = attacker.url() + "/Patient?_cursor=steal";
  up.srv.Get("/Patient", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"resourceType":"Bundle","type":"searchset","link":[{"relation":"next","url":")" + next +
                        R"("}],"entry":[)" + patient_entry("p1", "1", "2026-01-01T00:00:01.000Z") + "]}",
                    "application/fhir+json");
  });
  up.start();
  Edge edge("pull-origin");
  sync::Puller p(*edge.db, *edge.repo, config(up.url()));
  REQUIRE(p.init().ok());
  auto r = p.pull_once(0);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message.find("not on the upstream's origin") != std::string::npos);
  CHECK(attacker.count() == 0);
  // The first page was applied (with its cursor) before the link was refused.
  CHECK(local_version(edge, "Patient", "p1") == 1);
  auto st = sync::read_pull_status(*edge.db, p.config(), SystemClock::instance());
  REQUIRE(st.ok());
  CHECK((*st)[0].received_total == 1);
  CHECK((*st)[0].last_error.find("not followed") != std::string::npos);
  CHECK((*st)[0].cursor_ms > 0);
}

TEST_CASE("sync pull: oversized pages fail the run; incremental runs ask from cursor - overlap and dedup", "[sync][pull]") {
  Srv up;
  std::atomic<int> mode{0};  // 0: two small resources, 1: a page over 8 KiB, 2: same + one new version
  up.srv.Get("/metadata", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"resourceType":"CapabilityStatement","rest":[{"resource":[{"type":"Patient"}]}]})",
                    "application/fhir+json");
  });
  up.srv.Get("/Patient", [&](const httplib::Request&, httplib::Response& res) {
    std::string entries = patient_entry("a", "1", "2026-01-01T00:00:01.000Z") + "," +
                          patient_entry("b", "1", "2026-01-01T00:00:02.000Z");
    if (mode == 1) entries += std::string(",") + R"({"resource":{"resourceType":"Patient","id":"c","meta":{"versionId":"1",)"
                              R"("lastUpdated":"2026-01-01T00:00:04.000Z"},"name":[{"family":")" + std::string(9000, 'x') + R"("}]}})";
    if (mode == 2) entries += "," + patient_entry("a", "2", "2026-01-01T00:00:05.000Z", "male");
    res.set_content(R"({"resourceType":"Bundle","type":"searchset","entry":[)" + entries + "]}", "application/fhir+json");
  });
  up.start();
  Edge edge("pull-cap");
  sync::Puller p(*edge.db, *edge.repo, config(up.url()));
  REQUIRE(p.init().ok());
  auto r1 = p.pull_once(0);
  REQUIRE(r1.ok());
  CHECK(r1->received == 2);
  CHECK(local_version(edge, "Patient", "a") == 1);
  CHECK(up.requests.back().find("_lastUpdated=ge") == std::string::npos);  // first run: full download

  mode = 1;
  auto r2 = p.pull_once(0);
  REQUIRE_FALSE(r2.ok());
  CHECK(r2.status().message.find("pull_max_page_bytes") != std::string::npos);
  CHECK(local_version(edge, "Patient", "c") == 0);

  mode = 2;
  auto r3 = p.pull_once(0);
  REQUIRE(r3.ok());
  CHECK(r3->received == 1);   // a's version 2
  CHECK(r3->unchanged == 2);  // a v1 and b v1, held already
  CHECK(local_version(edge, "Patient", "a") == 2);
  CHECK(local_version(edge, "Patient", "b") == 1);  // re-read in the overlap: no new version
  // Incremental: ge(cursor 00:00:02 - 5 s overlap).
  CHECK(up.requests.back().find("_lastUpdated=ge2025-12-31T23:59:57.000Z") != std::string::npos);
  auto st = sync::read_pull_status(*edge.db, p.config(), SystemClock::instance());
  REQUIRE(st.ok());
  CHECK((*st)[0].received_total == 3);
  CHECK((*st)[0].last_error.empty());
}
