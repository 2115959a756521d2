// auth/key.cpp — small helpers declared in key.h: which JWS algorithms a key type can
// verify, and display names for key types and sources.
#include "auth/key.h"

namespace ef::auth {

std::vector<std::string> algorithms_for(KeyType t) {
  switch (t) {
    case KeyType::rsa: return {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"};
    case KeyType::ec_p256: return {"ES256"};
    case KeyType::ec_p384: return {"ES384"};
    case KeyType::ec_p521: return {"ES512"};
    case KeyType::hmac: return {"HS256", "HS384", "HS512"};
  }
  return {};
}

const char* key_type_name(KeyType t) {
  switch (t) {
    case KeyType::rsa: return "RSA";
    case KeyType::ec_p256: return "EC P-256";
    case KeyType::ec_p384: return "EC P-384";
    case KeyType::ec_p521: return "EC P-521";
    case KeyType::hmac: return "HMAC secret";
  }
  return "unknown";
}

const char* key_source_name(KeySource s) {
  switch (s) {
    case KeySource::pinned: return "pinned";
    case KeySource::discovered: return "discovered";
    case KeySource::imported: return "imported";
    case KeySource::config_secret: return "config_secret";
  }
  return "unknown";
}

}  // namespace ef::auth
