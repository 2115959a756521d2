// auth/static_keys.h — an in-memory KeyProvider: keys from pinned files and configured
// HMAC secrets, fixed after construction except through add().  Used by tests and by
// `edgefhir token inspect --config`; the server uses the persisted key store instead.
// Keys are stored under the *configured* issuer string (a "{tenantid}" template stays a
// template), which is what the validator asks for.  A key without kid matches any kid;
// a token without kid matches every key of its issuer.
#pragma once
#include <atomic>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include "auth/config.h"
#include "auth/key.h"
#include "util/status.h"

namespace ef::auth {

class StaticKeyProvider : public KeyProvider {
 public:
  // Sets key.issuer and bumps generation().
  void add(const std::string& issuer, Key key);
  std::vector<KeyPtr> find(const std::string& issuer, const std::string& kid) const override;
  void unknown_kid(const std::string& issuer, const std::string& kid) const override { ++unknown_kid_calls_; }
  uint64_t generation() const override { return generation_.load(); }
  size_t size() const;
  uint64_t unknown_kid_calls() const { return unknown_kid_calls_.load(); }

  // Loads every issuer's pinned_keys (source pinned) and hmac_secret_file (source
  // config_secret; the file's bytes, one trailing newline stripped).
  static Result<std::unique_ptr<StaticKeyProvider>> from_config(const AuthConfig& cfg);

 private:
  mutable std::shared_mutex mu_;
  std::vector<KeyPtr> keys_;
  std::atomic<uint64_t> generation_{1};
  mutable std::atomic<uint64_t> unknown_kid_calls_{0};
};

// Reads an HMAC secret file (trailing "\n" / "\r\n" stripped).
Result<std::string> read_secret_file(const std::string& path);

}  // namespace ef::auth
