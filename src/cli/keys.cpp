// cli/keys.cpp — see keys.h.  Builds a KeyStore on the database (and, for
// `refresh`, a Refresher without background threads); every operation goes through them
// so the CLI applies exactly the server's trust rules.
#include "cli/keys.h"

#include "cli/commands.h"

#include <climits>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <set>
#include <sstream>

#include "auth/jwks.h"
#include "auth/key_store.h"
#include "auth/refresher.h"
#include "store/key_cache.h"
#include "util/json.h"
#include "util/time.h"

namespace ef::cli {
using namespace ef::auth;

const char* const kKeysHelp =
    "usage: edgefhir keys COMMAND [--config FILE] [--database PATH]\n\n"
    "Inspect and manage the signing keys used to verify bearer tokens.\n"
    "  list [--json]                 keys per issuer (kid, alg, source, age, thumbprint) and fetch state\n"
    "  refresh [ISSUER]              fetch discovery + JWKS now and print the result\n"
    "  pin ISSUER FILE [--kid KID]   pin a PEM public key, X.509 certificate (PEM/DER), JWK or JWKS\n"
    "  unpin ISSUER KID|THUMBPRINT   remove a pinned or imported key\n"
    "  export FILE                   write the trusted public keys as a JSON bundle (\"-\" = stdout)\n"
    "  import FILE                   load a bundle written by export (keys become source=imported)\n"
    "Pinned and imported keys never expire and are never replaced by a fetch.  Run\n"
    "`edgefhir keys COMMAND --help` for details.\n";

namespace {

const char* kListHelp =
    "usage: edgefhir keys list [--json] [--config FILE] [--database PATH]\n\n"
    "Shows, per configured issuer, the fetch state (last success, last error, next refresh,\n"
    "stale = the last fetch failed and cached keys are being used) and every key held:\n"
    "kid, alg, key type, source (pinned/imported/discovered/config_secret), age, RFC 7638\n"
    "thumbprint and whether it is trusted now.  Keys of issuers that are no longer\n"
    "configured are listed separately; they verify nothing.  No network access.\n";
const char* kRefreshHelp =
    "usage: edgefhir keys refresh [ISSUER] [--config FILE] [--database PATH]\n\n"
    "Fetches the OpenID discovery document and JWKS of ISSUER (default: every issuer with\n"
    "discovery enabled) now, stores the keys and prints the outcome.  Exit status 1 when a\n"
    "fetch failed (cached keys are kept).\n";
const char* kPinHelp =
    "usage: edgefhir keys pin ISSUER FILE [--kid KID] [--config FILE] [--database PATH]\n\n"
    "Stores the public key(s) in FILE as pinned keys of ISSUER: a PEM public key, a PEM or\n"
    "DER X.509 certificate (only its public key is used), a JWK or a JWKS.  A key without a\n"
    "kid matches every token of the issuer whatever its kid; --kid gives it one (single key\n"
    "only).  Pinned keys never expire and are never replaced by a fetch.  Keys in the config\n"
    "file's \"pinned_keys\" are pinned automatically at every start.\n";
const char* kUnpinHelp =
    "usage: edgefhir keys unpin ISSUER KID|THUMBPRINT [--config FILE] [--database PATH]\n\n"
    "Removes the pinned or imported key(s) of ISSUER with that kid or RFC 7638 thumbprint\n"
    "(see `keys list`; use \"\" for kid-less pins).  A key listed in the config file's\n"
    "\"pinned_keys\" comes back at the next start: remove it there too.\n";
const char* kExportHelp =
    "usage: edgefhir keys export FILE [--config FILE] [--database PATH]\n\n"
    "Writes every currently trusted public key of every configured issuer (discovered,\n"
    "pinned and imported; never HMAC secrets) as a JSON bundle to FILE (\"-\" = stdout), to\n"
    "provision a disconnected device with `edgefhir keys import`.\n";
const char* kImportHelp =
    "usage: edgefhir keys import FILE [--config FILE] [--database PATH]\n\n"
    "Loads a bundle written by `edgefhir keys export` (\"-\" = stdin).  Its keys are stored\n"
    "with source=imported: like pins they never expire and are never replaced by a fetch.\n"
    "Keys of issuers that are not configured are stored but verify nothing until the\n"
    "issuer is configured.  Invalid keys are skipped and reported.\n";

std::string ago(int64_t now, int64_t t) {
  if (t <= 0) return "never";
  if (t > now) return "in " + timefmt::human_duration((t - now) / 1000);
  return timefmt::human_duration((now - t) / 1000) + " ago";
}

std::string read_all(const std::string& path, std::string* error) {
  std::ostringstream ss;
  if (path == "-") {
    ss << std::cin.rdbuf();
    return ss.str();
  }
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    *error = "cannot open '" + path + "'";
    return {};
  }
  ss << f.rdbuf();
  return ss.str();
}

std::string key_status(const KeyInfo& ki, int64_t now, int64_t last_success) {
  if (ki.key->source != KeySource::discovered) return "trusted (never expires)";
  if (ki.expires_at_ms <= now) return last_success > ki.last_seen_ms ? "expired (no longer in the JWKS)" : "expired (stale)";
  if (!ki.trusted) return "ignored (a pinned key has this kid)";
  std::string until = ki.expires_at_ms == INT64_MAX ? "" : " until " + timefmt::format_instant(ki.expires_at_ms);
  if (last_success > ki.last_seen_ms) return "trusted (grace: no longer in the JWKS)" + until;
  return "trusted" + until;
}

int cmd_list(const std::vector<std::string>& a, KeyStore& ks, store::Database& db, const AuthConfig& cfg,
             std::ostream& out, std::ostream& err) {
  bool as_json = false;
  for (const auto& s : a) {
    if (s == "--json") as_json = true;
    else {
      err << "edgefhir keys list: unexpected argument '" << s << "'\n" << kListHelp;
      return 2;
    }
  }
  int64_t now = ks.clock().now_ms();
  auto statuses = ks.status();
  auto infos = ks.keys();
  std::set<std::string> configured;
  for (const auto& ic : cfg.issuers) configured.insert(ic.issuer);
  std::vector<store::CachedKey> orphans;
  if (auto rows = store::KeyCache(db).keys(); rows.ok())
    for (auto& r : *rows)
      if (!configured.count(r.issuer)) orphans.push_back(r);

  if (as_json) {
    json::Array iss;
    for (const auto& s : statuses) {
      json::Object o;
      o["issuer"] = json::Value(s.issuer);
      o["discovery"] = json::Value(s.discovery);
      o["jwks_uri"] = json::Value(s.jwks_uri);
      o["key_count"] = json::make_number(int64_t(s.key_count));
      o["pinned_count"] = json::make_number(int64_t(s.pinned_count));
      o["expired_count"] = json::make_number(int64_t(s.expired_count));
      o["last_attempt_ms"] = json::make_number(s.last_attempt_ms);
      o["last_success_ms"] = json::make_number(s.last_success_ms);
      o["last_error"] = json::Value(s.last_error);
      o["last_error_ms"] = json::make_number(s.last_error_ms);
      o["next_refresh_ms"] = json::make_number(s.next_refresh_ms);
      o["stale"] = json::Value(s.stale);
      json::Array keys;
      for (const auto& ki : infos) {
        if (ki.key->issuer != s.issuer) continue;
        json::Object k;
        k["kid"] = json::Value(ki.key->kid);
        k["alg"] = json::Value(ki.key->alg);
        k["type"] = json::Value(describe_key(*ki.key));
        k["source"] = json::Value(std::string(key_source_name(ki.key->source)));
        k["origin"] = json::Value(ki.origin);
        k["thumbprint"] = json::Value(ki.key->thumbprint);
        k["fetched_at_ms"] = json::make_number(ki.fetched_at_ms);
        k["last_seen_ms"] = json::make_number(ki.last_seen_ms);
        k["expires_at_ms"] = ki.expires_at_ms == INT64_MAX ? json::Value() : json::make_number(ki.expires_at_ms);
        k["trusted"] = json::Value(ki.trusted);
        keys.push_back(json::Value(k));
      }
      o["keys"] = json::Value(keys);
      iss.push_back(json::Value(o));
    }
    json::Array orph;
    for (const auto& r : orphans) {
      json::Object k;
      k["issuer"] = json::Value(r.issuer);
      k["kid"] = json::Value(r.kid);
      k["source"] = json::Value(r.source);
      k["thumbprint"] = json::Value(r.thumbprint);
      orph.push_back(json::Value(k));
    }
    json::Object root;
    root["issuers"] = json::Value(iss);
    root["unconfigured_issuer_keys"] = json::Value(orph);
    out << json::write(json::Value(root), true) << "\n";
    return 0;
  }

  if (statuses.empty()) out << "no issuers configured (auth.issuers is empty)\n";
  for (const auto& s : statuses) {
    out << "issuer " << s.issuer << "\n";
    if (!s.discovery) {
      out << "  offline issuer (\"discovery\": false): pinned keys only, never fetched\n";
    } else {
      out << "  jwks_uri:     " << (s.jwks_uri.empty() ? "(from discovery, not yet known)" : s.jwks_uri) << "\n";
      out << "  last success: " << ago(now, s.last_success_ms) << "\n";
      out << "  last error:   " << (s.last_error.empty() ? "none" : s.last_error + " (" + ago(now, s.last_error_ms) + ")") << "\n";
      out << "  next refresh: " << (s.next_refresh_ms ? ago(now, s.next_refresh_ms) : "at server start") << "\n";
      out << "  stale:        " << (s.stale ? "yes (serving cached keys)" : "no") << "\n";
    }
    out << "  keys:         " << s.key_count << " trusted";
    if (s.expired_count) out << ", " << s.expired_count << " expired";
    out << "\n";
    if (s.key_count == 0)
      out << "  WARNING: no trusted key: every token of this issuer is refused"
          << (s.discovery ? " until a fetch succeeds" : " (pin one with `edgefhir keys pin` or \"pinned_keys\")") << "\n";
    bool any = false;
    for (const auto& ki : infos) {
      if (ki.key->issuer != s.issuer) continue;
      if (!any) {
        out << "    " << std::left << std::setw(25) << "KID" << std::setw(7) << "ALG" << std::setw(10) << "TYPE"
            << std::setw(14) << "SOURCE" << std::setw(14) << "AGE" << std::setw(45) << "THUMBPRINT" << "STATUS\n";
        any = true;
      }
      std::string src = key_source_name(ki.key->source);
      if (ki.key->source == KeySource::pinned && !ki.origin.empty()) src += "/" + ki.origin;
      std::string kid = ki.key->kid.empty() ? "(any)" : ki.key->kid;
      std::string age =
          ki.key->source == KeySource::config_secret ? "-" : timefmt::human_duration((now - ki.fetched_at_ms) / 1000);
      out << "    " << std::left << std::setw(24) << kid << " " << std::setw(6) << (ki.key->alg.empty() ? "-" : ki.key->alg)
          << " " << std::setw(9) << describe_key(*ki.key) << " " << std::setw(13) << src << " " << std::setw(13) << age
          << " " << std::setw(44) << (ki.key->thumbprint.empty() ? "-" : ki.key->thumbprint) << " "
          << key_status(ki, now, s.last_success_ms) << "\n";
    }
  }
  if (!orphans.empty()) {
    out << "keys of issuers that are not configured (ignored):\n";
    for (const auto& r : orphans)
      out << "    " << r.issuer << "  kid " << (r.kid.empty() ? "(any)" : r.kid) << "  " << r.source << "  " << r.thumbprint
          << "\n";
  }
  return 0;
}

int cmd_refresh(const std::vector<std::string>& a, KeyStore& ks, const AuthConfig& cfg, std::ostream& out,
                std::ostream& err) {
  if (a.size() > 1) {
    err << "edgefhir keys refresh: too many arguments\n" << kRefreshHelp;
    return 2;
  }
  std::vector<std::string> which;
  if (a.size() == 1) {
    if (!ks.issuer_config(a[0])) {
      err << "edgefhir keys refresh: issuer '" << a[0] << "' is not configured\n";
      return 1;
    }
    which.push_back(a[0]);
  } else {
    for (const auto& ic : cfg.issuers)
      if (ic.discovery) which.push_back(ic.issuer);
    if (which.empty()) {
      out << "no issuer has discovery enabled: nothing to fetch\n";
      return 0;
    }
  }
  Refresher r(ks);
  int rc = 0;
  for (const auto& iss : which) {
    RefreshResult res = r.refresh_now(iss);
    if (res.ok) {
      out << iss << ": ok, " << res.keys << " key(s) from " << res.jwks_uri;
      if (!res.skipped.empty()) out << ", " << res.skipped.size() << " refused";
      out << "\n";
      for (const auto& m : res.skipped) out << "    refused " << m << "\n";
    } else {
      out << iss << ": FAILED: " << res.error << "\n";
      rc = 1;
    }
  }
  return rc;
}

int cmd_pin(const std::vector<std::string>& a0, KeyStore& ks, std::ostream& out, std::ostream& err) {
  std::vector<std::string> a;
  std::string kid;
  bool has_kid = false;
  for (size_t i = 0; i < a0.size(); ++i) {
    if (a0[i] == "--kid") {
      if (i + 1 >= a0.size()) {
        err << "edgefhir keys pin: --kid needs a value\n";
        return 2;
      }
      kid = a0[++i];
      has_kid = true;
    } else {
      a.push_back(a0[i]);
    }
  }
  if (a.size() != 2) {
    err << "edgefhir keys pin: expected ISSUER FILE\n" << kPinHelp;
    return 2;
  }
  auto set = load_key_file(a[1]);
  if (!set.ok()) {
    err << "edgefhir keys pin: " << set.status().message << "\n";
    return 1;
  }
  for (const auto& m : set->skipped) err << "skipped " << m << "\n";
  if (has_kid) {
    if (set->keys.size() != 1) {
      err << "edgefhir keys pin: --kid needs a file with exactly one key (it has " << set->keys.size() << ")\n";
      return 2;
    }
    set->keys[0].kid = kid;
    auto v = json::parse(set->keys[0].jwk_json);
    if (v.ok()) {
      if (json::Object* o = json::as_object_mut(*v)) {
        (*o)["kid"] = json::Value(kid);
        set->keys[0].jwk_json = json::write(*v);
      }
    }
  }
  Status st = ks.add_keys(a[0], set->keys, KeySource::pinned);
  if (!st) {
    err << "edgefhir keys pin: " << st.message << "\n";
    return 1;
  }
  for (const auto& k : set->keys)
    out << "pinned " << describe_key(k) << " key kid " << (k.kid.empty() ? "(any)" : k.kid) << " thumbprint " << k.thumbprint
        << " for " << a[0] << "\n";
  if (!ks.issuer_config(a[0]))
    out << "note: issuer '" << a[0] << "' is not configured; the key verifies nothing until it is\n";
  return 0;
}

int cmd_unpin(const std::vector<std::string>& a, KeyStore& ks, std::ostream& out, std::ostream& err) {
  if (a.size() != 2) {
    err << "edgefhir keys unpin: expected ISSUER KID|THUMBPRINT\n" << kUnpinHelp;
    return 2;
  }
  bool from_config = false;
  for (const auto& ki : ks.keys(a[0]))
    if (ki.key->source == KeySource::pinned && ki.origin == "config" && (ki.key->kid == a[1] || ki.key->thumbprint == a[1]))
      from_config = true;
  auto n = ks.remove_keys(a[0], a[1]);
  if (!n.ok()) {
    err << "edgefhir keys unpin: " << n.status().message << "\n";
    return 1;
  }
  if (*n == 0) {
    err << "edgefhir keys unpin: no pinned or imported key of '" << a[0] << "' with kid or thumbprint '" << a[1] << "'\n";
    return 1;
  }
  out << "removed " << *n << " key(s)\n";
  if (from_config)
    out << "note: that key is listed in the config file's \"pinned_keys\" and will be pinned again at the next start\n";
  return 0;
}

int cmd_export(const std::vector<std::string>& a, KeyStore& ks, std::ostream& out, std::ostream& err) {
  if (a.size() != 1) {
    err << "edgefhir keys export: expected FILE\n" << kExportHelp;
    return 2;
  }
  int64_t now = ks.clock().now_ms();
  std::map<std::string, json::Array> per;
  size_t n = 0;
  for (const auto& ki : ks.keys()) {
    if (!ki.trusted || ki.key->type == KeyType::hmac || ki.key->jwk_json.empty()) continue;
    auto v = json::parse(ki.key->jwk_json);
    if (!v.ok()) continue;
    per[ki.key->issuer].push_back(*v);
    ++n;
  }
  json::Array issuers;
  for (auto& [iss, keys] : per) {
    json::Object o;
    o["issuer"] = json::Value(iss);
    o["keys"] = json::Value(keys);
    issuers.push_back(json::Value(o));
  }
  json::Object root;
  root["edgefhir_key_bundle"] = json::make_number(int64_t(1));
  root["exported_at"] = json::Value(timefmt::format_instant(now));
  root["issuers"] = json::Value(issuers);
  std::string text = json::write(json::Value(root), true) + "\n";
  if (a[0] == "-") {
    out << text;
    return 0;
  }
  std::ofstream f(a[0], std::ios::binary | std::ios::trunc);
  f << text;
  f.close();
  if (!f) {
    err << "edgefhir keys export: cannot write '" << a[0] << "'\n";
    return 1;
  }
  out << "exported " << n << " key(s) of " << per.size() << " issuer(s) to " << a[0] << "\n";
  return 0;
}

int cmd_import(const std::vector<std::string>& a, KeyStore& ks, std::ostream& out, std::ostream& err) {
  if (a.size() != 1) {
    err << "edgefhir keys import: expected FILE\n" << kImportHelp;
    return 2;
  }
  std::string e;
  std::string text = read_all(a[0], &e);
  if (!e.empty()) {
    err << "edgefhir keys import: " << e << "\n";
    return 1;
  }
  auto v = json::parse(text);
  if (!v.ok()) {
    err << "edgefhir keys import: '" << a[0] << "' is not valid JSON: " << v.status().message << "\n";
    return 1;
  }
  int64_t ver = 0;
  const json::Value* mv = json::get(*v, "edgefhir_key_bundle");
  const json::Array* issuers = json::get_array(*v, "issuers");
  if (!mv || !json::int_value(*mv, &ver) || ver != 1 || !issuers) {
    err << "edgefhir keys import: '" << a[0] << "' is not an edgefhir key bundle (version 1)\n";
    return 1;
  }
  size_t ok = 0, bad = 0;
  for (size_t i = 0; i < issuers->size(); ++i) {
    const json::Value& iv = (*issuers)[i];
    const std::string* iss = json::get_string(iv, "issuer");
    const json::Array* keys = json::get_array(iv, "keys");
    if (!iss || iss->empty() || !keys) {
      err << "skipped issuers[" << i << "]: needs \"issuer\" and \"keys\"\n";
      ++bad;
      continue;
    }
    std::vector<Key> good;
    for (size_t j = 0; j < keys->size(); ++j) {
      auto k = key_from_jwk((*keys)[j], JwkOptions{false});
      if (!k.ok()) {
        err << "skipped " << *iss << " keys[" << j << "]: " << k.status().message << "\n";
        ++bad;
        continue;
      }
      good.push_back(std::move(*k));
    }
    Status st = ks.add_keys(*iss, good, KeySource::imported);
    if (!st) {
      err << "edgefhir keys import: " << st.message << "\n";
      return 1;
    }
    ok += good.size();
    out << "imported " << good.size() << " key(s) for " << *iss
        << (ks.issuer_config(*iss) ? "" : " (issuer not configured: the keys verify nothing until it is)") << "\n";
  }
  if (bad) out << bad << " entr" << (bad == 1 ? "y" : "ies") << " skipped\n";
  return bad && !ok ? 1 : 0;
}

}  // namespace

