// Pusher against an in-process fake upstream: commit order, batching, idempotent replay
// after a lost acknowledgement, offline queueing and recovery, token caching and renewal,
// conflict policies, Bundle fallbacks, refused changes, type filter.
#include <catch2/catch.hpp>

#include <fstream>
#include <thread>

#include "auth/signer.h"
#include "store/sync_state.h"
#include "http/sync_observe.h"
#include "sync/puller.h"
#include "sync/pusher.h"
#include "sync_test_util.h"
#include "../testing.h"

using namespace ef;
using ef::testing::Edge;
using ef::testing::FakeUpstream;
using ef::testing::sync_config;

namespace {

std::string secret_file(const std::string& name, const std::string& secret) {
  return testing::write_temp_file("secret-" + name, secret + "\n");
}

// A sync config that gets its token with client_id "edge" and the secret in `secret_file`
// from the fake upstream's token endpoint; `extra` adds keys (JSON members, no braces).
sync::SyncConfig token_config(FakeUpstream& up, const std::string& secret_file, const std::string& extra = "") {
  return sync_config(up, "\"token_url\":\"" + up.url() + "/token\",\"client_id\":\"edge\",\"client_secret_file\":\"" +
                             secret_file + "\"" + (extra.empty() ? "" : "," + extra));
}

store::SyncStateRow state_of(Edge& e, const std::string& upstream) {
  store::SyncState s(*e.db);
  auto r = s.get(upstream);
  REQUIRE(r.ok());
  REQUIRE(r->has_value());
  return **r;
}

}  // namespace

TEST_CASE("only changes after sync was enabled are pushed, in commit order, batched", "[sync]") {
  FakeUpstream up;
  Edge edge("order");
  edge.put("Patient", "before", "Old");  // committed before sync was enabled
  sync::Pusher p(*edge.db, sync_config(up, "\"batch_size\":3"));
  REQUIRE(p.init().ok());
  edge.put("Patient", "a", "A1");
  edge.put("Patient", "b", "B1");
  edge.put("Patient", "a", "A2");
  edge.put("Observation", "o", "O1");
  edge.del("Patient", "b");
  edge.put("Patient", "c", "C1");
  edge.put("Patient", "d", "D1");
  auto r = p.push_until_empty();
  REQUIRE(r.ok());
  CHECK(r->changes == 7);
  CHECK(r->mode == "transaction");
  CHECK_FALSE(r->more);
  CHECK(up.get("Patient/before").version == 0);
  // batches of 3 changes: [a, b, a] -> b, a; [o, b-del, c] -> o, b, c; [d]
  CHECK(up.bundle_sizes == std::vector<size_t>{2, 3, 1});
  std::vector<std::string> expect = {"Patient/b/1", "Patient/a/1", "Observation/o/1", "Patient/b/2/deleted",
                                     "Patient/c/1", "Patient/d/1"};
  CHECK(up.history == expect);
  CHECK(up.get("Patient/a").body.find("A2") != std::string::npos);
  // Queue empty; nothing more is sent.
  auto again = p.push_once();
  REQUIRE(again.ok());
  CHECK(again->entries == 0);
  CHECK(up.count_requests("POST /") == 3);
  auto s = p.status();
  CHECK(s.queue_length == 0);
  CHECK(s.pushed_seq == s.newest_seq);
  CHECK(s.pushed_total == 6);
  CHECK(s.health == "pass");
}

