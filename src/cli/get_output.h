// Where `braid get` writes, and what it does when that file exists: the
// flags -o, -O, -P/--dir, -f/--force, --no-clobber and -c/--continue,
// --no-continue.
#ifndef BRAID_CLI_GET_OUTPUT_H_
#define BRAID_CLI_GET_OUTPUT_H_

#include <braid/expected.h>

#include <CLI/CLI.hpp>
#include <string>

namespace braid::cli {

struct OutputFlags {
  std::string output;        // -o: a path, or "-" for standard output
  bool remote_name = false;  // -O: NAME's last part (the default)
  std::string dir;           // -P/--dir: where a relative output goes
  bool force = false;        // -f: replace an existing file
  bool no_clobber = false;   // keep an existing file, fetch nothing
  bool resume = true;        // -c (default) / --no-continue
};

void AddOutputFlags(CLI::App* cmd, OutputFlags* flags);

// The output's path for a stream called `name`: -o as given, else the last
// segment of name; a relative path goes under --dir. kInvalidArgument
// when no usable name can be derived (use -o).
Expected<std::string> OutputPath(const OutputFlags& flags,
                                 const std::string& name);

// Whether to fetch into path: true to fetch, false to skip (--no-clobber
// and the file is there, a regular file). kIoError when path is an existing
// regular file and neither -f nor --no-clobber was given; standard output
// and devices (such as /dev/null) are always written.
Expected<bool> ShouldFetch(const OutputFlags& flags, const std::string& path);

}  // namespace braid::cli

#endif  // BRAID_CLI_GET_OUTPUT_H_
