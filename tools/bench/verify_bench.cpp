// tools/bench/verify_bench.cpp — signature verifications per second through edgefhir's own
// verify path (auth/verify.h, mbedTLS), with no token cache: RS256, PS256 (RSA-2048) and
// ES256 (P-256).  Prints one line per algorithm: "ALG ops_per_second".
#include <chrono>
#include <cstdio>

#include "auth/jwks.h"
#include "auth/jwt.h"
#include "auth/signer.h"
#include "auth/verify.h"

using namespace ef;

static void run(auth::KeyType type, const char* alg, double seconds) {
  auto kp = auth::generate_key_pem(type);
  auto signer = auth::Signer::from_pem(kp->private_pem);
  auto key = auth::key_from_pem(kp->public_pem);
  if (!signer.ok() || !key.ok()) { std::printf("%s error\n", alg); return; }
  json::Object h, p;
  p["iss"] = json::Value(std::string("https://bench"));
  p["exp"] = json::Value(4102444800.0);
  auto tok = signer->mint(alg, json::Value(h), json::Value(p));
  auth::Jws jws;
  std::string why;
  if (auth::parse_jws(*tok, &jws, &why) != auth::AuthStatus::ok) { std::printf("%s parse error\n", alg); return; }
  auto t0 = std::chrono::steady_clock::now();
  long n = 0;
  double el = 0;
  do {
    for (int i = 0; i < 20; ++i)
      if (auth::verify_jws(jws, *key, &why) != auth::AuthStatus::ok) { std::printf("%s verify failed\n", alg); return; }
    n += 20;
    el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  } while (el < seconds);
  std::printf("%s %.0f\n", alg, n / el);
}

int main(int argc, char** argv) {
  double s = argc > 1 ? std::atof(argv[1]) : 2.0;
  run(auth::KeyType::rsa, "RS256", s);
  run(auth::KeyType::rsa, "PS256", s);
  run(auth::KeyType::ec_p256, "ES256", s);
}
