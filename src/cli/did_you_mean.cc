#include "cli/did_you_mean.h"

#include <algorithm>
#include <cstdio>

#include "cli/exit_codes.h"

namespace braid::cli {
namespace {

// Edits (insert, delete, replace, swap two neighbours) from a to b: the
// optimal string alignment distance.
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1,
                                     std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] =
          std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.size()][b.size()];
}

// What may be typed on app's command line: "--long" and "-s" flags, or
// subcommand names when the subcommand itself was not recognised.
std::vector<std::string> KnownNames(const CLI::App& app, bool subcommands) {
  std::vector<std::string> names;
  if (subcommands) {
    for (const CLI::App* sub : app.get_subcommands({}))
      names.push_back(sub->get_name());
    return names;
  }
  for (const CLI::Option* o : app.get_options()) {
    for (const auto& l : o->get_lnames()) names.push_back("--" + l);
    for (const auto& s : o->get_snames()) names.push_back("-" + s);
  }
  return names;
}

}  // namespace

std::string ClosestName(std::string_view typed,
                        const std::vector<std::string>& known) {
  // "--limit-rate=1M": the name is what comes before the value.
  typed = typed.substr(0, typed.find('='));
  size_t best = std::max<size_t>(1, typed.size() / 3) + 1;
  std::string found;
  for (const auto& k : known) {
    size_t d = EditDistance(typed, k);
    if (d < best) {
      best = d;
      found = k;
    }
  }
  return found;
}

int ReportUnknownArguments(CLI::App& app,
                           const std::vector<std::string>& words) {
  std::vector<CLI::App*> parsed = app.get_subcommands();
  CLI::App& where = parsed.empty() ? app : *parsed.front();
  std::string command = parsed.empty() ? "braid" : "braid " + where.get_name();
  for (const std::string& word : words) {
    bool flag = word.starts_with("-");
    std::string hint = ClosestName(word, KnownNames(where, parsed.empty()));
    std::fprintf(
        stderr, "%s: error: unknown %s '%s'%s\n", command.c_str(),
        flag             ? "flag"
        : parsed.empty() ? "command"
                         : "argument",
        word.c_str(),
        hint.empty() ? "" : ("; did you mean '" + hint + "'?").c_str());
  }
  std::fprintf(stderr, "Run '%s --help' for the %s.\n", command.c_str(),
               parsed.empty() ? "commands" : "flags");
  return kExitUsage;
}

}  // namespace braid::cli
