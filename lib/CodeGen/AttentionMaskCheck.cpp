//===- AttentionMaskCheck.cpp - Is an attention causal? -------------------===//

#include "AttentionMaskCheck.h"
#include "OpError.h"

#include "mlir/IR/BuiltinTypes.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"

#include <algorithm>
#include <map>

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

/// The window a use's mask implies so far: rows that see back to key 0
/// only bound it from below; a row that does not fixes it.
struct WindowEvidence {
  int64_t exact = 0;    ///< the window some row showed (0: none yet)
  int64_t exactAt = -1; ///< that row's query position
  int64_t atLeast = 0;  ///< longest row that saw every key up to its own
  int64_t atLeastAt = -1;
};

/// Reads what each query i (absolute position past + i) sees under `mask`,
/// evaluated at `call`: keys after it never (unless the op's causal flag
/// hides them), its own always, and before it a contiguous run back to the
/// first key it sees.
static Error readRows(const AttentionMaskUse &use, const ref::RefTensor *mask,
                      CallSizes call, WindowEvidence &w) {
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
      return opError(use.attention,
                  formatv("the attention mask evaluates to shape [{0}] at {1} "
                          "cached and {2} new tokens (expected [1, {3}] or "
                          "[1, 1, {2}, {3}])",
                          make_range(shape.begin(), shape.end()), call.past, S, T));
    keyStride = shape.back() == 1 ? 0 : 1;
    rowStride = rank == 4 && shape[2] != 1 ? shape.back() : 0;
  }
  for (int64_t i = 0; i < S; ++i) {
    const int64_t q = call.past + i;
    int64_t first = -1; // the first key q sees
    for (int64_t j = 0; j < T; ++j) {
      if (use.causal && j > q)
        break; // hidden by the op's causal flag whatever the mask says
      bool sees = true;
      if (mask) {
        const double v = mask->data[i * rowStride + j * keyStride];
        if (ref::isFloat(mask->kind)) {
          if (v != 0 && !(v <= kMaskedBelow))
            return opError(use.attention,
                        formatv("the attention mask adds {0} to the score of query "
                                "position {1} for key {2}: a bias, not a mask (only "
                                "causal and key-padding masks are supported)",
                                format("%g", v), q, j));
          sees = v == 0;
        } else {
          sees = v != 0;
        }
      }
      if (sees && j > q)
        return opError(use.attention,
                    formatv("the attention is not causal: query position {0} "
                            "sees the later key {1}; the program computes "
                            "causal attention only",
                            q, j));
      if (sees && first < 0)
        first = j;
      if (!sees && first >= 0 && j <= q)
        return opError(use.attention,
                    formatv("the attention mask hides key {0} from query "
                            "position {1} but not key {2} before it; only "
                            "causal attention (optionally within a sliding "
                            "window) and key padding are supported",
                            j, q, first));
    }
    if (first < 0)
      return opError(use.attention,
                  formatv("the attention mask hides key {0} from query position "
                          "{0} (its own); only causal attention (optionally "
                          "within a sliding window) and key padding are supported",
                          q));
    if (first == 0) {
      if (q + 1 > w.atLeast)
        w.atLeast = q + 1, w.atLeastAt = q;
      continue;
    }
    const int64_t window = q - first + 1;
    if (w.exact && window != w.exact)
      return opError(use.attention,
                  formatv("the attention mask is not one sliding window: query "
                          "position {0} sees its last {1} keys, query position "
                          "{2} its last {3}",
                          w.exactAt, w.exact, q, window));
    w.exact = window, w.exactAt = q;
  }
  return Error::success();
}

Expected<std::vector<int64_t>> checkCausalAttention(ArrayRef<AttentionMaskUse> uses,
                                                    int64_t maxContext,
                                                    int64_t maxTokens) {
  // Layers usually share one mask: each (mask, causal) pair is checked once.
  std::map<std::pair<void *, bool>, int64_t> checked;
  const std::vector<CallSizes> calls = maskCheckCalls(maxContext, maxTokens);
  std::vector<int64_t> windows;
  for (const AttentionMaskUse &use : uses) {
    auto key = std::make_pair(use.mask.getAsOpaquePointer(), use.causal);
    if (auto it = checked.find(key); it != checked.end()) {
      windows.push_back(it->second);
      continue;
    }
    if (!use.mask && !use.causal)
      return opError(use.attention, "attention without the causal flag or a mask "
                                 "is bidirectional; the program computes causal "
                                 "attention only");
    WindowEvidence w;
    if (use.mask)
      for (CallSizes call : calls) {
        MaskEvaluator ev(use.shapes, call);
        auto mask = ev.evaluate(use.mask);
        if (!mask)
          return opError(use.attention,
                      "cannot evaluate the attention mask to check that it is "
                      "causal: " + toString(mask.takeError()));
        if (Error e = readRows(use, *mask, call, w))
          return std::move(e);
      }
    // A row that saw every key up to its own had no more than the window
    // hides nothing from.
    if (w.exact && w.atLeast > w.exact)
      return opError(use.attention,
                  formatv("the attention mask is not one sliding window: query "
                          "position {0} sees its last {1} keys, query position "
                          "{2} all {3}",
                          w.exactAt, w.exact, w.atLeastAt, w.atLeast));
    windows.push_back(w.exact);
    checked[key] = w.exact;
  }
  return windows;
}

} // namespace llmc::codegen
