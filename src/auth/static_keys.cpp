// auth/static_keys.cpp — in-memory KeyProvider (see static_keys.h).
#include "auth/static_keys.h"

#include <fstream>
#include <sstream>

#include "auth/jwks.h"

namespace ef::auth {

void StaticKeyProvider::add(const std::string& issuer, Key key) {
  key.issuer = issuer;
  std::unique_lock lk(mu_);
  keys_.push_back(std::make_shared<const Key>(std::move(key)));
  ++generation_;
}

std::vector<KeyPtr> StaticKeyProvider::find(const std::string& issuer, const std::string& kid) const {
  std::shared_lock lk(mu_);
  std::vector<KeyPtr> out;
  for (const auto& k : keys_)
    if (k->issuer == issuer && (kid.empty() || k->kid.empty() || k->kid == kid)) out.push_back(k);
  return out;
}

size_t StaticKeyProvider::size() const {
  std::shared_lock lk(mu_);
  return keys_.size();
}

Result<std::string> read_secret_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status(Err::not_found, "cannot open HMAC secret file '" + path + "'");
  std::ostringstream ss;
  ss << f.rdbuf();
  std::string s = ss.str();
  if (!s.empty() && s.back() == '\n') s.pop_back();
  if (!s.empty() && s.back() == '\r') s.pop_back();
  if (s.empty()) return Status(Err::invalid, "HMAC secret file '" + path + "' is empty");
  return s;
}

Result<std::unique_ptr<StaticKeyProvider>> StaticKeyProvider::from_config(const AuthConfig& cfg) {
  auto p = std::make_unique<StaticKeyProvider>();
  for (const auto& ic : cfg.issuers) {
    for (const auto& path : ic.pinned_keys) {
      auto set = load_key_file(path);
      if (!set.ok()) return set.status();
      for (auto& k : set->keys) {
        k.source = KeySource::pinned;
        p->add(ic.issuer, std::move(k));
      }
    }
    if (!ic.hmac_secret_file.empty()) {
      auto s = read_secret_file(ic.hmac_secret_file);
      if (!s.ok()) return s.status();
      if (s->size() < 32)
        return Status(Err::invalid, "HMAC secret file '" + ic.hmac_secret_file + "' holds " + std::to_string(s->size()) +
                                        " bytes; at least 32 are required");
      p->add(ic.issuer, make_hmac_key(std::move(*s)));
    }
  }
  return p;
}

}  // namespace ef::auth
