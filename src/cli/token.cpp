// cli/token.cpp — `edgefhir token ...`, the token tools for operators and developers:
//   token inspect [TOKEN|-]                 decode offline (like jwt.ms), human times, summary
//   token inspect --config FILE [TOKEN|-]   run the full validation with the config's pinned
//                                           keys / HMAC secret and print every check
//   token mint --key PEM | --secret-file F  sign a token (demo / testing)
//   token keygen --out PRIV.pem --pub PUB.pem [--type ec|ec384|ec521|rsa]
// `args` are the words after "token" (a leading "token" is skipped too).  Output goes to
// `out`, problems to `err`.  Exit codes: 0 ok/valid, 1 invalid token, 2 usage or setup error.
// Never prints key material except what keygen/mint are asked to produce.  The work is
// auth/'s (jwt, signer, static_keys, validator); this file parses arguments and prints.
#include "cli/commands.h"

#include <sys/stat.h>

#include <fstream>
#include <iostream>
#include <sstream>

#include "auth/claims.h"
#include "auth/config.h"
#include "auth/jwt.h"
#include "auth/signer.h"
#include "auth/static_keys.h"
#include "auth/validator.h"
#include "util/base64url.h"
#include "util/clock.h"

namespace ef::cli {
using namespace ef::auth;
namespace {

const char* kInspectHelp =
    "usage: edgefhir token inspect [--config FILE] [--now EPOCH] [TOKEN|-]\n"
    "  Decodes a JWT offline: header, payload (pretty JSON), times in human form and a\n"
    "  summary of iss, aud, exp, nbf, iat, sub, oid, tid, azp, roles, scp/scope.\n"
    "  TOKEN '-' or no TOKEN reads it from standard input ('Bearer ' prefix allowed).\n"
    "  --config FILE  also validate it like the server would (JSON config with an \"auth\"\n"
    "                 section; keys from pinned_keys and hmac_secret_file) and print every\n"
    "                 check with PASS/FAIL.  Exit 0 when valid, 1 when not.\n"
    "  --now EPOCH    evaluate times at this Unix time instead of now.\n";
const char* kMintHelp =
    "usage: edgefhir token mint (--key PRIVATE.pem | --secret-file FILE) [options]\n"
    "  --alg ALG          RS256|RS384|RS512|PS256|PS384|PS512|ES256|ES384|ES512|HS256|HS384|HS512\n"
    "                     (default: RS256 for RSA, ES256/384/512 by curve, HS256 for secrets)\n"
    "  --kid K            header kid\n"
    "  --iss I --sub S    issuer, subject\n"
    "  --aud A            audience (repeat for several)\n"
    "  --roles \"a,b\"      roles claim (array)\n"
    "  --scope \"x y\"      scope claim (space separated)\n"
    "  --ttl SECONDS      lifetime (default 3600); iat = nbf = now, exp = now + ttl\n"
    "  --claim name=value extra claim (value parsed as JSON if it is JSON, else a string)\n"
    "  --typ T            header typ (default at+jwt)\n"
    "  --header name=value extra header member\n"
    "  --now EPOCH        issue at this Unix time\n";
const char* kKeygenHelp =
    "usage: edgefhir token keygen --out PRIVATE.pem --pub PUBLIC.pem [--type ec|ec384|ec521|rsa] [--force]\n"
    "  Generates a demo signing key pair (default EC P-256; rsa = RSA-2048).  The private key\n"
    "  file is created with mode 0600.  Existing files are kept unless --force.\n";
const char* kHelp =
    "usage: edgefhir token <inspect|mint|keygen> [--help]\n"
    "  inspect  decode a token offline, or validate it against a config\n"
    "  mint     sign a token with a demo key or secret\n"
    "  keygen   create a demo key pair\n";

struct Args {
  std::vector<std::string> positional;
  std::vector<std::pair<std::string, std::string>> opts;  // in order (repeatable)
  bool help = false;
  std::string error;
  const std::string* get(const std::string& k) const {
    const std::string* v = nullptr;
    for (const auto& o : opts)
      if (o.first == k) v = &o.second;
    return v;
  }
};

Args parse_args(const std::vector<std::string>& a, size_t from, const std::vector<std::string>& flags) {
  Args r;
  for (size_t i = from; i < a.size(); ++i) {
    const std::string& w = a[i];
    if (w == "--help" || w == "-h") {
      r.help = true;
    } else if (w.size() > 2 && w.rfind("--", 0) == 0) {
      bool is_flag = false;
      for (const auto& f : flags) is_flag = is_flag || f == w;
      if (is_flag) {
        r.opts.push_back({w, "1"});
      } else if (i + 1 < a.size()) {
        r.opts.push_back({w, a[++i]});
      } else {
        r.error = "option " + w + " needs a value";
      }
    } else {
      r.positional.push_back(w);
    }
  }
  return r;
}

bool read_file(const std::string& path, std::string* out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  std::ostringstream ss;
  ss << f.rdbuf();
  *out = ss.str();
  return true;
}

std::string trim(std::string s) {
  size_t b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

bool parse_int(const std::string& s, int64_t* out) {
  if (s.empty()) return false;
  char* end = nullptr;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (*end) return false;
  *out = v;
  return true;
}

std::string token_from(const Args& a, std::istream& in) {
  std::string t;
  if (a.positional.empty() || a.positional[0] == "-") {
    std::ostringstream ss;
    ss << in.rdbuf();
    t = ss.str();
  } else {
    t = a.positional[0];
  }
  t = trim(t);
  if (t.size() > 7 && (t.compare(0, 7, "Bearer ") == 0 || t.compare(0, 7, "bearer ") == 0)) t = trim(t.substr(7));
  return t;
}

// ---------------------------------------------------------------- inspect (offline)

void show_time(std::ostream& out, const json::Value& claims, const char* name, int64_t now) {
  const json::Value* v = json::get(claims, name);
  if (!v) return;
  double d;
  out << "  " << name << std::string(8 - std::string(name).size(), ' ');
  if (json::is_number(*v) && json::number_value(*v, &d) && d > -1e15 && d < 1e15) {
    int64_t t = int64_t(d);
    out << t << "  " << iso_time(t) << " (" << relative_time(t, now) << ")\n";
  } else {
    out << json::write(*v) << "  (not a number!)\n";
  }
}

void show_claim(std::ostream& out, const json::Value& claims, const char* name) {
  const json::Value* v = json::get(claims, name);
  if (!v) return;
  out << "  " << name << std::string(name[0] && std::string(name).size() < 8 ? 8 - std::string(name).size() : 1, ' ');
  if (const std::string* s = json::as_string(*v)) out << *s << "\n";
  else out << json::write(*v) << "\n";
}

// Prints what can be decoded; returns false when the token is not a decodable JWT.
bool print_decoded(const std::string& token, int64_t now, std::ostream& out) {
  std::vector<std::string> parts;
  size_t s = 0;
  for (;;) {
    size_t d = token.find('.', s);
    parts.push_back(token.substr(s, d == std::string::npos ? std::string::npos : d - s));
    if (d == std::string::npos) break;
    s = d + 1;
  }
  bool ok = true;
  if (token.size() > kMaxTokenBytes) {
    out << "Problem: token is " << token.size() << " bytes; the server refuses tokens over " << kMaxTokenBytes << "\n";
    ok = false;
  }
  if (parts.size() != 3) {
    out << "Problem: expected 3 dot-separated parts (header.payload.signature), found " << parts.size()
        << (parts.size() == 5 ? " — this looks like an encrypted JWE, which cannot be inspected offline" : "") << "\n";
    if (parts.size() < 2) return false;
    ok = false;
  }
  const char* names[] = {"Header", "Payload"};
  json::Value decoded[2];
  for (int i = 0; i < 2; ++i) {
    auto raw = b64::url_decode(parts[size_t(i)]);
    if (!raw) {
      out << names[i] << ": not valid base64url (strict: no padding, no spaces, only A-Z a-z 0-9 - _)\n";
      ok = false;
      continue;
    }
    auto v = json::parse(*raw);
    if (!v.ok() || !json::is_object(*v)) {
      out << names[i] << ": not a JSON object" << (v.ok() ? "" : " (" + v.status().message + ")") << "\n";
      ok = false;
      continue;
    }
    decoded[i] = *v;
    out << names[i] << ":\n" << json::write(*v, true) << "\n";
  }
  if (parts.size() == 3) {
    auto sig = b64::url_decode(parts[2]);
    if (!sig) {
      out << "Signature: not valid base64url\n";
      ok = false;
    } else {
      out << "Signature: " << sig->size() << " bytes" << (sig->empty() ? " (unsigned token — never accepted)" : "") << "\n";
    }
  }
  if (json::is_object(decoded[1])) {
    const json::Value& c = decoded[1];
    out << "Summary (times relative to " << iso_time(now) << "):\n";
    show_claim(out, decoded[0], "alg");
    show_claim(out, decoded[0], "kid");
    show_claim(out, decoded[0], "typ");
    for (const char* n : {"iss", "aud", "sub"}) show_claim(out, c, n);
    for (const char* n : {"exp", "nbf", "iat"}) show_time(out, c, n, now);
    for (const char* n : {"oid", "tid", "azp", "appid", "client_id", "roles", "scp", "scope", "patient", "fhirUser"})
      show_claim(out, c, n);
    if (!json::get(c, "exp")) out << "  (no exp: the server refuses tokens that never expire)\n";
  }
  return ok;
}

int cmd_inspect(const std::vector<std::string>& args, size_t from, std::ostream& out, std::ostream& err) {
  Args a = parse_args(args, from, {});
  if (a.help) return out << kInspectHelp, 0;
  if (!a.error.empty()) return err << a.error << "\n" << kInspectHelp, 2;
  int64_t now_s = SystemClock::instance().now_s();
  if (const std::string* n = a.get("--now"); n && !parse_int(*n, &now_s)) return err << "--now must be a Unix time\n", 2;
  std::string token = token_from(a, std::cin);
  if (token.empty()) return err << "no token given\n" << kInspectHelp, 2;

  const std::string* cfg_path = a.get("--config");
  if (!cfg_path) return print_decoded(token, now_s, out) ? 0 : 1;

  auto cfg = load_auth_config_file(*cfg_path);
  if (!cfg.ok()) return err << cfg.status().message << "\n", 2;
  auto keys = StaticKeyProvider::from_config(*cfg);
  if (!keys.ok()) return err << keys.status().message << "\n", 2;
  print_decoded(token, now_s, out);
  FixedClock clock(now_s * 1000);
  Validator v(*cfg, **keys, clock, 0);
  AuthOutcome o = v.validate_token(token);
  out << "Validation (" << (*keys)->size() << " pinned key(s)/secret(s) from " << *cfg_path << "):\n";
  for (const auto& c : o.checks) out << "  " << (c.passed ? "PASS " : "FAIL ") << c.name << ": " << c.detail << "\n";
  if (o.ok())
    out << "Verdict: VALID\n";
  else
    out << "Verdict: INVALID (" << auth_status_code(o.status) << "): " << o.reason << "\n";
  return o.ok() ? 0 : 1;
}

// ---------------------------------------------------------------- mint

json::Value value_of(const std::string& text) {
  auto v = json::parse(text);
  return v.ok() ? *v : json::Value(text);
}

bool split_kv(const std::string& s, std::string* k, std::string* v) {
  size_t eq = s.find('=');
  if (eq == std::string::npos || eq == 0) return false;
  *k = s.substr(0, eq);
  *v = s.substr(eq + 1);
  return true;
}

int cmd_mint(const std::vector<std::string>& args, size_t from, std::ostream& out, std::ostream& err) {
  Args a = parse_args(args, from, {});
  if (a.help) return out << kMintHelp, 0;
  if (!a.error.empty()) return err << a.error << "\n" << kMintHelp, 2;
  if (!a.positional.empty()) return err << "unexpected argument '" << a.positional[0] << "'\n" << kMintHelp, 2;
  const std::string* key = a.get("--key");
  const std::string* secret = a.get("--secret-file");
  if (!key == !secret) return err << "give exactly one of --key or --secret-file\n" << kMintHelp, 2;
  Result<Signer> signer = Status(Err::invalid, "");
  if (key) {
    std::string pem;
    if (!read_file(*key, &pem)) return err << "cannot read key file '" << *key << "'\n", 2;
    signer = Signer::from_pem(pem);
    if (!signer.ok()) return err << "key file '" << *key << "': " << signer.status().message << "\n", 2;
  } else {
    auto s = read_secret_file(*secret);
    if (!s.ok()) return err << s.status().message << "\n", 2;
    signer = Signer::from_secret(std::move(*s));
  }
  std::string alg = a.get("--alg") ? *a.get("--alg") : signer->default_alg();
  int64_t now = SystemClock::instance().now_s(), ttl = 3600;
  if (const std::string* n = a.get("--now"); n && !parse_int(*n, &now)) return err << "--now must be a Unix time\n", 2;
  if (const std::string* t = a.get("--ttl"); t && !parse_int(*t, &ttl)) return err << "--ttl must be seconds\n", 2;

  json::Object claims, header;
  header["typ"] = json::Value(a.get("--typ") ? *a.get("--typ") : std::string("at+jwt"));
  json::Array auds;
  for (const auto& [k, v] : a.opts) {
    std::string name, val;
    if (k == "--iss") claims["iss"] = json::Value(v);
    else if (k == "--sub") claims["sub"] = json::Value(v);
    else if (k == "--aud") auds.push_back(json::Value(v));
    else if (k == "--kid") header["kid"] = json::Value(v);
    else if (k == "--scope") claims["scope"] = json::Value(v);
    else if (k == "--roles") {
      json::Array r;
      std::stringstream ss(v);
      std::string item;
      while (std::getline(ss, item, ',')) {
        item = trim(item);
        if (!item.empty()) r.push_back(json::Value(item));
      }
      claims["roles"] = json::Value(r);
    } else if (k == "--claim" || k == "--header") {
      if (!split_kv(v, &name, &val)) return err << k << " expects name=value\n", 2;
      (k == "--claim" ? claims : header)[name] = value_of(val);
    } else if (k != "--key" && k != "--secret-file" && k != "--alg" && k != "--ttl" && k != "--now" && k != "--typ") {
      return err << "unknown option " << k << "\n" << kMintHelp, 2;
    }
  }
  if (auds.size() == 1) claims["aud"] = auds[0];
  else if (!auds.empty()) claims["aud"] = json::Value(auds);
  if (!claims.count("iat")) claims["iat"] = json::Value(double(now));
  if (!claims.count("nbf")) claims["nbf"] = json::Value(double(now));
  if (!claims.count("exp")) claims["exp"] = json::Value(double(now + ttl));
  auto tok = signer->mint(alg, json::Value(header), json::Value(claims));
  if (!tok.ok()) return err << tok.status().message << "\n", 2;
  out << *tok << "\n";
  return 0;
}

// ---------------------------------------------------------------- keygen

bool exists(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0;
}

bool write_file(const std::string& path, const std::string& data, bool secret) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) return false;
  if (secret) ::chmod(path.c_str(), 0600);
  f << data;
  return bool(f);
}

int cmd_keygen(const std::vector<std::string>& args, size_t from, std::ostream& out, std::ostream& err) {
  Args a = parse_args(args, from, {"--force"});
  if (a.help) return out << kKeygenHelp, 0;
  if (!a.error.empty()) return err << a.error << "\n" << kKeygenHelp, 2;
  const std::string* priv = a.get("--out");
  const std::string* pub = a.get("--pub");
  if (!priv || !pub) return err << "--out and --pub are required\n" << kKeygenHelp, 2;
  std::string t = a.get("--type") ? *a.get("--type") : "ec";
  KeyType type = t == "ec" || t == "ec256" ? KeyType::ec_p256
                 : t == "ec384"            ? KeyType::ec_p384
                 : t == "ec521"            ? KeyType::ec_p521
                 : t == "rsa"              ? KeyType::rsa
                                           : KeyType::hmac;
  if (type == KeyType::hmac) return err << "--type must be ec, ec384, ec521 or rsa\n", 2;
  if (!a.get("--force") && (exists(*priv) || exists(*pub)))
    return err << "refusing to overwrite existing key files (use --force)\n", 2;
  auto kp = generate_key_pem(type);
  if (!kp.ok()) return err << kp.status().message << "\n", 2;
  if (!write_file(*priv, kp->private_pem, true)) return err << "cannot write '" << *priv << "'\n", 2;
  if (!write_file(*pub, kp->public_pem, false)) return err << "cannot write '" << *pub << "'\n", 2;
  out << "wrote " << key_type_name(type) << " private key to " << *priv << " and public key to " << *pub << "\n";
  return 0;
}

}  // namespace

int token_main(std::vector<std::string> args, std::ostream& out, std::ostream& err) {
  size_t i = 0;
  if (i < args.size() && args[i] == "token") ++i;
  if (i >= args.size() || args[i] == "--help" || args[i] == "-h" || args[i] == "help") {
    (i >= args.size() ? err : out) << kHelp;
    return i >= args.size() ? 2 : 0;
  }
  const std::string& cmd = args[i];
  if (cmd == "inspect") return cmd_inspect(args, i + 1, out, err);
  if (cmd == "mint") return cmd_mint(args, i + 1, out, err);
  if (cmd == "keygen") return cmd_keygen(args, i + 1, out, err);
  err << "unknown token command '" << cmd << "'\n" << kHelp;
  return 2;
}

}  // namespace ef::cli
