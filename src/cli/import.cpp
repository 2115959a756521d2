// cli/import.cpp — `edgefhir import PATH...`: the front-end of the bulk import engine
// (service/import.h: what is loaded, how, and how failures are isolated).  This file parses
// the arguments, opens the database (app/build.h), and prints: problems as they come, a
// progress line (resources, rate and ETA by bytes read) when stderr is a terminal, and a
// one-line summary.  The exit status is 1 when anything failed, 2 for usage errors.
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>

#include "app/build.h"
#include "cli/commands.h"
#include "service/import.h"

namespace ef::cli {

static const char* kImportHelp =
    "usage: edgefhir import [--config FILE] [--database PATH] [--progress|--no-progress] PATH...\n\n"
    "Loads FHIR JSON files (*.json: a resource or a Bundle), NDJSON files (*.ndjson: one resource\n"
    "per line) and folders (recursively, in name order).\n"
    "  transaction/batch Bundles   processed as on POST [base]; a POST entry whose fullUrl is\n"
    "                              urn:uuid:X is stored as Type/X, so re-importing changes nothing\n"
    "  other Bundles (collection)  their entries, as one transaction\n"
    "  resources with an id        update-or-create; an identical resource is skipped\n"
    "Re-running an import is safe: what is already stored is reported as unchanged.\n"
    "Problems are reported as FILE:LINE (or FILE: entry N) and the rest goes on; the exit status\n"
    "is 1 when anything failed.  A progress line (count, rate, ETA) is shown when stderr is a\n"
    "terminal (--progress / --no-progress force it on / off).\n";
namespace {

using SteadyClock = std::chrono::steady_clock;


// The progress line on a terminal, redrawn at most every 100 ms; problems printed while it is
// shown clear it first.
class Progress : public service::ImportReporter {
 public:
  Progress(std::ostream& err, bool on) : err_(err), on_(on) {}
  void problem(const std::string& m) override {
    clear();
    err_ << m << "\n";
  }
  void progress(const service::ImportStats& s) override {
    s_ = &s;
    update();
  }
  void update(bool force = false) {
    if (!on_ || !s_) return;
    const service::ImportStats& st = *s_;
    auto now = SteadyClock::now();
    if (!force && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    double secs = st.seconds();
    double frac = st.bytes_total ? double(st.bytes_done) / double(st.bytes_total) : 1.0;
    if (frac > 1) frac = 1;
    const int width = 24;
    int fill = int(frac * width);
    std::string bar = "[" + std::string(fill, '#') + std::string(width - fill, '.') + "]";
    double rate = secs > 0 ? double(st.resources() + st.failed) / secs : 0;
    double eta = frac > 0 && secs > 0 ? secs * (1 - frac) / frac : -1;
    char pct[16];
    snprintf(pct, sizeof pct, "%3d%%", int(frac * 100));
    std::string line = bar + " " + pct + "  " + fmt_count(st.resources()) + " resources  " +
                       fmt_count(int64_t(rate)) + "/s  ETA " + (frac >= 1 ? "0:00" : fmt_duration(eta));
    if (st.failed) line += "  " + fmt_count(st.failed) + " failed";
    err_ << "\r" << line << "\x1b[K" << std::flush;
    shown_ = true;
  }
  // Clears the line before other output.
  void clear() {
    if (on_ && shown_) err_ << "\r\x1b[K" << std::flush;
    shown_ = false;
  }
  void finish(const service::ImportStats& s) {
    s_ = &s;
    if (!on_) return;
    update(true);
    err_ << "\n";
    shown_ = false;
  }

 private:
  std::ostream& err_;
  bool on_;
  const service::ImportStats* s_ = nullptr;
  bool shown_ = false;
  SteadyClock::time_point last_{};
};

}  // namespace

int import_main(std::vector<std::string> args, std::ostream& out, std::ostream& err) {
  Common common;
  Status st = take_common(args, &common);
  if (!st) { err << "edgefhir import: " << st.message << "\n"; return 2; }
  if (common.help) { out << kImportHelp; return 0; }
  int progress = -1;  // -1 auto
  std::vector<std::string> paths;
  for (const auto& a : args) {
    if (a == "--progress") progress = 1;
    else if (a == "--no-progress") progress = 0;
    else if (a.size() > 1 && a[0] == '-') { err << "edgefhir import: unknown option '" << a << "'\n" << kImportHelp; return 2; }
    else paths.push_back(a);
  }
  if (paths.empty()) { err << kImportHelp; return 2; }
  auto cfg = load(common);
  if (!cfg) { err << "edgefhir: " << cfg.status().message << "\n"; return 2; }
  auto app = ef::app::open_app(*cfg);
  if (!app) { err << "edgefhir: " << app.status().message << "\n"; return 1; }
  std::vector<std::string> files;
  for (const auto& p : paths) service::collect_import_files(p, true, &files);
  bool show = progress == 1 || (progress == -1 && &err == &std::cerr && ::isatty(STDERR_FILENO));
  http::App& a = **app;
  Progress reporter(err, show);
  service::ImportLimits lim;
  lim.base_url = a.base_url;
  lim.max_bundle_entries = a.cfg.limits.max_bundle_entries;
  lim.max_json_depth = a.cfg.limits.max_json_depth;
  service::Importer imp(*a.db, *a.repo, a.service->processor(), *a.clock, lim, reporter);
  for (const auto& f : files) {
    struct stat sb;
    if (::stat(f.c_str(), &sb) == 0) imp.stats().bytes_total += uint64_t(sb.st_size);
  }
  imp.run(files);
  reporter.finish(imp.stats());
  const service::ImportStats& s = imp.stats();
  double secs = s.seconds();
  char rate[64];
  snprintf(rate, sizeof rate, "%.1f s, %s resources/s", secs,
           fmt_count(secs > 0 ? int64_t(double(s.resources()) / secs) : 0).c_str());
  out << "imported " << s.resources() << " resources from " << files.size() << (files.size() == 1 ? " file" : " files")
      << ": " << s.stored << " stored, " << s.unchanged << " unchanged, " << s.failed << " failed (" << rate << ")\n";
  return s.failed ? 1 : 0;
}

}  // namespace ef::cli
