#include "server/block_writer.h"

#include <spdlog/spdlog.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/protocol.h"

namespace braid::server {
namespace {

class SendfileWriter final : public BlockWriter {
 public:
  SendfileWriter(net::FramedConn& conn, WaitWritable wait)
      : conn_(conn), wait_(std::move(wait)) {}

  awaitable<Status> Write(const BlockToSend& b) override {
    uint8_t prefix[core::kDataPrefixSize];
    core::EncodeDataPrefix(b.seq, b.epoch, b.len, prefix);
    int fd = conn_.socket().native_handle();
    size_t sent = 0;
    while (sent < sizeof prefix) {
      ssize_t n = ::send(fd, prefix + sent, sizeof prefix - sent,
                         MSG_MORE | MSG_NOSIGNAL);
      if (n >= 0) {
        sent += static_cast<size_t>(n);
      } else if (errno == EAGAIN || errno == EINTR) {
        if (auto s = co_await wait_(); !s) co_return s;
      } else {
        co_return MakeError(Errc::kUnavailable, "send to " + conn_.peer());
      }
    }
    off_t offset = static_cast<off_t>(b.offset);
    off_t end = offset + b.len;
    while (offset < end) {
      ssize_t n =
          ::sendfile(fd, b.fd, &offset, static_cast<size_t>(end - offset));
      if (n > 0) continue;
      if (n == 0)
        co_return MakeError(Errc::kIoError, "stream shrank while sending");
      if (errno == EAGAIN || errno == EINTR) {
        if (auto s = co_await wait_(); !s) co_return s;
      } else {
        co_return MakeError(Errc::kUnavailable, "sendfile to " + conn_.peer());
      }
    }
    co_return Ok{};
  }

 private:
  net::FramedConn& conn_;
  WaitWritable wait_;
};

class CopyingWriter final : public BlockWriter {
 public:
  CopyingWriter(net::FramedConn& conn, net::Clock::duration timeout)
      : conn_(conn), timeout_(timeout) {}

  // The frame as it would go, in the writer's buffer (valid until the
  // next call).
  Expected<std::span<uint8_t>> Build(const BlockToSend& b) {
    frame_.resize(core::kDataPrefixSize + b.len);
    core::EncodeDataPrefix(b.seq, b.epoch, b.len, frame_.data());
    ssize_t n = ::pread(b.fd, frame_.data() + core::kDataPrefixSize, b.len,
                        static_cast<off_t>(b.offset));
    if (n != static_cast<ssize_t>(b.len))
      return MakeError(Errc::kIoError, "read block");
    return std::span<uint8_t>(frame_);
  }

  awaitable<Status> Send(std::span<const uint8_t> frame) {
    return conn_.WriteRaw(frame, timeout_);
  }

  awaitable<Status> Write(const BlockToSend& b) override {
    auto frame = Build(b);
    if (!frame) co_return Unexpected{frame.error()};
    co_return co_await Send(*frame);
  }

 private:
  net::FramedConn& conn_;
  net::Clock::duration timeout_;
  std::vector<uint8_t> frame_;  // kept between blocks
};

class CorruptingWriter final : public BlockWriter {
 public:
  CorruptingWriter(std::unique_ptr<BlockWriter> inner, net::FramedConn& conn,
                   net::Clock::duration timeout, uint64_t every)
      : inner_(std::move(inner)),
        peer_(conn.peer()),
        copying_(conn, timeout),
        every_(every) {}

  awaitable<Status> Write(const BlockToSend& b) override {
    if (++count_ % every_ != 0) co_return co_await inner_->Write(b);
    auto frame = copying_.Build(b);
    if (!frame) co_return Unexpected{frame.error()};
    (*frame)[core::kDataPrefixSize + b.len / 2] ^= 0x5A;
    spdlog::warn(
        "{}: sending block {} corrupted on purpose (--fault-corrupt-every)",
        peer_, b.seq);
    co_return co_await copying_.Send(*frame);
  }

 private:
  std::unique_ptr<BlockWriter> inner_;
  std::string peer_;
  CopyingWriter copying_;
  uint64_t every_;
  uint64_t count_ = 0;
};

}  // namespace

std::unique_ptr<BlockWriter> MakeSendfileWriter(
    net::FramedConn& conn, BlockWriter::WaitWritable wait) {
  return std::make_unique<SendfileWriter>(conn, std::move(wait));
}

std::unique_ptr<BlockWriter> MakeCopyingWriter(net::FramedConn& conn,
                                               net::Clock::duration timeout) {
  return std::make_unique<CopyingWriter>(conn, timeout);
}

std::unique_ptr<BlockWriter> MakeCorruptingWriter(
    std::unique_ptr<BlockWriter> inner, net::FramedConn& conn,
    net::Clock::duration timeout, uint64_t every) {
  return std::make_unique<CorruptingWriter>(std::move(inner), conn, timeout,
                                            every);
}

}  // namespace braid::server
