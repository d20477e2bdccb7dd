//===- AttentionMaskCheck.cpp - Is an attention causal? -------------------===//

#include "AttentionMaskCheck.h"

#include "mlir/IR/BuiltinTypes.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"

#include <algorithm>
#include <set>

using namespace mlir;
using namespace llvm;

namespace llmc::codegen {

/// Additive mask values at or below this hide the key: exp(-1e4 + any
/// score an fp32 model produces) is 0. Older exporters use -10000, newer
/// ones finfo(dtype).min.
static constexpr double kMaskedBelow = -1e4;

std::vector<CallSizes> maskCheckCalls(int64_t maxContext, int64_t maxTokens) {
  // A call's mask has S x (P + S) elements; the budgets keep the check to
  // well under a second at any context length.
  constexpr int64_t kPrefillElements = int64_t(1) << 23, kLastChunkElements = int64_t(1) << 22;
  constexpr int64_t kDecodeSamples = 16;
  const int64_t ctx = std::max<int64_t>(1, maxContext);
  const int64_t chunk = std::clamp<int64_t>(maxTokens, 1, ctx);
  std::vector<CallSizes> calls;
  // Prefill chunks of a context filled from empty: every (query, key) pair
  // of the context's start.
  int64_t spent = 0;
  for (int64_t p = 0; p < ctx; p += chunk) {
    const int64_t s = std::min(chunk, ctx - p);
    spent += s * (p + s);
    if (!calls.empty() && spent > kPrefillElements)
      break;
    calls.push_back({p, s});
  }
  // Decode spread over the whole context, ending at its last position.
  for (int64_t k = 1; k <= kDecodeSamples; ++k)
    calls.push_back({(ctx - 1) * k / kDecodeSamples, 1});
  // A chunk that ends the context.
  const int64_t last = std::clamp<int64_t>(kLastChunkElements / ctx, 1, chunk);
  calls.push_back({ctx - last, last});
  return calls;
}

static Error fail(Operation *attention, const Twine &msg) {
  std::string loc;
  raw_string_ostream os(loc);
  attention->getLoc().print(os);
  return createStringError(inconvertibleErrorCode(), "%s: '%s': %s", loc.c_str(),
                           attention->getName().getStringRef().str().c_str(),
                           msg.str().c_str());
}

/// Compares what each query i (absolute position past + i) sees under
/// `mask`, evaluated at `call`, with the keys 0..past + i.
static Error compareWithCausal(const AttentionMaskUse &use, const ref::RefTensor *mask,
                               CallSizes call) {
  const int64_t S = call.tokens, T = call.past + call.tokens;
  // The mask is [B, T] (key padding) or [B, 1 or H, 1 or S, T]; it is read
  // at batch 0, head 0 over the [S, T] scores.
  int64_t rowStride = 0, keyStride = 0;
  if (mask) {
    const auto &shape = mask->shape;
    const size_t rank = shape.size();
    auto fits = [](int64_t d, int64_t n) { return d == n || d == 1; };
    bool ok = (rank == 2 || rank == 4) && shape[0] == 1 && fits(shape.back(), T);
    if (ok && rank == 4)
      ok = shape[1] == 1 && fits(shape[2], S);
    if (!ok)
      return fail(use.attention,
                  formatv("the attention mask evaluates to shape [{0}] at {1} "
                          "cached and {2} new tokens (expected [1, {3}] or "
                          "[1, 1, {2}, {3}])",
                          make_range(shape.begin(), shape.end()), call.past, S, T));
    keyStride = shape.back() == 1 ? 0 : 1;
    rowStride = rank == 4 && shape[2] != 1 ? shape.back() : 0;
  }
  for (int64_t i = 0; i < S; ++i) {
    const int64_t q = call.past + i;
    for (int64_t j = 0; j < T; ++j) {
      if (use.causal && j > q)
        continue; // hidden by the op's causal flag whatever the mask says
      bool sees = true;
      if (mask) {
        const int64_t at = i * rowStride + j * keyStride;
        const double v = mask->data[at];
        if (ref::isFloat(mask->kind)) {
          if (v != 0 && !(v <= kMaskedBelow))
            return fail(use.attention,
                        formatv("the attention mask adds {0} to the score of query "
                                "position {1} for key {2}: a bias, not a mask (only "
                                "causal and key-padding masks are supported)",
                                format("%g", v), q, j));
          sees = v == 0;
        } else {
          sees = v != 0;
        }
      }
      if (sees != (j <= q))
        return fail(use.attention,
                    sees ? formatv("the attention is not causal: query position {0} "
                                   "sees the later key {1}; the program computes "
                                   "causal attention only",
                                   q, j)
                               .str()
                         : formatv("the attention mask hides key {0} from query "
                                   "position {1} (a sliding window or another "
                                   "attention pattern); only causal and "
                                   "key-padding masks are supported",
                                   j, q)
                               .str());
    }
  }
  return Error::success();
}

Error checkCausalAttention(ArrayRef<AttentionMaskUse> uses, int64_t maxContext,
                           int64_t maxTokens) {
  // Layers usually share one mask: each (mask, causal) pair is checked once.
  std::set<std::pair<void *, bool>> checked;
  const std::vector<CallSizes> calls = maskCheckCalls(maxContext, maxTokens);
  for (const AttentionMaskUse &use : uses) {
    if (!checked.insert({use.mask.getAsOpaquePointer(), use.causal}).second)
      continue;
    if (!use.mask && !use.causal)
      return fail(use.attention, "attention without the causal flag or a mask "
                                 "is bidirectional; the program computes causal "
                                 "attention only");
    if (!use.mask)
      continue;
    for (CallSizes call : calls) {
      MaskEvaluator ev(use.shapes, call);
      auto mask = ev.evaluate(use.mask);
      if (!mask)
        return fail(use.attention,
                    "cannot evaluate the attention mask to check that it is "
                    "causal: " + toString(mask.takeError()));
      if (Error e = compareWithCausal(use, *mask, call))
        return e;
    }
  }
  return Error::success();
}

} // namespace llmc::codegen