namespace {
const char* sub_help(const std::string& cmd) {
  return cmd == "list"      ? kListHelp
         : cmd == "refresh" ? kRefreshHelp
         : cmd == "pin"     ? kPinHelp
         : cmd == "unpin"   ? kUnpinHelp
         : cmd == "export"  ? kExportHelp
         : cmd == "import"  ? kImportHelp
                            : nullptr;
}
bool split(const std::vector<std::string>& args, std::vector<std::string>* a) {
  bool help = false;
  for (const auto& s : args) {
    if (s == "--help" || s == "-h") help = true;
    else a->push_back(s);
  }
  return help;
}
}  // namespace

bool keys_wants_help(const std::vector<std::string>& args) {
  std::vector<std::string> a;
  bool help = split(args, &a);
  return help || a.empty() || !sub_help(a[0]);
}

int keys_help(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::vector<std::string> a;
  bool help = split(args, &a);
  if (a.empty()) {
    (help ? out : err) << kKeysHelp;
    return help ? 0 : 2;
  }
  const char* h = sub_help(a[0]);
  if (!h) {
    err << "edgefhir keys: unknown command '" << a[0] << "'\n" << kKeysHelp;
    return 2;
  }
  out << h;
  return 0;
}

int keys_on(const std::vector<std::string>& args, const AuthConfig& cfg, store::Database& db, std::ostream& out,
             std::ostream& err) {
  if (keys_wants_help(args)) return keys_help(args, out, err);
  std::vector<std::string> a;
  split(args, &a);
  std::string cmd = a[0];
  a.erase(a.begin());
  store::KeyCache rows(db);
  KeyStore ks(cfg, &rows);
  Status st = ks.load();
  if (!st) {
    err << "edgefhir keys: " << st.message << "\n";
    return 1;
  }
  if (cmd == "list") return cmd_list(a, ks, db, cfg, out, err);
  if (cmd == "refresh") return cmd_refresh(a, ks, cfg, out, err);
  if (cmd == "pin") return cmd_pin(a, ks, out, err);
  if (cmd == "unpin") return cmd_unpin(a, ks, out, err);
  if (cmd == "export") return cmd_export(a, ks, out, err);
  return cmd_import(a, ks, out, err);
}

int keys_main(std::vector<std::string> args, std::ostream& out, std::ostream& err) {
  Common common;
  Status st = take_common(args, &common);
  if (!st) { err << "edgefhir keys: " << st.message << "\n"; return 2; }
  if (common.help) args.push_back("--help");
  if (keys_wants_help(args)) return keys_help(args, out, err);
  auto cfg = load(common);
  if (!cfg) { err << "edgefhir: " << cfg.status().message << "\n"; return 2; }
  auto acfg = auth::parse_auth_config(cfg->auth);
  if (!acfg) { err << "edgefhir: config " << cfg->path << ": " << acfg.status().message << "\n"; return 2; }
  auto db = store::Database::open(cfg->database);
  if (!db) { err << "edgefhir: " << db.status().message << "\n"; return 1; }
  return keys_on(args, *acfg, **db, out, err);
}

}  // namespace ef::cli