TEST_CASE("a lost acknowledgement replays the batch without creating anything twice upstream", "[sync]") {
  FakeUpstream up;
  Edge edge("replay");
  sync::Pusher p(*edge.db, sync_config(up));
  REQUIRE(p.init().ok());
  edge.put("Patient", "a", "A1");
  edge.put("Patient", "b", "B1");
  REQUIRE(p.push_until_empty().ok());  // upstream a/1, b/1 and their versions are known
  edge.put("Patient", "a", "A2");
  edge.del("Patient", "b");
  edge.put("Patient", "c", "C1");
  int64_t before = state_of(edge, up.url()).pushed_seq;
  up.fail_after_apply = 1;  // applied upstream, answer lost
  auto r = p.push_once();
  CHECK_FALSE(r.ok());
  CHECK(state_of(edge, up.url()).pushed_seq == before);  // not acknowledged: not marked
  CHECK(state_of(edge, up.url()).consecutive_failures == 1);
  auto r2 = p.push_until_empty();  // replay: a is sent with If-Match 1 but upstream has 2 (ours)
  REQUIRE(r2.ok());
  CHECK(r2->conflicts == 0);
  std::vector<std::string> expect = {"Patient/a/1", "Patient/b/1", "Patient/a/2", "Patient/b/2/deleted", "Patient/c/1"};
  CHECK(up.history == expect);
  auto s = p.status();
  CHECK(s.queue_length == 0);
  CHECK(s.conflicts == 0);
  CHECK(s.consecutive_failures == 0);
  // The upstream version learnt in the replay is used next time: no conflict.
  edge.put("Patient", "a", "A3");
  auto r3 = p.push_until_empty();
  REQUIRE(r3.ok());
  CHECK(r3->conflicts == 0);
  CHECK(up.versions_of("Patient/a") == 3);
}

TEST_CASE("replay of the same batch in request-per-change mode is harmless too", "[sync]") {
  FakeUpstream up;
  Edge edge("replay-single");
  sync::Pusher p(*edge.db, sync_config(up, "\"bundle\":\"none\""));
  REQUIRE(p.init().ok());
  edge.put("Patient", "a", "A1");
  edge.put("Patient", "b", "B1");
  edge.put("Patient", "c", "C1");
  up.fail_after_apply = 1;  // a applied, answer lost; b and c never sent
  CHECK_FALSE(p.push_once().ok());
  CHECK(up.history.size() == 1);
  REQUIRE(p.push_until_empty().ok());
  CHECK(up.history == std::vector<std::string>{"Patient/a/1", "Patient/b/1", "Patient/c/1"});
  CHECK(up.count_requests("POST /") == 0);
  CHECK(up.count_requests("PUT /Patient/a") == 2);
}

