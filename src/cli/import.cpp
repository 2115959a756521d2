// cli/import.cpp — `edgefhir import PATH...`: loads resource files (one resource per file),
// NDJSON files and folders.  (Bundles arrive with the transaction processor.)
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>

#include "cli/commands.h"
#include "cli/open.h"
#include "fhir/resource.h"

namespace ef::cli {

static const char* kImportHelp =
    "usage: edgefhir import [--config FILE] [--database PATH] PATH...\n\n"
    "Loads FHIR JSON files (*.json: a resource), NDJSON files (*.ndjson: one resource per line)\n"
    "and folders (recursively).  Resources with an id keep it (update-or-create); a resource\n"
    "identical to the stored version is skipped, so re-running an import adds nothing twice.\n";

static void collect(const std::string& path, std::vector<std::string>* files) {
  struct stat sb;
  if (::stat(path.c_str(), &sb) != 0) { files->push_back(path); return; }
  if (!S_ISDIR(sb.st_mode)) { files->push_back(path); return; }
  DIR* d = ::opendir(path.c_str());
  if (!d) return;
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n == "." || n == "..") continue;
    names.push_back(n);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  for (const auto& n : names) collect(path + "/" + n, files);
}

int import_main(std::vector<std::string> args, std::ostream& out, std::ostream& err) {
  Common common;
  Status st = take_common(args, &common);
  if (!st) { err << "edgefhir import: " << st.message << "\n"; return 2; }
  if (common.help) { out << kImportHelp; return 0; }
  if (args.empty()) { err << kImportHelp; return 2; }
  auto cfg = load(common);
  if (!cfg) { err << "edgefhir: " << cfg.status().message << "\n"; return 2; }
  auto app = open_app(*cfg);
  if (!app) { err << "edgefhir: " << app.status().message << "\n"; return 1; }
  std::vector<std::string> files;
  for (const auto& a : args) collect(a, &files);
  // Only FHIR JSON and NDJSON files are read from folders.
  files.erase(std::remove_if(files.begin(), files.end(), [](const std::string& f) {
                auto ends = [&](const char* s) { size_t n = strlen(s); return f.size() >= n && f.compare(f.size() - n, n, s) == 0; };
                return !ends(".json") && !ends(".ndjson");
              }), files.end());
  int64_t stored = 0, unchanged = 0, failed = 0;
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    if (!in) { err << f << ": cannot be read\n"; ++failed; continue; }
    std::vector<std::string> docs;
    bool ndjson = f.size() > 7 && f.substr(f.size() - 7) == ".ndjson";
    if (ndjson) {
      std::string line;
      while (std::getline(in, line)) docs.push_back(line);
    } else {
      std::stringstream ss;
      ss << in.rdbuf();
      docs.push_back(ss.str());
    }
    for (size_t i = 0; i < docs.size(); ++i) {
      if (ndjson && docs[i].find_first_not_of(" \t\r") == std::string::npos) continue;
      std::string where = ndjson ? f + ":" + std::to_string(i + 1) : f;
      auto r = fhir::parse_resource(docs[i]);
      if (!r) { err << where << ": " << r.status().message << "\n"; ++failed; continue; }
      std::string type = fhir::resource_type_of(*r);
      const std::string* idp = json::get_string(*r, "id");
      const std::string id = idp ? *idp : std::string();  // copy: *r is moved below
      auto w = !id.empty() ? (*app)->repo->update(type, id, std::move(*r)) : (*app)->repo->create(std::move(*r));
      if (!w) { err << where << ": " << w.status().message << "\n"; ++failed; continue; }
      if (w->unchanged) ++unchanged; else ++stored;
    }
  }
  out << "imported " << stored << " resources, " << unchanged << " unchanged, " << failed << " failed\n";
  return failed ? 1 : 0;
}

}  // namespace ef::cli
