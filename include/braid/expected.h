// Expected<T>: a value or a braid::Error. Debian 12 ships no tl-expected or
// std::expected, so this is the minimal subset braid uses, with the same
// names (has_value, value, error, operator*, operator->).
#ifndef BRAID_EXPECTED_H_
#define BRAID_EXPECTED_H_

#include <braid/error.h>

#include <cstdlib>
#include <type_traits>
#include <utility>
#include <variant>

namespace braid {

struct Unexpected {
  Error error;
};

inline Unexpected MakeError(Errc code, std::string what = {}) {
  return Unexpected{Error{code, std::move(what)}};
}

template <class T>
class [[nodiscard]] Expected {
 public:
  // A default T (a coroutine framework may need one for a coroutine that
  // threw).
  Expected() requires std::is_default_constructible_v<T>
      : v_(std::in_place_index<0>) {}
  Expected(T value) : v_(std::in_place_index<0>, std::move(value)) {}
  Expected(Unexpected u) : v_(std::in_place_index<1>, std::move(u.error)) {}

  bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  // REQUIRES: has_value().
  T& value() & { return Check(), std::get<0>(v_); }
  const T& value() const& { return Check(), std::get<0>(v_); }
  T&& value() && { return Check(), std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  // REQUIRES: !has_value().
  const Error& error() const {
    if (has_value()) std::abort();
    return std::get<1>(v_);
  }

 private:
  void Check() const {
    if (!has_value()) std::abort();
  }
  std::variant<T, Error> v_;
};

// For operations that return nothing on success.
struct Ok {};
using Status = Expected<Ok>;

}  // namespace braid

#endif  // BRAID_EXPECTED_H_