TEST_CASE("offline: changes queue, the pusher backs off, and resumes by itself", "[sync]") {
  FakeUpstream up;
  Edge edge("offline");
  auto cfg = sync_config(up, "\"interval_seconds\":1,\"backoff_initial_seconds\":1,\"backoff_max_seconds\":1");
  sync::Pusher p(*edge.db, cfg);
  REQUIRE(p.init().ok());
  p.set_random([] { return 0.0; });  // backoff exactly d/2 = 500 ms
  up.fail_next = 3;
  for (int i = 0; i < 5; ++i) edge.put("Patient", "p" + std::to_string(i), "N" + std::to_string(i));
  auto s0 = p.status();
  CHECK(s0.queue_length == 5);
  CHECK(s0.oldest_unsent_ms > 0);
  p.start();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (up.history.size() < 5 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  p.stop();
  CHECK(up.history.size() == 5);
  CHECK(up.fail_next == 0);
  CHECK(up.count_requests("POST /") == 4);  // three refused, the fourth succeeded
  store::SyncState st(*edge.db);
  auto row = st.get(cfg.upstream);
  REQUIRE(row.ok());
  CHECK((*row)->consecutive_failures == 0);
  CHECK((*row)->last_error.find("503") != std::string::npos);  // the last error is kept for operators
  CHECK((*row)->last_success_at >= (*row)->last_error_at);
}

TEST_CASE("status warns when the queue is above max_queue or pushes keep failing", "[sync]") {
  FakeUpstream up;
  Edge edge("cap");
  FixedClock clock(1'800'000'000'000);
  sync::Pusher p(*edge.db, sync_config(up, "\"max_queue\":2"), clock);
  REQUIRE(p.init().ok());
  for (int i = 0; i < 3; ++i) edge.put("Patient", "p" + std::to_string(i), "x");
  auto s = p.status();
  CHECK(s.queue_length == 3);
  CHECK(s.over_cap);
  CHECK(s.health == "warn");
  CHECK(s.health_reason.find("max_queue 2") != std::string::npos);
  auto j = json::write(s.to_json());
  CHECK(j.find("\"queue_length\":3") != std::string::npos);

  sync::Pusher q(*edge.db, sync_config(up, "\"max_queue\":100"), clock);
  up.fail_next = 3;
  for (int i = 0; i < 3; ++i) {
    CHECK_FALSE(q.push_once().ok());
    clock.advance_ms(2000);  // past the status cache
  }
  auto s2 = q.status();
  CHECK_FALSE(s2.over_cap);
  CHECK(s2.consecutive_failures == 3);
  CHECK(s2.health == "warn");
  CHECK(s2.health_reason.find("failed 3 times") != std::string::npos);
  REQUIRE(q.push_once().ok());
  clock.advance_ms(2000);
  CHECK(q.status().health == "pass");
}

TEST_CASE("the access token is cached until shortly before expiry, then renewed", "[sync]") {
  FakeUpstream up;
  up.require_token = true;
  FixedClock clock(1'800'000'000'000);
  Edge edge("token", clock);
  std::string secret = secret_file("token", up.client_secret);
  auto cfg = token_config(up, secret, "\"scope\":\"https://fhir.example.org/.default\",\"bundle\":\"none\"");
  sync::Pusher p(*edge.db, cfg, clock);
  REQUIRE(p.init().ok());
  for (int i = 0; i < 3; ++i) {
    edge.put("Patient", "p" + std::to_string(i), "x");
    REQUIRE(p.push_once().ok());
    clock.advance_ms(60'000);
  }
  CHECK(up.token_requests == 1);
  CHECK(up.last_authorization == "Bearer tok-1");
  CHECK(up.last_token_body.find("scope=https%3A%2F%2Ffhir.example.org%2F.default") != std::string::npos);
  CHECK(up.last_token_body.find(up.client_secret) == std::string::npos);  // Basic, not in the body
  clock.advance_ms((3600 - 180 - 60) * 1000);  // inside the last minute of the token's life
  edge.put("Patient", "late", "x");
  REQUIRE(p.push_once().ok());
  CHECK(up.token_requests == 2);
  CHECK(up.last_authorization == "Bearer tok-2");
  auto s = p.status();
  CHECK(s.has_token);
  CHECK(s.token_expires_ms == clock.now_ms() + 3600 * 1000);
}

TEST_CASE("a 401 renews the token once; a second 401 fails the push and backs off", "[sync]") {
  FakeUpstream up;
  up.require_token = true;
  Edge edge("token401");
  std::string secret = secret_file("token401", up.client_secret);
  auto cfg = token_config(up, secret);
  sync::Pusher p(*edge.db, cfg);
  REQUIRE(p.init().ok());
  edge.put("Patient", "a", "x");
  REQUIRE(p.push_once().ok());
  CHECK(up.token_requests == 1);
  {
    std::lock_guard<std::mutex> lk(up.mu);
    up.valid_tokens.clear();  // the upstream no longer accepts tok-1 (e.g. revoked)
  }
  edge.put("Patient", "b", "x");
  REQUIRE(p.push_once().ok());  // 401 -> new token -> success
  CHECK(up.token_requests == 2);
  CHECK(up.get("Patient/b").version == 1);

  up.reject_all_tokens = true;
  edge.put("Patient", "c", "x");
  size_t posts = up.count_requests("POST /");
  auto r = p.push_once();
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message.find("401") != std::string::npos);
  CHECK(r.status().message.find("tok-") == std::string::npos);  // never the token
  CHECK(up.count_requests("POST /") == posts + 2);              // exactly one retry
  CHECK(up.token_requests == 3);
  CHECK(p.status().consecutive_failures == 1);
}

TEST_CASE("token endpoint refusal is reported without the secret", "[sync]") {
  FakeUpstream up;
  up.require_token = true;
  Edge edge("tokenbad");
  std::string secret = secret_file("tokenbad", "wrong-secret-value");
  auto cfg = token_config(up, secret, "\"client_auth\":\"client_secret_basic\"");
  sync::Pusher p(*edge.db, cfg);
  REQUIRE(p.init().ok());
  edge.put("Patient", "a", "x");
  auto r = p.push_once();
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message.find("invalid_client") != std::string::npos);
  CHECK(r.status().message.find("wrong-secret-value") == std::string::npos);
  CHECK(up.count_requests("POST /") == 0);

  auto missing = cfg;
  missing.client_secret_file = "/nonexistent/secret";
  sync::Pusher q(*edge.db, missing);
  Status st = q.init();
  CHECK(st.message.find("sync.client_secret_file") != std::string::npos);
}

