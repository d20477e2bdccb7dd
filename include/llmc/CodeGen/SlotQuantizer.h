//===- SlotQuantizer.h - One matmul weight: quantize by recipe, then pack -*- C++ -*-===//
//
// The compile-time quantization of one packed weight slot. Round to nearest
// needs only the weights; GPTQ, AWQ and incoherence processing (QuIP) also
// need the statistics of the slot's input collected by a calibration run
// (quant::CalibrationStats: H = X^T X and mean |x_k|). Two of them change the
// basis the weights live in, and the caller must make the activations follow:
//
//   AWQ   quantizes W diag(s): the input must be divided by s, either folded
//         into the RMSNorm weight that produces it (free) or applied online
//         (WeightSlot::inputScale);
//   QuIP  quantizes W U^T: the input must be rotated, x <- U x, online
//         (WeightSlot::rotated, rotationSeed). `rotateInput` asks the same of
//         rtn and gptq (QuaRot's online rotations: RTN or GPTQ of W U^T).
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_CODEGEN_SLOTQUANTIZER_H
#define LLMC_CODEGEN_SLOTQUANTIZER_H

#include "llmc/CodeGen/Manifest.h"
#include "llmc/Kernels/PackedLayout.h"
#include "llmc/Quant/Hadamard.h"
#include "llmc/Quant/Hessian.h"

#include "llvm/ADT/StringSet.h"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace llmc::codegen {

struct SlotQuantization {
  kernels::PackedWeights packed;
  /// AWQ: the per-input-channel scales s (the packed weights are Q(W diag(s))).
  std::vector<float> awqScales;
  /// QuIP / rotateInput: the seed of U (the packed weights are Q(W U^T)).
  std::optional<uint64_t> rotationSeed;
  /// Bias correction: b[N] added to every output row, (W - W_hat) mu.
  std::vector<float> bias;
};

/// b = W mu - W_hat mu' for W[N][K] and its rounding: the mean output error
/// over inputs of mean mu, which a bias b removes. mu' = U mu when the rounded
/// weights are in the basis of a rotation U (null: mu' = mu).
std::vector<float> meanOutputError(const float *W,
                                   const kernels::QuantizedWeights &rounded,
                                   llvm::ArrayRef<double> mu,
                                   const quant::RandomizedHadamard *U);

/// Quantizes W[N][K] (row-major, kernel layout) by `recipe` and packs it for
/// `tier`. `stats` is required when recipe.needsCalibration(). `seed` draws
/// the rotation of "quip", or of any integer format when `rotateInput`.
llvm::Expected<SlotQuantization>
quantizeSlot(const float *W, int64_t N, int64_t K, const QuantRecipe &recipe,
             const quant::CalibrationStats *stats, IsaTier tier, uint64_t seed,
             bool rotateInput = false);

/// Quantized slots kept across compiles of one module. Sequential calibration
/// compiles the model once per slot, and a slot whose statistics are final
/// would otherwise be rounded again by every later compile (GPTQ: O(K^3)
/// each); kept slots are rounded once and later compiles pack the same bytes.
/// Valid only while the module, the slot's recipe and its statistics stay the
/// same (the caller's contract).
class SlotCache {
public:
  /// Keep `name` from now on.
  void keep(llvm::StringRef name) { keep_.insert(name); }
  /// The stored quantization of `name` (its packed bytes shared), if any.
  std::optional<SlotQuantization> find(llvm::StringRef name) const {
    auto it = entries_.find(name.str());
    if (it == entries_.end())
      return std::nullopt;
    return it->second;
  }
  bool contains(llvm::StringRef name) const {
    return entries_.count(name.str()) != 0;
  }
  /// Stores `q` when `name` is kept.
  void store(llvm::StringRef name, const SlotQuantization &q) {
    if (keep_.count(name))
      entries_[name.str()] = q;
  }

private:
  llvm::StringSet<> keep_;
  std::map<std::string, SlotQuantization> entries_;
};

} // namespace llmc::codegen

#endif // LLMC_CODEGEN_SLOTQUANTIZER_H
