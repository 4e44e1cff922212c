// Open connections, in all and per peer address: the accept loops of the
// server and the relay refuse a connection past either bound, so one peer
// (or all) can hold only so much.
#ifndef BRAID_NET_CONN_LIMITS_H_
#define BRAID_NET_CONN_LIMITS_H_

#include <cstddef>
#include <map>
#include <string>

namespace braid::net {

class ConnLimits {
 public:
  ConnLimits(size_t max_total, size_t max_per_peer)
      : max_total_(max_total), max_per_peer_(max_per_peer) {}

  // Counts a connection from peer; false (nothing counted) past a bound.
  bool TryAdd(const std::string& peer) {
    auto it = per_peer_.find(peer);
    size_t mine = it == per_peer_.end() ? 0 : it->second;
    if (total_ >= max_total_ || mine >= max_per_peer_) return false;
    ++total_;
    ++per_peer_[peer];
    return true;
  }
  // REQUIRES: a TryAdd(peer) that returned true.
  void Remove(const std::string& peer) {
    --total_;
    if (--per_peer_[peer] == 0) per_peer_.erase(peer);
  }

 private:
  size_t max_total_;
  size_t max_per_peer_;
  size_t total_ = 0;
  std::map<std::string, size_t> per_peer_;
};

}  // namespace braid::net

#endif  // BRAID_NET_CONN_LIMITS_H_