// Both conflict policies, in each way of sending changes (a transaction Bundle, a batch
// Bundle, one request per change): the edge and upstream both changed Patient/a.
TEST_CASE("conflicts: each policy in each sending mode", "[sync]") {
  struct Row {
    const char* policy;
    const char* bundle;
    const char* resolution;  // what the conflict row says
    bool edge_wins;
  };
  const Row rows[] = {
      {"edge-wins", "transaction", "overwritten", true},    {"edge-wins", "batch", "overwritten", true},
      {"edge-wins", "none", "overwritten", true},           {"skip-and-report", "transaction", "skipped", false},
      {"skip-and-report", "batch", "skipped", false},       {"skip-and-report", "none", "skipped", false},
      {"upstream-wins", "transaction", "kept-upstream", false}, {"upstream-wins", "none", "kept-upstream", false},
      {"manual", "transaction", "pending", false},          {"manual", "none", "pending", false},
  };
  for (const Row& row : rows) {
    DYNAMIC_SECTION(row.policy << " / " << row.bundle) {
      FakeUpstream up;
      Edge edge(std::string("conflict-") + row.policy + "-" + row.bundle);
      sync::Pusher p(*edge.db, sync_config(up, std::string("\"conflict_policy\":\"") + row.policy +
                                                   "\",\"bundle\":\"" + row.bundle + "\""));
      REQUIRE(p.init().ok());
      edge.put("Patient", "a", "Edge1");
      edge.put("Patient", "z", "Z1");
      REQUIRE(p.push_until_empty().ok());
      up.modify("Patient/a", R"({"resourceType":"Patient","id":"a","active":false})");  // upstream v2
      edge.put("Patient", "a", "Edge2");
      edge.put("Patient", "z", "Z2");
      edge.put("Patient", "b", "B1");
      auto r = p.push_until_empty();
      REQUIRE(r.ok());
      CHECK(r->conflicts == 1);
      // the other changes were not held up by the conflict
      CHECK(up.get("Patient/z").body.find("Z2") != std::string::npos);
      CHECK(up.get("Patient/b").version == 1);
      if (row.edge_wins) {
        CHECK(up.get("Patient/a").body.find("Edge2") != std::string::npos);
        CHECK(up.get("Patient/a").version == 3);
      } else {
        CHECK(up.get("Patient/a").body.find("\"active\":false") != std::string::npos);
        CHECK(up.get("Patient/a").version == 2);
      }
      auto s = p.status();
      CHECK(s.queue_length == 0);
      CHECK(s.conflicts == 1);
      store::SyncState st(*edge.db);
      auto conflicts = st.conflicts(up.url(), 10);
      REQUIRE(conflicts.ok());
      REQUIRE(conflicts->size() == 1);
      const auto& c = (*conflicts)[0];
      CHECK(c.type + "/" + c.id == "Patient/a");
      CHECK(c.kind == "conflict");
      CHECK(c.resolution == row.resolution);
      CHECK(c.expected_version == "1");
      CHECK(c.upstream_version == "2");
      if (row.edge_wins) {
        // The next change goes through with the new upstream version: no new conflict.
        edge.put("Patient", "a", "Edge3");
        auto r2 = p.push_until_empty();
        REQUIRE(r2.ok());
        CHECK(r2->conflicts == 0);
        CHECK(up.get("Patient/a").version == 4);
      } else if (std::string(row.policy) != "manual") {
        // A delete that conflicts is passed over as well (upstream-wins: the next pull brings
        // the upstream version here).
        edge.del("Patient", "a");
        REQUIRE(p.push_until_empty().ok());
        CHECK_FALSE(up.get("Patient/a").deleted);
        CHECK(p.status().conflicts == 2);
      } else {
        // manual: the upstream version is kept aside, the resource is held until resolved.
        REQUIRE(c.upstream_body);
        CHECK(c.upstream_body->find("\"active\":false") != std::string::npos);
        CHECK(p.status().pending == 1);
        edge.del("Patient", "a");
        REQUIRE(p.push_until_empty().ok());
        CHECK_FALSE(up.get("Patient/a").deleted);
        CHECK(p.status().conflicts == 1);  // held, not a second conflict
        // Resolved for the local side: the delete is sent with If-Match of the kept upstream version.
        REQUIRE(sync::resolve_conflict(*edge.db, *edge.repo, p, p.config(), c.seq, true, SystemClock::instance()).ok());
        CHECK(up.get("Patient/a").deleted);
        auto after = sync::read_status(*edge.db, p.config(), SystemClock::instance());  // not the 1-s cache
        REQUIRE(after.ok());
        CHECK(after->pending == 0);
        CHECK_FALSE(sync::resolve_conflict(*edge.db, *edge.repo, p, p.config(), c.seq, true, SystemClock::instance()).ok());
      }
    }
  }
}

