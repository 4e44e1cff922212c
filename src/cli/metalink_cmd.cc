// braid metalink: writes the Metalink (RFC 5854) of a file, with the SHA-256
// of its 64 KiB pieces (braid's manifest), so that `braid get FILE.meta4`
// can check plain web mirrors of it block by block.

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "cli/commands.h"
#include "cli/metalink_publisher.h"
#include "client/http/http_url.h"
#include "client/sources/metalink.h"

namespace braid::cli {
namespace {

struct MetalinkFlags {
  std::string file;
  std::vector<std::string> urls;
  std::string output;  // empty: standard output
  bool force = false;
};

int RunMetalink(const MetalinkFlags& flags) {
  for (const auto& url : flags.urls) {
    if (auto u = client::ParseUrl(url); !u)
      return Fail("metalink", u.error().what, kExitUsage);
  }
  auto hashed = HashFile(flags.file);
  if (!hashed) return Fail("metalink", hashed.error().what, kExitLocalFile);
  std::string name = std::filesystem::path(flags.file).filename().string();
  std::string doc =
      client::WriteMetalink(name, hashed->first, hashed->second, flags.urls);
  if (flags.output.empty() || flags.output == "-") {
    std::fwrite(doc.data(), 1, doc.size(), stdout);
    return std::fflush(stdout) == 0 ? kExitOk : kExitLocalFile;
  }
  if (std::filesystem::exists(flags.output) && !flags.force) {
    return Fail("metalink", flags.output + " exists: -f replaces it",
                kExitLocalFile);
  }
  std::ofstream out(flags.output, std::ios::binary | std::ios::trunc);
  out << doc;
  out.close();
  if (!out)
    return Fail("metalink", "cannot write " + flags.output, kExitLocalFile);
  return kExitOk;
}

}  // namespace

void AddMetalinkCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<MetalinkFlags>();
  auto* cmd = app.add_subcommand(
      "metalink",
      "Write the Metalink (RFC 5854 .meta4) of FILE: its size, SHA-256, the "
      "SHA-256 of each 64KiB piece and the mirror URLs given; publish it "
      "beside the file so that `braid get FILE.meta4` checks every block of "
      "plain web mirrors");
  cmd->add_option("FILE", flags->file, "The file to describe")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("URL", flags->urls,
                  "Mirror URLs of the file, in order of preference");
  cmd->add_option("-o,--output", flags->output,
                  "Write it here (default: standard output)");
  cmd->add_flag("-f,--force", flags->force, "Replace an existing --output");
  cmd->footer(
      "\nExample:\n"
      "  braid metalink big.iso https://m1.example/big.iso "
      "https://m2.example/big.iso -o big.iso.meta4\n"
      "  braid get big.iso.meta4\n");
  cmd->callback([flags, exit_code] { *exit_code = RunMetalink(*flags); });
}

}  // namespace braid::cli
