//===- LongRopeChoice.cpp - When LongRoPE switches to its long set --------===//
//
// See LongRopeChoice.h.
//
//===----------------------------------------------------------------------===//

#include "LongRopeChoice.h"
#include "OpError.h"

#include "llvm/Support/FormatVariadic.h"

#include <algorithm>

using namespace llvm;

namespace llmc::codegen {

Expected<int64_t> findLongAfter(const LongRopeChoice &choice, int64_t maxContext,
                                int64_t maxTokens) {
  auto at = [&](CallSizes call) -> Expected<bool> {
    MaskEvaluator ev(choice.shapes, call);
    auto v = ev.evaluate(choice.useLong);
    if (!v)
      return opError(choice.op, "cannot evaluate when LongRoPE uses its long "
                                "frequencies: " + toString(v.takeError()));
    if ((*v)->data.size() != 1)
      return opError(choice.op, "LongRoPE's choice is not one bool");
    return (*v)->data[0] != 0;
  };
  // Decode steps: one token after T - 1 cached ones, at every T.
  int64_t longAfter = -1;
  for (int64_t T = 1; T <= maxContext; ++T) {
    auto isLong = at({T - 1, 1});
    if (!isLong)
      return isLong.takeError();
    if (*isLong && longAfter < 0)
      longAfter = T - 1;
    if (!*isLong && longAfter >= 0)
      return opError(choice.op,
                     formatv("LongRoPE's choice is not one switch: the long frequencies "
                             "at a total length of {0}, the short ones at {1}",
                             longAfter + 1, T));
  }
  if (longAfter < 0)
    longAfter = maxContext;
  // A prefill of S tokens decides by its total length as a decode step does.
  for (int64_t S = 2; S <= std::min(maxTokens, maxContext); ++S) {
    auto isLong = at({0, S});
    if (!isLong)
      return isLong.takeError();
    if (*isLong != (S > longAfter))
      return opError(choice.op,
                     formatv("LongRoPE's choice depends on more than the total sequence "
                             "length: a prefill of {0} tokens uses the {1} frequencies",
                             S, *isLong ? "long" : "short"));
  }
  return longAfter;
}

} // namespace llmc::codegen
