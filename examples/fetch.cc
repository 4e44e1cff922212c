// A whole program on libbraid: fetch NAME from the braid servers given,
// into a file, with a progress line; or a byte range of it to standard
// output. Built against the installed library (examples/CMakeLists.txt, or
// `c++ fetch.cc $(pkg-config --cflags --libs braid)`).
//
//   fetch NAME OUT HOST:PORT [HOST:PORT...]       the whole file into OUT
//   fetch NAME - HOST:PORT [...] --range A-B      bytes A..B to stdout
//   (--range again: each range in turn, on the session's same connections)
#include <braid/client.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

int Fail(const std::string& what) {
  std::fprintf(stderr, "fetch: %s\n", what.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4)
    return Fail("usage: fetch NAME OUT|- HOST:PORT... [--range A-B]");
  braid::SessionOptions options;
  options.name = argv[1];
  std::string out = argv[2];
  braid::FetchOptions fetch;
  std::vector<braid::ByteRange> ranges;
  for (int i = 3; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--range" && i + 1 < argc) {
      unsigned long long a = 0, b = 0;
      if (std::sscanf(argv[++i], "%llu-%llu", &a, &b) != 2 || b < a)
        return Fail("--range wants A-B");
      ranges.push_back(braid::ByteRange{a, b - a + 1});
    } else {
      options.sources.push_back(arg);
    }
  }

  braid::Client client;
  // Open agrees with the sources on what NAME is before anything is fetched.
  auto session = client.Open(options);
  if (!session) return Fail(session.error().ToString());
  braid::Description d = (*session)->Describe();
  std::fprintf(stderr, "%s: %llu bytes, content %s\n", d.name.c_str(),
               static_cast<unsigned long long>(d.size), d.content_id.c_str());

  fetch.on_source = [](const braid::SourceEvent& e) {
    if (e.kind == braid::SourceEvent::Kind::kFailed)
      std::fprintf(stderr, "source %s failed: %s\n", e.name.c_str(),
                   e.error.ToString().c_str());
  };
  fetch.on_progress = [](const braid::Progress& p) {
    std::fprintf(stderr, "%llu of %llu bytes\n",
                 static_cast<unsigned long long>(p.done_bytes),
                 static_cast<unsigned long long>(p.total_bytes));
  };
  if (out != "-") {
    auto report = (*session)->FetchToFile(out, fetch);
    if (!report) return Fail(report.error().ToString());
    std::fprintf(
        stderr, "%llu bytes in %.2f s from %zu sources, verified: %s\n",
        static_cast<unsigned long long>(report->bytes), report->seconds,
        report->sources.size(), report->verified ? "yes" : "no");
    return 0;
  }
  if (ranges.empty()) ranges.push_back(braid::ByteRange{0, d.size});
  auto sink = braid::FdSink(STDOUT_FILENO);
  for (const braid::ByteRange& r : ranges) {  // one session, many fetches
    fetch.range = r;
    auto report = (*session)->Fetch(*sink, fetch);
    if (!report) return Fail(report.error().ToString());
    std::fprintf(stderr, "%llu bytes in %.3f s\n",
                 static_cast<unsigned long long>(report->bytes),
                 report->seconds);
  }
  return 0;
}
