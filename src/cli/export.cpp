// cli/export.cpp — `edgefhir export DIR`: writes the current version of every resource (deleted
// ones left out) as NDJSON, one file per type (DIR/Patient.ndjson, ...; the Bulk Data output
// format), from one consistent snapshot of the database (a single read transaction, so a server
// writing meanwhile is neither blocked nor half-seen).  Resources are read a page of kPage at
// a time with the search engine's keyset paging, in insertion order.  Each file is written
// as DIR/.Type.ndjson.tmp and renamed when complete; files of types with no resources are
// not written, and nothing else in DIR is touched.  `edgefhir import DIR` loads the result
// (update-or-create by id).
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>

#include "cli/commands.h"
#include "app/build.h"
#include "fhir/resource_types.h"
#include "fhir/search_params.h"
#include "fhir/search_query.h"
#include "store/search.h"

namespace ef::cli {

static const char* kExportHelp =
    "usage: edgefhir export [--config FILE] [--database PATH] [--type T1,T2,...] DIR\n\n"
    "Writes the current version of every resource as NDJSON, one file per type (DIR/Patient.ndjson,\n"
    "...), from one consistent snapshot.  --type limits the export to those types.  DIR is created\n"
    "when missing; existing files of exported types are replaced, nothing else is touched.\n"
    "`edgefhir import DIR` loads the files again.\n";

namespace {

constexpr int kPage = 1000;

Status make_dirs(const std::string& dir) {
  for (size_t p = dir.find('/', 1); ; p = dir.find('/', p + 1)) {
    std::string d = p == std::string::npos ? dir : dir.substr(0, p);
    if (!d.empty() && ::mkdir(d.c_str(), 0750) != 0 && errno != EEXIST)
      return Status(Err::internal, "cannot create directory '" + d + "': " + std::strerror(errno));
    if (p == std::string::npos) break;
  }
  struct stat sb;
  if (::stat(dir.c_str(), &sb) != 0 || !S_ISDIR(sb.st_mode))
    return Status(Err::invalid, "'" + dir + "' is not a directory");
  return Status();
}

// Writes every current resource of `type` to DIR/type.ndjson; *n = how many.
Status export_type(store::Conn& c, const std::string& dir, const std::string& type, int64_t* n) {
  *n = 0;
  std::string final_path = dir + "/" + type + ".ndjson";
  std::string tmp_path = dir + "/." + type + ".ndjson.tmp";
  std::ofstream out;
  fhir::SearchQuery q;
  q.types = {type};
  q.count = kPage;
  q.total = fhir::Total::none;
  for (;;) {
    auto page = store::run_search(c, q);
    if (!page) return page.status();
    for (const auto& row : page->matches) {
      if (!out.is_open()) {
        out.open(tmp_path, std::ios::binary | std::ios::trunc);
        if (!out) return Status(Err::internal, "cannot write '" + tmp_path + "': " + std::strerror(errno));
      }
      out << row.body << '\n';
      ++*n;
    }
    if (page->next_cursor.empty() || page->matches.empty()) break;
    q.cursor = page->next_cursor;
  }
  if (!out.is_open()) return Status();
  out.close();
  if (!out) {
    std::remove(tmp_path.c_str());
    return Status(Err::internal, "cannot write '" + tmp_path + "': " + std::strerror(errno));
  }
  if (std::rename(tmp_path.c_str(), final_path.c_str()) != 0) {
    std::remove(tmp_path.c_str());
    return Status(Err::internal, "cannot rename to '" + final_path + "': " + std::strerror(errno));
  }
  return Status();
}

}  // namespace

int export_main(std::vector<std::string> args, std::ostream& out, std::ostream& err) {
  Common common;
  Status st = take_common(args, &common);
  if (!st) { err << "edgefhir export: " << st.message << "\n"; return 2; }
  if (common.help) { out << kExportHelp; return 0; }
  std::vector<std::string> rest, only;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    std::string types;
    if (a == "--type" || a == "--types") {
      if (i + 1 >= args.size()) { err << "edgefhir export: " << a << " needs a value\n"; return 2; }
      types = args[++i];
    } else if (a.rfind("--type=", 0) == 0) {
      types = a.substr(7);
    } else if (a.size() > 1 && a[0] == '-') {
      err << "edgefhir export: unknown option '" << a << "'\n" << kExportHelp;
      return 2;
    } else {
      rest.push_back(a);
      continue;
    }
    size_t p = 0;
    while (p <= types.size()) {
      size_t q = types.find(',', p);
      if (q == std::string::npos) q = types.size();
      std::string t = types.substr(p, q - p);
      if (!t.empty()) {
        if (!fhir::is_resource_type(t)) { err << "edgefhir export: '" << t << "' is not a FHIR R4 resource type\n"; return 2; }
        only.push_back(t);
      }
      p = q + 1;
    }
  }
  if (rest.size() != 1) { err << kExportHelp; return 2; }
  std::string dir = rest[0];
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  auto cfg = load(common);
  if (!cfg) { err << "edgefhir: " << cfg.status().message << "\n"; return 2; }
  auto app = ef::app::open_app(*cfg);
  if (!app) { err << "edgefhir: " << app.status().message << "\n"; return 1; }
  st = make_dirs(dir);
  if (!st) { err << "edgefhir export: " << st.message << "\n"; return 1; }
  const std::vector<std::string>& types = only.empty() ? fhir::registry().all_resource_types() : only;
  int64_t total = 0;
  size_t files = 0;
  st = (*app)->db->read([&](store::Conn& c) -> Status {
    for (const auto& t : types) {
      int64_t n = 0;
      Status s = export_type(c, dir, t, &n);
      if (!s) return Status(s.code, t + ": " + s.message);
      if (n) {
        ++files;
        total += n;
        out << dir << "/" << t << ".ndjson  " << n << "\n";
      }
    }
    return Status();
  });
  if (!st) { err << "edgefhir export: " << st.message << "\n"; return 1; }
  out << "exported " << total << " resources of " << files << (files == 1 ? " type" : " types") << " to " << dir << "\n";
  return 0;
}

}  // namespace ef::cli
