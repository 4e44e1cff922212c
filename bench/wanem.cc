// wanem: a user-space WAN element for the benchmark's namespace links.
//
// This kernel has no netem, so delay, jitter and loss come from here. wanem
// opens a TUN device; the namespace's policy routing sends the server's own
// packets into it (bench/netns.py sets this up). Each packet read from the
// device is held for its delay, dropped with the loss probability, and written
// back into the same device, where the kernel forwards it onto the shaped veth.
//
//   wanem --dev NAME --delay-ms D [--jitter-ms J] [--loss PCT] [--seed S]
//         [--slots N]
//
// Packets leave in the order they arrived: a packet's release time is its
// arrival plus D plus a uniform draw in [-J, +J], but never before the release
// time of the packet ahead of it (jitter without reordering, as on a real
// path through one router queue). Loss is Bernoulli per packet. When more
// than N packets are held (default 32768), new ones are dropped and counted.
// On SIGTERM/SIGINT it prints one line of counters to stderr and exits 0.
//
// Single-threaded: one ppoll loop, packets in a preallocated ring (no
// allocation per packet).

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {

constexpr size_t kMaxPacket = 2048;  // MTU 1500 plus headroom

struct Options {
  std::string dev;
  double delay_ms = 0;
  double jitter_ms = 0;
  double loss_pct = 0;
  uint64_t seed = 1;
  size_t slots = 32768;
};

struct Counters {
  uint64_t in = 0, out = 0, lost = 0, overflow = 0, write_errors = 0;
};

volatile sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }

int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "wanem: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

[[noreturn]] void Usage(const char* msg) {
  std::fprintf(
      stderr,
      "wanem: %s\nusage: wanem --dev NAME --delay-ms D [--jitter-ms J] "
      "[--loss PCT] [--seed S] [--slots N]\n",
      msg);
  std::exit(2);
}

Options ParseArgs(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) Usage(("missing value after " + a).c_str());
    const char* v = argv[++i];
    char* end = nullptr;
    if (a == "--dev") {
      o.dev = v;
      continue;
    }
    double d = std::strtod(v, &end);
    if (end == v || *end != '\0' || d < 0)
      Usage(("bad value for " + a).c_str());
    if (a == "--delay-ms")
      o.delay_ms = d;
    else if (a == "--jitter-ms")
      o.jitter_ms = d;
    else if (a == "--loss")
      o.loss_pct = d;
    else if (a == "--seed")
      o.seed = static_cast<uint64_t>(d);
    else if (a == "--slots")
      o.slots = static_cast<size_t>(d);
    else
      Usage(("unknown option " + a).c_str());
  }
  if (o.dev.empty() || o.dev.size() >= IFNAMSIZ)
    Usage("--dev NAME is required");
  if (o.loss_pct > 100 || o.slots == 0)
    Usage("--loss must be 0..100, --slots > 0");
  return o;
}

int OpenTun(const std::string& name) {
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) Die("open /dev/net/tun");
  ifreq ifr{};
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  std::memcpy(ifr.ifr_name, name.data(), name.size());
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) Die("TUNSETIFF");
  return fd;
}

// Held packets: a ring of fixed slots, oldest first.
class Ring {
 public:
  explicit Ring(size_t n) : data_(n * kMaxPacket), len_(n), due_(n) {}
  bool full() const { return count_ == len_.size(); }
  bool empty() const { return count_ == 0; }
  uint8_t* tail_buf() { return &data_[Slot(count_) * kMaxPacket]; }
  void Push(size_t len, int64_t due) {
    len_[Slot(count_)] = len;
    due_[Slot(count_)] = due;
    ++count_;
  }
  int64_t head_due() const { return due_[head_]; }
  const uint8_t* head_buf() const { return &data_[head_ * kMaxPacket]; }
  size_t head_len() const { return len_[head_]; }
  void Pop() {
    head_ = (head_ + 1) % len_.size();
    --count_;
  }

 private:
  size_t Slot(size_t i) const { return (head_ + i) % len_.size(); }
  std::vector<uint8_t> data_;
  std::vector<size_t> len_;
  std::vector<int64_t> due_;
  size_t head_ = 0, count_ = 0;
};

class Element {
 public:
  Element(const Options& o, int fd)
      : o_(o), fd_(fd), ring_(o.slots), rng_(o.seed), unit_(0.0, 1.0) {}

  void Run() {
    while (!g_stop) {
      ReleaseDue();
      Wait();
      ReadAll();
    }
    std::fprintf(stderr,
                 "wanem %s: in %llu out %llu lost %llu overflow %llu "
                 "write_errors %llu\n",
                 o_.dev.c_str(), ull(c_.in), ull(c_.out), ull(c_.lost),
                 ull(c_.overflow), ull(c_.write_errors));
  }

 private:
  static unsigned long long ull(uint64_t v) { return v; }

  int64_t DelayNs() {
    double ms = o_.delay_ms;
    if (o_.jitter_ms > 0) ms += (unit_(rng_) * 2 - 1) * o_.jitter_ms;
    return static_cast<int64_t>(std::max(ms, 0.0) * 1e6);
  }

  void ReadAll() {
    for (;;) {
      if (ring_.full()) {  // read and drop: never let the device queue stall
        uint8_t scratch[kMaxPacket];
        if (read(fd_, scratch, sizeof scratch) <= 0) return;
        ++c_.in, ++c_.overflow;
        continue;
      }
      ssize_t n = read(fd_, ring_.tail_buf(), kMaxPacket);
      if (n <= 0) {
        if (n < 0 && errno != EAGAIN && errno != EINTR) Die("read");
        return;
      }
      ++c_.in;
      if (o_.loss_pct > 0 && unit_(rng_) * 100 < o_.loss_pct) {
        ++c_.lost;
        continue;
      }
      int64_t due = std::max(NowNs() + DelayNs(), last_due_);
      last_due_ = due;
      ring_.Push(static_cast<size_t>(n), due);
    }
  }

  void ReleaseDue() {
    int64_t now = NowNs();
    while (!ring_.empty() && ring_.head_due() <= now) {
      if (write(fd_, ring_.head_buf(), ring_.head_len()) < 0)
        ++c_.write_errors;
      else
        ++c_.out;
      ring_.Pop();
    }
  }

  void Wait() {
    pollfd p{fd_, POLLIN, 0};
    timespec ts{1, 0};
    if (!ring_.empty()) {
      int64_t left = std::max<int64_t>(ring_.head_due() - NowNs(), 0);
      ts = {static_cast<time_t>(left / 1000000000),
            static_cast<long>(left % 1000000000)};
    }
    if (ppoll(&p, 1, &ts, nullptr) < 0 && errno != EINTR) Die("ppoll");
  }

  Options o_;
  int fd_;
  Ring ring_;
  std::mt19937_64 rng_;
  std::uniform_real_distribution<double> unit_;
  int64_t last_due_ = 0;
  Counters c_;
};

}  // namespace

int main(int argc, char** argv) {
  Options o = ParseArgs(argc, argv);
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  int fd = OpenTun(o.dev);
  std::printf("ready %s\n", o.dev.c_str());
  std::fflush(stdout);
  Element(o, fd).Run();
  return 0;
}
