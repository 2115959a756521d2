// tests/fuzz/fuzz_bundle.cpp — transaction and batch Bundle processing on a real (temporary)
// database: entry checks, url parsing, urn:uuid / conditional reference rewriting, the
// processing order and the all-or-nothing rollback.
// The same input then goes through the import's two halves (prepare_import on the parsed
// entries, commit_prepared in a write transaction) when it is a transaction Bundle.
// Input: a Bundle (JSON text).
// Invariants: no crash/UB/exception; a failed transaction leaves the database exactly as it
// was (same number of resource versions); a successful one reports one result per entry; a
// batch always reports one result per entry; the same for a prepared import.
#include <unistd.h>

#include <cstdio>

#include "app/build.h"
#include "service/bundle_processor.h"
#include "fuzz_util.h"
#include "store/search.h"
#include "util/json.h"

using namespace ef;

namespace {

const char* kBase = "http://edge.test/fhir";

struct World {
  std::unique_ptr<http::App> app;
  std::unique_ptr<service::BundleProcessor> bp;
  World() {
    std::string path = "/tmp/edgefhir-fuzz-bundle-" + std::to_string(::getpid()) + ".db";
    for (const char* suf : {"", "-wal", "-shm"}) std::remove((path + suf).c_str());
    ServerConfig cfg;
    cfg.database = path;
    cfg.base_url = kBase;
    auto a = ef::app::open_app(cfg);
    FUZZ_CHECK(a.ok(), "cannot open the fuzz database");
    app = std::move(*a);
    bp = std::make_unique<service::BundleProcessor>(app->service->processor());
  }
  int64_t versions() {
    int64_t n = -1;
    Status st = app->db->read([&](store::Conn& c) {
      store::Stmt& q = c.prepare("SELECT count(*) FROM resource_version");
      if (q.step()) n = q.int64(0);
      Status s = q.status();
      q.reset();
      return s;
    });
    FUZZ_CHECK(st.ok(), "counting versions failed: " + st.message);
    return n;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World w;
  json::ParseOptions po;
  po.preserve_numbers = true;
  po.max_depth = 64;
  auto doc = json::parse(std::string_view(reinterpret_cast<const char*>(data), size), po);
  if (!doc) return 0;
  service::BundleOptions opt(service::Access::unrestricted());
  opt.base_url = kBase;
  opt.max_entries = 50;
  bool transaction = json::string_or(*doc, "type") == "transaction";
  size_t entries = 0;
  if (const json::Value* e = json::get(*doc, "entry"); e && e->is<json::Array>()) entries = e->get<json::Array>().size();
  json::Value copy = *doc;
  int64_t before = w.versions();
  auto r = w.bp->process(std::move(*doc), opt);
  if (!r) {
    FUZZ_CHECK(!r.status().message.empty(), "bundle error without a message");
    if (transaction) FUZZ_CHECK(w.versions() == before, "a failed transaction left writes behind");
  } else {
    FUZZ_CHECK(r->results.size() == entries, "not one result per entry");
  }
  if (!transaction) return 0;
  // The import's two halves (service/import.cpp).
  opt.ids_from_urn = true;
  std::string type;
  auto parsed = w.bp->parse(std::move(copy), opt, &type);
  if (!parsed) return 0;
  std::vector<service::BundleProcessor::PreparedEntry> ready;
  if (!w.bp->prepare_import(*parsed, opt, 1795000000000, &ready)) return 0;
  FUZZ_CHECK(ready.size() == parsed->size(), "not every entry prepared");
  const size_t n_ready = ready.size();
  before = w.versions();
  Result<service::BundleResult> pr = Status(Err::internal, "not run");
  Status st = w.app->db->write([&](store::Conn& c) {
    pr = w.bp->commit_prepared(c, std::move(ready));
    return pr.ok() ? Status() : pr.status();
  });
  if (!st) {
    FUZZ_CHECK(!st.message.empty(), "prepared import error without a message");
    FUZZ_CHECK(w.versions() == before, "a failed prepared import left writes behind");
    return 0;
  }
  FUZZ_CHECK(pr->results.size() == n_ready, "not one prepared result per entry");
  return 0;
}
