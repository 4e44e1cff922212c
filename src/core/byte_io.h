// Big-endian readers and writers over byte buffers. The reader never reads
// past its end: every getter reports failure through ok().
#ifndef BRAID_CORE_BYTE_IO_H_
#define BRAID_CORE_BYTE_IO_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace braid::core {

inline void PutBe(uint8_t* p, uint64_t v, size_t n) {
  for (size_t i = 0; i < n; ++i)
    p[i] = static_cast<uint8_t>(v >> (8 * (n - 1 - i)));
}

class ByteWriter {
 public:
  explicit ByteWriter(std::vector<uint8_t>* out) : out_(out) {}
  void U8(uint8_t v) { out_->push_back(v); }
  void U16(uint16_t v) { Int(v, 2); }
  void U32(uint32_t v) { Int(v, 4); }
  void U64(uint64_t v) { Int(v, 8); }
  void Bytes(std::span<const uint8_t> b) {
    out_->insert(out_->end(), b.begin(), b.end());
  }
  // REQUIRES: s.size() <= 65535 (callers bound their strings first).
  void Str(std::string_view s) {
    U16(static_cast<uint16_t>(s.size()));
    out_->insert(out_->end(), s.begin(), s.end());
  }

 private:
  void Int(uint64_t v, size_t n) {
    size_t at = out_->size();
    out_->resize(at + n);
    PutBe(out_->data() + at, v, n);
  }
  std::vector<uint8_t>* out_;
};

class ByteReader {
 public:
  explicit ByteReader(std::span<const uint8_t> in) : in_(in) {}
  uint8_t U8() { return static_cast<uint8_t>(Int(1)); }
  uint16_t U16() { return static_cast<uint16_t>(Int(2)); }
  uint32_t U32() { return static_cast<uint32_t>(Int(4)); }
  uint64_t U64() { return Int(8); }
  std::span<const uint8_t> Bytes(size_t n) {
    if (!ok_ || in_.size() - pos_ < n) return Fail<std::span<const uint8_t>>();
    auto s = in_.subspan(pos_, n);
    pos_ += n;
    return s;
  }
  std::span<const uint8_t> Rest() { return Bytes(in_.size() - pos_); }
  // A u16-prefixed string of at most max_len bytes without NUL.
  std::string Str(size_t max_len) {
    size_t n = U16();
    if (n > max_len) return Fail<std::string>();
    auto b = Bytes(n);
    if (!ok_) return {};
    if (std::memchr(b.data(), 0, b.size()) != nullptr)
      return Fail<std::string>();
    return std::string(reinterpret_cast<const char*>(b.data()), b.size());
  }
  bool ok() const { return ok_; }
  bool AtEnd() const { return pos_ == in_.size(); }
  size_t remaining() const { return in_.size() - pos_; }

 private:
  template <class T>
  T Fail() {
    ok_ = false;
    return T{};
  }
  uint64_t Int(size_t n) {
    if (!ok_ || in_.size() - pos_ < n) return Fail<uint64_t>();
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v = (v << 8) | in_[pos_ + i];
    pos_ += n;
    return v;
  }
  std::span<const uint8_t> in_;
  size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace braid::core

#endif  // BRAID_CORE_BYTE_IO_H_