TEST_CASE("an upstream without Bundles gets one request per change, detected or on refusal", "[sync]") {
  SECTION("CapabilityStatement lists neither transaction nor batch") {
    FakeUpstream up;
    up.transaction = up.batch = false;
    Edge edge("nobundle");
    sync::Pusher p(*edge.db, sync_config(up));
    REQUIRE(p.init().ok());
    edge.put("Patient", "a", "A");
    edge.del("Patient", "a");
    edge.put("Patient", "b", "B");
    auto r = p.push_until_empty();
    REQUIRE(r.ok());
    CHECK(r->mode == "none");
    CHECK(up.count_requests("POST /") == 0);
    CHECK(up.count_requests("DELETE /Patient/a") == 1);
    CHECK(up.history == std::vector<std::string>{"Patient/b/1"});
  }
  SECTION("advertised but refused with 501: falls back for good") {
    FakeUpstream up;
    up.refuse_bundles = true;
    Edge edge("refused");
    sync::Pusher p(*edge.db, sync_config(up));
    REQUIRE(p.init().ok());
    edge.put("Patient", "a", "A");
    REQUIRE(p.push_until_empty().ok());
    edge.put("Patient", "b", "B");
    auto r = p.push_until_empty();
    REQUIRE(r.ok());
    CHECK(r->mode == "none");
    CHECK(up.count_requests("POST /") == 1);
    CHECK(up.history == std::vector<std::string>{"Patient/a/1", "Patient/b/1"});
  }
}

TEST_CASE("a change the upstream refuses is recorded and does not block the queue", "[sync]") {
  for (const char* mode : {"transaction", "batch", "none"}) {
    INFO(mode);
    FakeUpstream up;
    up.refuse_ids = {"Patient/bad"};
    Edge edge(std::string("reject-") + mode);
    sync::Pusher p(*edge.db, sync_config(up, std::string("\"bundle\":\"") + mode + "\""));
    REQUIRE(p.init().ok());
    edge.put("Patient", "a", "A");
    edge.put("Patient", "bad", "X");
    edge.put("Patient", "c", "C");
    auto r = p.push_until_empty();
    REQUIRE(r.ok());
    CHECK(r->rejected == 1);
    CHECK(up.get("Patient/a").version == 1);
    CHECK(up.get("Patient/c").version == 1);
    CHECK(up.get("Patient/bad").version == 0);
    auto s = p.status();
    CHECK(s.rejected == 1);
    CHECK(s.queue_length == 0);
    store::SyncState st(*edge.db);
    auto rows = st.conflicts(up.url(), 10);
    REQUIRE(rows.ok());
    REQUIRE(rows->size() == 1);
    CHECK((*rows)[0].kind == "rejected");
    CHECK((*rows)[0].detail.find("422") != std::string::npos);
  }
}

