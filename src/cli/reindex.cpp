// cli/reindex.cpp — `edgefhir reindex`: rebuilds the search-index rows (idx_* tables) of every
// current resource, or of the given types, from the stored JSON with the search-parameter
// registry and indexer of this binary (the same ones every write uses: app/build.h,
// fhir/indexer.h).  Needed after an upgrade that supports more parameters or indexes them
// differently, or when the index is suspected to be damaged.
//
// Work is done in batches: each batch of --batch resources (default 500, in rid order) is read
// and rewritten inside one write transaction, so a large database never holds one giant
// transaction, a running server's writes interleave between batches (WAL; each resource is
// read and reindexed in the same transaction, so nothing written meanwhile is lost), and an
// interrupted run can simply be started again.  A full run (no --type) first removes index rows
// that belong to no current resource.
//
// A stored resource that can no longer be parsed is reported as "Type/id: message" and its old
// rows are kept; the exit status is then 1 (2 for usage errors).  On a terminal (stderr is a
// TTY) a progress line shows resources done, rate and ETA; the summary line always ends it.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <set>

#include "cli/commands.h"
#include "app/build.h"
#include "fhir/resource.h"
#include "fhir/resource_types.h"
#include "store/reindex.h"

namespace ef::cli {

static const char* kReindexHelp =
    "usage: edgefhir reindex [--config FILE] [--database PATH] [--type TYPE]... [--batch N]\n"
    "                        [--progress|--no-progress]\n\n"
    "Rebuilds the search index of every current resource (or only of the given resource types)\n"
    "from the stored JSON, with the search parameters of this version of edgefhir.\n"
    "  --type TYPE   only resources of TYPE (repeatable, or comma-separated: --type Patient,Observation)\n"
    "  --batch N     resources per write transaction (default 500)\n"
    "Safe to run while the server is serving the same database, and to run again after an\n"
    "interrupt.  Prints resources, index rows and seconds; a progress line (count, rate, ETA)\n"
    "is shown when stderr is a terminal.  Exit status 1 when a stored resource could not be\n"
    "parsed (it is named; its old index rows are kept).\n";

namespace {

using SteadyClock = std::chrono::steady_clock;

Status split_types(const std::string& v, std::set<std::string>* out) {
  size_t start = 0;
  while (start <= v.size()) {
    size_t comma = v.find(',', start);
    if (comma == std::string::npos) comma = v.size();
    std::string t = v.substr(start, comma - start);
    if (t.empty()) return Status(Err::invalid, "--type needs resource type names");
    if (!fhir::is_resource_type(t)) return Status(Err::invalid, "'" + t + "' is not an R4 resource type");
    out->insert(t);
    start = comma + 1;
  }
  return Status();
}

}  // namespace

int reindex_main(std::vector<std::string> args, std::ostream& out, std::ostream& err) {
  Common common;
  Status st = take_common(args, &common);
  if (!st) { err << "edgefhir reindex: " << st.message << "\n"; return 2; }
  if (common.help) { out << kReindexHelp; return 0; }
  std::set<std::string> type_set;
  int progress = -1;  // -1 auto
  long batch = 500;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    std::string v;
    bool has_value = false;
    if ((a == "--type" || a == "--batch") && i + 1 < args.size()) { v = args[++i]; has_value = true; }
    else if (a.rfind("--type=", 0) == 0) { v = a.substr(7); has_value = true; }
    else if (a.rfind("--batch=", 0) == 0) { v = a.substr(8); has_value = true; }
    if (a == "--progress") progress = 1;
    else if (a == "--no-progress") progress = 0;
    else if (has_value && a.rfind("--type", 0) == 0) {
      st = split_types(v, &type_set);
      if (!st) { err << "edgefhir reindex: " << st.message << "\n"; return 2; }
    } else if (has_value && a.rfind("--batch", 0) == 0) {
      char* end = nullptr;
      batch = std::strtol(v.c_str(), &end, 10);
      if (v.empty() || *end || batch < 1 || batch > 1000000) {
        err << "edgefhir reindex: --batch needs a number from 1 to 1000000\n";
        return 2;
      }
    } else {
      err << "edgefhir reindex: " << (a == "--type" || a == "--batch" ? a + " needs a value" : "unexpected argument '" + a + "'")
          << "\n\n" << kReindexHelp;
      return 2;
    }
  }
  std::vector<std::string> types(type_set.begin(), type_set.end());

  auto cfg = load(common);
  if (!cfg) { err << "edgefhir: " << cfg.status().message << "\n"; return 2; }
  auto opened = ef::app::open_app(*cfg);
  if (!opened) { err << "edgefhir: " << opened.status().message << "\n"; return 1; }
  http::App& app = **opened;
  const bool show = progress == 1 || (progress == -1 && &err == &std::cerr && ::isatty(STDERR_FILENO));
  const auto t0 = SteadyClock::now();
  auto secs = [&] { return std::chrono::duration<double>(SteadyClock::now() - t0).count(); };

