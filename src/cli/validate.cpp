// cli/validate.cpp — `edgefhir validate FILE|DIR...`: validates FHIR JSON files offline with
// the same validator as $validate and validation.on_write (fhir/validate.h), without a database.
// A file holds one resource (a Bundle is validated as a whole, every entry included) or NDJSON
// (one resource per line, `.ndjson`).  Directories are walked for *.json / *.ndjson.  Prints
// each file with errors and its issues (warnings too with --warnings), then a summary line with
// files, resources (top-level resources plus Bundle entries), errors and the validation rate
// (parse excluded: files are read and parsed first, then validated --repeat times, for
// `make bench`).  Exit status 1 when any error was found, 2 for usage errors.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli/commands.h"
#include "fhir/validate.h"

namespace ef::cli {

static const char* kValidateHelp =
    "usage: edgefhir validate [--warnings] [--quiet] [--repeat N] FILE|DIR...\n\n"
    "Validates FHIR R4 JSON resources (files, directories of *.json / *.ndjson) against the R4\n"
    "StructureDefinitions, as $validate and validation.on_write do.  Prints the issues of every\n"
    "invalid file and a summary; exit status 1 if any resource has errors.\n"
    "  --warnings  print warnings too\n"
    "  --quiet     only the summary\n"
    "  --repeat N  validate everything N times (a benchmark of the validator; parse excluded)\n";

namespace {
size_t count_resources(const json::Value& v) {
  size_t n = 1;
  if (const json::Array* es = json::get_array(v, "entry"))
    for (const auto& e : *es)
      if (const json::Value* r = json::get(e, "resource")) n += count_resources(*r);
  return n;
}
}  // namespace

int validate_main(std::vector<std::string> args, std::ostream& out, std::ostream& err) {
  bool warnings = false, quiet = false;
  long repeat = 1;
  std::vector<std::string> paths;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      out << kValidateHelp;
      return 0;
    } else if (a == "--warnings") {
      warnings = true;
    } else if (a == "--quiet") {
      quiet = true;
    } else if (a == "--repeat" && i + 1 < args.size()) {
      repeat = std::strtol(args[++i].c_str(), nullptr, 10);
      if (repeat < 1 || repeat > 100000) {
        err << "validate: --repeat must be 1..100000\n";
        return 2;
      }
    } else if (!a.empty() && a[0] == '-') {
      err << "validate: unknown option " << a << "\n" << kValidateHelp;
      return 2;
    } else {
      paths.push_back(a);
    }
  }
  if (paths.empty()) {
    err << kValidateHelp;
    return 2;
  }
  std::vector<std::string> files;
  for (const auto& p : paths) {
    std::error_code ec;
    if (std::filesystem::is_directory(p, ec)) {
      for (auto it = std::filesystem::recursive_directory_iterator(p, ec); !ec && it != std::filesystem::end(it);
           it.increment(ec)) {
        auto ext = it->path().extension().string();
        if (it->is_regular_file() && (ext == ".json" || ext == ".ndjson")) files.push_back(it->path().string());
      }
    } else {
      files.push_back(p);
    }
  }
  std::sort(files.begin(), files.end());
  struct Doc {
    std::string name;
    json::Value v;
  };
  std::vector<Doc> docs;
  size_t unreadable = 0;
  json::ParseOptions po;
  po.preserve_numbers = true;
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    if (!in) {
      err << f << ": cannot be read\n";
      ++unreadable;
      continue;
    }
    std::string text = ss.str();
    bool nd = f.size() > 7 && f.compare(f.size() - 7, 7, ".ndjson") == 0;
    size_t line = 0, pos = 0;
    while (pos < text.size()) {
      size_t nl = nd ? text.find('\n', pos) : std::string::npos;
      if (nl == std::string::npos) nl = text.size();
      std::string_view part(text.data() + pos, nl - pos);
      pos = nl + 1;
      ++line;
      if (part.find_first_not_of(" \t\r\n") == std::string_view::npos) continue;
      auto v = json::parse(part, po);
      std::string name = nd ? f + ":" + std::to_string(line) : f;
      if (!v) {
        out << name << ": not JSON: " << v.status().message << "\n";
        ++unreadable;
        continue;
      }
      docs.push_back({name, std::move(*v)});
    }
  }
  size_t resources = 0, bad = 0, errors = 0, warns = 0;
  for (const auto& d : docs) resources += count_resources(d.v);
  auto t0 = std::chrono::steady_clock::now();
  for (long r = 0; r < repeat; ++r) {
    for (const auto& d : docs) {
      auto issues = fhir::validate_resource(d.v);
      if (r > 0) continue;
      size_t e = 0;
      for (const auto& i : issues) (i.severity == "error" || i.severity == "fatal") ? ++e : ++warns;
      errors += e;
      if (e) ++bad;
      if (!quiet && (e || (warnings && !issues.empty()))) {
        out << d.name << ": " << e << " error(s)\n";
        for (const auto& i : issues)
          if (warnings || i.severity == "error" || i.severity == "fatal")
            out << "  " << i.severity << " " << i.code << " " << i.expression << ": " << i.diagnostics << "\n";
      }
    }
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  char rate[64];
  snprintf(rate, sizeof rate, "%.0f", secs > 0 ? double(resources) * double(repeat) / secs : 0.0);
  out << "validated " << docs.size() << " documents (" << resources << " resources) x" << repeat << " in "
      << secs << " s: " << rate << " resources/s; " << bad << " invalid, " << errors << " errors, " << warns
      << " warnings, " << unreadable << " unreadable\n";
  return (bad || unreadable) ? 1 : 0;
}

}  // namespace ef::cli