TEST_CASE("types filter: other types are passed over but progress still advances", "[sync]") {
  FakeUpstream up;
  Edge edge("types");
  sync::Pusher p(*edge.db, sync_config(up, "\"types\":[\"Observation\"],\"batch_size\":2"));
  REQUIRE(p.init().ok());
  edge.put("Patient", "a", "A");
  edge.put("Observation", "o1", "O");
  edge.put("Patient", "b", "B");
  edge.put("Patient", "c", "C");
  CHECK(p.status().queue_length == 1);
  auto r = p.push_until_empty();
  REQUIRE(r.ok());
  CHECK(up.history == std::vector<std::string>{"Observation/o1/1"});
  auto s = p.status();
  CHECK(s.queue_length == 0);
  CHECK(s.pushed_seq == s.newest_seq);
}

TEST_CASE("unreachable upstream: error names the problem, nothing is marked", "[sync]") {
  int port;
  {
    FakeUpstream gone;
    port = gone.port();
  }
  Edge edge("unreachable");
  auto v = json::parse("{\"upstream\":\"http://127.0.0.1:" + std::to_string(port) + "\",\"timeout_seconds\":2}");
  auto cfg = sync::parse_sync_config(&*v, "test");
  REQUIRE(cfg.ok());
  sync::Pusher p(*edge.db, *cfg);
  REQUIRE(p.init().ok());
  edge.put("Patient", "a", "A");
  auto r = p.push_once();
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message.find("connection failed") != std::string::npos);
  auto s = p.status();
  CHECK(s.queue_length == 1);
  CHECK(s.pushed_seq == s.start_seq);
  CHECK(s.last_error.find("connection failed") != std::string::npos);
}

TEST_CASE("client authentication: client_secret_post and private_key_jwt", "[sync]") {
  SECTION("client_secret_post sends id and secret in the form, no Basic header") {
    FakeUpstream up;
    up.require_token = true;
    Edge edge("post");
    std::string secret = secret_file("post", up.client_secret);
    auto cfg = token_config(up, secret, "\"client_auth\":\"client_secret_post\"");
    sync::Pusher p(*edge.db, cfg);
    REQUIRE(p.init().ok());
    edge.put("Patient", "a", "x");
    REQUIRE(p.push_once().ok());
    CHECK(up.last_token_auth.empty());
    CHECK(up.last_token_body.find("client_secret=s3cret") != std::string::npos);
    CHECK(up.get("Patient/a").version == 1);
  }
  SECTION("private_key_jwt signs a fresh client assertion with the configured key") {
    auto pair = auth::generate_key_pem(auth::KeyType::ec_p256);
    REQUIRE(pair.ok());
    FakeUpstream up;
    up.require_token = true;
    up.client_public_pem = pair->public_pem;
    up.token_url = up.url() + "/token";
    Edge edge("pkjwt");
    std::string key = secret_file("pkjwt", pair->private_pem);
    auto cfg = sync_config(up, "\"token_url\":\"" + up.token_url + "\",\"client_id\":\"edge\",\"client_key_file\":\"" +
                                   key + "\",\"client_auth\":\"private_key_jwt\",\"client_key_id\":\"k1\"");
    sync::Pusher p(*edge.db, cfg);
    REQUIRE(p.init().ok());
    edge.put("Patient", "a", "x");
    auto r = p.push_once();
    INFO((r.ok() ? std::string() : r.status().message));
    REQUIRE(r.ok());
    CHECK(up.token_requests == 1);
    CHECK(up.last_token_auth.empty());
    CHECK(up.get("Patient/a").version == 1);
    // A key the token endpoint does not know is refused.
    auto other = auth::generate_key_pem(auth::KeyType::ec_p256);
    REQUIRE(other.ok());
    up.client_public_pem = other->public_pem;
    sync::Pusher q(*edge.db, cfg);
    edge.put("Patient", "b", "x");
    auto r2 = q.push_once();
    REQUIRE_FALSE(r2.ok());
    CHECK(r2.status().message.find("invalid_client") != std::string::npos);
  }
}