  int64_t total = 0;
  st = app.db->read([&](store::Conn& c) -> Status {
    auto n = store::count_current_resources(c, types);
    if (!n) return n.status();
    total = *n;
    return Status();
  });
  if (!st) { err << "edgefhir reindex: " << st.message << "\n"; return 1; }

  int64_t orphans = 0;
  if (types.empty()) {
    st = app.db->write([&](store::Conn& c) -> Status {
      auto n = store::delete_orphan_index_rows(c);
      if (!n) return n.status();
      orphans = *n;
      return Status();
    });
    if (!st) { err << "edgefhir reindex: removing stale index rows: " << st.message << "\n"; return 1; }
  }

  int64_t done = 0, rows_written = 0, failed = 0, after = 0;
  bool shown = false;
  SteadyClock::time_point last_draw{};
  auto draw = [&](bool force) {
    if (!show) return;
    auto now = SteadyClock::now();
    if (!force && now - last_draw < std::chrono::milliseconds(100)) return;
    last_draw = now;
    double s = secs();
    double frac = total ? double(done + failed) / double(total) : 1.0;
    if (frac > 1) frac = 1;
    const int width = 24;
    int fill = int(frac * width);
    double rate = s > 0 ? double(done + failed) / s : 0;
    double eta = rate > 0 ? double(total - done - failed) / rate : -1;
    char pct[16];
    snprintf(pct, sizeof pct, "%3d%%", int(frac * 100));
    err << "\r[" << std::string(fill, '#') << std::string(width - fill, '.') << "] " << pct << "  "
        << fmt_count(done + failed) << "/" << fmt_count(total) << " resources  " << fmt_count(int64_t(rate)) << "/s  ETA "
        << (frac >= 1 ? std::string("0:00") : fmt_duration(eta)) << "\x1b[K" << std::flush;
    shown = true;
  };
  auto problem = [&](const std::string& msg) {
    if (shown) err << "\r\x1b[K";
    shown = false;
    err << msg << "\n";
  };

  fhir::ParseLimits lim;
  lim.max_depth = app.cfg.limits.max_json_depth;
  for (;;) {
    size_t got = 0;
    int64_t batch_done = 0, batch_rows = 0;
    std::vector<std::string> bad;
    st = app.db->write([&](store::Conn& c) -> Status {
      batch_done = batch_rows = 0;
      bad.clear();
      auto list = store::current_resources_after(c, after, size_t(batch), types);
      if (!list) return list.status();
      got = list->size();
      for (const store::StoredResource& r : *list) {
        after = r.rid;
        auto doc = fhir::parse_resource(r.body, lim);
        if (!doc) {
          bad.push_back(r.type + "/" + r.id + ": the stored JSON cannot be parsed (" + doc.status().message +
                        "); its index rows were kept");
          continue;
        }
        fhir::IndexRows rows;
        app.repo->index(*doc, &rows);
        Status s = app.resources->reindex_rows(c, r.rid, r.type, rows);
        if (!s) return Status(s.code, r.type + "/" + r.id + ": " + s.message);
        for (const fhir::IndexRow& x : rows)
          if (app.resources->pid(r.type, x.param)) ++batch_rows;  // rows without a known pid are not written
        ++batch_done;
      }
      return Status();
    });
    if (!st) {
      problem("edgefhir reindex: " + st.message);
      err << "stopped after " << fmt_count(done) << " resources (committed); run again to finish\n";
      return 1;
    }
    done += batch_done;
    rows_written += batch_rows;
    failed += int64_t(bad.size());
    for (const auto& b : bad) problem(b);
    draw(false);
    if (got < size_t(batch)) break;
  }
  if (show) {
    draw(true);
    err << "\n";
  }
  double s = secs();
  char timing[64];
  snprintf(timing, sizeof timing, "%.2f s, %s resources/s", s, fmt_count(s > 0 ? int64_t(double(done) / s) : 0).c_str());
  out << "reindexed " << fmt_count(done) << (done == 1 ? " resource" : " resources");
  if (!types.empty()) {
    out << " of type" << (types.size() == 1 ? " " : "s ");
    for (size_t i = 0; i < types.size(); ++i) out << (i ? "," : "") << types[i];
  }
  out << ": " << fmt_count(rows_written) << " index rows (" << timing << ")";
  if (orphans) out << "; removed " << fmt_count(orphans) << " stale index rows";
  if (failed) out << "; " << fmt_count(failed) << " failed";
  out << "\n";
  return failed ? 1 : 0;
}

}  // namespace ef::cli
