#include "net/log_fields.h"

namespace braid::net {
namespace {

thread_local LogFields current;

}  // namespace

const LogFields& CurrentLogFields() { return current; }

namespace detail {

ScopedLogFields::ScopedLogFields(const LogFields& f) : saved_(current) {
  current = f;
}

ScopedLogFields::~ScopedLogFields() { current = saved_; }

}  // namespace detail
}  // namespace braid::net
