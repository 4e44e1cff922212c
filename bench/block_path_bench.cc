// The client's per-block path without sockets (docs/benchmarks.md, "The
// per-block path"): each step a block takes between the socket and the
// output, measured alone, and the pipeline that runs them together.
//   decode    DATA frames parsed out of the receive buffer (FrameDecoder)
//   verify    the block's 64 KiB pieces checked against the manifest
//   file      WriteAt + Commit into a file output, blocks out of order
//   stream    Write into an in-order output (a reorder window), blocks
//             interleaved as three sources deliver them
//   pipeline  BlockPipeline: copy, verify and pwrite on its worker, the
//             done callback back on the io thread
// Run by ctest as a smoke test (a tiny --benchmark_min_time); the numbers
// in docs/benchmarks.md come from a normal run on an idle machine.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "client/engine/block_pipeline.h"
#include "client/output/output.h"
#include "core/manifest.h"
#include "core/protocol.h"

namespace braid {
namespace {

// The stream each iteration moves: 64 MiB, or BRAID_BENCH_MIB (the smoke
// test's 8).
const uint64_t kStreamBytes = [] {
  const char* mib = std::getenv("BRAID_BENCH_MIB");
  uint64_t n = mib ? std::strtoull(mib, nullptr, 10) : 64;
  return std::max<uint64_t>(n, 1) << 20;
}();

// A step that did not do its job ends the run (the smoke test fails):
// a number for broken work would be worse than none.
void Require(bool ok, const std::string& what) {
  if (ok) return;
  std::fprintf(stderr, "block_path_bench: %s\n", what.c_str());
  std::abort();
}

std::vector<uint8_t> RandomBytes(size_t n) {
  std::vector<uint8_t> out(n);
  std::mt19937_64 rng(7);
  for (size_t i = 0; i + 8 <= n; i += 8) {
    uint64_t v = rng();
    std::memcpy(&out[i], &v, 8);
  }
  return out;
}

const std::vector<uint8_t>& Stream() {
  static const std::vector<uint8_t> bytes = RandomBytes(kStreamBytes);
  return bytes;
}

const core::Manifest& StreamManifest() {
  static const core::Manifest m = [] {
    const auto& s = Stream();
    std::vector<core::Digest> pieces;
    for (uint64_t at = 0; at < s.size(); at += core::kPieceSize) {
      size_t len = std::min<uint64_t>(core::kPieceSize, s.size() - at);
      pieces.push_back(core::Sha256({s.data() + at, len}));
    }
    return core::Manifest(s.size(), std::move(pieces));
  }();
  return m;
}

std::span<const uint8_t> Block(const core::StreamLayout& layout, uint64_t seq) {
  return {Stream().data() + layout.OffsetOf(seq), layout.LengthOf(seq)};
}

// Three sources, pattern ABC, each a few blocks ahead or behind: the order
// in which blocks reach the output.
std::vector<uint64_t> InterleavedOrder(uint64_t blocks) {
  std::vector<uint64_t> order;
  for (uint64_t base = 0; base < blocks; base += 12) {
    for (uint64_t k : {0, 3, 1, 6, 4, 2, 9, 7, 5, 10, 8, 11}) {
      if (base + k < blocks) order.push_back(base + k);
    }
  }
  return order;
}

std::string TempPath(const char* what) {
  return (std::filesystem::temp_directory_path() /
          ("braid-bench-" + std::string(what) + "-" +
           std::to_string(::getpid())))
      .string();
}

void SetBytes(benchmark::State& state, uint64_t per_iteration) {
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(per_iteration));
}

void BM_Decode(benchmark::State& state) {
  const core::StreamLayout layout{kStreamBytes,
                                  static_cast<uint32_t>(state.range(0))};
  std::vector<uint8_t> wire;
  for (uint64_t seq = 0; seq < layout.block_count(); ++seq)
    core::Encode(core::Data{seq, 0, Block(layout, seq)}, &wire);
  for (auto _ : state) {
    core::FrameDecoder decoder(layout.block_size + 64);
    size_t at = 0;
    uint64_t got = 0;
    while (at < wire.size()) {
      auto room = decoder.Prepare(64 * 1024);
      size_t n = std::min(room.size(), wire.size() - at);
      std::memcpy(room.data(), wire.data() + at, n);
      decoder.Commit(n);
      at += n;
      for (;;) {
        auto m = decoder.Next();
        if (!m || !*m) break;
        got += std::get<core::Data>(**m).payload.size();
      }
    }
    Require(got == kStreamBytes, "decoded the wrong bytes");
  }
  SetBytes(state, kStreamBytes);
}

void BM_Verify(benchmark::State& state) {
  const core::StreamLayout layout{kStreamBytes,
                                  static_cast<uint32_t>(state.range(0))};
  const auto& m = StreamManifest();
  for (auto _ : state) {
    for (uint64_t seq = 0; seq < layout.block_count(); ++seq) {
      Require(
          client::BlockPipeline::Matches(m, layout, seq, Block(layout, seq)),
          "a block did not verify");
    }
  }
  SetBytes(state, kStreamBytes);
}

void BM_FileOutput(benchmark::State& state) {
  const core::StreamLayout layout{kStreamBytes,
                                  static_cast<uint32_t>(state.range(0))};
  auto order = InterleavedOrder(layout.block_count());
  std::string path = TempPath("file");
  for (auto _ : state) {
    auto out = client::OpenOutput(path, layout, 0);
    Require(out.has_value(), out ? "" : out.error().what);
    for (uint64_t seq : order) {
      Require((*out)->WriteAt(seq, Block(layout, seq)).has_value(),
              "WriteAt failed");
      (*out)->Commit(seq);
    }
    state.PauseTiming();  // fsync and rename are once per file
    (void)(*out)->Finish();
    std::filesystem::remove(path);
    state.ResumeTiming();
  }
  SetBytes(state, kStreamBytes);
}

void BM_StreamOutput(benchmark::State& state) {
  const core::StreamLayout layout{kStreamBytes,
                                  static_cast<uint32_t>(state.range(0))};
  auto order = InterleavedOrder(layout.block_count());
  for (auto _ : state) {
    // Each block in its own buffer, as the pipeline hands them over (the
    // window holds the buffer, no copy): made outside the timing.
    state.PauseTiming();
    std::vector<core::BlockBuffer> blocks(layout.block_count());
    for (uint64_t seq = 0; seq < blocks.size(); ++seq) {
      auto b = Block(layout, seq);
      blocks[seq].assign(b.begin(), b.end());
    }
    state.ResumeTiming();
    auto out = client::OpenOutput("/dev/null", layout, 16u << 20);
    Require(out.has_value(), out ? "" : out.error().what);
    for (uint64_t seq : order) {
      auto put = (*out)->Write(seq, blocks[seq]);
      Require(put && *put == client::Output::Put::kStored,
              "Write did not store a block");
    }
    Require((*out)->Finish().has_value(), "Finish failed");
  }
  SetBytes(state, kStreamBytes);
}

void BM_Pipeline(benchmark::State& state) {
  const core::StreamLayout layout{kStreamBytes,
                                  static_cast<uint32_t>(state.range(0))};
  auto order = InterleavedOrder(layout.block_count());
  std::string path = TempPath("pipeline");
  for (auto _ : state) {
    auto out = client::OpenOutput(path, layout, 0);
    Require(out.has_value(), out ? "" : out.error().what);
    asio::io_context io;
    // The worker posts each done callback to io: io must not run out of
    // work (and stop) while blocks are on the worker.
    auto busy = asio::make_work_guard(io);
    uint64_t done = 0;
    bool failed = false;
    {
      client::BlockPipeline pipeline(io.get_executor(), &StreamManifest(),
                                     out->get(), layout,
                                     static_cast<size_t>(state.range(1)));
      size_t next = 0;
      auto submit = [&] {
        while (next < order.size() &&
               !pipeline.Full(layout.LengthOf(order[next]))) {
          uint64_t seq = order[next++];
          // The receive's copy (a block read through the frame buffer).
          auto bytes = Block(layout, seq);
          core::BlockBuffer block = pipeline.TakeBuffer(bytes.size());
          std::copy(bytes.begin(), bytes.end(), block.begin());
          pipeline.Submit(seq, std::move(block),
                          [&](uint64_t s, core::BlockBuffer&, Status st) {
                            if (!st) failed = true;
                            (*out)->Commit(s);
                            ++done;
                          });
        }
      };
      while (done < order.size() && !failed) {
        submit();
        io.run_one();
      }
    }
    Require(!failed, "the pipeline failed a block");
    state.PauseTiming();
    (void)(*out)->Finish();
    std::filesystem::remove(path);
    state.ResumeTiming();
  }
  SetBytes(state, kStreamBytes);
}

// Block sizes: 64 KiB (one piece; the default with braid servers), 256 KiB
// (the default with HTTP mirrors), 1 MiB.
#define BLOCK_SIZES ->Arg(64 << 10)->Arg(256 << 10)->Arg(1 << 20)
BENCHMARK(BM_Decode) BLOCK_SIZES->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Verify) BLOCK_SIZES->Unit(benchmark::kMillisecond);
BENCHMARK(BM_FileOutput) BLOCK_SIZES->Unit(benchmark::kMillisecond);
BENCHMARK(BM_StreamOutput) BLOCK_SIZES->Unit(benchmark::kMillisecond);
// The pipeline with one worker thread, and with one per core (the default).
BENCHMARK(BM_Pipeline)
    ->ArgsProduct(
        {{64 << 10, 256 << 10, 1 << 20},
         {1, static_cast<int64_t>(client::BlockPipeline::DefaultWorkers())}})
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace braid

BENCHMARK_MAIN();
