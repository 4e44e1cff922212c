// braid token: makes an access token (core/access_token.h) for servers and
// proxies started with --access-key-file.
#include <chrono>
#include <cstdio>

#include "cli/commands.h"
#include "core/access_token.h"
#include "core/units.h"

namespace braid::cli {
namespace {

struct TokenFlags {
  std::string key_file;
  std::string name;
  std::string ttl = "1h";
  int64_t expires = -1;  // Unix seconds; -1: now + ttl
};

Expected<core::UnixTime> ExpiryOf(const TokenFlags& flags) {
  if (flags.expires >= 0)
    return core::UnixTime(std::chrono::seconds(flags.expires));
  auto ttl = core::ParseDuration(flags.ttl);
  if (!ttl) return Unexpected{ttl.error()};
  auto now = std::chrono::floor<std::chrono::seconds>(
      std::chrono::system_clock::now());
  return now + *ttl;
}

int RunToken(const TokenFlags& flags) {
  if (auto s = core::CheckScope(flags.name); !s)
    return Fail("token", "--name: " + s.error().what, kExitUsage);
  auto expires = ExpiryOf(flags);
  if (!expires)
    return Fail("token", "--ttl: " + expires.error().what, kExitUsage);
  auto key = core::AccessKey::Load(flags.key_file);
  if (!key) return Fail("token", key.error().what, kExitUsage);
  std::printf("%s\n",
              core::MakeAccessToken(*key, {flags.name, *expires}).c_str());
  return kExitOk;
}

}  // namespace

void AddTokenCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<TokenFlags>();
  auto* cmd = app.add_subcommand(
      "token",
      "Print an access token (HMAC-SHA256 under the key, expiring, for one "
      "name or directory) for servers and proxies started with "
      "--access-key-file; clients take it in BRAID_ACCESS_TOKEN or a proxy "
      "URL's ?token=");
  cmd->add_option("--key-file", flags->key_file,
                  "The key file of the servers or proxy that will check the "
                  "token (hex, at least 32 bytes)")
      ->required();
  cmd->add_option("--name", flags->name,
                  "What the token grants: a stream name (exactly that name), "
                  "a directory ending in `/` (every name under it), or `/` "
                  "(every name, and LIST)")
      ->required();
  auto* ttl = cmd->add_option(
      "--ttl", flags->ttl,
      "How long the token is valid from now, e.g. 90s, 15m, 2h, 7d (default "
      "1h)");
  cmd->add_option("--expires", flags->expires,
                  "Instead of --ttl: the Unix time (seconds) at which the "
                  "token stops being valid")
      ->check(CLI::NonNegativeNumber)
      ->excludes(ttl);
  cmd->footer(
      "\nExamples:\n"
      "  braid token --key-file key.hex --name videos/ --ttl 7d\n"
      "  BRAID_ACCESS_TOKEN=$(braid token --key-file key.hex --name f.iso) "
      "braid get f.iso --source s.example:7070\n");
  cmd->callback([flags, exit_code] { *exit_code = RunToken(*flags); });
}

}  // namespace braid::cli
