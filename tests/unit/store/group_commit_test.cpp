// Group commit in Database::write (store/db.h): queued writes share one transaction, each in
// its own savepoint (replayable ones without, replayed on a failure); failures stay with
// their member; a COMMIT failure fails them all; bounds.
// Groups are formed deterministically: the first write's callback (the leader's) waits until
// the others are queued (Database::queued_writes) before it writes.
#include <catch2/catch.hpp>

#include <sqlite3.h>  // a commit hook to make COMMIT fail (store test only)
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "store/db.h"
#include "../testing.h"

using namespace ef;

namespace {
using testing::temp_db;

std::unique_ptr<store::Database> open_db(const char* name, store::DbOptions o = {}) {
  auto db = store::Database::open(temp_db(name), o);
  REQUIRE(db.ok());
  REQUIRE((*db)->write([](store::Conn& c) { return c.exec("CREATE TABLE t(x TEXT, pad BLOB)"); }).ok());
  return std::move(*db);
}

Status insert(store::Conn& c, const std::string& x, size_t pad = 0) {
  return c.prepare("INSERT INTO t(x, pad) VALUES(?, ?)").bind(1, x).bind_blob(2, std::string(pad, 'p')).run();
}

// Rows of t in insertion (rowid) order, read on a reader connection of another thread.
std::string rows(store::Database& d) {
  std::string out;
  std::thread th([&] {
    d.read([&](store::Conn& c) {
      auto& q = c.prepare("SELECT x FROM t ORDER BY rowid");
      while (q.step()) out += std::string(q.text(0)) + ",";
      q.reset();
      return Status();
    });
  });
  th.join();
  return out;
}

// Waits until `n` writes are queued behind the running leader (5 s at most).
bool wait_queued(store::Database& d, size_t n) {
  for (int i = 0; i < 5000; ++i) {
    if (d.queued_writes() >= n) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return false;
}

// Runs `lead` as the first write; each of `others` is started only after the one before it
// is queued, so the queue order (= apply order) is lead, others[0], others[1], ...
// The lead's callback first waits until all others are queued.
// kinds[i]: the WriteKind of write i (0 = the lead); general when not given.
std::vector<Status> run_group(store::Database& d, std::function<Status(store::Conn&)> lead,
                              std::vector<std::function<Status(store::Conn&)>> others,
                              std::vector<store::Database::WriteKind> kinds = {}) {
  auto kind = [&](size_t i) { return i < kinds.size() ? kinds[i] : store::Database::WriteKind::general; };
  std::vector<Status> out(others.size() + 1);
  std::atomic<bool> lead_in{false};
  std::vector<std::thread> ths;
  ths.emplace_back([&] {
    bool waited = false;  // a replayed lead does not wait again
    out[0] = d.write(
        [&](store::Conn& c) {
          lead_in = true;
          if (!waited && !wait_queued(d, others.size())) return Status(Err::internal, "the others never queued");
          waited = true;
          return lead(c);
        },
        kind(0));
  });
  while (!lead_in) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  for (size_t i = 0; i < others.size(); ++i) {
    ths.emplace_back([&, i] { out[i + 1] = d.write(others[i], kind(i + 1)); });
    // (not after the last one: the lead then starts at once and the queue drains)
    if (i + 1 < others.size()) REQUIRE(wait_queued(d, i + 1));
  }
  for (auto& t : ths) t.join();
  return out;
}

uint64_t groups_of(const store::WriteStats& s, size_t bucket) { return s.group_counts[bucket]; }
}  // namespace

TEST_CASE("group commit: queued writes share one transaction, a failing member rolls back alone", "[store][group]") {
  auto db = open_db("isolation");
  auto& d = *db;
  store::WriteStats before = d.write_stats();
  int64_t seen_by_d = -1;
  auto st = run_group(
      d, [](store::Conn& c) { return insert(c, "a"); },
      {[](store::Conn& c) { return insert(c, "b"); },
       [](store::Conn& c) {
         Status s = insert(c, "c");
         if (!s) return s;
         return Status(Err::conflict, "member c refuses");
       },
       [&](store::Conn& c) {
         // sees the members applied before it in the same transaction, not the rolled-back one
         auto& q = c.prepare("SELECT COUNT(*) FROM t");
         if (q.step()) seen_by_d = q.int64(0);
         q.reset();
         return insert(c, "d");
       }});
  CHECK(st[0].ok());
  CHECK(st[1].ok());
  CHECK(st[2].code == Err::conflict);
  CHECK(st[2].message == "member c refuses");
  CHECK(st[3].ok());
  CHECK(seen_by_d == 2);
  CHECK(rows(d) == "a,b,d,");
  store::WriteStats after = d.write_stats();
  CHECK(after.groups - before.groups == 1);     // one COMMIT for the four
  CHECK(after.requests - before.requests == 3);  // the three that committed
  CHECK(groups_of(after, 2) - groups_of(before, 2) == 1);  // 2 < size <= 4
}

// WriteKind::replayable members run without a savepoint while every member before them is
// replayable: one failing (or throwing) is undone by rolling back and applying the members
// before it again; after a general member, replayable ones get their savepoint again.
TEST_CASE("group commit: replayable members skip the savepoint; a failure replays those before it", "[store][group]") {
  using K = store::Database::WriteKind;
  auto db = open_db("replay");
  auto& d = *db;
  store::WriteStats before = d.write_stats();
  std::atomic<int> runs_a{0}, runs_b{0}, runs_c{0}, runs_d{0}, runs_e{0}, runs_f{0}, runs_g{0};
  int64_t seen_by_d = -1;
  auto st = run_group(
      d, [&](store::Conn& c) { ++runs_a; return insert(c, "a"); },
      {[&](store::Conn& c) { ++runs_b; return insert(c, "b"); },
       [&](store::Conn& c) {
         ++runs_c;
         Status s = insert(c, "c");
         if (!s) return s;
         return Status(Err::conflict, "member c refuses");
       },
       [&](store::Conn& c) {
         ++runs_d;
         auto& q = c.prepare("SELECT COUNT(*) FROM t");
         if (q.step()) seen_by_d = q.int64(0);
         q.reset();
         return insert(c, "d");
       },
       [&](store::Conn& c) { ++runs_e; return insert(c, "e"); },  // general
       [&](store::Conn& c) {
         ++runs_f;
         Status s = insert(c, "f");
         if (!s) return s;
         return Status(Err::conflict, "member f refuses");
       },
       [&](store::Conn& c) { ++runs_g; return insert(c, "g"); }},
      {K::replayable, K::replayable, K::replayable, K::replayable, K::general, K::replayable, K::replayable});
  CHECK(st[0].ok());
  CHECK(st[1].ok());
  CHECK(st[2].code == Err::conflict);
  CHECK(st[2].message == "member c refuses");
  CHECK(st[3].ok());
  CHECK(st[4].ok());
  CHECK(st[5].code == Err::conflict);
  CHECK(st[6].ok());
  CHECK(rows(d) == "a,b,d,e,g,");  // c's and f's rows are gone, the order is the apply order
  CHECK(seen_by_d == 2);             // d saw a and b (replayed), not c
  CHECK(runs_a == 2);                // applied again after c failed
  CHECK(runs_b == 2);
  CHECK(runs_c == 1);
  CHECK(runs_d == 1);
  CHECK(runs_e == 1);  // general: never replayed; f after it rolled back to its savepoint
  CHECK(runs_f == 1);
  CHECK(runs_g == 1);
  store::WriteStats after = d.write_stats();
  CHECK(after.groups - before.groups == 1);  // still one COMMIT
  CHECK(after.requests - before.requests == 5);
}

TEST_CASE("group commit: a throwing replayable member gets its exception, the others are replayed and commit", "[store][group]") {
  using K = store::Database::WriteKind;
  auto db = open_db("replay-throw");
  auto& d = *db;
  std::vector<Status> st(3);
  bool thrown = false;
  std::atomic<bool> lead_in{false};
  std::atomic<int> runs_a{0};
  std::thread a([&] {
    bool waited = false;
    st[0] = d.write(
        [&](store::Conn& c) {
          lead_in = true;
          ++runs_a;
          if (!waited) wait_queued(d, 2);
          waited = true;
          return insert(c, "a");
        },
        K::replayable);
  });
  while (!lead_in) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::thread b([&] {
    try {
      d.write(
          [](store::Conn& c) -> Status {
            insert(c, "b");
            throw std::runtime_error("boom");
          },
          K::replayable);
    } catch (const std::runtime_error& e) {
      thrown = std::string(e.what()) == "boom";
    }
  });
  REQUIRE(wait_queued(d, 1));
  std::thread c([&] { st[2] = d.write([](store::Conn& cc) { return insert(cc, "c"); }, K::replayable); });
  a.join();
  b.join();
  c.join();
  CHECK(thrown);
  CHECK(st[0].ok());
  CHECK(st[2].ok());
  CHECK(runs_a == 2);
  CHECK(rows(d) == "a,c,");
}

TEST_CASE("group commit: a throwing member gets its exception, the others commit", "[store][group]") {
  auto db = open_db("throw");
  auto& d = *db;
  std::vector<Status> st(3);
  bool thrown = false;
  std::atomic<bool> lead_in{false};
  std::thread a([&] {
    st[0] = d.write([&](store::Conn& c) {
      lead_in = true;
      wait_queued(d, 2);
      return insert(c, "a");
    });
  });
  while (!lead_in) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::thread b([&] {
    try {
      d.write([](store::Conn& c) -> Status {
        insert(c, "b");
        throw std::runtime_error("boom");
      });
    } catch (const std::runtime_error& e) {
      thrown = std::string(e.what()) == "boom";
    }
  });
  REQUIRE(wait_queued(d, 1));
  std::thread c([&] { st[2] = d.write([](store::Conn& cc) { return insert(cc, "c"); }); });
  a.join();
  b.join();
  c.join();
  CHECK(thrown);
  CHECK(st[0].ok());
  CHECK(st[2].ok());
  CHECK(rows(d) == "a,c,");
}

TEST_CASE("group commit: a failing first member leaves the rest to a new transaction", "[store][group]") {
  auto db = open_db("first");
  auto& d = *db;
  store::WriteStats before = d.write_stats();
  auto st = run_group(
      d,
      [](store::Conn& c) {
        insert(c, "a");
        return Status(Err::invalid, "a fails");
      },
      {[](store::Conn& c) { return insert(c, "b"); }, [](store::Conn& c) { return insert(c, "c"); }});
  CHECK(st[0].message == "a fails");
  CHECK(st[1].ok());
  CHECK(st[2].ok());
  CHECK(rows(d) == "b,c,");
  store::WriteStats after = d.write_stats();
  CHECK(after.groups - before.groups == 1);
  CHECK(after.requests - before.requests == 2);
}

TEST_CASE("group commit: a COMMIT failure fails every member of the group", "[store][group]") {
  auto db = open_db("commitfail");
  auto& d = *db;
  auto st = run_group(
      d, [](store::Conn& c) { return insert(c, "a"); },
      {[](store::Conn& c) { return insert(c, "b"); },
       [](store::Conn& c) {
         // turns the group's COMMIT into a rollback (SQLITE_CONSTRAINT_COMMITHOOK)
         sqlite3_commit_hook(c.raw(), [](void*) { return 1; }, nullptr);
         return insert(c, "c");
       }});
  for (const Status& s : st) {
    CHECK_FALSE(s.ok());
  }
  CHECK(rows(d) == "");
  // the writer recovers: the hook removed, the next write commits
  REQUIRE(d.write([](store::Conn& c) {
             sqlite3_commit_hook(c.raw(), nullptr, nullptr);
             return insert(c, "z");
           }).ok());
  CHECK(rows(d) == "z,");
}

TEST_CASE("group commit: groups are bounded by count and by bytes", "[store][group]") {
  SECTION("max_group_requests") {
    store::DbOptions o;
    o.max_group_requests = 2;
    auto db = open_db("boundn", o);
    store::WriteStats before = db->write_stats();
    auto w = [](const char* x) { return [x](store::Conn& c) { return insert(c, x); }; };
    auto st = run_group(*db, w("a"), {w("b"), w("c"), w("d"), w("e")});
    for (const Status& s : st) CHECK(s.ok());
    CHECK(rows(*db) == "a,b,c,d,e,");  // apply order = queue order
    store::WriteStats after = db->write_stats();
    CHECK(after.groups - before.groups == 3);            // {a,b} {c,d} {e}
    CHECK(groups_of(after, 1) - groups_of(before, 1) == 2);  // size 2
    CHECK(groups_of(after, 0) - groups_of(before, 0) == 1);  // size 1
  }
  SECTION("max_group_bytes") {
    store::DbOptions o;
    o.max_group_bytes = 2500;
    auto db = open_db("boundb", o);
    store::WriteStats before = db->write_stats();
    auto w = [](const char* x) { return [x](store::Conn& c) { return insert(c, x, 1000); }; };
    auto st = run_group(*db, w("a"), {w("b"), w("c"), w("d")});
    for (const Status& s : st) CHECK(s.ok());
    CHECK(rows(*db) == "a,b,c,d,");
    store::WriteStats after = db->write_stats();
    CHECK(after.groups - before.groups == 2);                // {a,b,c} reached 3000 bytes; {d}
    CHECK(groups_of(after, 2) - groups_of(before, 2) == 1);  // size 3
    CHECK(groups_of(after, 0) - groups_of(before, 0) == 1);  // size 1
  }
}

TEST_CASE("group commit: a lone write commits at once, without a savepoint", "[store][group]") {
  auto db = open_db("lone");
  auto& d = *db;
  store::WriteStats before = d.write_stats();
  Status in_savepoint;
  REQUIRE(d.write([&](store::Conn& c) {
             in_savepoint = c.exec("RELEASE ef_member");  // fails: no such savepoint
             return insert(c, "a");
           }).ok());
  CHECK_FALSE(in_savepoint.ok());
  CHECK(rows(d) == "a,");  // committed when write() returned
  CHECK(d.queued_writes() == 0);
  store::WriteStats after = d.write_stats();
  CHECK(after.groups - before.groups == 1);
  CHECK(groups_of(after, 0) - groups_of(before, 0) == 1);
  uint64_t commits = 0;
  for (uint64_t n : after.commit_counts) commits += n;
  CHECK(commits == after.groups);
}

TEST_CASE("group commit: many concurrent writers, some failing; commit order = apply order", "[store][group]") {
  for (bool grouped : {true, false}) {
    store::DbOptions o;
    o.group_commit = grouped;
    auto db = open_db(grouped ? "stress-on" : "stress-off", o);
    auto& d = *db;
    store::WriteStats before = d.write_stats();
    const int kThreads = 8, kEach = 150;
    std::atomic<int> ok{0}, failed{0}, wrong{0};  // (Catch2 assertions are not thread-safe)
    std::vector<std::thread> ths;
    for (int t = 0; t < kThreads; ++t)
      ths.emplace_back([&, t] {
        for (int i = 0; i < kEach; ++i) {
          bool fail = i % 7 == 3;
          Status s = d.write([&](store::Conn& c) {
            Status r = insert(c, std::to_string(t) + ":" + std::to_string(i));
            if (!r) return r;
            return fail ? Status(Err::invalid, "no") : Status();
          });
          (s.ok() ? ok : failed)++;
          if (s.ok() == fail) ++wrong;
        }
      });
    for (auto& th : ths) th.join();
    CHECK(wrong == 0);
    store::WriteStats after = d.write_stats();
    CHECK(after.requests - before.requests == uint64_t(ok.load()));
    if (!grouped) CHECK(after.groups - before.groups == uint64_t(ok.load()));
    // every acknowledged write is there, no failed one, each thread's writes in its order
    std::string all = rows(d);
    int n = 0;
    std::vector<int> last(kThreads, -1);
    bool ordered = true, none_failed = true;
    size_t pos = 0;
    while (pos < all.size()) {
      size_t comma = all.find(',', pos);
      std::string x = all.substr(pos, comma - pos);
      pos = comma + 1;
      int t = std::stoi(x.substr(0, x.find(':'))), i = std::stoi(x.substr(x.find(':') + 1));
      if (i <= last[t]) ordered = false;
      if (i % 7 == 3) none_failed = false;
      last[t] = i;
      ++n;
    }
    CHECK(n == ok.load());
    CHECK(ordered);
    CHECK(none_failed);
    INFO("grouped " << grouped << ": " << (after.groups - before.groups) << " transactions for " << ok.load());
  }
}

TEST_CASE("group commit: the commit delay waits for late writers only after a concurrent group", "[store][group]") {
  store::DbOptions o;
  o.commit_delay_us = 1000000;  // 1 s: long enough that the late writer (50 ms) surely arrives within it
  auto db = open_db("delay", o);
  auto& d = *db;
  // A lone write: the previous group (the CREATE TABLE) had one member, so no delay.
  auto t0 = std::chrono::steady_clock::now();
  REQUIRE(d.write([](store::Conn& c) { return insert(c, "lone"); }).ok());
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(500));
  // A group of two: concurrency seen, so the next leader waits for late writers.
  auto st = run_group(d, [](store::Conn& c) { return insert(c, "a"); }, {[](store::Conn& c) { return insert(c, "b"); }});
  REQUIRE(st[0].ok());
  REQUIRE(st[1].ok());
  store::WriteStats before = d.write_stats();
  Status first, late;
  std::atomic<bool> applied{false};
  std::thread leader([&] {
    first = d.write([&](store::Conn& c) {
      applied = true;
      return insert(c, "c");
    });
  });
  while (!applied) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the leader's queue is empty now
  late = d.write([](store::Conn& c) { return insert(c, "d"); });
  leader.join();
  CHECK(first.ok());
  CHECK(late.ok());
  store::WriteStats after = d.write_stats();
  CHECK(after.groups - before.groups == 1);  // c and d shared one COMMIT
  CHECK(groups_of(after, 1) - groups_of(before, 1) == 1);  // size 2
  CHECK(rows(d) == "lone,a,b,c,d,");
  // That group had two members too; a write arriving while nobody else writes waits out the
  // delay at most once and is answered (the delay is bounded, not a hang).
  auto t1 = std::chrono::steady_clock::now();
  REQUIRE(d.write([](store::Conn& c) { return insert(c, "e"); }).ok());
  CHECK(std::chrono::steady_clock::now() - t1 < std::chrono::seconds(10));
  // ... after which the previous group had one member: no delay any more.
  auto t2 = std::chrono::steady_clock::now();
  REQUIRE(d.write([](store::Conn& c) { return insert(c, "f"); }).ok());
  CHECK(std::chrono::steady_clock::now() - t2 < std::chrono::milliseconds(500));
}
