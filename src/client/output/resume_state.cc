#include "client/output/resume_state.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "core/errc.h"
#include "core/json_text.h"

namespace braid::client {
namespace {

Status SyncPath(const std::string& path, int flags) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return Unexpected{IoError("open " + path)};
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return Unexpected{IoError("fsync " + path)};
  return Ok{};
}

}  // namespace

std::vector<std::pair<uint64_t, uint64_t>> ResumeState::RangesOf(
    const core::ReceivedSet& set) {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  for (uint64_t q = 0; q < set.block_count(); ++q) {
    if (!set.Has(q)) continue;
    if (!out.empty() && out.back().second == q) {
      ++out.back().second;
    } else {
      out.push_back({q, q + 1});
    }
  }
  return out;
}

Expected<ResumeState> ParseResumeState(std::string_view text,
                                       const std::string& origin) {
  try {
    nlohmann::json j = nlohmann::json::parse(text);
    if (j.at("version").get<int>() != 1) {
      return MakeError(Errc::kMalformed, origin + ": unknown version");
    }
    ResumeState s;
    s.content_id = j.at("content_id").get<std::string>();
    s.size = j.at("size").get<uint64_t>();
    s.block_size = j.at("block_size").get<uint32_t>();
    for (const auto& r : j.at("have")) {
      uint64_t first = r.at(0).get<uint64_t>(), end = r.at(1).get<uint64_t>();
      if (first >= end)
        return MakeError(Errc::kMalformed, origin + ": empty range");
      s.have.push_back({first, end});
    }
    return s;
  } catch (const nlohmann::json::exception& e) {
    return MakeError(Errc::kMalformed, origin + ": " + e.what());
  }
}

Expected<ResumeState> LoadResumeState(const std::string& path) {
  std::ifstream in(path);
  if (!in) return MakeError(Errc::kNotFound, "no state file " + path);
  std::stringstream text;
  text << in.rdbuf();
  return ParseResumeState(text.str(), path);
}

Status SaveResumeState(const std::string& path, const ResumeState& state) {
  nlohmann::json have = nlohmann::json::array();
  for (const auto& [first, end] : state.have) have.push_back({first, end});
  nlohmann::json j = {{"version", 1},
                      {"content_id", state.content_id},
                      {"size", state.size},
                      {"block_size", state.block_size},
                      {"have", have}};
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << core::JsonText(j) << "\n";
    if (!out.flush()) return Unexpected{IoError("write " + tmp)};
  }
  if (Status s = SyncPath(tmp, O_RDONLY); !s) return s;
  if (::rename(tmp.c_str(), path.c_str()) != 0)
    return Unexpected{IoError("rename " + tmp)};
  std::string dir = std::filesystem::path(path).parent_path().string();
  return SyncPath(dir.empty() ? "." : dir, O_RDONLY | O_DIRECTORY);
}

bool SameResumeKey(const std::string& saved, const std::string& now) {
  if (saved == now) return true;
  if (!saved.starts_with(kMirrorKeyPrefix) ||
      !now.starts_with(kMirrorKeyPrefix))
    return false;
  std::istringstream a(saved);
  std::set<std::string> had{std::istream_iterator<std::string>(a), {}};
  std::istringstream b(now);
  for (std::istream_iterator<std::string> t(b), end; t != end; ++t)
    if (had.count(*t)) return true;
  return false;
}

}  // namespace braid::client
