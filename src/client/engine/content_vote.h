// Which size and content a transfer fetches when no content id is trusted:
// the sources vote. One vote per address (another spelling of an address,
// or another connection to it, is not another vote), and sources found by
// discovery, which anyone on the network can answer, never outvote the
// sources the user named: once a named source takes part in a vote, only
// named sources count. Sans-IO.
#ifndef BRAID_CLIENT_ENGINE_CONTENT_VOTE_H_
#define BRAID_CLIENT_ENGINE_CONTENT_VOTE_H_

#include <map>
#include <optional>
#include <set>
#include <string>

#include "client/engine/get.h"

namespace braid::client {

class SourceConn;

// Who casts a ballot.
struct Voter {
  std::string address;  // one spelling per address (core::CanonicalIp)
  bool named = false;   // the user named it: --source, --via, a mirror
};

// s's address (a route: its origin's; a mirror: its URL) and whether the
// user named it (anything not found by discovery or the director is).
Voter VoterOf(const SourceConn& s, const GetOptions& options);

template <class T>
class Election {
 public:
  // A voter's choice; nullopt: it has not answered yet but may. A second
  // ballot from the same address is ignored.
  void Cast(const Voter& v, std::optional<T> choice) {
    if (!seen_.insert(v.address).second) return;
    Ballots& b = v.named ? named_ : found_;
    ++b.voters;
    if (choice) ++b.votes[*choice];
  }
  // The votes that count: the named sources' if any named one cast a
  // ballot, else the discovered ones'.
  const std::map<T, size_t>& Tally() const { return Counted().votes; }
  // How many voters the counted votes come from (those not answered yet
  // included): a strict majority is more than half of this.
  size_t Electorate() const { return Counted().voters; }
  // Whether every voter counted has answered.
  bool AllIn() const {
    size_t cast = 0;
    for (const auto& [choice, n] : Tally()) cast += n;
    return cast == Electorate();
  }
  // The choice of a strict majority of the electorate, or, once all are
  // in, the only choice made; nullopt: undecided (yet, or for good if
  // AllIn: a split).
  std::optional<T> Winner() const {
    for (const auto& [choice, n] : Tally()) {
      if (2 * n > Electorate()) return choice;
    }
    if (AllIn() && Tally().size() == 1) return Tally().begin()->first;
    return std::nullopt;
  }

 private:
  struct Ballots {
    std::map<T, size_t> votes;
    size_t voters = 0;
  };
  const Ballots& Counted() const { return named_.voters > 0 ? named_ : found_; }

  std::set<std::string> seen_;
  Ballots named_, found_;
};

}  // namespace braid::client

#endif  // BRAID_CLIENT_ENGINE_CONTENT_VOTE_H_