TEST_CASE("health check entry and Prometheus metrics from the sync status", "[sync]") {
  FakeUpstream up;
  Edge edge("observe");
  auto p = std::make_shared<sync::Pusher>(*edge.db, sync_config(up, "\"max_queue\":1"));
  REQUIRE(p->init().ok());
  edge.put("Patient", "a", "x");
  edge.put("Patient", "b", "x");
  http::Metrics m;
  m.set_process_metrics(false);
  REQUIRE(sync::register_metrics(m, p, SystemClock::instance()).ok());
  std::string text = m.render_prometheus();
  CHECK(text.find("edgefhir_sync_queue_length 2") != std::string::npos);
  CHECK(text.find("edgefhir_sync_over_cap 1") != std::string::npos);
  CHECK(text.find("# TYPE edgefhir_sync_conflicts_total counter") != std::string::npos);
  json::Value h = sync::health_check(p->status(), 0);
  CHECK(json::string_or(h, "status") == "warn");
  CHECK(json::string_or(h, "output").find("max_queue 1") != std::string::npos);
  REQUIRE(p->push_until_empty().ok());
  text = m.render_prometheus();
  CHECK(text.find("edgefhir_sync_queue_length 0") != std::string::npos);
  CHECK(text.find("edgefhir_sync_pushed_total 2") != std::string::npos);
  CHECK(json::string_or(sync::health_check(p->status(), 0), "status") == "pass");
}

TEST_CASE("status never waits for the network; stop() interrupts a slow push without recording an error", "[sync]") {
  FakeUpstream up;
  up.require_token = true;
  up.token_delay_ms = 1500;
  Edge edge("slow");
  std::string secret = secret_file("slow", up.client_secret);
  auto cfg = token_config(up, secret);
  sync::Pusher p(*edge.db, cfg);
  REQUIRE(p.init().ok());
  edge.put("Patient", "a", "x");
  std::thread t([&] { (void)p.push_once(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto t0 = std::chrono::steady_clock::now();
  auto s = p.status();
  auto waited = std::chrono::steady_clock::now() - t0;
  t.join();
  CHECK(waited < std::chrono::milliseconds(500));
  CHECK(s.queue_length == 1);

  up.token_delay_ms = 0;
  up.bundle_delay_ms = 3000;
  edge.put("Patient", "b", "x");
  p.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(400));  // the POST is now in flight
  auto s0 = std::chrono::steady_clock::now();
  p.stop();
  CHECK(std::chrono::steady_clock::now() - s0 < std::chrono::milliseconds(2000));
  store::SyncState st(*edge.db);
  auto row = st.get(cfg.upstream);
  REQUIRE(row.ok());
  CHECK((*row)->consecutive_failures == 0);
  CHECK((*row)->last_error.empty());
}

TEST_CASE("the push and pull /health checks: fields, time, output from the reason or the last failure", "[sync]") {
  sync::SyncStatus s;
  s.upstream = "https://up.example";
  s.health = "warn";
  s.queue_length = 7;
  s.last_error = "boom";
  s.consecutive_failures = 2;
  CHECK(json::write(sync::health_check(s, 1000)) ==
        R"({"componentType":"component","links":{"upstream":"https://up.example"},"observedUnit":"changes",)"
        R"("observedValue":7,"output":"last push failed: boom","status":"warn","time":"1970-01-01T00:00:01.000Z"})");
  s.health_reason = "the queue is longer than sync.max_queue";
  CHECK(json::string_or(sync::health_check(s, 1000), "output") == s.health_reason);
  s.health_reason.clear();
  s.consecutive_failures = 0;  // an old error after a success: no output
  CHECK(json::get(sync::health_check(s, 1000), "output") == nullptr);

  sync::PullQueryStatus q;
  q.search = "Patient?active=true";
  q.health = "warn";
  q.received_total = 3;
  q.last_error = "down";
  q.consecutive_failures = 1;
  CHECK(json::write(sync::pull_health_check(q, 1000)) ==
        R"({"componentId":"Patient?active=true","componentType":"component","observedUnit":"resources received",)"
        R"("observedValue":3,"output":"last pull failed: down","status":"warn","time":"1970-01-01T00:00:01.000Z"})");
  q.last_success_ms = 2000;  // the time is the last success when there was one
  CHECK(json::string_or(sync::pull_health_check(q, 1000), "time") == "1970-01-01T00:00:02.000Z");
}
