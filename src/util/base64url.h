// util/base64url.h — strict base64url (RFC 4648 §5, no padding) as JOSE requires,
// and standard base64 for PEM/x5c.  Decoders reject any character outside the
// alphabet, padding where it is not allowed, and non-canonical trailing bits.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace ef::b64 {

std::string url_encode(std::string_view bytes);
// Strict: alphabet A-Z a-z 0-9 - _, no '=', length % 4 != 1, unused bits zero.
std::optional<std::string> url_decode(std::string_view text);
std::string std_encode(std::string_view bytes);
// Standard alphabet with required '=' padding; whitespace not allowed.
std::optional<std::string> std_decode(std::string_view text);

}  // namespace ef::b64
