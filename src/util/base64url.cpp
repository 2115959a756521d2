// util/base64url.cpp — see base64url.h.
#include "util/base64url.h"

#include <cstdint>

namespace ef::b64 {
namespace {

const char kUrl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const char kStd[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string encode(std::string_view in, const char* alpha, bool pad) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  for (; i + 3 <= in.size(); i += 3) {
    uint32_t v = (uint32_t(p[i]) << 16) | (uint32_t(p[i + 1]) << 8) | p[i + 2];
    out.push_back(alpha[(v >> 18) & 63]);
    out.push_back(alpha[(v >> 12) & 63]);
    out.push_back(alpha[(v >> 6) & 63]);
    out.push_back(alpha[v & 63]);
  }
  size_t rest = in.size() - i;
  if (rest == 1) {
    uint32_t v = uint32_t(p[i]) << 16;
    out.push_back(alpha[(v >> 18) & 63]);
    out.push_back(alpha[(v >> 12) & 63]);
    if (pad) out += "==";
  } else if (rest == 2) {
    uint32_t v = (uint32_t(p[i]) << 16) | (uint32_t(p[i + 1]) << 8);
    out.push_back(alpha[(v >> 18) & 63]);
    out.push_back(alpha[(v >> 12) & 63]);
    out.push_back(alpha[(v >> 6) & 63]);
    if (pad) out.push_back('=');
  }
  return out;
}

int value_of(char c, bool url) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (url ? c == '-' : c == '+') return 62;
  if (url ? c == '_' : c == '/') return 63;
  return -1;
}

std::optional<std::string> decode_unpadded(std::string_view in, bool url) {
  if (in.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(in.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v = value_of(c, url);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | uint32_t(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(char((acc >> bits) & 0xFF));
    }
  }
  // Leftover bits must be zero (canonical encoding).
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

}  // namespace

std::string url_encode(std::string_view bytes) { return encode(bytes, kUrl, false); }
std::optional<std::string> url_decode(std::string_view text) { return decode_unpadded(text, true); }
std::string std_encode(std::string_view bytes) { return encode(bytes, kStd, true); }
std::optional<std::string> std_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  size_t pad = 0;
  while (pad < 2 && pad < text.size() && text[text.size() - 1 - pad] == '=') ++pad;
  return decode_unpadded(text.substr(0, text.size() - pad), false);
}

}  // namespace ef::b64
