#include "cli/get_output.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <filesystem>

namespace braid::cli {

void AddOutputFlags(CLI::App* cmd, OutputFlags* flags) {
  auto* output = cmd->add_option(
      "-o,--output", flags->output,
      "Output file, or - for standard output (default: NAME's last part)");
  cmd->add_flag("-O,--remote-name", flags->remote_name,
                "Name the output after NAME's last part, as curl -O does (the "
                "default without -o)")
      ->excludes(output);
  cmd->add_option("-P,--dir", flags->dir,
                  "Directory for the output (a relative -o too), as wget -P "
                  "and aria2 --dir; created if missing");
  auto* force = cmd->add_flag(
      "-f,--force", flags->force,
      "Replace an existing output file (by default braid refuses, exit 3)");
  cmd->add_flag("--no-clobber", flags->no_clobber,
                "If the output file exists, keep it and fetch nothing (exit "
                "0), as wget -nc")
      ->excludes(force);
  auto* resume = cmd->add_flag(
      "-c,--continue", flags->resume,
      "Continue from what an interrupted run left (OUTPUT.braid-part; the "
      "default: braid always continues a partial download of the same "
      "content)");
  cmd->add_flag_callback(
         "--no-continue", [flags] { flags->resume = false; },
         "Throw away what an interrupted run left and fetch the whole "
         "file again")
      ->excludes(resume);
}

Expected<std::string> OutputPath(const OutputFlags& flags,
                                 const std::string& name) {
  namespace fs = std::filesystem;
  if (flags.output == "-") return flags.output;
  std::string file = flags.output;
  if (file.empty()) {
    file = fs::path(name).filename().string();
    if (file.empty() || file == "." || file == "..") {
      return MakeError(Errc::kInvalidArgument,
                       "cannot name the output after '" + name + "'; use -o");
    }
  }
  if (flags.dir.empty() || fs::path(file).is_absolute()) return file;
  std::error_code ec;
  fs::create_directories(flags.dir, ec);
  if (ec) {
    return MakeError(Errc::kIoError,
                     "cannot create --dir " + flags.dir + ": " + ec.message());
  }
  return (fs::path(flags.dir) / file).string();
}

Expected<bool> ShouldFetch(const OutputFlags& flags, const std::string& path) {
  struct stat st;
  if (path == "-" || ::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
    return true;
  if (flags.no_clobber) {
    spdlog::info("{} is already there; not fetched (--no-clobber)", path);
    return false;
  }
  if (flags.force) return true;
  return MakeError(Errc::kIoError,
                   path +
                       " exists: -f replaces it, --no-clobber keeps it, -o "
                       "names another file");
}

}  // namespace braid::cli
