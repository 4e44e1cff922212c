// Source ids by their letters in a pattern (A is 0), for tests that read
// like the patent's figures: `Pattern({kA, kB})`, `OnBlock(kB, 7, ...)`.
#ifndef BRAID_CORE_SOURCE_LETTERS_H_
#define BRAID_CORE_SOURCE_LETTERS_H_

#include "core/pattern.h"

namespace braid::core::letters {

inline constexpr SourceId kA{0}, kB{1}, kC{2}, kD{3}, kE{4}, kF{5};

}  // namespace braid::core::letters

#endif  // BRAID_CORE_SOURCE_LETTERS_H_
