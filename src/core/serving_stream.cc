#include "core/serving_stream.h"

namespace braid::core {

ServingStream::ServingStream(uint64_t block_count, const Open& open)
    : plan_(block_count, open.epoch, open.start_seq, open.pattern, open.my_id) {
}

bool ServingStream::IsCommand(const Message& m) {
  return std::holds_alternative<Start>(m) ||
         std::holds_alternative<PatternMsg>(m) ||
         std::holds_alternative<Request>(m) ||
         std::holds_alternative<Skip>(m) || std::holds_alternative<Window>(m);
}

bool ServingStream::HoldWalkAt(uint64_t end) {
  if (end == walk_limit_) return false;
  // A walk held at the old end may have run dry at the new one: owed an
  // END then (a walk not held, as one waiting for slots, is not).
  if (end > walk_limit_ && held()) end_sent_ = false;
  walk_limit_ = end;
  return true;
}

bool ServingStream::held() const { return plan_.HeldAt(walk_limit_); }

Expected<std::optional<PatternAck>> ServingStream::Apply(const Message& m) {
  if (std::holds_alternative<Start>(m)) {
    if (streaming_) return MakeError(Errc::kBadState, "START not allowed here");
    streaming_ = true;
    return std::optional<PatternAck>{};
  }
  if (auto* p = std::get_if<PatternMsg>(&m)) {
    auto position =
        plan_.ApplyPattern(p->epoch, p->switch_seq, p->my_id, p->pattern);
    if (!position) return Unexpected{position.error()};
    end_sent_ = false;
    return std::optional<PatternAck>{PatternAck{p->epoch, *position}};
  }
  if (auto* r = std::get_if<Request>(&m)) {
    if (Status s = plan_.Request(r->first, r->count); !s)
      return Unexpected{s.error()};
    end_sent_ = false;
    return std::optional<PatternAck>{};
  }
  if (auto* w = std::get_if<Window>(&m)) {
    HoldWalkAt(w->end);
    return std::optional<PatternAck>{};
  }
  const auto& k = std::get<Skip>(m);
  if (Status s = plan_.Skip(k.first, k.count); !s) return Unexpected{s.error()};
  return std::optional<PatternAck>{};
}

void ServingStream::Sent(uint64_t bytes) {
  ++blocks_sent_;
  bytes_sent_ += bytes;
  end_sent_ = false;
}

std::optional<End> ServingStream::TakeEnd() {
  if (end_sent_ || held()) return std::nullopt;
  end_sent_ = true;
  return End{blocks_sent_, bytes_sent_};
}

}  // namespace braid::core
