#include "core/units.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <string>

namespace braid::core {
std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool EqualsNoCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

namespace {

// Splits "12.5MB" into 12.5 and "mb". Fails on no digits or trailing junk.
bool SplitNumber(std::string_view text, double* value, std::string* unit) {
  size_t i = 0;
  while (i < text.size() &&
         (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.'))
    ++i;
  if (i == 0) return false;
  std::string num(text.substr(0, i));
  char* end = nullptr;
  *value = std::strtod(num.c_str(), &end);
  if (end != num.c_str() + num.size() || !std::isfinite(*value)) return false;
  *unit = AsciiLower(text.substr(i));
  return true;
}

// Multiplier for a unit prefix (k, m, g, ki, mi, gi, or none).
bool PrefixMultiplier(std::string_view p, double* mult) {
  if (p.empty()) return *mult = 1, true;
  if (p == "k") return *mult = 1e3, true;
  if (p == "m") return *mult = 1e6, true;
  if (p == "g") return *mult = 1e9, true;
  if (p == "ki") return *mult = 1024.0, true;
  if (p == "mi") return *mult = 1024.0 * 1024, true;
  if (p == "gi") return *mult = 1024.0 * 1024 * 1024, true;
  return false;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.substr(s.size() - suffix.size()) == suffix;
}

Expected<uint64_t> Quantity(std::string_view text, bool allow_bits,
                            const char* what) {
  double value = 0;
  std::string unit;
  auto bad = [&] {
    return MakeError(Errc::kMalformed, std::string("bad ") + what + " '" +
                                           std::string(text) + "'");
  };
  if (!SplitNumber(text, &value, &unit)) return bad();
  double divisor = 1;
  std::string_view u = unit;
  if (allow_bits && (EndsWith(u, "bit") || EndsWith(u, "bps"))) {
    divisor = 8;
    u.remove_suffix(3);
  } else if (EndsWith(u, "b")) {
    u.remove_suffix(1);
  } else if (allow_bits && EndsWith(u, "b/s")) {
    u.remove_suffix(3);
  }
  double mult = 1;
  if (!PrefixMultiplier(u, &mult)) return bad();
  double bytes = value * mult / divisor;
  if (bytes > 1.8e19) return bad();
  return static_cast<uint64_t>(std::llround(bytes));
}

}  // namespace

Expected<uint64_t> ParseRate(std::string_view text) {
  return Quantity(text, /*allow_bits=*/true, "rate");
}

Expected<uint64_t> ParseSize(std::string_view text) {
  return Quantity(text, /*allow_bits=*/false, "size");
}

Expected<std::chrono::seconds> ParseDuration(std::string_view text) {
  auto bad = [&] {
    return MakeError(Errc::kMalformed, "bad duration '" + std::string(text) +
                                           "': want e.g. 90s, 15m, 2h or 7d");
  };
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  std::string_view unit(end, text.data() + text.size() - end);
  if (ec != std::errc() || end == text.data()) return bad();
  uint64_t scale = 0;
  if (unit.empty() || unit == "s") scale = 1;
  if (unit == "m") scale = 60;
  if (unit == "h") scale = 3600;
  if (unit == "d") scale = 86400;
  constexpr uint64_t kMax = 100ull * 366 * 86400;
  if (scale == 0 || n > kMax / scale) return bad();
  return std::chrono::seconds(static_cast<int64_t>(n * scale));
}

std::string HostPort::ToString() const {
  if (host.find(':') != std::string::npos)
    return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

Expected<HostPort> ParseHostPort(std::string_view text, bool allow_zero) {
  auto bad = [&](const char* why) {
    return MakeError(Errc::kMalformed,
                     "bad address '" + std::string(text) + "': " + why);
  };
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return bad("expected HOST:PORT");
  HostPort hp;
  std::string_view host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return bad("IPv6 addresses need brackets, e.g. [::1]:7070");
  }
  if (host.empty()) return bad("empty host");
  std::string_view port = text.substr(colon + 1);
  unsigned value = 0;
  auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || p != port.data() + port.size() || value > 65535) {
    return bad("port must be 0-65535");
  }
  if (value == 0 && !allow_zero) return bad("port 0");
  hp.host = std::string(host);
  hp.port = static_cast<uint16_t>(value);
  return hp;
}

Expected<std::vector<HostPort>> ParseHostPortList(std::string_view text) {
  std::vector<HostPort> out;
  for (;;) {
    size_t comma = text.find(',');
    auto hp = ParseHostPort(text.substr(0, comma));
    if (!hp) return Unexpected{hp.error()};
    out.push_back(std::move(*hp));
    if (comma == std::string_view::npos) return out;
    text.remove_prefix(comma + 1);
  }
}

}  // namespace braid::core
